//! Generated code reaches prost and the well-known types only through
//! `::aqueduct::codegen`, so a crate with generated code depends on `aqueduct`
//! and `aqueduct-build` and on no prost crate: checked on the code generated
//! for a proto with every kind of field and the well-known types, and on the
//! examples' manifests, which must stay that way.

#![allow(clippy::unwrap_used)]

use std::path::Path;

/// The seam every path to prost or prost-types in generated code goes through.
const SEAM: &str = "::aqueduct::codegen::";

/// The code generated for `tests/proto/seam/v1/seam.proto`, field masks on:
/// generated once for all the tests, which run in parallel (each writing the
/// file while another read it made a flaky test).
fn generated() -> String {
    static CODE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    CODE.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seam");
        std::fs::create_dir_all(&out).unwrap();
        let protos = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proto");
        aqueduct_build::configure()
            .field_masks(["seam.v1"])
            .out_dir(&out)
            .compile(&[protos.join("seam/v1/seam.proto")], &[&protos])
            .unwrap();
        std::fs::read_to_string(out.join("seam.v1.rs")).unwrap()
    })
    .clone()
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

/// The prost crates a manifest depends on, in any dependency table, renamed
/// or not.
fn prost_dependencies(manifest: &toml::Table) -> Vec<String> {
    const KINDS: [&str; 3] = ["dependencies", "dev-dependencies", "build-dependencies"];
    let mut tables: Vec<&toml::Table> = KINDS
        .iter()
        .filter_map(|kind| manifest.get(*kind)?.as_table())
        .collect();
    let targets = manifest.get("target").and_then(toml::Value::as_table);
    for target in targets.into_iter().flat_map(|t| t.values()) {
        let Some(target) = target.as_table() else {
            continue;
        };
        tables.extend(
            KINDS
                .iter()
                .filter_map(|kind| target.get(*kind)?.as_table()),
        );
    }
    tables
        .into_iter()
        .flatten()
        .map(|(key, spec)| {
            spec.get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key)
                .to_owned()
        })
        .filter(|name| name.starts_with("prost"))
        .collect()
}

/// Each example builds with `aqueduct` and `aqueduct-build` and no prost
/// crate: what it needs of prost it takes from `aqueduct::prost` and
/// `aqueduct::prost_types`.
#[test]
fn examples_depend_on_no_prost_crate() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .canonicalize()
        .unwrap();
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&manifest).unwrap();
        let named = prost_dependencies(&text.parse().unwrap());
        assert!(
            named.is_empty(),
            "{} depends on {named:?}: use aqueduct::prost and aqueduct::prost_types instead",
            manifest.display()
        );
        checked.extend(dir.file_name().and_then(|n| n.to_str()).map(str::to_owned));
    }
    for example in ["chat", "helloworld", "notes"] {
        assert!(
            checked.iter().any(|c| c == example),
            "{example} not found in {}",
            examples.display()
        );
    }
}

#[test]
fn the_manifest_check_sees_prost() {
    let manifest = r#"
        [dependencies]
        aqueduct.workspace = true
        prost.workspace = true
        wkt = { package = "prost-types", version = "0.14" }
        [target.'cfg(unix)'.dev-dependencies]
        prost-derive = "0.14"
        [build-dependencies.prost-build]
        version = "0.14"
    "#;
    let mut named = prost_dependencies(&manifest.parse().unwrap());
    named.sort();
    assert_eq!(
        named,
        ["prost", "prost-build", "prost-derive", "prost-types"]
    );
}
