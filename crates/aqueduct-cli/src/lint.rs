//! `aqueduct lint`: the proto linter (aqueduct-lint) on the command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aqueduct_lint::{Config, Finding};

/// Lint `.proto` files.
#[derive(clap::Args, Debug)]
pub(crate) struct LintArgs {
    /// Directories, each a lint root (the include path, with the .proto files
    /// below it), or single .proto files. Default: the current directory.
    paths: Vec<PathBuf>,
    /// The configuration file (default: `aqueduct-lint.toml` in each root, if
    /// there is one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The root (include path) for .proto files named one by one (default:
    /// the file's own directory).
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
    let mut all = Vec::new();
    for path in &paths {
        if !path.exists() {
            return Err(format!("{}: no such file or directory", path.display()).into());
        }
        let (root, findings) = if path.is_dir() {
            let config = config_for(args, path)?;
            (path.clone(), aqueduct_lint::lint_dir(path, &config)?)
        } else {
            let root = args
                .root
                .clone()
                .or_else(|| path.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from("."));
            let relative = path.strip_prefix(&root).map_err(|_| {
                aqueduct_lint::Error::from(format!(
                    "{} is not under the root {}",
                    path.display(),
                    root.display()
                ))
            })?;
            let config = config_for(args, &root)?;
            let findings = aqueduct_lint::lint_files(&root, &[relative.to_path_buf()], &config)?;
            (root, findings)
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

fn config_for(args: &LintArgs, root: &Path) -> Result<Config, aqueduct_lint::Error> {
    match &args.config {
        Some(file) => Config::load(file),
        None => Config::discover(root),
    }
}
