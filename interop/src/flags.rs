//! Flag parsing in the interop binaries' convention: `--name value` or
//! `--name=value`, against the list of flags a binary knows; `--help` (or
//! `-h`) asks for the usage.

use std::collections::HashMap;

/// A flag a binary knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// Its name, without dashes: `server_port`.
    pub name: &'static str,
    /// What its value is, for the usage: `PORT`.
    pub value: &'static str,
    /// What it does, in one line, with its default.
    pub help: &'static str,
}

/// `--use_tls`, which the interop test runners pass to every client and
/// server: `true` or `false` (the default). See [`use_tls`].
pub const USE_TLS: Flag = Flag {
    name: "use_tls",
    value: "true|false",
    help: "TLS if true, plaintext if false (default false)",
};

/// What a command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parsed {
    /// Run with these values, by flag name (the last one given wins).
    Run(HashMap<String, String>),
    /// `--help` or `-h`: print [`usage`] and exit 0.
    Help,
}

/// Parses `args` against the flags in `known`; an unknown flag is an error
/// that lists the known ones.
///
/// ```
/// use interop::flags::{Flag, Parsed, parse};
///
/// const KNOWN: &[Flag] = &[
///     Flag { name: "server_port", value: "PORT", help: "the port" },
///     Flag { name: "test_case", value: "NAME", help: "the case" },
/// ];
/// let args = ["--server_port=8080", "--test_case", "all"].map(String::from);
/// let Ok(Parsed::Run(flags)) = parse(args, KNOWN) else { panic!() };
/// assert_eq!(flags["server_port"], "8080");
/// assert_eq!(flags["test_case"], "all");
///
/// assert_eq!(parse(["--help".to_owned()], KNOWN), Ok(Parsed::Help));
/// let unknown = parse(["--use_tls", "true"].map(String::from), KNOWN).unwrap_err();
/// assert_eq!(unknown, "unknown flag --use_tls; the flags are --server_port, --test_case");
/// ```
///
/// # Errors
///
/// An unknown flag, a flag without its value, or an argument that is not a
/// flag.
pub fn parse(args: impl IntoIterator<Item = String>, known: &[Flag]) -> Result<Parsed, String> {
    let mut out = HashMap::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}: flags start with --"));
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (flag, None),
        };
        if name == "help" || name == "h" {
            if inline.is_some() {
                return Err(format!("--{name} takes no value"));
            }
            return Ok(Parsed::Help);
        }
        if !known.iter().any(|k| k.name == name) {
            return Err(format!(
                "unknown flag --{name}; the flags are {}",
                names(known)
            ));
        }
        let value = match inline {
            Some(value) => value.to_owned(),
            None => args
                .next()
                .ok_or_else(|| format!("flag --{name} needs a value"))?,
        };
        out.insert(name.to_owned(), value);
    }
    Ok(Parsed::Run(out))
}

/// The usage: `synopsis`, then one line per flag, and `--help`.
///
/// ```
/// use interop::flags::{Flag, usage};
///
/// let text = usage(
///     "interop-server --port P",
///     &[Flag { name: "port", value: "PORT", help: "the port (default 50051)" }],
/// );
/// assert!(text.starts_with("usage: interop-server --port P\n"));
/// assert!(text.contains("  --port PORT"));
/// assert!(text.contains("  --help"));
/// ```
#[must_use]
pub fn usage(synopsis: &str, known: &[Flag]) -> String {
    let mut text = format!("usage: {synopsis}\n\nflags (--name value or --name=value):\n");
    let rows: Vec<(String, &str)> = known
        .iter()
        .map(|flag| (format!("--{} {}", flag.name, flag.value), flag.help))
        .chain([("--help".to_owned(), "print this and exit")])
        .collect();
    let width = rows.iter().map(|(left, _)| left.len()).max().unwrap_or(0);
    for (left, help) in rows {
        text.push_str(&format!("  {left:<width$}  {help}\n"));
    }
    text
}

