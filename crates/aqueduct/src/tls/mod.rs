//! TLS and mutual TLS, with rustls (feature `tls`, on by default).
//!
//! ```text
//!  server                                         client
//!  ServerTls::builder(Identity)                   ClientTls::new()          (system roots)
//!    .client_auth(ClientAuth::Required(roots))      .ca_certificates(roots)  (or these)
//!    .build()?  ──► ServerBuilder::tls(..)          .identity(Identity)      (mTLS)
//!                                                   .server_name("name")
//!  handshake on the connection's task,            ChannelBuilder::tls(..), or an
//!  under the handshake timeout; ALPN h2            https:// URI (system roots)
//!  required; the verified peer in
//!  Request::peer_tls / CallInfo::peer_tls
//! ```
//!
//! - [`Identity`]: a certificate chain and its private key (RSA, ECDSA or
//!   Ed25519), from PEM bytes or files; checked to match.
//! - [`CaRoots`]: trusted roots, from PEM or the platform's store.
//! - [`ServerTls`]: a server's TLS settings and a live handle to them:
//!   [`set_identity`](ServerTls::set_identity),
//!   [`set_client_auth`](ServerTls::set_client_auth),
//!   [`reload`](ServerTls::reload) (from the files the material came from) and
//!   [`watch`](ServerTls::watch) (reload when the files change) swap the
//!   material under a running server: new connections get it, open ones keep
//!   theirs.
//! - [`ClientTls`]: a channel's TLS settings.
//! - [`TlsInfo`] and [`PeerIdentity`]: what a handler knows of a TLS
//!   connection and its verified client; [`IdentityPolicy`] allows or denies
//!   methods by that identity.
//!
//! The crypto provider is rustls's `ring` provider, passed explicitly (the
//! process-wide default is neither read nor set): see
//! `docs/decisions/0004-tls-crypto-provider.md`. The guide is `docs/tls.md`.
//!
//! [`IdentityPolicy`]: crate::interceptor::IdentityPolicy

mod client;
mod peer;
mod server;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

/// A DER-encoded certificate, as [`TlsInfo::peer_certificates`] gives them
/// and [`PeerIdentity::parse`] reads them (re-exported from rustls).
pub use rustls::pki_types::CertificateDer;

pub use client::ClientTls;
pub(crate) use client::{TlsConnector, describe_transport};
pub use peer::{PeerIdentity, TlsInfo};
pub(crate) use server::Refused;
pub use server::{ClientAuth, ServerTls, ServerTlsBuilder, TlsWatch};

/// The crypto provider every config is built with.
pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: std::sync::OnceLock<Arc<rustls::crypto::CryptoProvider>> =
        std::sync::OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// The protocol versions offered and accepted: TLS 1.3 and 1.2.
pub(crate) const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The ALPN protocol gRPC runs over.
pub(crate) const H2: &[u8] = b"h2";

/// What went wrong loading or applying TLS material.
#[derive(Debug, Clone)]
pub struct TlsError(String);

impl TlsError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl From<TlsError> for std::io::Error {
    fn from(e: TlsError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, e)
    }
}

/// Where PEM material came from: bytes, or files that can be read again.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    Bytes,
    Files(Vec<PathBuf>),
}

