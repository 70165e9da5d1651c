//! Byte transports: what the server accepts connections from and what the client
//! dials. Everything above works on any `AsyncRead + AsyncWrite` stream.
//!
//! | transport | server listens on | client dials |
//! |---|---|---|
//! | TCP | `tokio::net::TcpListener` | `http://host:port` |
//! | Unix socket | `tokio::net::UnixListener` | `unix:/path` |
//! | memory pipe | [`MemoryListener`] | `mem://name`, or [`Channel::memory`](crate::Channel::memory) |
//! | anything else | any [`Listener`] | a [`Connector`], through [`ChannelBuilder::connector`](crate::ChannelBuilder::connector) |

pub mod memory;

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use memory::{MemoryConnector, MemoryListener, MemoryStream};

/// A source of incoming connections for [`ServerBuilder::serve`](crate::ServerBuilder::serve).
///
/// Implemented for tokio's `TcpListener` (with `TCP_NODELAY` set on each
/// connection), `UnixListener`, and [`MemoryListener`].
pub trait Listener: Send + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection and the peer's address, if it has one.
    fn accept(&mut self)
    -> impl Future<Output = io::Result<(Self::Io, Option<SocketAddr>)>> + Send;

    /// Handles on this listener for each thread of a thread-per-core server
    /// ([`ServerBuilder::thread_per_core`](crate::ServerBuilder::thread_per_core)),
    /// each made on its thread's runtime. The default refuses
    /// (`Unsupported`); TCP and Unix listeners hand each thread a duplicate of
    /// the listening socket.
    #[doc(hidden)]
    fn per_thread(self, threads: usize) -> io::Result<Vec<PerThread<Self>>>
    where
        Self: Sized,
    {
        let _ = threads;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "thread-per-core serving needs a TCP or Unix listener",
        ))
    }
}

/// Makes one thread's listener of a thread-per-core server, on that thread's
/// runtime.
#[doc(hidden)]
pub type PerThread<L> = Box<dyn FnOnce() -> io::Result<L> + Send>;

/// One duplicate of a listening socket per thread (`dup` shares the accept
/// queue), each made a listener by `make` on its thread.
fn per_thread<S: Send + 'static, L: 'static>(
    threads: usize,
    dup: impl Fn() -> io::Result<S>,
    make: fn(S) -> io::Result<L>,
) -> io::Result<Vec<PerThread<L>>> {
    (0..threads)
        .map(|_| {
            let socket = dup()?;
            Ok(Box::new(move || make(socket)) as PerThread<L>)
        })
        .collect()
}

impl Listener for TcpListener {
    type Io = TcpStream;

    async fn accept(&mut self) -> io::Result<(TcpStream, Option<SocketAddr>)> {
        let (stream, addr) = TcpListener::accept(self).await?;
        // gRPC messages are small and latency-bound: never wait to coalesce them.
        stream.set_nodelay(true)?;
        Ok((stream, Some(addr)))
    }

    fn per_thread(self, threads: usize) -> io::Result<Vec<PerThread<Self>>> {
        let socket = self.into_std()?;
        per_thread(threads, || socket.try_clone(), TcpListener::from_std)
    }
}

impl Listener for UnixListener {
    type Io = UnixStream;

    async fn accept(&mut self) -> io::Result<(UnixStream, Option<SocketAddr>)> {
        let (stream, _) = UnixListener::accept(self).await?;
        Ok((stream, None))
    }

    fn per_thread(self, threads: usize) -> io::Result<Vec<PerThread<Self>>> {
        let socket = self.into_std()?;
        per_thread(threads, || socket.try_clone(), UnixListener::from_std)
    }
}

impl Listener for MemoryListener {
    type Io = MemoryStream;

    async fn accept(&mut self) -> io::Result<(MemoryStream, Option<SocketAddr>)> {
        Ok((MemoryListener::accept(self).await?, None))
    }
}

/// Dials the byte stream a channel runs HTTP/2 over: for transports, proxies
/// or TLS stacks of your own. Give one to
/// [`ChannelBuilder::connector`](crate::ChannelBuilder::connector).
///
/// Any `Fn(&str) -> impl Future<Output = io::Result<Io>>` is a connector: it
/// gets the channel's authority (`host:port` from its URI) and returns the
/// connection. The channel calls it for its first call and again whenever it
/// reconnects, under the channel's connect timeout and backoff.
///
/// ```
/// use aqueduct::Channel;
/// use tokio::net::TcpStream;
///
/// // Every connection goes to one address, whatever the URI names; the URI's
/// // authority still goes to the server as `:authority`.
/// let channel = Channel::builder("http://orders.internal:50051")
///     .unwrap()
///     .connector(|authority: &str| {
///         let _ = authority; // "orders.internal:50051"
///         TcpStream::connect("127.0.0.1:50051")
///     })
///     .build();
/// # drop(channel);
/// ```
pub trait Connector: Send + Sync + 'static {
    /// The connection type.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Opens a new connection for a channel whose authority is `authority`.
    fn connect(
        &self,
        authority: &str,
    ) -> impl Future<Output = io::Result<Self::Io>> + Send + 'static;
}

