//! Each rule on a fixture that breaks it, a fixture that follows them all
//! (`good`; see tests/common/fixtures.rs), the repository's own examples, and
//! the same fixtures through the real `buf lint` (STANDARD): where the rules
//! overlap, the findings are the same, to the column.

#![allow(clippy::unwrap_used)]

#[path = "common/fixtures.rs"]
mod fixtures;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use aqueduct_lint::{Config, Finding, RULES, lint_dir};
use fixtures::Fixtures;

const FILE: &str = "acme/library/v1/library.proto";
const EDGE: &str = "acme/edge/v1/edge.proto";

/// A finding a fixture must give: (file, line, column, rule).
type Want = (&'static str, u32, u32, &'static str);

/// What each fixture must give.
fn expected() -> Vec<(&'static str, Vec<Want>)> {
    vec![
        ("good", vec![]),
        (
            "package_version_suffix",
            vec![("acme/library/library.proto", 3, 1, "PACKAGE_VERSION_SUFFIX")],
        ),
        (
            "package_directory_match",
            vec![(
                "acme/books/v1/library.proto",
                3,
                1,
                "PACKAGE_DIRECTORY_MATCH",
            )],
        ),
        (
            "rpc_request_standard_name",
            vec![(FILE, 8, 15, "RPC_REQUEST_STANDARD_NAME")],
        ),
        (
            "rpc_response_standard_name",
            vec![(FILE, 8, 40, "RPC_RESPONSE_STANDARD_NAME")],
        ),
        (
            "rpc_request_response_unique",
            vec![
                (FILE, 8, 3, "RPC_REQUEST_RESPONSE_UNIQUE"),
                (FILE, 8, 3, "RPC_REQUEST_RESPONSE_UNIQUE"),
                (FILE, 52, 3, "RPC_REQUEST_RESPONSE_UNIQUE"),
                (FILE, 52, 3, "RPC_REQUEST_RESPONSE_UNIQUE"),
            ],
        ),
        (
            "enum_first_value_zero",
            vec![(FILE, 17, 23, "ENUM_FIRST_VALUE_ZERO")],
        ),
        (
            "enum_zero_value_suffix",
            vec![(FILE, 27, 3, "ENUM_ZERO_VALUE_SUFFIX")],
        ),
        (
            "enum_value_prefix",
            vec![(FILE, 28, 3, "ENUM_VALUE_PREFIX")],
        ),
        (
            "enum_duplicate_number",
            vec![(FILE, 29, 17, "ENUM_DUPLICATE_NUMBER")],
        ),
        (
            "response_no_error_fields",
            vec![
                (FILE, 37, 10, "RESPONSE_NO_ERROR_FIELDS"),
                (FILE, 38, 9, "RESPONSE_NO_ERROR_FIELDS"),
            ],
        ),
        (
            "service_pascal_case",
            vec![(FILE, 6, 9, "SERVICE_PASCAL_CASE")],
        ),
        ("service_suffix", vec![(FILE, 6, 9, "SERVICE_SUFFIX")]),
        ("rpc_pascal_case", vec![(FILE, 8, 7, "RPC_PASCAL_CASE")]),
        (
            "message_pascal_case",
            vec![(FILE, 49, 9, "MESSAGE_PASCAL_CASE")],
        ),
        ("enum_pascal_case", vec![(FILE, 26, 6, "ENUM_PASCAL_CASE")]),
        (
            "field_lower_snake_case",
            vec![(FILE, 18, 9, "FIELD_LOWER_SNAKE_CASE")],
        ),
        (
            "enum_value_upper_snake_case",
            vec![(FILE, 28, 3, "ENUM_VALUE_UPPER_SNAKE_CASE")],
        ),
        (
            // Where case conversions could disagree: digits, acronyms,
            // leading underscores (checked against buf below).
            "naming_edge_cases",
            vec![
                (EDGE, 9, 10, "FIELD_LOWER_SNAKE_CASE"),
                (EDGE, 10, 10, "FIELD_LOWER_SNAKE_CASE"),
                (EDGE, 13, 9, "MESSAGE_PASCAL_CASE"),
                (EDGE, 18, 3, "ENUM_VALUE_PREFIX"),
                (EDGE, 19, 3, "ENUM_VALUE_PREFIX"),
                (EDGE, 25, 3, "ENUM_VALUE_PREFIX"),
            ],
        ),
        (
            "file_lower_snake_case",
            vec![(
                "acme/library/v1/LibraryBooks.proto",
                1,
                1,
                "FILE_LOWER_SNAKE_CASE",
            )],
        ),
    ]
}

