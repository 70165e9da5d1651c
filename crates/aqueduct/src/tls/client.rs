//! A channel's TLS: which servers it trusts, the certificate it presents for
//! mutual TLS, the name it checks, and errors that say what failed.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{CaRoots, H2, Identity, TlsError, VERSIONS, provider};

/// A channel's TLS settings: give them to
/// [`ChannelBuilder::tls`](crate::ChannelBuilder::tls). An `https://` URI
/// uses `ClientTls::new()` unless told otherwise.
///
/// ```no_run
/// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use aqueduct::Channel;
/// use aqueduct::tls::{CaRoots, ClientTls, Identity};
///
/// let tls = ClientTls::new()
///     .ca_certificates(CaRoots::from_pem_file("ca.pem")?)
///     .identity(Identity::from_pem_files("client.pem", "client.key")?);
/// let channel = Channel::builder("https://orders.internal:50051")?.tls(tls).build();
/// # drop(channel); Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ClientTls {
    roots: Option<CaRoots>,
    identity: Option<Identity>,
    server_name: Option<String>,
}

impl ClientTls {
    /// Trusts the platform's roots (read when the channel first connects),
    /// presents no client certificate, and checks the server's certificate
    /// against the host of the channel's URI.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts these roots instead of the platform's.
    pub fn ca_certificates(mut self, roots: CaRoots) -> Self {
        self.roots = Some(roots);
        self
    }

    /// Presents `identity` when the server asks for a client certificate
    /// (mutual TLS).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// Checks the server's certificate against `name` and sends it as SNI,
    /// instead of the URI's host; the URI's authority still goes in each
    /// request's `:authority`. For a server reached by address whose
    /// certificate names a host, or through a tunnel.
    pub fn server_name(mut self, name: impl Into<String>) -> Self {
        self.server_name = Some(name.into());
        self
    }

    /// The connector, with the name to check when none is overridden.
    pub(crate) fn connector(self, default_name: &str) -> TlsConnector {
        let name = self.server_name.clone().unwrap_or_else(|| {
            // `[::1]` in a URI is `::1` to TLS.
            default_name
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_owned()
        });
        TlsConnector {
            settings: self,
            name,
            config: Arc::new(OnceLock::new()),
        }
    }
}

/// A channel's TLS client, its rustls config built on first use (reading the
/// system roots then, not when the channel is built).
#[derive(Clone)]
pub(crate) struct TlsConnector {
    settings: ClientTls,
    name: String,
    config: Arc<OnceLock<Arc<rustls::ClientConfig>>>,
}

impl fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConnector")
            .field("server_name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// The config, built on first success: a failure (no system roots yet,
    /// say) is tried again at the next connection attempt.
    fn config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        if let Some(config) = self.config.get() {
            return Ok(config.clone());
        }
        let config = Arc::new(make_config(&self.settings)?);
        Ok(self.config.get_or_init(|| config).clone())
    }

    /// The client side of the handshake over `io`; errors are written for
    /// people ("certificate is not valid for name X", "unknown issuer").
    pub(crate) async fn connect<IO>(
        &self,
        io: IO,
    ) -> Result<tokio_rustls::client::TlsStream<IO>, String>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let config = self.config().map_err(|e| e.to_string())?;
        let name = ServerName::try_from(self.name.clone())
            .map_err(|_| format!("{:?} is not a valid TLS server name", self.name))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, io)
            .await
            .map_err(|e| format!("TLS handshake failed: {}", describe(&e, Some(&self.name))))?;
        match stream.get_ref().1.alpn_protocol() {
            Some(H2) | None => Ok(stream),
            Some(other) => Err(format!(
                "TLS handshake failed: the server chose ALPN {:?}, not h2",
                String::from_utf8_lossy(other)
            )),
        }
    }
}

/// The platform's roots, read once per process (on success).
fn system_roots() -> Result<CaRoots, TlsError> {
    static SYSTEM: OnceLock<CaRoots> = OnceLock::new();
    if let Some(roots) = SYSTEM.get() {
        return Ok(roots.clone());
    }
    let roots = CaRoots::system()?;
    Ok(SYSTEM.get_or_init(|| roots).clone())
}

fn make_config(settings: &ClientTls) -> Result<rustls::ClientConfig, TlsError> {
    let roots = match &settings.roots {
        Some(roots) => roots.clone(),
        None => system_roots()?,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::new(format!("TLS versions: {e}")))?
        .with_root_certificates(roots.store());
    let mut config = match &settings.identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| TlsError::new(format!("the client certificate: {e}")))?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![H2.to_vec()];
    Ok(config)
}

