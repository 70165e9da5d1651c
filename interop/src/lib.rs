//! The gRPC interop test service (`grpc.testing.TestService`), written from the
//! public interop test descriptions: a server implementing it and a client running
//! the standard test cases against any server.
//!
//! The binaries `interop-server --port P` and `interop-client --server_host H
//! --server_port P --test_case NAME|all` take flags the way every gRPC
//! implementation's interop binaries do (`--flag value` or `--flag=value`);
//! `--help` lists them, an unknown flag is refused (exit 2), and `--use_tls`
//! takes only `false` (no TLS yet). `interop-server` shuts down gracefully on
//! SIGINT or SIGTERM.

/// Generated messages, server and client for `grpc.testing`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    aqueduct::include_proto!("grpc.testing");
}

pub mod certs;
pub mod client;
pub mod flags;
pub mod server;
