//! Certificates for tests, made when the test runs (no private key is
//! committed): a CA, server and client certificates it signs, and the PEM
//! files foreign peers (`grpcio`, `grpcurl`) read.
//!
//! ```
//! let pki = interop::certs::TestPki::new("Aqueduct Test CA");
//! let server = pki.server(&["localhost", "127.0.0.1"]);
//! let client = pki.client("spiffe://example.org/ns/billing/sa/api");
//! let identity = server.identity(); // an aqueduct::tls::Identity
//! # drop((identity, client));
//! ```

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};

/// A test certificate authority.
pub struct TestPki {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// A certificate and its key, in PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The leaf certificate, PEM.
    pub cert_pem: String,
    /// Its private key (PKCS#8), PEM.
    pub key_pem: String,
}

/// How a leaf certificate is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Use {
    Server,
    Client,
}

impl TestPki {
    /// A new CA whose certificate's common name is `name`.
    #[must_use]
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::new()).expect("no names to reject");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("ECDSA P-256 key");
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self {
            ca_pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM: the root clients and servers trust.
    #[must_use]
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The CA as aqueduct roots.
    #[must_use]
    pub fn roots(&self) -> aqueduct::tls::CaRoots {
        aqueduct::tls::CaRoots::from_pem(&self.ca_pem).expect("the CA's own PEM parses")
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    #[must_use]
    pub fn server(&self, names: &[&str]) -> Issued {
        self.issue(names, None, Use::Server, None)
    }

    /// A client certificate whose one URI SAN is `spiffe_id`, with the last
    /// path segment as its common name.
    #[must_use]
    pub fn client(&self, spiffe_id: &str) -> Issued {
        self.issue(&[], Some(spiffe_id), Use::Client, None)
    }

    /// A server certificate for `names` that expired in 2021.
    #[must_use]
    pub fn expired_server(&self, names: &[&str]) -> Issued {
        self.issue(names, None, Use::Server, Some((2020, 2021)))
    }

    fn issue(
        &self,
        names: &[&str],
        uri: Option<&str>,
        usage: Use,
        years: Option<(i32, i32)>,
    ) -> Issued {
        let mut params = CertificateParams::new(Vec::new()).expect("no names to reject");
        for name in names {
            let san = match name.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*name).try_into().expect("a DNS name")),
            };
            params.subject_alt_names.push(san);
        }
        let cn = match uri {
            Some(uri) => {
                params
                    .subject_alt_names
                    .push(SanType::URI(uri.try_into().expect("an IA5 URI")));
                uri.rsplit('/').next().unwrap_or(uri)
            }
            None => names.first().copied().unwrap_or("aqueduct test"),
        };
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![match usage {
            Use::Server => ExtendedKeyUsagePurpose::ServerAuth,
            Use::Client => ExtendedKeyUsagePurpose::ClientAuth,
        }];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if let Some((from, to)) = years {
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let key = KeyPair::generate().expect("ECDSA P-256 key");
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("signed by the CA");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Issued {
    /// As an aqueduct identity.
    #[must_use]
    pub fn identity(&self) -> aqueduct::tls::Identity {
        aqueduct::tls::Identity::from_pem(&self.cert_pem, &self.key_pem)
            .expect("a generated certificate and its key")
    }

    /// Writes `NAME.pem` and `NAME.key` into `dir`; returns their paths.
    #[must_use]
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&cert, &self.cert_pem).expect("write the certificate");
        std::fs::write(&key, &self.key_pem).expect("write the key");
        (cert, key)
    }
}

/// A fresh directory under the system's temporary directory, for one test's
/// PEM files; removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates it.
    #[must_use]
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "aqueduct-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create a temporary directory");
        Self(path)
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
