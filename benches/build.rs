//! Generates tonic's Greeter from the same proto the Aqueduct example uses, through
//! protox, so neither side needs protoc.

fn main() -> std::io::Result<()> {
    let proto_dir = "../examples/helloworld/proto";
    let fds = protox::compile(["helloworld/v1/helloworld.proto"], [proto_dir])
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    println!("cargo:rerun-if-changed={proto_dir}");
    tonic_prost_build::configure().compile_fds(fds)
}
