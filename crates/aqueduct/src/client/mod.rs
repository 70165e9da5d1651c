//! The gRPC client: a [`Channel`] to one server, shared by every generated client.
//!
//! A channel keeps one multiplexed HTTP/2 connection. Built with
//! [`ChannelBuilder::build`] (or [`Channel::from_uri`]) it connects lazily, on
//! its first call; [`ChannelBuilder::connect`] connects before it returns the
//! channel, and fails if it cannot. When the connection fails the channel
//! reconnects on a later call, waiting an exponential backoff between failed
//! attempts; calls made during the backoff fail fast with `UNAVAILABLE`, saying
//! so and when the next attempt may be made. Cloning a channel is cheap and
//! clones share the connection.

mod call;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use http::uri::{Authority, Scheme};
use tokio::time::Instant;

pub use call::{BidiCall, ClientStreamingCall, RequestSink};

use crate::carrier::direct::DirectConnector;
use crate::carrier::{Connection, Dial, Target};
use crate::interceptor::{ClientChain, ClientHooks, ClientInterceptor, DynClientInterceptor};
use crate::status::Status;
use crate::transport::memory::MemoryConnector;
use crate::transport::{ByteTarget, Connector, CustomConnector};

/// The target URI could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUri(String);

impl fmt::Display for InvalidUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid channel URI: {}", self.0)
    }
}

impl std::error::Error for InvalidUri {}

/// A connection to one gRPC server, shared by every client built on it.
///
/// ```
/// use aqueduct::Channel;
///
/// let tcp = Channel::from_uri("http://127.0.0.1:50051").unwrap();
/// let uds = Channel::from_uri("unix:/run/app.sock").unwrap();
/// assert!(Channel::from_uri("ftp://example").is_err());
/// ```
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
    /// Client interceptors, in the order added; `None` when there are none.
    interceptors: Option<ClientChain>,
}

struct Inner {
    target: Target,
    scheme: Scheme,
    authority: Authority,
    config: ChannelConfig,
    state: Mutex<State>,
    /// Held while dialing, so concurrent calls wait for one attempt instead of each
    /// opening a connection.
    connecting: tokio::sync::Mutex<()>,
    /// TLS over the dialed bytes, when the channel has it.
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::TlsConnector>,
}

#[derive(Debug, Clone)]
pub(crate) struct ChannelConfig {
    pub(crate) connect_timeout: Duration,
    /// A deadline for every call, unless the call's own is sooner.
    pub(crate) timeout: Option<Duration>,
    pub(crate) initial_backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) max_recv_message_size: usize,
    pub(crate) max_send_message_size: usize,
    pub(crate) initial_stream_window_size: u32,
    pub(crate) initial_connection_window_size: u32,
    pub(crate) max_header_list_size: u32,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(20),
            timeout: None,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(120),
            max_recv_message_size: aqueduct_wire::DEFAULT_MAX_RECV_MESSAGE_SIZE,
            max_send_message_size: u32::MAX as usize,
            initial_stream_window_size: 1024 * 1024,
            initial_connection_window_size: 2 * 1024 * 1024,
            max_header_list_size: 16 * 1024,
        }
    }
}

enum State {
    Idle,
    Ready {
        connection: Connection,
        generation: u64,
    },
    Backoff {
        until: Instant,
        delay: Duration,
        error: String,
    },
}

impl Channel {
    /// A channel to `uri` with default settings; no connection is made until the
    /// first call (use [`ChannelBuilder::connect`] to connect first).
    ///
    /// Accepted forms: `http://host:port` (port 80 if absent), `unix:path`
    /// (relative or absolute), `unix:///absolute/path`, and `mem://name` for the
    /// [`MemoryListener`] bound to `name` in this process (dialing a name nobody
    /// listens on fails at call time with `UNAVAILABLE`, as a refused TCP
    /// connection does). `unix://tmp/app.sock` is refused: after `unix://` the
    /// path must be absolute.
    ///
    /// [`MemoryListener`]: crate::MemoryListener
    pub fn from_uri(uri: &str) -> Result<Channel, InvalidUri> {
        Ok(Self::builder(uri)?.build())
    }

    /// A channel over the memory pipe to one listener, named or anonymous, through
    /// its [`connector`](crate::MemoryListener::connector).
    pub fn memory(connector: MemoryConnector) -> Channel {
        Self::memory_builder(connector).build()
    }