/// A boolean flag's value: `true` or `false`, `false` when absent. Nothing
/// else is taken for either (not `1`, not `yes`): a test run must not get
/// the opposite of what it asked for.
///
/// ```
/// # use std::collections::HashMap;
/// use interop::flags::boolean;
///
/// let flags = HashMap::from([("use_tls".to_owned(), "true".to_owned())]);
/// assert_eq!(boolean(&flags, "use_tls"), Ok(true));
/// assert_eq!(boolean(&flags, "use_test_ca"), Ok(false));
/// let flags = HashMap::from([("use_tls".to_owned(), "yes".to_owned())]);
/// assert_eq!(
///     boolean(&flags, "use_tls"),
///     Err("--use_tls takes true or false, not \"yes\"".to_owned())
/// );
/// ```
///
/// # Errors
///
/// The value is neither `true` nor `false`.
pub fn boolean(flags: &HashMap<String, String>, name: &str) -> Result<bool, String> {
    match flags.get(name).map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(format!("--{name} takes true or false, not {other:?}")),
    }
}

/// Whether `--use_tls` asks for TLS; a flag of `tls_only` given without
/// `--use_tls true` is an error, not ignored, so that a run meant to be
/// over TLS cannot pass in plaintext.
///
/// ```
/// # use std::collections::HashMap;
/// use interop::flags::{Flag, use_tls};
///
/// const CERT: Flag = Flag { name: "tls_cert_file", value: "FILE", help: "" };
/// let given = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
///     pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
/// };
/// assert_eq!(use_tls(&given(&[]), &[CERT]), Ok(false));
/// let on = given(&[("use_tls", "true"), ("tls_cert_file", "s.pem")]);
/// assert_eq!(use_tls(&on, &[CERT]), Ok(true));
/// let stray = given(&[("tls_cert_file", "s.pem")]);
/// assert_eq!(
///     use_tls(&stray, &[CERT]),
///     Err("--tls_cert_file needs --use_tls true".to_owned())
/// );
/// ```
///
/// # Errors
///
/// `--use_tls` is neither `true` nor `false`, or a TLS-only flag is given
/// without `--use_tls true`.
pub fn use_tls(flags: &HashMap<String, String>, tls_only: &[Flag]) -> Result<bool, String> {
    let on = boolean(flags, USE_TLS.name)?;
    match tls_only.iter().find(|flag| flags.contains_key(flag.name)) {
        Some(stray) if !on => Err(format!("--{} needs --use_tls true", stray.name)),
        _ => Ok(on),
    }
}

fn names(known: &[Flag]) -> String {
    let names: Vec<String> = known
        .iter()
        .map(|flag| format!("--{}", flag.name))
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[Flag] = &[
        Flag {
            name: "port",
            value: "PORT",
            help: "the port",
        },
        USE_TLS,
    ];

    fn parse_strs(args: &[&str]) -> Result<Parsed, String> {
        parse(args.iter().map(|a| (*a).to_owned()), KNOWN)
    }

    #[test]
    fn values_inline_or_next_and_the_last_wins() {
        let parsed = parse_strs(&["--port", "1", "-port=2", "--use_tls=false"]);
        let expected = HashMap::from([
            ("port".to_owned(), "2".to_owned()),
            ("use_tls".to_owned(), "false".to_owned()),
        ]);
        assert_eq!(parsed, Ok(Parsed::Run(expected)));
        // An empty inline value is a value.
        let parsed = parse_strs(&["--port="]);
        let expected = HashMap::from([("port".to_owned(), String::new())]);
        assert_eq!(parsed, Ok(Parsed::Run(expected)));
    }

    #[test]
    fn help_wins_wherever_it_is() {
        for args in [
            &["--help"][..],
            &["-h"],
            &["--port", "1", "--help"],
            &["-help"],
        ] {
            assert_eq!(parse_strs(args), Ok(Parsed::Help), "{args:?}");
        }
        assert_eq!(
            parse_strs(&["--help=yes"]),
            Err("--help takes no value".to_owned())
        );
    }

    #[test]
    fn mistakes_say_what_is_wrong() {
        assert_eq!(
            parse_strs(&["--use_tl", "true"]),
            Err("unknown flag --use_tl; the flags are --port, --use_tls".to_owned())
        );
        assert_eq!(
            parse_strs(&["--port"]),
            Err("flag --port needs a value".to_owned())
        );
        assert_eq!(
            parse_strs(&["8080"]),
            Err("unexpected argument \"8080\": flags start with --".to_owned())
        );
    }
}
