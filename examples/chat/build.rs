//! Generates the chat service code from its .proto with aqueduct-build,
//! linting it first: a finding fails the build.

fn main() -> std::io::Result<()> {
    aqueduct_build::configure()
        .lint(true)
        .compile(&["proto/chat/v1/chat.proto"], &["proto"])
}