    /// A builder for a [`memory`](Self::memory) channel, to change the defaults.
    pub fn memory_builder(connector: MemoryConnector) -> ChannelBuilder {
        ChannelBuilder::new(
            Target::Bytes(ByteTarget::Connector(connector)),
            Authority::from_static("localhost"),
        )
    }

    /// A builder for a channel to `uri`, to change the defaults.
    pub fn builder(uri: &str) -> Result<ChannelBuilder, InvalidUri> {
        let (target, authority, https) = parse_target(uri)?;
        // Only the `tls` feature sets a field below.
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut builder = ChannelBuilder::new(target, authority);
        if https {
            #[cfg(feature = "tls")]
            {
                builder.tls = Some(crate::tls::ClientTls::new());
            }
            #[cfg(not(feature = "tls"))]
            return Err(InvalidUri(format!(
                "{uri:?}: https:// needs aqueduct's `tls` feature"
            )));
        }
        Ok(builder)
    }

    /// A channel over the direct carrier to the server serving `connector`'s
    /// [`DirectListener`](crate::DirectListener): calls go to it
    /// as call heads and encoded messages through in-process pipes, with no HTTP/2.
    /// Everything above the bytes (limits, metadata rules, deadlines, status,
    /// trailers) behaves as over the network.
    pub fn direct(connector: DirectConnector) -> Channel {
        Self::direct_builder(connector).build()
    }

    /// A builder for a [`direct`](Self::direct) channel, to change the defaults.
    pub fn direct_builder(connector: DirectConnector) -> ChannelBuilder {
        ChannelBuilder::new(
            Target::Direct(connector),
            Authority::from_static("localhost"),
        )
    }

    /// A channel that shares this one's connection, whose calls also go through
    /// `interceptor` (after the interceptors this channel already has).
    ///
    /// ```
    /// use aqueduct::Channel;
    /// use aqueduct::interceptor::BearerToken;
    ///
    /// let channel = Channel::from_uri("http://127.0.0.1:50051").unwrap();
    /// let authed = channel.intercept(BearerToken::new("s3cret").unwrap());
    /// # drop(authed);
    /// ```
    #[must_use]
    pub fn intercept(&self, interceptor: impl ClientInterceptor) -> Channel {
        let added: Arc<dyn DynClientInterceptor> = Arc::new(interceptor);
        let chain = match &self.interceptors {
            Some(chain) => chain.iter().cloned().chain([added]).collect(),
            None => Arc::from([added]),
        };
        Channel {
            inner: self.inner.clone(),
            interceptors: Some(chain),
        }
    }

    /// The interceptors of one call to `method`, if the channel has any.
    pub(crate) fn hooks(&self, method: &'static str) -> Option<Box<ClientHooks>> {
        self.interceptors
            .as_ref()
            .map(|chain| ClientHooks::new(chain.clone(), method))
    }

    /// Connects now instead of at the first call (a no-op if connected).
    pub async fn connect(&self) -> Result<(), Status> {
        self.connection().await.map(drop)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The current connection and its generation, connecting first if there
    /// is none.
    pub(crate) async fn connection(&self) -> Result<(Connection, u64), Status> {
        if let Some(ready) = self.current()? {
            return Ok(ready);
        }
        let _dialing = self.inner.connecting.lock().await;
        if let Some(ready) = self.current()? {
            return Ok(ready);
        }
        let attempt = tokio::time::timeout(self.inner.config.connect_timeout, self.dial()).await;
        let result = match attempt {
            Ok(r) => r,
            Err(_) => Err(format!(
                "timed out after {}",
                seconds(self.inner.config.connect_timeout)
            )),
        };
        let mut state = self.lock();
        match result {
            Ok((connection, generation)) => {
                *state = State::Ready {
                    connection: connection.clone(),
                    generation,
                };
                Ok((connection, generation))
            }
            Err(error) => {
                let delay = match &*state {
                    State::Backoff { delay, .. } => {
                        (delay.mul_f64(1.6)).min(self.inner.config.max_backoff)
                    }
                    _ => self.inner.config.initial_backoff,
                };
                let message = format!("failed to connect to {}: {error}", self.inner.target);
                *state = State::Backoff {
                    until: Instant::now() + delay,
                    delay,
                    error: message.clone(),
                };
                Err(Status::unavailable(message))
            }
        }
    }

    /// The live connection, `None` if a dial is needed, or the error of a
    /// recent failed dial while its backoff lasts.
    fn current(&self) -> Result<Option<(Connection, u64)>, Status> {
        match &*self.lock() {
            State::Ready {
                connection,
                generation,
            } if !connection.is_closed() => Ok(Some((connection.clone(), *generation))),
            State::Backoff { until, error, .. } => {
                match until.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Err(Status::unavailable(format!(
                        "{error} (backing off: the next connection attempt is in {})",
                        seconds(left)
                    ))),
                    _ => Ok(None),
                }
            }
            _ => Ok(None),
        }
    }

