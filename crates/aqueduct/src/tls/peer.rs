//! What a server knows of a TLS connection: the negotiated parameters and
//! the client's verified certificate, parsed into an identity.

use std::fmt;
use std::net::IpAddr;

use rustls::pki_types::CertificateDer;

/// A TLS connection's parameters and its verified peer, as handlers and
/// interceptors see them through [`Request::peer_tls`](crate::Request::peer_tls)
/// and [`CallInfo::peer_tls`](crate::interceptor::CallInfo::peer_tls).
#[derive(Clone)]
pub struct TlsInfo {
    protocol: &'static str,
    cipher: String,
    alpn: Option<Vec<u8>>,
    server_name: Option<String>,
    chain: Vec<CertificateDer<'static>>,
    /// Parsed from the leaf on first use: most connections' calls never ask
    /// (18k instructions a handshake when parsed up front).
    identity: std::sync::OnceLock<Option<PeerIdentity>>,
}

impl fmt::Debug for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsInfo")
            .field("protocol", &self.protocol)
            .field("cipher", &self.cipher)
            .field("alpn", &self.alpn.as_deref().map(String::from_utf8_lossy))
            .field("server_name", &self.server_name)
            .field("peer_identity", &self.peer_identity())
            .finish_non_exhaustive()
    }
}

impl TlsInfo {
    pub(crate) fn from_connection(connection: &rustls::ServerConnection) -> Self {
        let protocol = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "unknown",
        };
        let cipher = connection
            .negotiated_cipher_suite()
            .and_then(|suite| suite.suite().as_str())
            .unwrap_or("unknown")
            .to_owned();
        let chain: Vec<CertificateDer<'static>> = connection
            .peer_certificates()
            .map(|certs| certs.iter().map(|c| c.clone().into_owned()).collect())
            .unwrap_or_default();
        Self {
            protocol,
            cipher,
            alpn: connection.alpn_protocol().map(<[u8]>::to_vec),
            server_name: connection.server_name().map(str::to_owned),
            chain,
            identity: std::sync::OnceLock::new(),
        }
    }

    /// The TLS version: `"TLSv1.3"` or `"TLSv1.2"`.
    #[must_use]
    pub fn protocol(&self) -> &str {
        self.protocol
    }

    /// The cipher suite, by its IANA name (`"TLS13_AES_128_GCM_SHA256"`).
    #[must_use]
    pub fn cipher(&self) -> &str {
        &self.cipher
    }

    /// The negotiated ALPN protocol (`b"h2"`), if the client offered any.
    #[must_use]
    pub fn alpn(&self) -> Option<&[u8]> {
        self.alpn.as_deref()
    }

    /// The server name the client asked for (SNI), if it sent one.
    #[must_use]
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The client's certificate chain, leaf first, as it presented it and
    /// the server verified it; empty when it presented none.
    #[must_use]
    pub fn peer_certificates(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The verified client's identity, read from its leaf certificate;
    /// `None` when it presented no certificate.
    #[must_use]
    pub fn peer_identity(&self) -> Option<&PeerIdentity> {
        self.identity
            .get_or_init(|| self.chain.first().map(PeerIdentity::parse))
            .as_ref()
    }
}

/// Who a verified certificate names: its subject common name and subject
/// alternative names, and the SPIFFE ID among them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerIdentity {
    common_name: Option<String>,
    dns_names: Vec<String>,
    uris: Vec<String>,
    ip_addresses: Vec<IpAddr>,
}

