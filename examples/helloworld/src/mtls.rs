//! Mutual TLS in one process: the Greeter served over TLS with client
//! certificates required, an [`IdentityPolicy`] that lets only the billing
//! workload say hello, and two clients with different SPIFFE identities.
//!
//! A real deployment loads its certificates from files
//! (`Identity::from_pem_files`, `CaRoots::from_pem_file`); to stay
//! self-contained, this example makes a throwaway CA and certificates at
//! start with `rcgen`. Run it with `cargo run -p helloworld --example mtls`.

use aqueduct::interceptor::IdentityPolicy;
use aqueduct::tls::{CaRoots, ClientAuth, ClientTls, Identity, ServerTls};
use aqueduct::{Channel, Code, Server};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    SanType,
};

use crate::MyGreeter;
use crate::pb::SayHelloRequest;
use crate::pb::greeter_service_client::GreeterServiceClient;
use crate::pb::greeter_service_server::GreeterServiceServer;

/// The identity the policy admits.
const BILLING: &str = "spiffe://example.org/ns/billing/sa/api";
/// An identity it does not.
const WEB: &str = "spiffe://example.org/ns/web/sa/frontend";

/// Serves the Greeter over mutual TLS on a free loopback port, calls it as
/// `BILLING` (admitted) and as `WEB` (denied), and returns what happened,
/// one line per call.
///
/// # Errors
///
/// Anything that did not go as described, in words.
pub async fn run() -> Result<Vec<String>, String> {
    let ca = Ca::new()?;
    let server_tls = ServerTls::builder(ca.issue(&["localhost"], None)?)
        .client_auth(ClientAuth::Required(ca.roots()?))
        .build()
        .map_err(|e| e.to_string())?;
    let policy = IdentityPolicy::new().allow(
        "/helloworld.v1.GreeterService/SayHello",
        ["spiffe://example.org/ns/billing/*"],
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    let server = tokio::spawn(
        Server::builder()
            .tls(server_tls)
            .intercept(policy)
            .add_service(GreeterServiceServer::new(MyGreeter))
            .serve(listener),
    );

    let mut lines = Vec::new();
    for (who, spiffe_id) in [("billing", BILLING), ("web", WEB)] {
        let tls = ClientTls::new()
            .ca_certificates(ca.roots()?)
            .identity(ca.issue(&[], Some(spiffe_id))?);
        let channel = Channel::builder(&format!("https://localhost:{port}"))
            .map_err(|e| e.to_string())?
            .tls(tls)
            .build();
        let client = GreeterServiceClient::new(channel);
        let request = SayHelloRequest {
            name: who.to_owned(),
        };
        match (who, client.say_hello(request).await) {
            ("billing", Ok(reply)) => {
                lines.push(format!("{spiffe_id}: {}", reply.into_inner().message));
            }
            ("web", Err(status)) if status.code() == Code::PermissionDenied => {
                lines.push(format!("{spiffe_id}: denied: {}", status.message()));
            }
            (_, outcome) => {
                server.abort();
                return Err(format!("{spiffe_id}: unexpected outcome {outcome:?}"));
            }
        }
    }
    server.abort();
    Ok(lines)
}

/// A throwaway certificate authority.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new() -> Result<Self, String> {
        let mut params = CertificateParams::new(Vec::new()).map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(DnType::CommonName, "helloworld example CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        Ok(Self {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        })
    }

    fn roots(&self) -> Result<CaRoots, String> {
        CaRoots::from_pem(&self.pem).map_err(|e| e.to_string())
    }

    /// A server certificate for `dns_names`, or a client certificate with
    /// the one URI SAN `spiffe_id`.
    fn issue(&self, dns_names: &[&str], spiffe_id: Option<&str>) -> Result<Identity, String> {
        let names: Vec<String> = dns_names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).map_err(|e| e.to_string())?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        if let Some(id) = spiffe_id {
            let uri = id.try_into().map_err(|e| format!("{id}: {e}"))?;
            params.subject_alt_names.push(SanType::URI(uri));
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(|e| e.to_string())?;
        Identity::from_pem(cert.pem(), key.serialize_pem()).map_err(|e| e.to_string())
    }
}