    async fn dial(&self) -> Result<(Connection, u64), String> {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let on_close = move || {
            if let Some(inner) = weak.upgrade() {
                Channel {
                    inner,
                    interceptors: None,
                }
                .forget(generation);
            }
        };
        let dial = Dial {
            target: &self.inner.target,
            authority: self.inner.authority.as_str(),
            #[cfg(feature = "tls")]
            tls: self.inner.tls.as_ref(),
            config: &self.inner.config,
        };
        let connection = dial.connect(on_close).await?;
        Ok((connection, generation))
    }

    /// Drops the connection `generation` so the next call dials a new one.
    pub(crate) fn forget(&self, generation: u64) {
        let mut state = self.lock();
        if matches!(&*state, State::Ready { generation: g, .. } if *g == generation) {
            *state = State::Idle;
        }
    }

    pub(crate) fn config(&self) -> &ChannelConfig {
        &self.inner.config
    }

    pub(crate) fn scheme(&self) -> &Scheme {
        &self.inner.scheme
    }

    pub(crate) fn authority(&self) -> &Authority {
        &self.inner.authority
    }
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`Channel`].
#[derive(Debug)]
#[must_use]
pub struct ChannelBuilder {
    target: Target,
    authority: Authority,
    config: ChannelConfig,
    interceptors: Vec<Arc<dyn DynClientInterceptor>>,
    /// TLS settings: from `tls`, or the defaults an `https://` URI implies.
    #[cfg(feature = "tls")]
    tls: Option<crate::tls::ClientTls>,
}

impl fmt::Debug for dyn DynClientInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientInterceptor")
    }
}

impl ChannelBuilder {
    fn new(target: Target, authority: Authority) -> Self {
        Self {
            target,
            authority,
            config: ChannelConfig::default(),
            interceptors: Vec::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Runs TLS over the connection (feature `tls`): `ClientTls::new()` for
    /// the platform's trusted roots, or roots of your own, a client
    /// certificate for mutual TLS, and a server name to check. Works over any
    /// byte transport (`http://` and `https://` URIs, `unix:`, a
    /// [`connector`](Self::connector)); an `https://` URI without this uses
    /// `ClientTls::new()`. Requests then carry `:scheme https`.
    ///
    /// A server whose certificate fails verification fails the call with
    /// `UNAVAILABLE`, saying why: "certificate is not valid for name ...",
    /// "unknown issuer", "has expired". See [`crate::tls`].
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use aqueduct::Channel;
    /// use aqueduct::tls::{CaRoots, ClientTls};
    ///
    /// let channel = Channel::builder("https://127.0.0.1:50051")?
    ///     .tls(
    ///         ClientTls::new()
    ///             .ca_certificates(CaRoots::from_pem_file("ca.pem")?)
    ///             .server_name("orders.internal"),
    ///     )
    ///     .build();
    /// # drop(channel); Ok(()) }
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, tls: crate::tls::ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Adds a client interceptor: every call the channel makes goes through it,
    /// after the ones added before. See [`ClientInterceptor`].
    pub fn intercept(mut self, interceptor: impl ClientInterceptor) -> Self {
        self.interceptors.push(Arc::new(interceptor));
        self
    }

    /// A timeout for every call on the channel: each call's deadline is this
    /// long after it starts, unless the call's own timeout (or the deadline it
    /// inherits from the call being served) is sooner. A per-call timeout can
    /// shorten it, never lengthen it, so leave it unset on a channel that
    /// carries long-lived streams. Default: none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use aqueduct::Channel;
    ///
    /// let channel = Channel::builder("http://127.0.0.1:50051")
    ///     .unwrap()
    ///     .timeout(Duration::from_secs(5))
    ///     .build();
    /// # drop(channel);
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = Some(timeout);
        self
    }

    /// Dials with `connector` instead of the transport the URI names: for a
    /// transport, proxy or TLS stack of your own. The connector gets the
    /// channel's authority; the URI's scheme and authority still go to the
    /// server in each request. See [`Connector`].
    pub fn connector(mut self, connector: impl Connector) -> Self {
        self.target = Target::Bytes(ByteTarget::Custom(CustomConnector(Arc::new(connector))));
        self
    }

    /// How long one connection attempt (dial and HTTP/2 handshake) may take. Default
    /// 20 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// Backoff after the first failed connection attempt; each further failure
    /// multiplies it by 1.6, up to `max`. Defaults 1 s and 120 s, as in gRPC's
    /// connection backoff spec.
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.config.initial_backoff = initial;
        self.config.max_backoff = max.max(initial);
        self
    }

