//! Certificates made for one test and written where foreign peers read them,
//! and the interop flags that name them (the Rust and Python binaries share
//! flag names). Included by path by the tests that use TLS.

#![allow(dead_code, reason = "each test that includes it uses what it needs")]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use interop::certs::{TempDir, TestPki};

/// The client certificate's identity.
pub(crate) const CLIENT_ID: &str = "spiffe://example.org/ns/interop/sa/client";

/// A CA's certificate, a server certificate it signed for `localhost` and
/// `127.0.0.1`, a client certificate it signed, and another CA's
/// certificate (which signed none of them), as PEM files in a directory
/// removed with it.
pub(crate) struct PemFiles {
    pub(crate) ca: PathBuf,
    pub(crate) server_cert: PathBuf,
    pub(crate) server_key: PathBuf,
    pub(crate) client_cert: PathBuf,
    pub(crate) client_key: PathBuf,
    pub(crate) other_ca: PathBuf,
    _dir: TempDir,
}

impl PemFiles {
    pub(crate) fn new() -> Self {
        let dir = TempDir::new();
        let pki = TestPki::new("Aqueduct Interop Test CA");
        let (server_cert, server_key) = pki
            .server(&["localhost", "127.0.0.1"])
            .write(dir.path(), "server");
        let (client_cert, client_key) = pki.client(CLIENT_ID).write(dir.path(), "client");
        let ca = write(dir.path(), "ca.pem", pki.ca_pem());
        let other = TestPki::new("Some Other CA");
        let other_ca = write(dir.path(), "other-ca.pem", other.ca_pem());
        Self {
            ca,
            server_cert,
            server_key,
            client_cert,
            client_key,
            other_ca,
            _dir: dir,
        }
    }

    /// A server's flags: TLS with the server certificate, and with `mtls`
    /// client certificates from the CA required.
    pub(crate) fn server_flags(&self, mtls: bool) -> Vec<OsString> {
        let mut flags = flags(&[
            ("use_tls", Path::new("true")),
            ("tls_cert_file", &self.server_cert),
            ("tls_key_file", &self.server_key),
        ]);
        if mtls {
            flags.extend(self::flags(&[("client_ca_file", &self.ca)]));
        }
        flags
    }

    /// A client's flags: TLS trusting `ca`, and with `mtls` the client
    /// certificate.
    pub(crate) fn client_flags(&self, ca: &Path, mtls: bool) -> Vec<OsString> {
        let mut flags = flags(&[("use_tls", Path::new("true")), ("ca_file", ca)]);
        if mtls {
            flags.extend(self::flags(&[
                ("client_cert_file", &self.client_cert),
                ("client_key_file", &self.client_key),
            ]));
        }
        flags
    }
}

fn write(dir: &Path, name: &str, pem: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, pem).expect("write a PEM file");
    path
}

/// `--name value` pairs as arguments.
fn flags(pairs: &[(&str, &Path)]) -> Vec<OsString> {
    pairs
        .iter()
        .flat_map(|(name, value)| {
            [
                OsString::from(format!("--{name}")),
                value.as_os_str().to_owned(),
            ]
        })
        .collect()
}
