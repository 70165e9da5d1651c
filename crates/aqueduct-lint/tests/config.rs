//! aqueduct-lint.toml: turning rules off, per-path ignores, the options, and
//! clear errors for a configuration the linter does not understand.

#![allow(clippy::unwrap_used)]

#[path = "common/fixtures.rs"]
mod fixtures;

use std::path::{Path, PathBuf};

use aqueduct_lint::{CONFIG_FILE, Config, lint_dir};

/// Fixture `name`, written for this test (kept while the returned value lives).
fn fixture(name: &str) -> (fixtures::Fixtures, PathBuf) {
    let written = fixtures::Fixtures::write(&[name]);
    let root = written.root(name);
    (written, root)
}

fn rules(root: &Path, config: &Config) -> Vec<&'static str> {
    lint_dir(root, config)
        .unwrap()
        .into_iter()
        .map(|f| f.rule)
        .collect()
}

fn config(text: &str) -> Config {
    Config::parse(text).unwrap()
}

/// A lint root in a temporary directory with `files` (path, text).
fn root(name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aqueduct-lint-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn disabled_rules_do_not_run() {
    let (_written, suffix) = fixture("service_suffix");
    assert_eq!(rules(&suffix, &Config::default()), ["SERVICE_SUFFIX"]);
    assert!(rules(&suffix, &config(r#"disable = ["SERVICE_SUFFIX"]"#)).is_empty());
}

#[test]
fn options_change_what_the_rules_want() {
    let (_good, good) = fixture("good");
    let (_suffix, suffix) = fixture("service_suffix");
    let (_zero, zero) = fixture("enum_zero_value_suffix");
    let (_errors, errors) = fixture("response_no_error_fields");
    assert_eq!(
        rules(&good, &config(r#"service_suffix = "Api""#)),
        ["SERVICE_SUFFIX"]
    );
    assert!(rules(&suffix, &config(r#"service_suffix = """#)).is_empty());
    // _UNKNOWN instead of _UNSPECIFIED (the fixture's zero value is GENRE_NONE).
    assert_eq!(
        rules(&good, &config(r#"enum_zero_value_suffix = "_UNKNOWN""#)),
        ["ENUM_ZERO_VALUE_SUFFIX", "ENUM_ZERO_VALUE_SUFFIX"],
        "Genre and Book.Format"
    );
    // With _NONE the fixture's GENRE_NONE is right and FORMAT_UNSPECIFIED is not.
    let findings = lint_dir(&zero, &config(r#"enum_zero_value_suffix = "_NONE""#)).unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert!(findings[0].message.contains("enum Format"), "{findings:?}");
    // Only these names count as error fields.
    assert_eq!(
        rules(&errors, &config(r#"error_field_names = ["code"]"#)),
        ["RESPONSE_NO_ERROR_FIELDS"]
    );
}

const EMPTY_USER: &str = r#"syntax = "proto3";

package acme.pets.v1;

import "google/protobuf/empty.proto";

service PetService {
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);
  rpc Reset(google.protobuf.Empty) returns (ResetResponse);
}

message ResetResponse {}
"#;

#[test]
fn empty_is_allowed_by_option() {
    let dir = root("empty", &[("acme/pets/v1/pets.proto", EMPTY_USER)]);
    let mut found = rules(&dir, &Config::default());
    found.sort_unstable();
    found.dedup();
    assert_eq!(
        found,
        [
            "RPC_REQUEST_RESPONSE_UNIQUE",
            "RPC_REQUEST_STANDARD_NAME",
            "RPC_RESPONSE_STANDARD_NAME"
        ]
    );
    let allowed = config("allow_empty_requests = true\nallow_empty_responses = true");
    assert!(rules(&dir, &allowed).is_empty());
    let requests_only = config("allow_empty_requests = true");
    assert_eq!(rules(&dir, &requests_only), ["RPC_RESPONSE_STANDARD_NAME"]);
}

#[test]
fn ignores_cover_a_directory_or_a_file_for_some_or_all_rules() {
    let (_written, suffix) = fixture("service_suffix");
    for (text, clean) in [
        (
            "[[ignore]]\npath = \"acme/library\"\nrules = [\"SERVICE_SUFFIX\"]",
            true,
        ),
        ("[[ignore]]\npath = \"acme/library/\"", true),
        ("[[ignore]]\npath = \"acme/library/v1/library.proto\"", true),
        // Another rule, another directory, a name that only starts alike.
        (
            "[[ignore]]\npath = \"acme/library\"\nrules = [\"FIELD_LOWER_SNAKE_CASE\"]",
            false,
        ),
        ("[[ignore]]\npath = \"acme/other\"", false),
        ("[[ignore]]\npath = \"acme/lib\"", false),
    ] {
        let found = rules(&suffix, &config(text));
        assert_eq!(found.is_empty(), clean, "{text}: {found:?}");
    }
}

#[test]
fn a_config_file_in_the_root_is_found() {
    let (_written, suffix) = fixture("service_suffix");
    let text = std::fs::read_to_string(suffix.join("acme/library/v1/library.proto")).unwrap();
    let dir = root(
        "discover",
        &[
            ("acme/library/v1/library.proto", &text),
            (CONFIG_FILE, "disable = [\"SERVICE_SUFFIX\"]\n"),
        ],
    );
    assert!(rules(&dir, &Config::discover(&dir).unwrap()).is_empty());
    assert_eq!(
        rules(&suffix, &Config::discover(&suffix).unwrap()),
        ["SERVICE_SUFFIX"],
        "no file: the defaults"
    );
}

#[test]
fn configurations_it_does_not_understand_are_errors() {
    let unknown_rule = Config::parse(r#"disable = ["SERVICE_SUFIX"]"#)
        .unwrap_err()
        .to_string();
    assert!(
        unknown_rule.contains("SERVICE_SUFIX") && unknown_rule.contains("SERVICE_SUFFIX"),
        "{unknown_rule}"
    );
    let unknown_key = Config::parse("service_sufix = \"Api\"")
        .unwrap_err()
        .to_string();
    assert!(unknown_key.contains("service_sufix"), "{unknown_key}");
    let ignored_rule = Config::parse("[[ignore]]\npath = \"a\"\nrules = [\"NOPE\"]")
        .unwrap_err()
        .to_string();
    assert!(ignored_rule.contains("NOPE"), "{ignored_rule}");
    assert!(Config::parse("disable = 3").is_err());
}