    /// Largest response message accepted, after decompression. Default 4 MiB.
    pub fn max_recv_message_size(mut self, max: usize) -> Self {
        self.config.max_recv_message_size = max;
        self
    }

    /// Largest request message sent. Default 4 GiB - 1.
    pub fn max_send_message_size(mut self, max: usize) -> Self {
        self.config.max_send_message_size = max;
        self
    }

    /// HTTP/2 flow-control window per stream. Default 1 MiB.
    pub fn initial_stream_window_size(mut self, size: u32) -> Self {
        self.config.initial_stream_window_size = size;
        self
    }

    /// HTTP/2 flow-control window per connection. Default 2 MiB.
    pub fn initial_connection_window_size(mut self, size: u32) -> Self {
        self.config.initial_connection_window_size = size;
        self
    }

    /// The channel, connected and ready: fails with `UNAVAILABLE` (naming the
    /// target and the cause) if the first connection attempt does, instead of
    /// leaving that to the first call. [`build`](Self::build) is the lazy form.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use aqueduct::{Channel, Code};
    ///
    /// // Nobody listens on this memory listener's name: connect says so now.
    /// let status = Channel::builder("mem://nobody-here").unwrap().connect().await.unwrap_err();
    /// assert_eq!(status.code(), Code::Unavailable);
    /// assert!(status.message().contains("mem://nobody-here"));
    /// # }
    /// ```
    pub async fn connect(self) -> Result<Channel, Status> {
        let channel = self.build();
        channel.connect().await?;
        Ok(channel)
    }

    /// The channel, not yet connected: it connects on its first call, so
    /// building it never fails and needs no runtime. Use
    /// [`connect`](Self::connect) to connect first.
    pub fn build(self) -> Channel {
        #[cfg(feature = "tls")]
        let tls = self.tls.map(|tls| tls.connector(self.authority.host()));
        #[cfg(feature = "tls")]
        let scheme = if tls.is_some() {
            Scheme::HTTPS
        } else {
            Scheme::HTTP
        };
        #[cfg(not(feature = "tls"))]
        let scheme = Scheme::HTTP;
        Channel {
            inner: Arc::new(Inner {
                target: self.target,
                scheme,
                authority: self.authority,
                config: self.config,
                state: Mutex::new(State::Idle),
                connecting: tokio::sync::Mutex::new(()),
                #[cfg(feature = "tls")]
                tls,
            }),
            interceptors: (!self.interceptors.is_empty()).then(|| self.interceptors.into()),
        }
    }
}

