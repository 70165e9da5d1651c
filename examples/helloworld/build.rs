//! Generates the Greeter service code from its .proto with aqueduct-build.

fn main() -> std::io::Result<()> {
    aqueduct_build::compile(&["proto/helloworld/v1/helloworld.proto"], &["proto"])
}
