//! The descriptor sets the `aqueduct` crate bundles for its hand-written standard
//! services (health, reflection) and for the `google.rpc` error details that
//! reflection always serves are exactly what compiling their `.proto` files
//! gives. Regenerate them with `AQUEDUCT_BLESS=1 cargo test -p aqueduct-build
//! --test bundled_descriptors`.

use std::path::{Path, PathBuf};

use prost::Message as _;

fn aqueduct_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../aqueduct")
}

fn check(protos: &[&str], bundled: &str) {
    let dir = aqueduct_dir();
    let mut compiler = protox::Compiler::new([dir.join("proto")]).expect("include path");
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(protos).expect("the protos compile");
    let encoded = compiler.file_descriptor_set().encode_to_vec();
    let path = dir.join("descriptors").join(bundled);
    if std::env::var_os("AQUEDUCT_BLESS").is_some() {
        std::fs::write(&path, &encoded).expect("writing the descriptor set");
        return;
    }
    let on_disk = std::fs::read(&path).unwrap_or_default();
    assert!(
        on_disk == encoded,
        "{} is stale: run AQUEDUCT_BLESS=1 cargo test -p aqueduct-build --test bundled_descriptors",
        path.display()
    );
}

#[test]
fn health_descriptor_is_fresh() {
    check(&["grpc/health/v1/health.proto"], "health.bin");
}

#[test]
fn reflection_v1_descriptor_is_fresh() {
    check(
        &["grpc/reflection/v1/reflection.proto"],
        "reflection_v1.bin",
    );
}

#[test]
fn reflection_v1alpha_descriptor_is_fresh() {
    check(
        &["grpc/reflection/v1alpha/reflection.proto"],
        "reflection_v1alpha.bin",
    );
}

#[test]
fn error_details_descriptor_is_fresh() {
    check(
        &["google/rpc/status.proto", "google/rpc/error_details.proto"],
        "error_details.bin",
    );
}
