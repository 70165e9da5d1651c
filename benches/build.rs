//! Generates tonic's Greeter from the same proto the Aqueduct example uses, through
//! protox, so neither side needs protoc; connect-rust's Greeter (buffa messages
//! and connectrpc service stubs, through connectrpc-build) from the same
//! descriptor set, written to `OUT_DIR/connect`; and the field-mask test messages
//! (library.v1) with aqueduct-build's field masks, for bench-fieldmask.

use prost::Message as _;

fn main() -> std::io::Result<()> {
    let proto_dir = "../examples/helloworld/proto";
    let fds = protox::compile(["helloworld/v1/helloworld.proto"], [proto_dir])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("cargo:rerun-if-changed={proto_dir}");
    // connectrpc-build reads a descriptor set from a file (it would otherwise
    // run protoc): protox's, encoded, with its imports (none here).
    let out_dir = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let fds_path = out_dir.join("helloworld.fds.bin");
    std::fs::write(&fds_path, fds.encode_to_vec())?;
    connectrpc_build::Config::new()
        .descriptor_set(&fds_path)
        .files(&["helloworld/v1/helloworld.proto"])
        .generate_json(false)
        .out_dir(out_dir.join("connect"))
        .include_file("mod.rs")
        .emit_rerun_directives(false)
        .compile()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    tonic_prost_build::configure().compile_fds(fds)?;
    aqueduct_build::configure()
        .build_server(false)
        .build_client(false)
        .field_masks(["library.v1"])
        .compile(&["library/v1/library.proto"], &["../tests/proto"])
}
