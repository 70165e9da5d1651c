//! `bench-server --impl aqueduct|aqueduct-intercepted|tonic|connect|h2 [--port P]
//! [--runtime current|multi] [--threads N] [--tls-cert F --tls-key F
//! [--client-ca F]]`: the Greeter on one implementation
//! (`aqueduct-intercepted`: Aqueduct with a chain of three empty server-wide
//! interceptors, for the cost of interception; `connect`: connect-rust's own
//! hyper server, which answers gRPC, Connect and gRPC-Web on one port, HTTP/1.1
//! and HTTP/2 cleartext with prior knowledge, and sets TCP_NODELAY on every
//! accepted socket). Prints `listening on ADDR`
//! first; on SIGINT or SIGTERM it shuts down and prints `allocations N` (heap
//! allocations over the process's life) to stderr.
//!
//! With `--tls-cert`/`--tls-key` (PEM) every implementation serves TLS from
//! the same files, on rustls with the ring provider: Aqueduct through
//! `ServerBuilder::tls`, tonic through `ServerTlsConfig` (feature `tls-ring`),
//! bare h2 through tokio-rustls. `--client-ca` requires client certificates
//! signed by it (mutual TLS).

use anyhow::Context as _;
use aqueduct_benches::{CountingAlloc, RuntimeKind, allocations, flag};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// An interceptor that does nothing: what the chain itself costs.
struct Empty;

impl aqueduct::interceptor::Interceptor for Empty {}

fn main() -> std::process::ExitCode {
    aqueduct_benches::exit("bench-server", run())
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let which = flag(&args, "impl").unwrap_or_else(|| "aqueduct".into());
    let port: u16 = flag(&args, "port")
        .map_or(Ok(0), |p| p.parse())
        .context("--port")?;
    let threads: usize = flag(&args, "threads")
        .map_or(Ok(1), |p| p.parse())
        .context("--threads")?;
    let runtime = RuntimeKind::parse(
        &flag(&args, "runtime").unwrap_or_else(|| "current".into()),
        threads,
    )?;
    let tls = Tls::from_flags(&args)?;
    let runtime = runtime.build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let stop = aqueduct::shutdown_signal();
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
        println!("listening on {}", listener.local_addr()?);
        match which.as_str() {
            "aqueduct" => {
                use helloworld::pb::greeter_service_server::GreeterServiceServer;
                tls.aqueduct(aqueduct::Server::builder())?
                    .add_service(GreeterServiceServer::new(helloworld::MyGreeter))
                    .serve(listener).with_graceful_shutdown(stop)
                    .await?;
            }
            "aqueduct-intercepted" => {
                use helloworld::pb::greeter_service_server::GreeterServiceServer;
                tls.aqueduct(aqueduct::Server::builder())?
                    .intercept(Empty)
                    .intercept(Empty)
                    .intercept(Empty)
                    .add_service(GreeterServiceServer::new(helloworld::MyGreeter))
                    .serve(listener).with_graceful_shutdown(stop)
                    .await?;
            }
            "tonic" => {
                use aqueduct_benches::tonic_pb::greeter_service_server::GreeterServiceServer;
                // `Server::tcp_nodelay` is ignored with an incoming stream of
                // our own (tonic documents it so): set it on the stream, as
                // Aqueduct and bare h2 set it on every accepted socket.
                let incoming =
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
                tls.tonic(tonic::transport::Server::builder())?
                    .add_service(GreeterServiceServer::new(
                        aqueduct_benches::tonic_greeter::TonicGreeter,
                    ))
                    .serve_with_incoming_shutdown(incoming, stop)
                    .await?;
            }
            "connect" => {
                use aqueduct_benches::connect_pb::helloworld::v1::GreeterServiceExt as _;
                anyhow::ensure!(tls.is_none(), "--impl connect serves cleartext only here");
                let router = std::sync::Arc::new(aqueduct_benches::connect_greeter::ConnectGreeter)
                    .register(connectrpc::Router::new());
                connectrpc::Server::from_listener(listener)
                    .serve_with_graceful_shutdown(router, stop)
                    .await
                    .map_err(|e| anyhow::anyhow!("connect-rust server: {e}"))?;
            }
            "h2" => {
                let config = tls.rustls()?;
                tokio::select! {
                    () = aqueduct_benches::bare::serve(listener, config) => {}
                    () = stop => {}
                }
            }
            other => anyhow::bail!(
                "--impl must be aqueduct, aqueduct-intercepted, tonic, connect or h2, not {other:?}"
            ),
        }
        eprintln!("allocations {}", allocations());
        Ok(())
    })
}