/// What a TLS error on an established client connection means, in words;
/// `None` if `e` is not a TLS error.
pub(crate) fn describe_transport(e: &io::Error) -> Option<String> {
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        return Some(describe(e, Some("")));
    }
    // h2 keeps an I/O error's text, not the error: read the rustls words.
    let text = e.to_string();
    if let Some(alert) = text.strip_prefix("received fatal alert: ") {
        return Some(format!(
            "the server sent alert {alert}{}",
            alert_hint(alert)
        ));
    }
    // tokio-rustls's words for a TCP close without TLS's close_notify,
    // which is how some servers refuse a client certificate after a TLS 1.3
    // handshake.
    text.contains("close_notify").then(|| {
        format!(
            "{text} (the server closed the connection without a TLS close; on a new \
             connection, that can be a server that requires a client certificate: \
             ClientTls::identity)"
        )
    })
}

/// What a TLS alert the peer sent means for us, by the alert's rustls name
/// (`UnknownCA`: its `Debug` form, and the word rustls's error text uses),
/// one table for alerts seen at the handshake and after it.
fn alert_hint(alert: &str) -> &'static str {
    match alert {
        "CertificateRequired" => {
            " (the server requires a client certificate: give one with ClientTls::identity)"
        }
        "UnknownCA" => " (the peer does not trust our certificate's issuer)",
        "BadCertificate" | "CertificateUnknown" => " (the peer refused our certificate)",
        "CertificateExpired" => " (the peer says our certificate expired)",
        "NoApplicationProtocol" => " (no common ALPN protocol; gRPC needs h2)",
        "UnrecognisedName" => " (the peer serves no such name)",
        _ => "",
    }
}

/// What a failed handshake's error means, in words; `name` is the server
/// name the client checked, if this is the client side.
pub(crate) fn describe(e: &io::Error, name: Option<&str>) -> String {
    use rustls::{CertificateError as Cert, Error};
    let Some(tls) = e.get_ref().and_then(|e| e.downcast_ref::<Error>()) else {
        return match e.kind() {
            io::ErrorKind::UnexpectedEof => "the peer closed the connection mid-handshake".into(),
            _ => e.to_string(),
        };
    };
    let who = if name.is_some() {
        "the server's"
    } else {
        "the client's"
    };
    match tls {
        Error::InvalidCertificate(cert) => match cert {
            Cert::NotValidForName | Cert::NotValidForNameContext { .. } => {
                let presented = match cert {
                    Cert::NotValidForNameContext { presented, .. } if !presented.is_empty() => {
                        let names: Vec<&str> = presented.iter().map(|n| bare_name(n)).collect();
                        format!(" (it is for {})", names.join(", "))
                    }
                    _ => String::new(),
                };
                format!(
                    "{who} certificate is not valid for name {:?}{presented}",
                    name.unwrap_or("?")
                )
            }
            Cert::UnknownIssuer => {
                format!("{who} certificate has an unknown issuer (not signed by a trusted CA)")
            }
            Cert::Expired | Cert::ExpiredContext { .. } => format!("{who} certificate has expired"),
            Cert::NotValidYet | Cert::NotValidYetContext { .. } => {
                format!("{who} certificate is not valid yet")
            }
            Cert::Revoked => format!("{who} certificate has been revoked"),
            Cert::BadSignature => format!("{who} certificate has a bad signature"),
            Cert::InvalidPurpose | Cert::InvalidPurposeContext { .. } => {
                format!("{who} certificate is not valid for this purpose (extended key usage)")
            }
            other => format!("{who} certificate is invalid: {other:?}"),
        },
        Error::NoCertificatesPresented => "the client presented no certificate".into(),
        Error::NoApplicationProtocol => "no common ALPN protocol (the server needs h2)".into(),
        Error::AlertReceived(alert) => {
            let alert = format!("{alert:?}");
            format!("the peer sent alert {alert}{}", alert_hint(&alert))
        }
        Error::InvalidMessage(_) | Error::InappropriateMessage { .. } => {
            format!("the peer does not speak TLS here ({tls})")
        }
        other => other.to_string(),
    }
}

/// `localhost` from rustls's `DnsName("localhost")`, `127.0.0.1` from
/// `IpAddress(127.0.0.1)`; anything else as it is.
fn bare_name(presented: &str) -> &str {
    presented
        .strip_prefix("DnsName(\"")
        .and_then(|n| n.strip_suffix("\")"))
        .or_else(|| {
            presented
                .strip_prefix("IpAddress(")
                .and_then(|n| n.strip_suffix(')'))
        })
        .unwrap_or(presented)
}

#[cfg(test)]
mod tests {
    use super::bare_name;

    #[test]
    fn presented_names_lose_their_debug_dress() {
        assert_eq!(bare_name("DnsName(\"localhost\")"), "localhost");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("UriName(\"x\")"), "UriName(\"x\")");
    }
}
