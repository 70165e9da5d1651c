//! A server's TLS: the settings, the live handle that swaps material under a
//! running server, and the handshake each connection's task runs.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;

use super::{CaRoots, H2, Identity, TlsError, TlsInfo, VERSIONS, provider};

/// Whether, and how, a server asks clients for certificates.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// No client certificates (the default).
    #[default]
    Off,
    /// Clients may present a certificate; one that does must chain to these
    /// roots. Handlers see who presented one in
    /// [`TlsInfo::peer_identity`].
    Optional(CaRoots),
    /// Clients must present a certificate chaining to these roots (mutual
    /// TLS); others fail the handshake.
    Required(CaRoots),
}

impl ClientAuth {
    fn roots(&self) -> Option<&CaRoots> {
        match self {
            Self::Off => None,
            Self::Optional(roots) | Self::Required(roots) => Some(roots),
        }
    }

    fn with_roots(&self, roots: CaRoots) -> Self {
        match self {
            Self::Off => Self::Off,
            Self::Optional(_) => Self::Optional(roots),
            Self::Required(_) => Self::Required(roots),
        }
    }
}

/// Settings fixed for the server's life.
#[derive(Debug, Clone, Copy)]
struct Options {
    /// Also serve clients that offer no ALPN at all.
    accept_no_alpn: bool,
}

/// The material that can change while the server runs.
#[derive(Debug, Clone)]
struct Material {
    identity: Identity,
    client_auth: ClientAuth,
}

/// Builds a [`ServerTls`]; from [`ServerTls::builder`].
#[derive(Debug)]
#[must_use]
pub struct ServerTlsBuilder {
    material: Material,
    options: Options,
}

impl ServerTlsBuilder {
    /// Whether and how clients authenticate with certificates. Default
    /// [`ClientAuth::Off`].
    pub fn client_auth(mut self, client_auth: ClientAuth) -> Self {
        self.material.client_auth = client_auth;
        self
    }

    /// Also serve clients whose ClientHello offers no ALPN protocol at all.
    /// By default they are refused, as grpc-go does since 1.67: gRPC runs
    /// over HTTP/2 only, and ALPN `h2` is how TLS says so. Clients that offer
    /// ALPN without `h2` are refused either way.
    pub fn accept_no_alpn(mut self) -> Self {
        self.options.accept_no_alpn = true;
        self
    }

    /// The settings, checked: fails if they cannot make a working TLS
    /// server (a client CA set with no usable root, say).
    pub fn build(self) -> Result<ServerTls, TlsError> {
        let config = make_config(&self.material)?;
        let (reloads, _) = watch::channel(0);
        Ok(ServerTls {
            inner: Arc::new(Inner {
                options: self.options,
                current: RwLock::new(config),
                material: Mutex::new(self.material),
                reloads,
            }),
        })
    }
}

/// A server's TLS settings, and a handle to them while it serves: clones
/// share them, so keep one to rotate certificates without a restart.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use aqueduct::tls::{CaRoots, ClientAuth, Identity, ServerTls};
///
/// let tls = ServerTls::builder(Identity::from_pem_files("server.pem", "server.key")?)
///     .client_auth(ClientAuth::Required(CaRoots::from_pem_file("clients-ca.pem")?))
///     .build()?;
/// // Re-read the files every 30 s and swap in what changed.
/// let _watch = tls.watch(std::time::Duration::from_secs(30));
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:50051").await?;
/// aqueduct::Server::builder()
///     // .add_service(...)
///     .tls(tls)
///     .serve(listener)
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerTls {
    inner: Arc<Inner>,
}

