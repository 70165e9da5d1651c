//! Generates the Notes service code from its .proto with aqueduct-build.

fn main() -> std::io::Result<()> {
    aqueduct_build::compile(&["proto/notes/v1/notes.proto"], &["proto"])
}