/// A duration for people: `1.6 s`, `250 ms`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis().max(1))
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The target, its authority, and whether the URI said `https://`.
fn parse_target(uri: &str) -> Result<(Target, Authority, bool), InvalidUri> {
    let bad = |why: &str| InvalidUri(format!("{uri:?}: {why}"));
    if let Some(rest) = uri.strip_prefix("unix:") {
        let path = match rest.strip_prefix("//") {
            // `unix://tmp/app.sock` names no absolute path (a common typo of
            // `unix:///tmp/app.sock`): refuse it rather than dial `tmp/app.sock`.
            Some(path) if !path.starts_with('/') => {
                return Err(bad(
                    "after unix:// the socket path must be absolute; write \
                     unix:/path/to.sock or unix:///path/to.sock (or unix:relative/path)",
                ));
            }
            Some(path) => path,
            None => rest,
        };
        if path.is_empty() {
            return Err(bad("no socket path"));
        }
        return Ok((
            Target::Bytes(ByteTarget::Unix(path.into())),
            Authority::from_static("localhost"),
            false,
        ));
    }
    if let Some(name) = uri.strip_prefix("mem://") {
        let name = name.strip_suffix('/').unwrap_or(name);
        let name = crate::transport::memory::parse_name(name).map_err(|e| bad(&e.to_string()))?;
        let authority: Authority = name.parse().map_err(|_| bad("bad memory listener name"))?;
        return Ok((
            Target::Bytes(ByteTarget::Memory(name.to_owned())),
            authority,
            false,
        ));
    }
    let (rest, https) = match (uri.strip_prefix("http://"), uri.strip_prefix("https://")) {
        (Some(rest), _) => (rest, false),
        (None, Some(rest)) => (rest, true),
        (None, None) => {
            return Err(bad(
                "expected http://host:port, https://host:port, unix:/path or mem://name",
            ));
        }
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let authority: Authority = rest.parse().map_err(|_| bad("bad host:port"))?;
    if authority.as_str().contains('@') {
        return Err(bad("user info is not allowed"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(bad("no host"));
    }
    // Read the port ourselves: `Authority::port` hides one that is out of range.
    let raw = authority.as_str();
    let after_host = raw.rfind(']').map_or(raw, |i| &raw[i..]);
    let port = match after_host.rsplit_once(':') {
        None if https => 443,
        None => 80,
        Some((_, p)) => p.parse().map_err(|_| bad("port must be 0-65535"))?,
    };
    Ok((
        Target::Bytes(ByteTarget::Tcp { host, port }),
        authority,
        https,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        let (t, a, https) = parse_target("http://127.0.0.1:50051").unwrap();
        assert!(!https);
        assert_eq!(
            t,
            Target::Bytes(ByteTarget::Tcp {
                host: "127.0.0.1".into(),
                port: 50051
            })
        );
        assert_eq!(a.as_str(), "127.0.0.1:50051");
        let (t, _, _) = parse_target("http://[::1]:8080/").unwrap();
        assert_eq!(
            t,
            Target::Bytes(ByteTarget::Tcp {
                host: "::1".into(),
                port: 8080
            })
        );
        let (t, _, _) = parse_target("http://example.com").unwrap();
        assert_eq!(
            t,
            Target::Bytes(ByteTarget::Tcp {
                host: "example.com".into(),
                port: 80
            })
        );
        assert_eq!(
            parse_target("unix:/tmp/x.sock").unwrap().0,
            Target::Bytes(ByteTarget::Unix("/tmp/x.sock".into()))
        );
        assert_eq!(
            parse_target("unix:///tmp/x.sock").unwrap().0,
            Target::Bytes(ByteTarget::Unix("/tmp/x.sock".into()))
        );
        assert!(parse_target("unix:").is_err());
        assert_eq!(
            parse_target("unix:run/x.sock").unwrap().0,
            Target::Bytes(ByteTarget::Unix("run/x.sock".into()))
        );
        let typo = parse_target("unix://tmp/x.sock").unwrap_err().to_string();
        assert!(typo.contains("unix:///path/to.sock"), "{typo}");
        assert!(typo.contains("unix:/path/to.sock"), "{typo}");
        assert_eq!(
            parse_target("mem://orders").unwrap().0,
            Target::Bytes(ByteTarget::Memory("orders".into()))
        );
        assert_eq!(
            parse_target("mem://orders.v1/").unwrap().0,
            Target::Bytes(ByteTarget::Memory("orders.v1".into()))
        );
        assert!(parse_target("mem://").is_err());
        assert!(parse_target("mem://a/b").is_err());
        let (t, a, https) = parse_target("https://example.com").unwrap();
        assert!(https);
        assert_eq!(a.as_str(), "example.com");
        assert_eq!(
            t,
            Target::Bytes(ByteTarget::Tcp {
                host: "example.com".into(),
                port: 443
            })
        );
        assert!(parse_target("ftp://x:1").is_err());
        assert!(parse_target("http://u@x:1").is_err());
        assert!(parse_target("http://x:99999").is_err());
    }
}