impl PeerIdentity {
    /// Reads a DER certificate's names. A certificate that does not parse
    /// (rustls has verified it, so this does not happen in practice) gives an
    /// identity with no names.
    #[must_use]
    pub fn parse(certificate: &CertificateDer<'_>) -> Self {
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(certificate.as_ref()) else {
            return Self::default();
        };
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let mut identity = Self {
            common_name,
            ..Self::default()
        };
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            use x509_parser::extensions::GeneralName;
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(dns) => identity.dns_names.push((*dns).to_owned()),
                    GeneralName::URI(uri) => identity.uris.push((*uri).to_owned()),
                    GeneralName::IPAddress(bytes) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*bytes) {
                            identity.ip_addresses.push(IpAddr::from(v4));
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*bytes) {
                            identity.ip_addresses.push(IpAddr::from(v6));
                        }
                    }
                    _ => {}
                }
            }
        }
        identity
    }

    /// The subject's common name (CN), if it has one.
    #[must_use]
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// The DNS names among the subject alternative names.
    #[must_use]
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// The URIs among the subject alternative names.
    #[must_use]
    pub fn uris(&self) -> &[String] {
        &self.uris
    }

    /// The IP addresses among the subject alternative names.
    #[must_use]
    pub fn ip_addresses(&self) -> &[IpAddr] {
        &self.ip_addresses
    }

    /// The SPIFFE ID (`spiffe://trust-domain/path`): the URI SAN, when the
    /// certificate has exactly one URI SAN and it is a SPIFFE ID, as the
    /// X.509-SVID specification requires.
    #[must_use]
    pub fn spiffe_id(&self) -> Option<&str> {
        match self.uris.as_slice() {
            [uri] if is_spiffe_id(uri) => Some(uri),
            _ => None,
        }
    }

    /// Every name the identity carries, URIs (the SPIFFE ID among them)
    /// first, then DNS names, then the common name: for messages and logs.
    /// [`IdentityPolicy`](crate::interceptor::IdentityPolicy) matches each
    /// kind of name only against patterns of its kind.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.uris
            .iter()
            .chain(&self.dns_names)
            .map(String::as_str)
            .chain(self.common_name.as_deref())
    }
}

/// `spiffe://`, a non-empty trust domain of lower-case letters, digits, `.`,
/// `-` and `_`, then a path of non-empty segments of letters, digits, `.`,
/// `-` and `_` that are not `.` or `..`, with no trailing `/` (the SPIFFE ID
/// specification, section 2).
fn is_spiffe_id(uri: &str) -> bool {
    let Some(rest) = uri.strip_prefix("spiffe://") else {
        return false;
    };
    let (domain, path) = rest
        .split_once('/')
        .map_or((rest, None), |(d, p)| (d, Some(p)));
    let domain_ok = !domain.is_empty()
        && domain
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    domain_ok && path.is_none_or(|path| path.split('/').all(segment_ok))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spiffe_ids() {
        assert!(is_spiffe_id("spiffe://example.org/ns/billing/sa/ledger"));
        assert!(is_spiffe_id("spiffe://example.org"));
        assert!(!is_spiffe_id("spiffe://"));
        assert!(!is_spiffe_id("spiffe:///path"));
        assert!(!is_spiffe_id("spiffe://Example.org/x"));
        assert!(!is_spiffe_id("https://example.org/x"));
        assert!(!is_spiffe_id("spiffe://example.org/ns/../web"));
        assert!(!is_spiffe_id("spiffe://example.org/ns/./web"));
        assert!(!is_spiffe_id("spiffe://example.org/ns//web"));
        assert!(!is_spiffe_id("spiffe://example.org/ns/"));
        assert!(!is_spiffe_id("spiffe://example.org/ns/%41"));
    }

    #[test]
    fn names_of_a_generated_certificate() {
        let mut params =
            rcgen::CertificateParams::new(vec!["billing.internal".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ledger");
        params.subject_alt_names.push(rcgen::SanType::URI(
            "spiffe://example.org/ns/billing/sa/ledger"
                .try_into()
                .unwrap(),
        ));
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress("10.0.0.7".parse().unwrap()));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let identity = PeerIdentity::parse(cert.der());
        assert_eq!(identity.common_name(), Some("ledger"));
        assert_eq!(identity.dns_names(), ["billing.internal"]);
        assert_eq!(
            identity.spiffe_id(),
            Some("spiffe://example.org/ns/billing/sa/ledger")
        );
        assert_eq!(
            identity.ip_addresses(),
            ["10.0.0.7".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(
            identity.names().collect::<Vec<_>>(),
            [
                "spiffe://example.org/ns/billing/sa/ledger",
                "billing.internal",
                "ledger"
            ]
        );
    }

    #[test]
    fn garbage_is_an_empty_identity() {
        let identity = PeerIdentity::parse(&CertificateDer::from(vec![0x30, 0x03, 1, 2]));
        assert_eq!(identity, PeerIdentity::default());
        assert_eq!(identity.spiffe_id(), None);
    }
}