fn lint(root: &Path) -> Vec<Finding> {
    lint_dir(root, &Config::default()).unwrap()
}

fn positions(findings: &[Finding]) -> Vec<(String, u32, u32, String)> {
    findings
        .iter()
        .map(|f| (f.file.clone(), f.line, f.column, f.rule.to_owned()))
        .collect()
}

#[test]
fn each_rule_is_flagged_on_the_fixture_that_breaks_it_and_nowhere_else() {
    let fixtures = Fixtures::write(&[]);
    let names: Vec<&str> = expected().iter().map(|(name, _)| *name).collect();
    assert_eq!(names, fixtures::NAMES, "every fixture has its expectations");
    let mut covered = BTreeSet::new();
    for (name, want) in expected() {
        let got = lint(&fixtures.root(name));
        let want: Vec<(String, u32, u32, String)> = want
            .iter()
            .map(|(f, l, c, r)| ((*f).to_owned(), *l, *c, (*r).to_owned()))
            .collect();
        assert_eq!(positions(&got), want, "fixture {name}: {got:#?}");
        for finding in &got {
            assert!(!finding.message.is_empty());
            covered.insert(finding.rule);
        }
    }
    for rule in RULES {
        assert!(covered.contains(rule.id), "no fixture breaks {}", rule.id);
    }
}

#[test]
fn the_repositorys_example_protos_lint_clean() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Notes (an AIP-style API) with its own aqueduct-lint.toml.
    for root in [
        "examples/helloworld/proto",
        "examples/chat/proto",
        "examples/notes/proto",
    ] {
        let root_dir = repo.join(root);
        let findings = lint_dir(&root_dir, &Config::discover(&root_dir).unwrap()).unwrap();
        assert!(
            findings.is_empty(),
            "{root}:\n{}",
            aqueduct_lint::render_text(&findings)
        );
    }
}

/// `buf lint` with the STANDARD rules, from inside `root`: (file, line,
/// column, rule) for each finding.
fn buf_lint(root: &Path) -> BTreeSet<(String, u32, u32, String)> {
    let buf = std::env::var("AQUEDUCT_BUF").unwrap_or_else(|_| {
        panic!("AQUEDUCT_BUF is not set: scripts/test installs buf (npm @bufbuild/buf) and sets it")
    });
    let output = Command::new(&buf)
        .args(["lint", "--error-format", "json", "--config"])
        .arg(r#"{"version":"v2","lint":{"use":["STANDARD"]}}"#)
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {buf}: {e}"));
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("buf printed {line:?}: {e}"));
            (
                v["path"].as_str().unwrap().to_owned(),
                u32::try_from(v["start_line"].as_u64().unwrap()).unwrap(),
                u32::try_from(v["start_column"].as_u64().unwrap()).unwrap(),
                v["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn findings_agree_with_buf_lint_where_the_rules_overlap() {
    // Ours that buf has under the same id; a duplicate enum number is a
    // compile error to buf.
    let ours_only = ["RESPONSE_NO_ERROR_FIELDS"];
    let shared = |rule: &str| RULES.iter().any(|r| r.id == rule) && !ours_only.contains(&rule);
    let fixtures = Fixtures::write(&[]);
    for (name, _) in expected() {
        let root = fixtures.root(name);
        let mine: BTreeSet<_> = positions(&lint(&root))
            .into_iter()
            .filter(|(_, _, _, rule)| shared(rule))
            .map(|(f, l, c, rule)| {
                let rule = if rule == "ENUM_DUPLICATE_NUMBER" {
                    "COMPILE".to_owned()
                } else {
                    rule
                };
                (f, l, c, rule)
            })
            .collect();
        let theirs: BTreeSet<_> = buf_lint(&root)
            .into_iter()
            .filter(|(_, _, _, rule)| rule == "COMPILE" || shared(rule))
            .collect();
        assert_eq!(mine, theirs, "fixture {name}: ours vs buf lint");
    }
}
