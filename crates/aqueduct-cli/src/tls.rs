//! The TLS flags of `aqueduct serve` and `aqueduct bench`: PEM files in,
//! `aqueduct::tls` settings out, every failure naming the flag and the file.
//!
//! ```text
//!  serve  --tls-cert F --tls-key F              TLS
//!         [--client-ca F [--client-auth M]]     mutual TLS (M: required, the default, or optional)
//!  bench  --target https://HOST:PORT            TLS, the system's roots
//!         [--ca-file F] [--cert F --key F]      own roots; a client certificate
//!         [--server-name N]                     the name checked instead of HOST
//! ```
//!
//! Material is loaded, and checked (the key matches the certificate, the CA
//! file holds a usable root), before anything listens or dials, so a bad
//! file stops the command at start with a non-zero exit.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use aqueduct::tls::{CaRoots, ClientAuth, ClientTls, Identity, ServerTls};
use aqueduct::{Channel, ChannelBuilder};

/// How `aqueduct serve --client-ca` treats clients without a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ClientAuthMode {
    /// Refuse them: the handshake fails (mutual TLS).
    Required,
    /// Serve them too; a certificate that is presented must still verify.
    Optional,
}

/// `aqueduct serve`'s TLS flags.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeTls {
    /// Serve TLS (ALPN h2, TLS 1.3 and 1.2) with this certificate chain: PEM,
    /// leaf first. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert: PEM (PKCS#8, PKCS#1 RSA or SEC1 EC).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Ask clients for certificates and verify them against the CA
    /// certificates in this PEM file: mutual TLS (see --client-auth).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// With --client-ca: `required` (the default) refuses clients that
    /// present no certificate; `optional` serves them too.
    #[arg(long, value_enum, value_name = "MODE", requires = "client_ca")]
    client_auth: Option<ClientAuthMode>,
}

impl ServeTls {
    /// The server's TLS from the files, checked; `None` without --tls-cert.
    pub(crate) fn load(&self) -> anyhow::Result<Option<ServerTls>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let identity = Identity::from_pem_files(cert, key).with_context(|| {
            format!(
                "cannot load --tls-cert {} with --tls-key {}",
                cert.display(),
                key.display()
            )
        })?;
        let client_auth = match &self.client_ca {
            None => ClientAuth::Off,
            Some(ca) => {
                let roots = roots("--client-ca", ca)?;
                match self.client_auth.unwrap_or(ClientAuthMode::Required) {
                    ClientAuthMode::Required => ClientAuth::Required(roots),
                    ClientAuthMode::Optional => ClientAuth::Optional(roots),
                }
            }
        };
        let tls = ServerTls::builder(identity)
            .client_auth(client_auth)
            .build()
            .context("TLS settings")?;
        Ok(Some(tls))
    }

    /// What the startup line says about TLS, with a leading space; empty
    /// without it.
    pub(crate) fn banner(&self) -> &'static str {
        match (&self.tls_cert, &self.client_ca, self.client_auth) {
            (None, _, _) => "",
            (Some(_), None, _) => " (TLS)",
            (Some(_), Some(_), Some(ClientAuthMode::Optional)) => {
                " (TLS, client certificates optional)"
            }
            (Some(_), Some(_), _) => " (TLS, client certificates required)",
        }
    }
}

/// `aqueduct bench`'s TLS flags.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct BenchTls {
    /// Trust the CA certificates in this PEM file for the server's
    /// certificate, instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Present this client certificate chain (PEM) when the server asks:
    /// mutual TLS. Needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Check the server's certificate against this name, and send it as SNI,
    /// instead of the target's host (for a server reached by address).
    #[arg(long, value_name = "NAME")]
    server_name: Option<String>,
}

impl BenchTls {
    fn any(&self) -> bool {
        self.ca_file.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.server_name.is_some()
    }

    /// How to dial `target`: over TLS for `https://` (system roots unless
    /// --ca-file), and for `unix:` when a TLS flag is given; a TLS flag with an
    /// `http://` target is an error rather than a silent plaintext run or a
    /// silent switch to TLS.
    pub(crate) fn dialer(&self, target: &str) -> anyhow::Result<Dialer> {
        if let Some(rest) = target.strip_prefix("http://")
            && self.any()
        {
            bail!(
                "--ca-file, --cert, --key and --server-name are TLS options, but --target \
                 {target} is plaintext: write https://{rest}"
            );
        }
        let wants_tls = target.starts_with("https://") || self.any();
        let tls = if wants_tls {
            let mut tls = ClientTls::new();
            if let Some(ca) = &self.ca_file {
                tls = tls.ca_certificates(roots("--ca-file", ca)?);
            }
            if let (Some(cert), Some(key)) = (&self.cert, &self.key) {
                let identity = Identity::from_pem_files(cert, key).with_context(|| {
                    format!(
                        "cannot load --cert {} with --key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
                tls = tls.identity(identity);
            }
            if let Some(name) = &self.server_name {
                tls = tls.server_name(name);
            }
            Some(tls)
        } else {
            None
        };
        Ok(Dialer {
            target: target.to_owned(),
            tls,
        })
    }
}

/// A target and the TLS to dial it with: makes the bench's channels.
#[derive(Debug, Clone)]
pub(crate) struct Dialer {
    target: String,
    tls: Option<ClientTls>,
}

impl Dialer {
    fn builder(&self) -> anyhow::Result<ChannelBuilder> {
        let builder =
            Channel::builder(&self.target).with_context(|| format!("--target {}", self.target))?;
        Ok(match &self.tls {
            Some(tls) => builder.tls(tls.clone()),
            None => builder,
        })
    }

    /// A new channel (its own connection, made on first use).
    pub(crate) fn channel(&self) -> anyhow::Result<Channel> {
        Ok(self.builder()?.build())
    }
}

fn roots(flag: &str, path: &Path) -> anyhow::Result<CaRoots> {
    CaRoots::from_pem_file(path).with_context(|| format!("cannot load {flag} {}", path.display()))
}
