//! Generates the grpc.testing service code with aqueduct-build.

fn main() -> std::io::Result<()> {
    aqueduct_build::compile(&["proto/grpc/testing/test.proto"], &["proto"])
}