/// The PEM files of `--tls-cert`, `--tls-key` and `--client-ca`, read once;
/// each implementation builds its own TLS settings from the same bytes.
struct Tls {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

impl Tls {
    fn from_flags(args: &[String]) -> anyhow::Result<Option<Tls>> {
        let read = |name: &str| -> anyhow::Result<Option<Vec<u8>>> {
            flag(args, name)
                .map(|path| std::fs::read(&path).with_context(|| format!("--{name} {path}")))
                .transpose()
        };
        let (cert, key) = match (read("tls-cert")?, read("tls-key")?) {
            (Some(cert), Some(key)) => (cert, key),
            (None, None) => return Ok(None),
            _ => anyhow::bail!("--tls-cert and --tls-key go together"),
        };
        // tonic's ServerTlsConfig builds its rustls config with the process's
        // default provider: make it ring, the provider Aqueduct passes
        // explicitly, so both run the same cryptography.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Some(Tls {
            cert,
            key,
            client_ca: read("client-ca")?,
        }))
    }
}

trait TlsFor {
    fn aqueduct(&self, builder: aqueduct::ServerBuilder)
    -> anyhow::Result<aqueduct::ServerBuilder>;
    fn tonic(&self, builder: tonic::transport::Server) -> anyhow::Result<tonic::transport::Server>;
    fn rustls(&self) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>>;
}

impl TlsFor for Option<Tls> {
    fn aqueduct(
        &self,
        builder: aqueduct::ServerBuilder,
    ) -> anyhow::Result<aqueduct::ServerBuilder> {
        use aqueduct::tls::{CaRoots, ClientAuth, Identity, ServerTls};
        let Some(tls) = self else {
            return Ok(builder);
        };
        let mut server = ServerTls::builder(Identity::from_pem(&tls.cert, &tls.key)?);
        if let Some(ca) = &tls.client_ca {
            server = server.client_auth(ClientAuth::Required(CaRoots::from_pem(ca)?));
        }
        Ok(builder.tls(server.build()?))
    }

    fn tonic(&self, builder: tonic::transport::Server) -> anyhow::Result<tonic::transport::Server> {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let Some(tls) = self else {
            return Ok(builder);
        };
        let mut config = ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert, &tls.key));
        if let Some(ca) = &tls.client_ca {
            config = config.client_ca_root(Certificate::from_pem(ca));
        }
        Ok(builder.tls_config(config)?)
    }

    fn rustls(&self) -> anyhow::Result<Option<std::sync::Arc<rustls::ServerConfig>>> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let Some(tls) = self else {
            return Ok(None);
        };
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = match &tls.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(ca) {
                    roots.add(cert?)?;
                }
                builder.with_client_cert_verifier(
                    rustls::server::WebPkiClientVerifier::builder_with_provider(
                        roots.into(),
                        provider,
                    )
                    .build()?,
                )
            }
        };
        let chain = CertificateDer::pem_slice_iter(&tls.cert).collect::<Result<Vec<_>, _>>()?;
        let mut config =
            builder.with_single_cert(chain, PrivateKeyDer::from_pem_slice(&tls.key)?)?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Some(std::sync::Arc::new(config)))
    }
}
