//! Generates the Notes service code from its .proto with aqueduct-build,
//! with field masks for `UpdateNote`.

fn main() -> std::io::Result<()> {
    aqueduct_build::configure()
        .field_masks(["notes.v1"])
        .compile(&["proto/notes/v1/notes.proto"], &["proto"])
}
