//! A linter for `.proto` files: the naming, versioning and API-shape rules
//! good gRPC APIs follow, each with an id, a one-line reason, and the file,
//! line and column of every finding.
//!
//! Run it as `aqueduct lint [PATHS]`, or from a build script with
//! `aqueduct_build::configure().lint(true)`, or here:
//!
//! ```no_run
//! let root = std::path::Path::new("proto");
//! let config = aqueduct_lint::Config::discover(root)?;
//! let findings = aqueduct_lint::lint_dir(root, &config)?;
//! print!("{}", aqueduct_lint::render_text(&findings));
//! # Ok::<(), aqueduct_lint::Error>(())
//! ```
//!
//! Files are compiled with `protox` (no `protoc`), relative to a root
//! directory that is also the include path: a file of package `a.b.v1` is
//! expected at `a/b/v1/` under it. [`relative_to`] names a file from a root
//! however either is spelled (`.`, `..`, absolute), and [`proto_files`] lists
//! the files under a directory of it. A file that does not compile is one
//! finding (`COMPILE`, or `ENUM_DUPLICATE_NUMBER` for two enum values with one
//! number and no `allow_alias`). The rules and what they check:
//! [`RULES`]; `docs/lint.md` in the repository compares them with `buf lint`.

mod config;
mod paths;
mod rules;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

pub use config::{CONFIG_FILE, Config, Ignore};
pub use paths::{proto_files, relative_to};
pub use rules::{RULES, Rule, find as rule};

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Finding {
    /// The file, relative to the lint root, `/`-separated.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
    /// The rule's id (or `COMPILE`).
    pub rule: &'static str,
    /// What is wrong, naming the element.
    pub message: String,
}

/// Why the linter could not run (as opposed to findings).
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Self {
        Self(message)
    }
}

/// Lints every `.proto` file under `root` (skipping hidden directories,
/// `target` and `node_modules`).
///
/// # Errors
///
/// `root` cannot be read or holds no `.proto` file.
pub fn lint_dir(root: &Path, config: &Config) -> Result<Vec<Finding>, Error> {
    let files = proto_files(root, Path::new(""))?;
    if files.is_empty() {
        return Err(Error::new(format!(
            "no .proto files under {}",
            root.display()
        )));
    }
    lint_files(root, &files, config)
}

/// Lints `files` (relative to `root`, which is also the include path).
///
/// # Errors
///
/// `root` is not a directory the compiler can use.
pub fn lint_files(root: &Path, files: &[PathBuf], config: &Config) -> Result<Vec<Finding>, Error> {
    let mut compiler = protox::Compiler::new([root])
        .map_err(|error| Error::new(format!("{}: {error}", root.display())))?;
    compiler.include_source_info(true).include_imports(false);
    if let Err(error) = compiler.open_files(files) {
        return Ok(vec![compile_finding(root, &error)]);
    }
    let set = compiler.file_descriptor_set();
    let named: Vec<(String, &prost_types::FileDescriptorProto)> = set
        .file
        .iter()
        .map(|file| (file.name().to_owned(), file))
        .collect();
    let spans: Vec<Spans<'_>> = named.iter().map(|(_, file)| spans(file)).collect();
    let mut findings: Vec<Finding> = rules::check(&named, config)
        .into_iter()
        .filter_map(|raw| {
            let (name, _) = named.get(raw.file)?;
            if !config.applies(raw.rule, name) {
                return None;
            }
            let (line, column) = locate(spans.get(raw.file)?, &raw.path);
            Some(Finding {
                file: name.clone(),
                line,
                column,
                rule: raw.rule,
                message: raw.message,
            })
        })
        .collect();
    findings.sort();
    findings.dedup();
    Ok(findings)
}

/// A file's source spans by element path (as in `SourceCodeInfo`).
type Spans<'a> = HashMap<&'a [i32], &'a [i32]>;

fn spans(file: &prost_types::FileDescriptorProto) -> Spans<'_> {
    file.source_code_info
        .iter()
        .flat_map(|info| info.location.iter())
        .map(|l| (l.path.as_slice(), l.span.as_slice()))
        .collect()
}

/// The 1-based line and column of the element at `path` (the file's start
/// when the source info has no such element).
fn locate(spans: &Spans<'_>, path: &[i32]) -> (u32, u32) {
    let one_based = |n: i32| u32::try_from(n).map_or(1, |n| n.saturating_add(1));
    match spans.get(path) {
        Some([line, column, ..]) => (one_based(*line), one_based(*column)),
        _ => (1, 1),
    }
}

/// A file that does not compile, as one finding.
fn compile_finding(root: &Path, error: &protox::Error) -> Finding {
    use miette::Diagnostic as _;
    let file = error.file().unwrap_or("").to_owned();
    let offset = error
        .labels()
        // The last label: for a duplicate, the second use.
        .and_then(Iterator::last)
        .map(|label| label.offset());
    let (line, column) = match (offset, std::fs::read_to_string(root.join(&file))) {
        (Some(offset), Ok(text)) => line_column(&text, offset),
        _ => (1, 1),
    };
    let message = error.to_string();
    let rule = if message.contains("has already been used") && message.starts_with("enum number") {
        "ENUM_DUPLICATE_NUMBER"
    } else {
        "COMPILE"
    };
    let message = if rule == "ENUM_DUPLICATE_NUMBER" {
        format!("{message}; set option allow_alias = true if the alias is meant")
    } else {
        message
    };
    Finding {
        file,
        line,
        column,
        rule,
        message,
    }
}

fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Findings as text, one per line: `file:line:column: RULE message`, then a
/// count.
#[must_use]
pub fn render_text(findings: &[Finding]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&format!(
            "{}:{}:{}: {} {}\n",
            f.file, f.line, f.column, f.rule, f.message
        ));
    }
    if !findings.is_empty() {
        out.push_str(&format!(
            "{} finding{}\n",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        ));
    }
    out
}

/// Findings as a JSON array of `{file, line, column, rule, message}`.
#[must_use]
pub fn render_json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(findings).unwrap_or_else(|_| "[]".to_owned())
}
