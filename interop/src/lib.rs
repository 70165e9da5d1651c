//! The gRPC interop test service (`grpc.testing.TestService`), written from the
//! public interop test descriptions: a server implementing it and a client running
//! the standard test cases against any server.
//!
//! The binaries `interop-server --port P` and `interop-client --server_host H
//! --server_port P --test_case NAME|all` take flags the way every gRPC
//! implementation's interop binaries do (`--flag value` or `--flag=value`);
//! `--help` lists them, and an unknown flag is refused (exit 2).
//! `interop-server` shuts down gracefully on SIGINT or SIGTERM.
//!
//! `--use_tls true` (default `false`) runs either over TLS, with grpc-go's
//! flags: `interop-server --use_tls true --tls_cert_file F --tls_key_file F`
//! and `interop-client --use_tls true --ca_file F --server_host_override
//! NAME`. For mutual TLS, `--client_ca_file F` makes the server require
//! client certificates signed by those CAs and `--client_cert_file F
//! --client_key_file F` gives the client one (these three are ours: grpc-go's
//! binaries have no mutual TLS). A TLS flag without `--use_tls true` is
//! refused, so a run meant to be over TLS cannot pass in plaintext; see
//! [`tls`] for the rest, and [`certs`] for the certificates the tests make.
//! `interop-server --reflection true` (ours too) also serves server
//! reflection, for tools such as `grpcurl`.

/// Generated messages, server and client for `grpc.testing`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    aqueduct::include_proto!("grpc.testing");
}

pub mod certs;
pub mod client;
pub mod flags;
pub mod server;
pub mod tls;