/// A certificate chain (leaf first) and its private key: what a server
/// presents, or a client for mutual TLS.
///
/// ```
/// # fn demo() -> Result<(), aqueduct::tls::TlsError> {
/// use aqueduct::tls::Identity;
/// let identity = Identity::from_pem_files("server.pem", "server.key")?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: Arc<PrivateKeyDer<'static>>,
    /// The PEM it was read from, to tell whether files changed.
    pem: Arc<(Vec<u8>, Vec<u8>)>,
    origin: Origin,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.chain.len())
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// From PEM: `cert_chain` holds one or more `CERTIFICATE` blocks, leaf
    /// first; `key` one private key (PKCS#8, PKCS#1 RSA or SEC1 EC). Fails if
    /// either does not parse or the key does not belong to the leaf
    /// certificate.
    pub fn from_pem(cert_chain: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        Self::parse(
            cert_chain.as_ref().to_vec(),
            key.as_ref().to_vec(),
            Origin::Bytes,
            "the certificate chain",
            "the private key",
        )
    }

    /// From PEM files (see [`from_pem`](Self::from_pem)). The paths are kept:
    /// [`ServerTls::reload`] reads them again.
    pub fn from_pem_files(
        cert_chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, TlsError> {
        let (cert_path, key_path) = (cert_chain.as_ref(), key.as_ref());
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        Self::parse(
            cert_pem,
            key_pem,
            Origin::Files(vec![cert_path.to_owned(), key_path.to_owned()]),
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
    }

    fn parse(
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
        origin: Origin,
        cert_what: &str,
        key_what: &str,
    ) -> Result<Self, TlsError> {
        let chain = certificates(&cert_pem, cert_what)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem)
            .map_err(|e| TlsError::new(format!("{key_what}: no private key could be read: {e}")))?;
        let identity = Self {
            chain,
            key: Arc::new(key),
            pem: Arc::new((cert_pem, key_pem)),
            origin,
        };
        identity.certified_key(cert_what, key_what)?;
        Ok(identity)
    }

    /// The chain and the loaded signing key, checked to match.
    fn certified_key(
        &self,
        cert_what: &str,
        key_what: &str,
    ) -> Result<rustls::sign::CertifiedKey, TlsError> {
        // From files, `*_what` are paths; from bytes, they already say what
        // the material is ("the private key").
        let (key, cert) = match self.origin {
            Origin::Files(_) => (
                format!("the private key {key_what}"),
                format!("the certificate {cert_what}"),
            ),
            Origin::Bytes => (key_what.to_owned(), cert_what.to_owned()),
        };
        rustls::sign::CertifiedKey::from_der(self.chain.clone(), self.key.clone_key(), &provider())
            .map_err(|e| match e {
                rustls::Error::InconsistentKeys(_) => {
                    TlsError::new(format!("{key} does not match {cert}"))
                }
                e => TlsError::new(format!("{key} cannot be used: {e}")),
            })
    }

    /// The certificate chain, leaf first, DER-encoded.
    #[must_use]
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// Reads the files again, if it came from files: `Ok(None)` when their
    /// contents are unchanged.
    fn reread(&self) -> Result<Option<Self>, TlsError> {
        let Origin::Files(paths) = &self.origin else {
            return Ok(None);
        };
        let [cert_path, key_path] = paths.as_slice() else {
            return Ok(None);
        };
        let (cert_pem, key_pem) = (read(cert_path)?, read(key_path)?);
        if (&cert_pem, &key_pem) == (&self.pem.0, &self.pem.1) {
            return Ok(None);
        }
        Self::parse(
            cert_pem,
            key_pem,
            self.origin.clone(),
            &cert_path.display().to_string(),
            &key_path.display().to_string(),
        )
        .map(Some)
    }
}

/// Trusted root certificates: the CAs a client checks servers against, or a
/// server checks client certificates against.
#[derive(Clone)]
pub struct CaRoots {
    store: Arc<rustls::RootCertStore>,
    pem: Arc<Vec<u8>>,
    origin: Origin,
}

impl fmt::Debug for CaRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaRoots")
            .field("roots", &self.store.len())
            .field("origin", &self.origin)
            .finish()
    }
}

impl CaRoots {
    /// From PEM holding one or more `CERTIFICATE` blocks.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, TlsError> {
        Self::parse(pem.as_ref().to_vec(), Origin::Bytes, "the CA certificates")
    }

    /// From a PEM file (see [`from_pem`](Self::from_pem)). The path is kept:
    /// [`ServerTls::reload`] reads it again.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, TlsError> {
        let path = path.as_ref();
        Self::parse(
            read(path)?,
            Origin::Files(vec![path.to_owned()]),
            &path.display().to_string(),
        )
    }

    /// The platform's trusted roots (on Linux, the distribution's bundle, or
    /// the files `SSL_CERT_FILE` / `SSL_CERT_DIR` name). Fails if none can be
    /// read.
    pub fn system() -> Result<Self, TlsError> {
        let found = rustls_native_certs::load_native_certs();
        let mut store = rustls::RootCertStore::empty();
        let (added, _ignored) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map_or_else(|| "none found".to_owned(), ToString::to_string);
            return Err(TlsError::new(format!(
                "no trusted root certificates could be read from the system store ({why}); \
                 set SSL_CERT_FILE, or give the CA certificates explicitly"
            )));
        }
        Ok(Self {
            store: Arc::new(store),
            pem: Arc::new(Vec::new()),
            origin: Origin::Bytes,
        })
    }

    fn parse(pem: Vec<u8>, origin: Origin, what: &str) -> Result<Self, TlsError> {
        let mut store = rustls::RootCertStore::empty();
        for cert in certificates(&pem, what)? {
            store
                .add(cert)
                .map_err(|e| TlsError::new(format!("{what}: not a usable CA certificate: {e}")))?;
        }
        Ok(Self {
            store: Arc::new(store),
            pem: Arc::new(pem),
            origin,
        })
    }

    /// How many roots it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether it holds none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    pub(crate) fn store(&self) -> Arc<rustls::RootCertStore> {
        self.store.clone()
    }

    /// Reads the file again, if it came from one: `Ok(None)` when unchanged.
    fn reread(&self) -> Result<Option<Self>, TlsError> {
        let Origin::Files(paths) = &self.origin else {
            return Ok(None);
        };
        let [path] = paths.as_slice() else {
            return Ok(None);
        };
        let pem = read(path)?;
        if pem == *self.pem {
            return Ok(None);
        }
        Self::parse(pem, self.origin.clone(), &path.display().to_string()).map(Some)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| TlsError::new(format!("cannot read {}: {e}", path.display())))
}

/// Every `CERTIFICATE` block of `pem`; at least one.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(format!("{what}: not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::new(format!("{what}: no CERTIFICATE found")));
    }
    Ok(chain)
}
