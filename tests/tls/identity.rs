//! What a handler and the identity policy learn of a TLS client: protocol,
//! ALPN, SNI and the verified certificate's SPIFFE ID and CN, over TLS 1.3
//! and 1.2; and server keys of each kind (ECDSA, Ed25519, RSA).

use aqueduct::Code;
use aqueduct::interceptor::IdentityPolicy;
use aqueduct::tls::{CaRoots, ClientAuth, ClientTls, Identity, ServerTls};
use interop::certs::Issued;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, SanType};

use super::{
    LEDGER, ME, Pki, leaf, presented_leaf, raw_channel, rustls_client, serve, serve_with, who,
    who_fails, within,
};

const BILLING: &str = "spiffe://example.org/ns/billing/sa/api";
const WEB: &str = "spiffe://example.org/ns/web/sa/frontend";

/// A server asking for client certificates from `pki` (optionally), with
/// an identity policy: only billing may post to the ledger; any verified
/// client may ask who it is.
async fn guarded(pki: &Pki) -> super::Running {
    let tls = ServerTls::builder(pki.server.identity())
        .client_auth(ClientAuth::Optional(pki.ca.roots()))
        .build()
        .unwrap();
    let policy = IdentityPolicy::new()
        .allow(LEDGER, ["spiffe://example.org/ns/billing/*"])
        .allow(ME, ["*"]);
    serve_with(tls, |b| b.intercept(policy)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spiffe_client_certificate_is_seen_by_the_handler_and_the_policy() {
    let pki = Pki::new("identity CA");
    let server = guarded(&pki).await;
    let billing = pki.ca.client(BILLING);
    // By address, naming the certificate's host: the server sees it as SNI.
    let channel = server.channel(
        pki.client_tls()
            .identity(billing.identity())
            .server_name("localhost"),
    );
    let seen = who(&channel).await.unwrap();
    assert_eq!(seen["protocol"], "TLSv1.3");
    assert_eq!(seen["alpn"], "h2");
    assert_eq!(seen["sni"], "localhost");
    assert_eq!(seen["certs"], "1");
    assert_eq!(seen["spiffe"], BILLING);
    assert_eq!(seen["cn"], "api");
    assert!(seen["cipher"].starts_with("TLS13_"), "{}", seen["cipher"]);

    // The policy admits billing on the ledger...
    let posted = within(
        "a ledger call",
        channel.unary::<String, String>(LEDGER, aqueduct::Request::new(String::new())),
    )
    .await
    .unwrap();
    assert_eq!(posted.into_inner(), "posted");

    // ...and denies another verified identity there, saying who.
    let web = server.channel(pki.client_tls().identity(pki.ca.client(WEB).identity()));
    assert_eq!(who(&web).await.unwrap()["spiffe"], WEB);
    let denied = within(
        "a denied ledger call",
        web.unary::<String, String>(LEDGER, aqueduct::Request::new(String::new())),
    )
    .await
    .unwrap_err();
    println!("denied as expected: {denied}");
    assert_eq!(denied.code(), Code::PermissionDenied, "{denied}");
    assert!(denied.message().contains(WEB), "{denied}");

    // A client with no certificate gets through the optional handshake,
    // then the policy says it must authenticate.
    let anonymous = server.channel(pki.client_tls());
    let status = who_fails(&anonymous, Code::Unauthenticated).await;
    assert!(status.message().contains("client certificate"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_limited_to_tls_1_2_is_served_over_tls_1_2() {
    let pki = Pki::new("tls12 CA");
    let server = guarded(&pki).await;
    let billing = pki.ca.client(BILLING);
    let tls12 = rustls_client(
        &[pki.ca.ca_pem()],
        &[&rustls::version::TLS12],
        &[b"h2"],
        Some(&billing),
    );
    let seen = who(&raw_channel(server.addr, tls12)).await.unwrap();
    assert_eq!(seen["protocol"], "TLSv1.2");
    assert!(
        seen["cipher"].starts_with("TLS_ECDHE_"),
        "{}",
        seen["cipher"]
    );
    assert_eq!(seen["alpn"], "h2");
    assert_eq!(seen["sni"], "localhost");
    assert_eq!(seen["spiffe"], BILLING);
    assert_eq!(seen["cn"], "api");
}

/// A CA of our own, for server certificates whose keys `interop::certs`
/// does not make.
struct KeyedCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl KeyedCa {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for `localhost` and `127.0.0.1` with `key`.
    fn server(&self, key: &KeyPair) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        Issued {
            cert_pem: params.signed_by(key, &self.issuer).unwrap().pem(),
            key_pem: key.serialize_pem(),
        }
    }

    fn client_tls(&self) -> ClientTls {
        ClientTls::new().ca_certificates(CaRoots::from_pem(&self.pem).unwrap())
    }
}

/// A server presenting a certificate with `key` serves a client trusting
/// its CA, and presents that very certificate.
async fn serves_with_key(key: &KeyPair) {
    let ca = KeyedCa::new("keyed CA");
    let issued = ca.server(key);
    let identity = Identity::from_pem(&issued.cert_pem, &issued.key_pem).unwrap();
    let server = serve(ServerTls::builder(identity).build().unwrap()).await;
    let seen = server.assert_serves(ca.client_tls()).await;
    assert_eq!(seen["protocol"], "TLSv1.3");
    // The raw client trusts TestPki CAs only; this one is not, so compare
    // the chain the channel-less way: the presented leaf is ours.
    let pki = Pki::new("unrelated CA");
    let presented = presented_leaf(server.addr, &[pki.ca.ca_pem()]).await;
    assert!(presented.is_err(), "an unknown CA is not trusted");
    let _ = leaf(&issued);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ed25519_server_key_serves() {
    serves_with_key(&KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecdsa_p384_server_key_serves() {
    serves_with_key(&KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap()).await;
}

/// An RSA key made by the `openssl` command (`AQUEDUCT_OPENSSL`, else
/// `openssl` on the PATH) when the test runs: ring, rcgen's backend here,
/// signs with RSA keys but cannot make them. Fails the test, loudly, if there
/// is no openssl: `scripts/test` installs it.
fn openssl_rsa_key() -> KeyPair {
    let openssl = std::env::var_os("AQUEDUCT_OPENSSL").unwrap_or_else(|| "openssl".into());
    let output = std::process::Command::new(openssl)
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("run openssl (Debian package openssl; or set AQUEDUCT_OPENSSL) to make an RSA key");
    assert!(output.status.success(), "openssl genpkey: {output:?}");
    let pem = String::from_utf8(output.stdout).unwrap();
    KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rsa_server_key_serves() {
    serves_with_key(&openssl_rsa_key()).await;
}
