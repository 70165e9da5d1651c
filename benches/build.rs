//! Generates tonic's Greeter from the same proto the Aqueduct example uses, through
//! protox, so neither side needs protoc; and the field-mask test messages
//! (library.v1) with aqueduct-build's field masks, for bench-fieldmask.

fn main() -> std::io::Result<()> {
    let proto_dir = "../examples/helloworld/proto";
    let fds = protox::compile(["helloworld/v1/helloworld.proto"], [proto_dir])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("cargo:rerun-if-changed={proto_dir}");
    tonic_prost_build::configure().compile_fds(fds)?;
    aqueduct_build::configure()
        .build_server(false)
        .build_client(false)
        .field_masks(["library.v1"])
        .compile(&["library/v1/library.proto"], &["../tests/proto"])
}
