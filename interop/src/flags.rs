//! Flag parsing in the interop binaries' convention: `--name value` or `--name=value`.

use std::collections::HashMap;

/// Parses `args` into a map from flag name (without dashes) to value.
///
/// ```
/// let flags = interop::flags::parse(["--server_port=8080", "--test_case", "all"].map(String::from)).unwrap();
/// assert_eq!(flags["server_port"], "8080");
/// assert_eq!(flags["test_case"], "all");
/// ```
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => {
                let value = args
                    .next()
                    .ok_or_else(|| format!("flag --{flag} needs a value"))?;
                (flag.to_owned(), value)
            }
        };
        out.insert(name, value);
    }
    Ok(out)
}
