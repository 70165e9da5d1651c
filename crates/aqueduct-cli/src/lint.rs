//! `aqueduct lint`: the proto linter (aqueduct-lint) on the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aqueduct_lint::{Config, Finding};

/// Lint `.proto` files.
#[derive(clap::Args, Debug)]
pub(crate) struct LintArgs {
    /// Directories, each a lint root (the include path, with the .proto files
    /// below it), or single .proto files, linted from the root (`--root`, or
    /// the current directory). With `--root`, a directory is linted from the
    /// root too. Default: the current directory.
    paths: Vec<PathBuf>,
    /// The configuration file (default: `aqueduct-lint.toml` in each root, if
    /// there is one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The root (include path, where package directories start) for every
    /// path named (default: the current directory for files; a directory is
    /// its own root).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// How findings are printed.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// List the rules, each with why it matters, and exit.
    #[arg(long)]
    rules: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Format {
    /// `file:line:column: RULE message`, one per line.
    Text,
    /// A JSON array of {file, line, column, rule, message}.
    Json,
}

/// Exit code 0: no findings; 1: findings; 2: the linter could not run.
pub(crate) fn run(args: LintArgs) -> ExitCode {
    if args.rules {
        for rule in aqueduct_lint::RULES {
            println!("{:<28} {}", rule.id, rule.why);
        }
        return ExitCode::SUCCESS;
    }
    match lint(&args) {
        Ok(findings) => {
            match args.format {
                Format::Text => print!("{}", aqueduct_lint::render_text(&findings)),
                Format::Json => println!("{}", aqueduct_lint::render_json(&findings)),
            }
            if findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(error) => {
            eprintln!("aqueduct lint: {error}");
            ExitCode::from(2)
        }
    }
}

fn lint(args: &LintArgs) -> Result<Vec<Finding>, aqueduct_lint::Error> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let cwd = std::env::current_dir().map_err(|error| {
        aqueduct_lint::Error::from(format!("cannot read the current directory: {error}"))
    })?;
    let mut all = Vec::new();
    for path in &paths {
        if !path.exists() {
            return Err(format!("{}: no such file or directory", path.display()).into());
        }
        let (root, findings) = match &args.root {
            // A directory on its own is a lint root.
            None if path.is_dir() => {
                let config = config_for(args, path)?;
                (path.as_path(), aqueduct_lint::lint_dir(path, &config)?)
            }
            // A file is named from the current directory, as buf does with a
            // buf.yaml there: `aqueduct lint acme/shop/v1/shop.proto`.
            None => (
                Path::new("."),
                lint_under(args, Path::new("."), path, &cwd)?,
            ),
            Some(root) => (root.as_path(), lint_under(args, root, path, &cwd)?),
        };
        // Paths as the user can open them.
        all.extend(findings.into_iter().map(|mut finding| {
            finding.file = root.join(&finding.file).display().to_string();
            finding.file = finding
                .file
                .strip_prefix("./")
                .unwrap_or(&finding.file)
                .to_owned();
            finding
        }));
    }
    Ok(all)
}

/// Lints the file `path`, or the files under the directory `path`, named
/// from `root`.
fn lint_under(
    args: &LintArgs,
    root: &Path,
    path: &Path,
    cwd: &Path,
) -> Result<Vec<Finding>, aqueduct_lint::Error> {
    let relative = aqueduct_lint::relative_to(root, path, cwd).map_err(|error| {
        if args.root.is_some() {
            error
        } else {
            format!(
                "{error} (the current directory, the default): run from the directory its \
                 package path starts from, or give that directory as --root DIR"
            )
            .into()
        }
    })?;
    let files = if path.is_dir() {
        let files = aqueduct_lint::proto_files(root, &relative)?;
        if files.is_empty() {
            return Err(format!("no .proto files under {}", path.display()).into());
        }
        files
    } else {
        vec![relative]
    };
    let config = config_for(args, root)?;
    aqueduct_lint::lint_files(root, &files, &config)
}

fn config_for(args: &LintArgs, root: &Path) -> Result<Config, aqueduct_lint::Error> {
    match &args.config {
        Some(file) => Config::load(file),
        None => Config::discover(root),
    }
}