struct Inner {
    options: Options,
    /// What new connections handshake with.
    current: RwLock<Arc<rustls::ServerConfig>>,
    /// What `current` was built from; locked while material is swapped.
    material: Mutex<Material>,
    /// Counts successful swaps.
    reloads: watch::Sender<u64>,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("options", &self.inner.options)
            .field("reloads", &*self.inner.reloads.borrow())
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Settings that present `identity`, with no client authentication and
    /// ALPN `h2` required.
    pub fn builder(identity: Identity) -> ServerTlsBuilder {
        ServerTlsBuilder {
            material: Material {
                identity,
                client_auth: ClientAuth::Off,
            },
            options: Options {
                accept_no_alpn: false,
            },
        }
    }

    /// Presents `identity` to connections from now on; open connections keep
    /// the one they started with.
    pub fn set_identity(&self, identity: Identity) -> Result<(), TlsError> {
        self.swap(|material| material.identity = identity)
    }

    /// Checks client certificates against `client_auth` on connections from
    /// now on.
    pub fn set_client_auth(&self, client_auth: ClientAuth) -> Result<(), TlsError> {
        self.swap(|material| material.client_auth = client_auth)
    }

    /// Reads again the files the identity and client roots came from (those
    /// made with `from_pem_files` / `from_pem_file`) and swaps in what
    /// changed: `Ok(true)` if anything did. On an error (a file that does
    /// not parse, a key that does not match its certificate) nothing is
    /// swapped and the current material stays in use.
    pub fn reload(&self) -> Result<bool, TlsError> {
        let mut material = lock(&self.inner.material);
        let identity = material.identity.reread()?;
        let roots = match material.client_auth.roots() {
            Some(roots) => roots.reread()?,
            None => None,
        };
        if identity.is_none() && roots.is_none() {
            return Ok(false);
        }
        let mut next = material.clone();
        if let Some(identity) = identity {
            next.identity = identity;
        }
        if let Some(roots) = roots {
            next.client_auth = next.client_auth.with_roots(roots);
        }
        self.install(&mut material, next)?;
        Ok(true)
    }

    /// Calls [`reload`](Self::reload) every `interval` (at least 10 ms) on a
    /// task of its own, the file reads on tokio's blocking pool, until the
    /// returned [`TlsWatch`] is dropped. A reload that fails is logged
    /// (`warn`) and the current material stays in use.
    ///
    /// # Panics
    ///
    /// If called outside a tokio runtime.
    pub fn watch(&self, interval: Duration) -> TlsWatch {
        let interval = interval.max(Duration::from_millis(10));
        let tls = self.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let tls = tls.clone();
                match tokio::task::spawn_blocking(move || tls.reload()).await {
                    Ok(Ok(true)) => tracing::info!("TLS material reloaded from its files"),
                    Ok(Ok(false)) => {}
                    Ok(Err(e)) => tracing::warn!(
                        error = %e,
                        "TLS reload failed; the current certificate stays in use"
                    ),
                    Err(e) => tracing::warn!(error = %e, "TLS reload task failed"),
                }
            }
        });
        TlsWatch {
            task: task.abort_handle(),
        }
    }

    /// Counts the swaps so far and changes on each: await
    /// `changed()` on it to learn when new material is in use.
    #[must_use]
    pub fn reloads(&self) -> watch::Receiver<u64> {
        self.inner.reloads.subscribe()
    }

    fn swap(&self, change: impl FnOnce(&mut Material)) -> Result<(), TlsError> {
        let mut material = lock(&self.inner.material);
        let mut next = material.clone();
        change(&mut next);
        self.install(&mut material, next)
    }

    /// Builds the config for `next` and, if it builds, makes it current.
    fn install(&self, material: &mut Material, next: Material) -> Result<(), TlsError> {
        let config = make_config(&next)?;
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = config;
        *material = next;
        self.inner.reloads.send_modify(|n| *n += 1);
        Ok(())
    }

    fn current(&self) -> Arc<rustls::ServerConfig> {
        self.inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs the server side of the handshake on `io`. The caller bounds it
    /// with the handshake timeout.
    pub(crate) async fn accept<IO>(
        &self,
        io: IO,
    ) -> Result<(tokio_rustls::server::TlsStream<IO>, Arc<TlsInfo>), Refused>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.current());
        let mut stream = match acceptor.accept(io).into_fallible().await {
            Ok(stream) => stream,
            Err((e, io)) => {
                let why = format!(
                    "TLS handshake failed: {}",
                    super::client::describe(&e, None)
                );
                // rustls has written its alert; let the client read it.
                linger(io).await;
                return Err(Refused { why, policy: false });
            }
        };
        let connection = stream.get_ref().1;
        let refused = match connection.alpn_protocol() {
            Some(H2) => None,
            // rustls refuses an ALPN list without h2 itself; this is a guard.
            Some(other) => Some(format!(
                "refused: the client negotiated ALPN {:?}, not h2",
                String::from_utf8_lossy(other)
            )),
            None if self.inner.options.accept_no_alpn => None,
            None => Some(
                "refused: the client offered no ALPN protocol; gRPC needs h2 \
                 (ServerTlsBuilder::accept_no_alpn serves such clients)"
                    .to_owned(),
            ),
        };
        if let Some(why) = refused {
            // close_notify, so the client sees a clean close.
            let _ = stream.shutdown().await;
            linger(stream.into_inner().0).await;
            return Err(Refused { why, policy: true });
        }
        let info = TlsInfo::from_connection(stream.get_ref().1);
        Ok((stream, Arc::new(info)))
    }
}

