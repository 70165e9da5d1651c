//! `configure().lint(true)`: a proto that breaks a rule fails the build with
//! the finding; one that follows them all compiles.

#![allow(clippy::unwrap_used)]

#[path = "../../aqueduct-lint/tests/common/fixtures.rs"]
mod fixtures;

use std::path::PathBuf;

fn out_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("aqueduct-build-lint-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn build(fixture: &str) -> std::io::Result<()> {
    let written = fixtures::Fixtures::write(&[fixture]);
    let root = written.root(fixture);
    aqueduct_build::configure()
        .lint(true)
        .out_dir(out_dir(fixture))
        .compile(&[root.join("acme/library/v1/library.proto")], &[root])
}

#[test]
fn a_finding_fails_the_build_and_names_the_rule_and_place() {
    let error = build("service_suffix").unwrap_err().to_string();
    assert!(
        error.contains("acme/library/v1/library.proto:6:9: SERVICE_SUFFIX"),
        "{error}"
    );
}

#[test]
fn a_clean_proto_builds() {
    build("good").unwrap();
    assert!(out_dir("good").join("acme.library.v1.rs").is_file());
}

/// Issue 16 (6): include directories and protos are matched after resolving
/// `.` and `..`, so the finding is still found, under its include directory.
#[test]
fn include_paths_with_dots_and_dot_dots_still_lint() {
    let written = fixtures::Fixtures::write(&["service_suffix"]);
    let root = written.root("service_suffix");
    let error = aqueduct_build::configure()
        .lint(true)
        .out_dir(out_dir("dots"))
        .compile(
            &[root.join("acme/library/../library/v1/library.proto")],
            &[root.join("acme/..")],
        )
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("acme/library/v1/library.proto:6:9: SERVICE_SUFFIX"),
        "{error}"
    );
}
