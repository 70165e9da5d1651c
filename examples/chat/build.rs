//! Generates the chat service code from its .proto with aqueduct-build.

fn main() -> std::io::Result<()> {
    aqueduct_build::compile(&["proto/chat/v1/chat.proto"], &["proto"])
}