/// Most a connection refused at the handshake is kept open after its alert
/// (or close_notify), for the client to read it: see [`linger`]. The
/// handshake timeout bounds it too.
const LINGER: Duration = Duration::from_secs(2);

/// Ends a connection the server will not serve: closes our sending side,
/// then reads and drops what the client still sends until it closes too, or
/// for at most [`LINGER`]. Closing the socket at once, with the client's
/// bytes unread, makes the kernel answer them with a reset. A TLS 1.3
/// client writes its first requests right after its Finished, before the
/// server has checked its certificate, so one whose certificate is refused
/// has bytes in flight; after a reset its next write fails with "broken
/// pipe", and that is what an HTTP/2 client reports, not the alert that
/// says why.
async fn linger<IO>(mut io: IO)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let _ = io.shutdown().await;
    let mut sink = [0; 4096];
    let drain = async { while let Ok(1..) = io.read(&mut sink).await {} };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Why a connection's TLS handshake did not give a connection to serve.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) why: String,
    /// Refused by the server's policy (ALPN), not a failed handshake: worth
    /// a log line above debug.
    pub(crate) policy: bool,
}

/// Stops [`ServerTls::watch`]'s task when dropped.
#[derive(Debug)]
#[must_use = "the watch stops when this is dropped"]
pub struct TlsWatch {
    task: tokio::task::AbortHandle,
}

impl Drop for TlsWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(material: &Mutex<Material>) -> std::sync::MutexGuard<'_, Material> {
    material.lock().unwrap_or_else(PoisonError::into_inner)
}

fn make_config(material: &Material) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| TlsError::new(format!("TLS versions: {e}")))?;
    let verifier = |roots: &CaRoots| {
        WebPkiClientVerifier::builder_with_provider(roots.store(), provider.clone())
    };
    let builder = match &material.client_auth {
        ClientAuth::Off => builder.with_no_client_auth(),
        ClientAuth::Optional(roots) => builder.with_client_cert_verifier(
            verifier(roots)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::new(format!("client CA roots: {e}")))?,
        ),
        ClientAuth::Required(roots) => builder.with_client_cert_verifier(
            verifier(roots)
                .build()
                .map_err(|e| TlsError::new(format!("client CA roots: {e}")))?,
        ),
    };
    let identity = &material.identity;
    let mut config = builder
        .with_single_cert(identity.chain.clone(), identity.key.clone_key())
        .map_err(|e| TlsError::new(format!("the certificate and key: {e}")))?;
    config.alpn_protocols = vec![H2.to_vec()];
    Ok(Arc::new(config))
}
