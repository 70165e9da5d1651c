//! `aqueduct lint`: text and JSON output, exit codes, single files, the
//! rule list, and errors.

#![allow(clippy::unwrap_used)]

#[path = "../../aqueduct-lint/tests/common/fixtures.rs"]
mod fixtures;

use std::process::{Command, Output};

/// `aqueduct lint ARGS` run from a directory holding every fixture.
fn lint(args: &[&str]) -> Output {
    let fixtures = fixtures::Fixtures::write(&[]);
    Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .arg("lint")
        .args(args)
        .current_dir(fixtures.dir())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn findings_print_file_line_column_rule_and_exit_1() {
    let out = lint(&["service_suffix", "enum_value_prefix"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "service_suffix/acme/library/v1/library.proto:6:9: SERVICE_SUFFIX service \"Library\" should end in \"Service\"",
            "enum_value_prefix/acme/library/v1/library.proto:28:3: ENUM_VALUE_PREFIX enum value \"FICTION\" should start with \"GENRE_\"",
            "2 findings",
        ]
    );
}

#[test]
fn json_output_is_an_array_of_findings() {
    let out = lint(&["--format", "json", "response_no_error_fields"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let findings: serde_json::Value = serde_json::from_str(&text).unwrap();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 2, "{text}");
    let first = &findings[0];
    assert_eq!(first["rule"], "RESPONSE_NO_ERROR_FIELDS");
    assert_eq!(
        first["file"],
        "response_no_error_fields/acme/library/v1/library.proto"
    );
    assert_eq!(
        (first["line"].as_u64(), first["column"].as_u64()),
        (Some(37), Some(10))
    );
    assert!(first["message"].as_str().unwrap().contains("\"error\""));
}

#[test]
fn a_clean_tree_exits_0_and_a_single_file_takes_a_root() {
    let out = lint(&["good"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(&out), "");
    let out = lint(&[
        "--root",
        "package_directory_match",
        "package_directory_match/acme/books/v1/library.proto",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("PACKAGE_DIRECTORY_MATCH"));
    // Without --root, the file's directory is the root: then its package
    // is never in the right directory.
    let out = lint(&["good/acme/library/v1/library.proto"]);
    assert!(stdout(&out).contains("PACKAGE_DIRECTORY_MATCH"), "{out:?}");
}

#[test]
fn rules_lists_every_rule_with_its_reason() {
    let out = lint(&["--rules"]);
    assert!(out.status.success());
    let text = stdout(&out);
    for rule in aqueduct_lint_rule_ids() {
        assert!(text.contains(rule), "{rule} missing from:\n{text}");
    }
}

fn aqueduct_lint_rule_ids() -> [&'static str; 3] {
    // A sample; aqueduct-lint's own tests cover the full list.
    [
        "PACKAGE_VERSION_SUFFIX",
        "RESPONSE_NO_ERROR_FIELDS",
        "FILE_LOWER_SNAKE_CASE",
    ]
}

#[test]
fn errors_exit_2_with_a_message() {
    let out = lint(&["no/such/dir"]);
    assert_eq!(out.status.code(), Some(2));
    let out = lint(&["--config", "nope.toml", "good"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.toml"));
}
