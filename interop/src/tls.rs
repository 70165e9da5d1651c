//! The interop binaries' TLS flags and the aqueduct TLS settings they make.
//!
//! The names are grpc-go's (`interop/server/server.go`,
//! `interop/client/client.go`), so a test runner's command line works
//! unchanged; three flags for mutual TLS are ours, as grpc-go's binaries
//! have none:
//!
//! ```text
//!  interop-server --use_tls true           interop-client --use_tls true
//!    --tls_cert_file F --tls_key_file F      [--ca_file F] [--use_test_ca true]
//!    [--client_ca_file F]  (ours)            [--server_host_override NAME]
//!                                            [--client_cert_file F --client_key_file F]  (ours)
//! ```
//!
//! Two differences from grpc-go, both because no test certificates are
//! built in: the server's certificate and key must be given (grpc-go falls
//! back to its `testdata`), and `--use_test_ca true` needs `--ca_file`
//! (grpc-go falls back to its test CA). `--ca_file` is used whenever it is
//! given; grpc-go reads it only with `--use_test_ca true`. Without either,
//! the client trusts the system's roots, as grpc-go does.

use std::collections::HashMap;
use std::fmt;

use aqueduct::tls::{CaRoots, ClientAuth, ClientTls, Identity, ServerTls};

use crate::flags::{Flag, boolean};

/// `--tls_cert_file`: the server's certificate chain.
pub const TLS_CERT_FILE: Flag = Flag {
    name: "tls_cert_file",
    value: "FILE",
    help: "the server's certificate chain, PEM (required with --use_tls true)",
};

/// `--tls_key_file`: the server's private key.
pub const TLS_KEY_FILE: Flag = Flag {
    name: "tls_key_file",
    value: "FILE",
    help: "the server's private key, PEM (required with --use_tls true)",
};

/// `--client_ca_file`: require client certificates signed by these roots.
pub const CLIENT_CA_FILE: Flag = Flag {
    name: "client_ca_file",
    value: "FILE",
    help: "require client certificates signed by these CAs, PEM (mutual TLS)",
};

/// `--ca_file`: the roots the client trusts.
pub const CA_FILE: Flag = Flag {
    name: "ca_file",
    value: "FILE",
    help: "trust these CAs, PEM (default the system's roots)",
};

/// `--use_test_ca`: grpc-go's switch to its test CA; here it needs
/// `--ca_file`.
pub const USE_TEST_CA: Flag = Flag {
    name: "use_test_ca",
    value: "true|false",
    help: "trust the test CA, which --ca_file must name (default false)",
};

/// `--server_host_override`: the name the server's certificate is checked
/// against.
pub const SERVER_HOST_OVERRIDE: Flag = Flag {
    name: "server_host_override",
    value: "NAME",
    help: "check the server's certificate for NAME (default the host)",
};

/// `--client_cert_file`: the client's certificate chain, for mutual TLS.
pub const CLIENT_CERT_FILE: Flag = Flag {
    name: "client_cert_file",
    value: "FILE",
    help: "present this certificate chain, PEM (mutual TLS)",
};

/// `--client_key_file`: the client's private key, for mutual TLS.
pub const CLIENT_KEY_FILE: Flag = Flag {
    name: "client_key_file",
    value: "FILE",
    help: "the private key of --client_cert_file, PEM",
};

/// The server's TLS-only flags.
pub const SERVER_FLAGS: &[Flag] = &[TLS_CERT_FILE, TLS_KEY_FILE, CLIENT_CA_FILE];

/// The client's TLS-only flags.
pub const CLIENT_FLAGS: &[Flag] = &[
    CA_FILE,
    USE_TEST_CA,
    SERVER_HOST_OVERRIDE,
    CLIENT_CERT_FILE,
    CLIENT_KEY_FILE,
];

