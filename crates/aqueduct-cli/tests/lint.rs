//! `aqueduct lint`: text and JSON output, exit codes, single files and the
//! root they are named from (run from inside repositories laid out as real
//! ones are), the rule list, and errors.

#![allow(clippy::unwrap_used)]

#[path = "../../aqueduct-lint/tests/common/fixtures.rs"]
mod fixtures;

use std::path::Path;
use std::process::{Command, Output};

/// `aqueduct lint ARGS` run from a directory holding every fixture.
fn lint(args: &[&str]) -> Output {
    let fixtures = fixtures::Fixtures::write(&[]);
    lint_in(fixtures.dir(), args)
}

/// `aqueduct lint ARGS` run from `dir`.
fn lint_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aqueduct"))
        .arg("lint")
        .args(args)
        .current_dir(dir)
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

/// A repository as many are laid out: `proto/acme/library/v1/library.proto`
/// (fixture `name` under `proto/`) and a `tools/` directory beside it.
fn repository(name: &str) -> fixtures::Fixtures {
    let fixtures = fixtures::Fixtures::write(&[name]);
    std::fs::rename(fixtures.root(name), fixtures.dir().join("proto")).unwrap();
    std::fs::create_dir(fixtures.dir().join("tools")).unwrap();
    fixtures
}

fn assert_clean(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout(out), "");
}

#[test]
fn regression_16_a_named_file_is_linted_from_the_current_directory() {
    // Protos at the top of the repository (buf's layout), linted from there.
    let fixtures = fixtures::Fixtures::write(&["good"]);
    let repo = fixtures.root("good");
    let file = "acme/library/v1/library.proto";
    assert_clean(&lint_in(&repo, &[file]));
    // --root spelled every way: ".", "./", absolute; the file too.
    let absolute_repo = repo.to_str().unwrap();
    let absolute_file = repo.join(file);
    let absolute_file = absolute_file.to_str().unwrap();
    for args in [
        &["--root", ".", file][..],
        &["--root", "./", file],
        &["--root", absolute_repo, file],
        &[absolute_file],
        &["--root", ".", absolute_file],
        &["./acme/library/../library/v1/library.proto"],
        // A directory with --root: its files, named from the root.
        &["--root", ".", "acme"],
        &["--root", "./", "acme/library/"],
    ] {
        assert_clean(&lint_in(&repo, args));
    }
}

#[test]
fn regression_16_a_root_above_the_current_directory() {
    let fixtures = repository("good");
    let tools = fixtures.dir().join("tools");
    let file = "../proto/acme/library/v1/library.proto";
    assert_clean(&lint_in(&tools, &["--root", "../proto", file]));
    assert_clean(&lint_in(&tools, &["--root", "../proto/", "../proto"]));
    assert_clean(&lint_in(&tools, &["--root", "../tools/../proto", file]));
    // From the repository's top, with the proto directory as the root.
    let file = "proto/acme/library/v1/library.proto";
    assert_clean(&lint_in(fixtures.dir(), &["--root", "proto", file]));
}

#[test]
fn regression_16_findings_name_the_file_as_given_from_the_current_directory() {
    let fixtures = repository("package_directory_match");
    let tools = fixtures.dir().join("tools");
    let out = lint_in(
        &tools,
        &["--root", "../proto", "../proto/acme/books/v1/library.proto"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(
        stdout(&out).lines().next(),
        Some(
            "../proto/acme/books/v1/library.proto:3:1: PACKAGE_DIRECTORY_MATCH files of \
             package \"acme.library.v1\" should be in directory \"acme/library/v1\", not \
             \"acme/books/v1\""
        )
    );
}

#[test]
fn regression_16_a_file_outside_the_root_says_how_to_give_one() {
    let fixtures = repository("good");
    let tools = fixtures.dir().join("tools");
    let file = "../proto/acme/library/v1/library.proto";
    let out = lint_in(&tools, &[file]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "aqueduct lint: {file} is not under the root . (the current directory, the \
             default): run from the directory its package path starts from, or give that \
             directory as --root DIR"
        )),
        "{stderr}"
    );
    // A --root given is named as given.
    let out = lint_in(&tools, &["--root", "../tools", file]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("aqueduct lint: {file} is not under the root ../tools\n")
    );
}

#[test]
fn regression_16_named_files_take_the_configuration_in_the_current_directory() {
    let fixtures = fixtures::Fixtures::write(&["service_suffix"]);
    let repo = fixtures.root("service_suffix");
    let file = "acme/library/v1/library.proto";
    let out = lint_in(&repo, &[file]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).contains("SERVICE_SUFFIX"), "{out:?}");
    std::fs::write(
        repo.join("aqueduct-lint.toml"),
        "disable = [\"SERVICE_SUFFIX\"]\n",
    )
    .unwrap();
    assert_clean(&lint_in(&repo, &[file]));
}

#[test]
fn regression_16_a_root_through_a_symbolic_link() {
    let fixtures = repository("good");
    let linked = fixtures.dir().join("linked");
    std::os::unix::fs::symlink("proto", &linked).unwrap();
    // The paths as written do not nest; their real paths do.
    let file = "proto/acme/library/v1/library.proto";
    assert_clean(&lint_in(fixtures.dir(), &["--root", "linked", file]));
    assert_clean(&lint_in(
        fixtures.dir(),
        &["--root", "proto", "linked/acme/library/v1/library.proto"],
    ));
}