impl<F, Fut, Io> Connector for F
where
    F: Fn(&str) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = io::Result<Io>> + Send + 'static,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = Io;

    fn connect(&self, authority: &str) -> impl Future<Output = io::Result<Io>> + Send + 'static {
        self(authority)
    }
}

/// A boxed connection from a user's [`Connector`].
pub(crate) trait AnyIo: AsyncRead + AsyncWrite + Unpin + Send {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send> AnyIo for T {}

type BoxConnect = Pin<Box<dyn Future<Output = io::Result<Box<dyn AnyIo>>> + Send>>;

/// A [`Connector`] with its connection type erased.
pub(crate) trait DynConnector: Send + Sync {
    fn connect(&self, authority: &str) -> BoxConnect;
}

impl<C: Connector> DynConnector for C {
    fn connect(&self, authority: &str) -> BoxConnect {
        let fut = Connector::connect(self, authority);
        Box::pin(async move { Ok(Box::new(fut.await?) as Box<dyn AnyIo>) })
    }
}

/// A user's connector, shared by a channel's clones.
#[derive(Clone)]
pub(crate) struct CustomConnector(pub(crate) Arc<dyn DynConnector>);

impl fmt::Debug for CustomConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Connector")
    }
}

/// Where a channel dials its bytes.
#[derive(Debug, Clone)]
pub(crate) enum ByteTarget {
    Tcp {
        host: String,
        port: u16,
    },
    Unix(std::path::PathBuf),
    /// A named memory listener, looked up at each dial.
    Memory(String),
    /// One memory listener, named or not.
    Connector(MemoryConnector),
    /// A user's connector, given the channel's authority.
    Custom(CustomConnector),
}

impl fmt::Display for ByteTarget {
    /// What the target is, in the words of the URI that names it, for errors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ByteTarget::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            ByteTarget::Tcp { host, port } => write!(f, "{host}:{port}"),
            ByteTarget::Unix(path) => write!(f, "unix:{}", path.display()),
            ByteTarget::Memory(name) => write!(f, "mem://{name}"),
            ByteTarget::Connector(_) => f.write_str("a memory listener"),
            ByteTarget::Custom(_) => f.write_str("the channel's connector"),
        }
    }
}

impl PartialEq for ByteTarget {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (ByteTarget::Tcp { host: h1, port: p1 }, ByteTarget::Tcp { host: h2, port: p2 }) => {
                h1 == h2 && p1 == p2
            }
            (ByteTarget::Unix(a), ByteTarget::Unix(b)) => a == b,
            (ByteTarget::Memory(a), ByteTarget::Memory(b)) => a == b,
            (ByteTarget::Connector(a), ByteTarget::Connector(b)) => a.same_listener(b),
            (ByteTarget::Custom(a), ByteTarget::Custom(b)) => Arc::ptr_eq(&a.0, &b.0),
            _ => false,
        }
    }
}

/// A client connection over any of the supported transports.
#[derive(Debug)]
pub(crate) enum ClientIo {
    Tcp(TcpStream),
    Unix(UnixStream),
    Memory(MemoryStream),
    Custom(Box<dyn AnyIo>),
    /// TLS over any of the others.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<ClientIo>>),
}

impl fmt::Debug for dyn AnyIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Io")
    }
}

impl ByteTarget {
    pub(crate) async fn connect(&self, authority: &str) -> io::Result<ClientIo> {
        match self {
            ByteTarget::Tcp { host, port } => {
                let stream = TcpStream::connect((host.as_str(), *port)).await?;
                stream.set_nodelay(true)?;
                Ok(ClientIo::Tcp(stream))
            }
            ByteTarget::Unix(path) => Ok(ClientIo::Unix(UnixStream::connect(path).await?)),
            ByteTarget::Memory(name) => Ok(ClientIo::Memory(memory::connect(name).await?)),
            ByteTarget::Connector(connector) => Ok(ClientIo::Memory(connector.connect().await?)),
            ByteTarget::Custom(connector) => {
                Ok(ClientIo::Custom(connector.0.connect(authority).await?))
            }
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            ClientIo::Tcp($s) => $e,
            ClientIo::Unix($s) => $e,
            ClientIo::Memory($s) => $e,
            ClientIo::Custom($s) => $e,
            #[cfg(feature = "tls")]
            ClientIo::Tls($s) => $e,
        }
    };
}

impl AsyncRead for ClientIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientIo::Tcp(s) => s.is_write_vectored(),
            ClientIo::Unix(s) => s.is_write_vectored(),
            ClientIo::Memory(s) => s.is_write_vectored(),
            ClientIo::Custom(s) => s.is_write_vectored(),
            #[cfg(feature = "tls")]
            ClientIo::Tls(s) => s.is_write_vectored(),
        }
    }
}
