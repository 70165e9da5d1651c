//! What a server serves: connections of bytes from any [`Listener`], or
//! direct connections from a [`DirectListener`], behind one trait so there is
//! one accept loop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;

use super::conn::{self, Phase, Shared};
use crate::carrier::direct::{DirectConnection, DirectListener, NoIo};
use crate::transport::{Listener, PerThread};

/// What [`ServerBuilder::serve`](crate::ServerBuilder::serve) serves: every
/// byte [`Listener`] (TCP, Unix sockets, the memory pipe, yours) and a
/// [`DirectListener`]. Implement [`Listener`] for a transport of your own;
/// this trait's methods are the server's business.
pub trait Incoming: Send + 'static {
    /// The byte stream of a connection.
    #[doc(hidden)]
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The next connection; `None` once no more can come.
    #[doc(hidden)]
    fn next(&mut self) -> impl Future<Output = io::Result<Option<Accepted<Self::Io>>>> + Send;

    /// One listener per thread of a thread-per-core server, each made on its
    /// thread's runtime.
    #[doc(hidden)]
    fn per_thread(self, threads: usize) -> io::Result<Vec<PerThread<Self>>>
    where
        Self: Sized;
}

/// A connection accepted, not yet served.
#[doc(hidden)]
#[derive(Debug)]
pub struct Accepted<Io>(Kind<Io>);

#[derive(Debug)]
enum Kind<Io> {
    Bytes(Io, Option<SocketAddr>),
    Direct(DirectConnection),
}

impl<Io: AsyncRead + AsyncWrite + Unpin + Send + 'static> Accepted<Io> {
    /// Serves the connection to its end.
    pub(super) async fn serve(self, shared: Arc<Shared>, phase: watch::Receiver<Phase>) {
        match self.0 {
            Kind::Bytes(io, remote) => conn::serve_connection(io, remote, shared, phase).await,
            Kind::Direct(direct) => conn::serve_direct(direct, shared, phase).await,
        }
    }
}

impl<L: Listener> Incoming for L {
    type Io = L::Io;

    async fn next(&mut self) -> io::Result<Option<Accepted<L::Io>>> {
        let (io, remote) = self.accept().await?;
        Ok(Some(Accepted(Kind::Bytes(io, remote))))
    }

    fn per_thread(self, threads: usize) -> io::Result<Vec<PerThread<Self>>> {
        Listener::per_thread(self, threads)
    }
}

impl Incoming for DirectListener {
    type Io = NoIo;

    async fn next(&mut self) -> io::Result<Option<Accepted<NoIo>>> {
        Ok(self.accept().await.map(|conn| Accepted(Kind::Direct(conn))))
    }

    fn per_thread(self, _threads: usize) -> io::Result<Vec<PerThread<Self>>> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "a direct listener cannot be served thread-per-core: its calls run on the caller's runtime",
        ))
    }
}
