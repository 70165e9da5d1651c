//! Generated code reaches prost and the well-known types only through
//! `::aqueduct::codegen`, so a crate with generated code depends on `aqueduct`
//! and `aqueduct-build` and on no prost crate: checked on the code generated
//! for a proto with every kind of field and the well-known types.

#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The seam every path to prost or prost-types in generated code goes through.
const SEAM: &str = "::aqueduct::codegen::";

/// The code generated for `tests/proto/seam/v1/seam.proto`, field masks on.
fn generated() -> String {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seam");
    std::fs::create_dir_all(&out).unwrap();
    let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proto");
    aqueduct_build::configure()
        .field_masks(["seam.v1"])
        .out_dir(&out)
        .compile(&[protos.join("seam/v1/seam.proto")], &[&protos])
        .unwrap();
    std::fs::read_to_string(out.join("seam.v1.rs")).unwrap()
}

/// The lines of `code` that name `prost` or `prost_types` as a path other
/// than through [`SEAM`].
fn leaks(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (number, line) in code.lines().enumerate() {
        for name in ["prost", "prost_types"] {
            for (at, _) in line.match_indices(name) {
                let before = &line[..at];
                let after = &line[at + name.len()..];
                // Part of a longer identifier (`prost_types` seen as `prost`,
                // `my_prost`), or not a path (`#[prost(tag = "1")]`).
                if before.ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    || after.starts_with(|c: char| c.is_alphanumeric() || c == '_')
                    || !(after.starts_with("::") || after.starts_with('"'))
                {
                    continue;
                }
                if !before.ends_with(SEAM) {
                    found.push(format!("line {}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn generated_code_names_prost_only_through_aqueduct() {
    let code = generated();
    let leaks = leaks(&code);
    assert!(
        leaks.is_empty(),
        "prost paths outside {SEAM}:\n{}",
        leaks.join("\n")
    );
    // The proto does use what the check is about.
    for used in [
        "prost::Message",
        "prost::Enumeration",
        "prost::Oneof",
        "prost::alloc::string::String",
        "prost::alloc::vec::Vec<u8>",
        "prost_types::Timestamp",
        "prost_types::Duration",
        "prost_types::Any",
        "prost_types::Struct",
        "prost_types::Value",
        "prost_types::FieldMask",
    ] {
        assert!(
            code.contains(&format!("{SEAM}{used}")),
            "no {SEAM}{used} in:\n{code}"
        );
    }
}

/// The derive macros name prost in code the file does not show, so each
/// derive must come with the attribute that points them at the seam.
#[test]
fn every_derive_is_told_the_prost_path() {
    let code = generated();
    // Without whitespace: a long derive list is written over several lines.
    let compact: String = code.split_whitespace().collect();
    let derives = ["Message", "Enumeration", "Oneof"]
        .iter()
        .map(|derive| compact.matches(&format!("{SEAM}prost::{derive})]")).count())
        .sum::<usize>();
    let told = compact
        .matches(&format!("#[prost(prost_path=\"{SEAM}prost\")]"))
        .count();
    assert!(derives > 0);
    assert_eq!(derives, told, "{code}");
}

#[test]
fn the_leak_check_sees_leaks() {
    let leaked = "#[derive(::prost::Message)]\n\
                  pub a: ::prost::alloc::string::String,\n\
                  pub b: ::core::option::Option<::prost_types::Timestamp>,\n\
                  #[prost(prost_path = \"::prost\")]\n\
                  impl prost::Name for A {}";
    assert_eq!(leaks(leaked).len(), 5, "{:?}", leaks(leaked));
    let sealed = "#[derive(::aqueduct::codegen::prost::Message)]\n\
                  #[prost(prost_path = \"::aqueduct::codegen::prost\")]\n\
                  #[prost(string, tag = \"1\")]\n\
                  pub a: ::aqueduct::codegen::prost_types::Timestamp,";
    assert_eq!(leaks(sealed), Vec::<String>::new());
}