/// Why the TLS flags give no settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagError {
    /// The flags do not go together: print the usage too.
    Usage(String),
    /// A file they name cannot be read or used.
    Material(String),
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(message) | Self::Material(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for FlagError {}

/// The server's TLS settings from its flags, or `None` for plaintext.
///
/// ```
/// # use std::collections::HashMap;
/// use interop::tls::{FlagError, server};
///
/// assert!(matches!(server(&HashMap::new()), Ok(None)));
/// let flags = HashMap::from([("use_tls".to_owned(), "true".to_owned())]);
/// assert!(matches!(server(&flags), Err(FlagError::Usage(_))));
/// ```
///
/// # Errors
///
/// [`FlagError::Usage`] when the flags do not go together,
/// [`FlagError::Material`] when a file cannot be read or used.
pub fn server(flags: &HashMap<String, String>) -> Result<Option<ServerTls>, FlagError> {
    if !crate::flags::use_tls(flags, SERVER_FLAGS).map_err(FlagError::Usage)? {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (flags.get(TLS_CERT_FILE.name), flags.get(TLS_KEY_FILE.name))
    else {
        return Err(FlagError::Usage(
            "--use_tls true needs --tls_cert_file and --tls_key_file \
             (no test certificate is built in)"
                .to_owned(),
        ));
    };
    let identity = Identity::from_pem_files(cert, key).map_err(material)?;
    let client_auth = match flags.get(CLIENT_CA_FILE.name) {
        Some(path) => ClientAuth::Required(CaRoots::from_pem_file(path).map_err(material)?),
        None => ClientAuth::Off,
    };
    ServerTls::builder(identity)
        .client_auth(client_auth)
        .build()
        .map(Some)
        .map_err(material)
}

/// The client's TLS settings from its flags, or `None` for plaintext.
///
/// ```
/// # use std::collections::HashMap;
/// use interop::tls::{FlagError, client};
///
/// assert!(matches!(client(&HashMap::new()), Ok(None)));
/// let flags: HashMap<String, String> = [("use_tls", "true"), ("use_test_ca", "true")]
///     .map(|(k, v)| (k.to_owned(), v.to_owned()))
///     .into();
/// assert!(matches!(client(&flags), Err(FlagError::Usage(_))));
/// ```
///
/// # Errors
///
/// [`FlagError::Usage`] when the flags do not go together,
/// [`FlagError::Material`] when a file cannot be read or used.
pub fn client(flags: &HashMap<String, String>) -> Result<Option<ClientTls>, FlagError> {
    if !crate::flags::use_tls(flags, CLIENT_FLAGS).map_err(FlagError::Usage)? {
        return Ok(None);
    }
    let ca_file = flags.get(CA_FILE.name);
    if boolean(flags, USE_TEST_CA.name).map_err(FlagError::Usage)? && ca_file.is_none() {
        return Err(FlagError::Usage(
            "--use_test_ca true needs --ca_file (no test CA is built in)".to_owned(),
        ));
    }
    let mut tls = ClientTls::new();
    if let Some(path) = ca_file {
        tls = tls.ca_certificates(CaRoots::from_pem_file(path).map_err(material)?);
    }
    match (
        flags.get(CLIENT_CERT_FILE.name),
        flags.get(CLIENT_KEY_FILE.name),
    ) {
        (Some(cert), Some(key)) => {
            tls = tls.identity(Identity::from_pem_files(cert, key).map_err(material)?);
        }
        (None, None) => {}
        _ => {
            return Err(FlagError::Usage(
                "--client_cert_file and --client_key_file go together".to_owned(),
            ));
        }
    }
    if let Some(name) = flags.get(SERVER_HOST_OVERRIDE.name) {
        tls = tls.server_name(name);
    }
    Ok(Some(tls))
}

fn material(e: aqueduct::tls::TlsError) -> FlagError {
    FlagError::Material(format!("TLS: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn usage(message: &str) -> FlagError {
        FlagError::Usage(message.to_owned())
    }

    #[test]
    fn tls_only_flags_need_use_tls_true() {
        for flag in SERVER_FLAGS {
            let flags = given(&[(flag.name, "x.pem"), ("use_tls", "false")]);
            let want = format!("--{} needs --use_tls true", flag.name);
            assert_eq!(server(&flags).unwrap_err(), usage(&want));
        }
        for flag in CLIENT_FLAGS {
            let flags = given(&[(flag.name, "x")]);
            let want = format!("--{} needs --use_tls true", flag.name);
            assert_eq!(client(&flags).unwrap_err(), usage(&want));
        }
        assert_eq!(
            server(&given(&[("use_tls", "1")])).unwrap_err(),
            usage("--use_tls takes true or false, not \"1\"")
        );
    }

    #[test]
    fn flags_that_go_together() {
        assert_eq!(
            server(&given(&[("use_tls", "true"), ("tls_cert_file", "s.pem")])).unwrap_err(),
            usage(
                "--use_tls true needs --tls_cert_file and --tls_key_file \
                 (no test certificate is built in)"
            )
        );
        assert_eq!(
            client(&given(&[
                ("use_tls", "true"),
                ("client_cert_file", "c.pem")
            ]))
            .unwrap_err(),
            usage("--client_cert_file and --client_key_file go together")
        );
        assert_eq!(
            client(&given(&[("use_tls", "true"), ("use_test_ca", "yes")])).unwrap_err(),
            usage("--use_test_ca takes true or false, not \"yes\"")
        );
        // System roots, read when the channel first connects.
        assert!(matches!(
            client(&given(&[("use_tls", "true")])),
            Ok(Some(_))
        ));
    }

    #[test]
    fn material_that_cannot_be_used_says_which_file() {
        let dir = crate::certs::TempDir::new();
        let pki = crate::certs::TestPki::new("flags test CA");
        let (cert, key) = pki.server(&["localhost"]).write(dir.path(), "server");
        let other = pki.server(&["localhost"]).write(dir.path(), "other");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not PEM at all").unwrap();
        let missing = dir.path().join("missing.pem");
        let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();

        let server_with = |cert: &str, key: &str, ca: Option<&str>| {
            let mut flags = given(&[("use_tls", "true")]);
            flags.insert("tls_cert_file".into(), cert.into());
            flags.insert("tls_key_file".into(), key.into());
            if let Some(ca) = ca {
                flags.insert("client_ca_file".into(), ca.into());
            }
            server(&flags)
        };
        assert!(matches!(
            server_with(&path(&cert), &path(&key), None),
            Ok(Some(_))
        ));
        for (flags, want) in [
            (
                (path(&missing), path(&key), None),
                format!("TLS: cannot read {}: ", missing.display()),
            ),
            (
                (path(&cert), path(&garbage), None),
                format!("TLS: {}: no private key could be read", garbage.display()),
            ),
            (
                (path(&cert), path(&other.1), None),
                format!(
                    "TLS: the private key {} does not match the certificate {}",
                    other.1.display(),
                    cert.display()
                ),
            ),
            (
                (path(&cert), path(&key), Some(path(&garbage))),
                format!("TLS: {}: no CERTIFICATE found", garbage.display()),
            ),
        ] {
            let (cert, key, ca) = flags;
            match server_with(&cert, &key, ca.as_deref()) {
                Err(FlagError::Material(message)) => {
                    assert!(message.starts_with(&want), "{message:?} is not {want:?}");
                }
                other => panic!("{other:?}: wanted a material error {want:?}"),
            }
        }
        let flags = given(&[("use_tls", "true"), ("ca_file", &path(&missing))]);
        match client(&flags) {
            Err(FlagError::Material(message)) => {
                assert!(message.starts_with("TLS: cannot read"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
}
