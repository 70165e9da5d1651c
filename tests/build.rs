//! Generates the field-mask test messages (library.v1) with field masks on,
//! and a service whose method names are those generated code uses
//! (names.v1), which must compile.

fn main() -> std::io::Result<()> {
    aqueduct_build::configure()
        .field_masks(["library.v1"])
        .compile(
            &[
                "proto/library/v1/library.proto",
                "proto/names/v1/names.proto",
            ],
            &["proto"],
        )
}
