//! Generates the field-mask test messages (library.v1) with field masks on.

fn main() -> std::io::Result<()> {
    aqueduct_build::configure()
        .field_masks(["library.v1"])
        .compile(&["proto/library/v1/library.proto"], &["proto"])
}
