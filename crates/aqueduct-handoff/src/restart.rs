//! Restarts that refuse no connection. The running process keeps a Unix
//! control socket; a new process started to replace it connects there, gets
//! the listening sockets themselves (not copies bound anew: the same sockets,
//! with the connections waiting in their queues), starts serving them, and
//! says it is ready. Only then does the old process stop accepting and drain
//! (two-phase GOAWAY) within its grace period. Both accept from the same
//! queue for a moment; no connection is refused, none is lost.
//!
//! `SO_REUSEPORT` alone cannot do this: a new socket has its own queue, and
//! the connections waiting in the old one's are reset when it closes.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use aqueduct_handoff::PeerPolicy;
//! use aqueduct_handoff::restart::{Handover, take_over};
//! use std::os::fd::AsFd;
//!
//! let control = "/run/app/control.sock";
//! let inherited = take_over(control, &PeerPolicy::SameUser).await?;
//! let listener = match &inherited {
//!     Some(inherited) => inherited.listener("grpc")?,
//!     None => std::net::TcpListener::bind("127.0.0.1:50051")?, // first start
//! };
//! let keep = listener.try_clone()?; // to hand over in turn
//! // ... start serving `listener` ...
//! if let Some(inherited) = inherited {
//!     inherited.ready().await?; // the predecessor stops accepting now
//! }
//! let handover = Handover::bind(control, PeerPolicy::SameUser)?;
//! handover.wait_for_successor(&[("grpc", keep.as_fd())]).await?;
//! // ... a successor is serving: shut down gracefully ...
//! # Ok(())
//! # }
//! ```

use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};

use crate::{Handoff, HandoffReceiver, HandoffSender, Named, PeerPolicy};

/// The byte a successor sends once it serves the inherited listeners.
const READY: u8 = b'R';
/// How long a successor may take from connecting to being ready; one that
/// takes longer is dropped and the next one waited for.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long receiving the listeners may take.
const RECEIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most listeners one handover carries.
const MAX_LISTENERS: usize = 64;

/// The running process's side: a control socket successors connect to.
#[derive(Debug)]
pub struct Handover {
    listener: UnixListener,
    path: PathBuf,
    policy: PeerPolicy,
}

impl Handover {
    /// Listens for a successor at `path`, replacing the socket file a
    /// predecessor left there (call it after [`Inherited::ready`]).
    pub fn bind(path: impl AsRef<Path>, policy: PeerPolicy) -> io::Result<Self> {
        let path = path.as_ref();
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(Self {
            listener: UnixListener::bind(path)?,
            path: path.to_owned(),
            policy,
        })
    }

    /// Waits for a successor the policy admits, hands it `listeners` (name,
    /// socket), and returns once it says it is ready: stop accepting then, and
    /// drain. A successor that fails or hangs before ready is dropped (and
    /// logged), and the next one is waited for; this process serves on.
    pub async fn wait_for_successor(&self, listeners: &[(&str, BorrowedFd<'_>)]) -> io::Result<()> {
        loop {
            let (stream, _) = self.listener.accept().await?;
            match self.hand_over(stream, listeners).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::warn!(error = %e, control = %self.path.display(), "restart: a successor failed before it was ready")
                }
            }
        }
    }

    async fn hand_over(
        &self,
        stream: UnixStream,
        listeners: &[(&str, BorrowedFd<'_>)],
    ) -> io::Result<()> {
        let cred = stream.peer_cred()?;
        if !self.policy.admits(cred.uid()) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("successor uid {} is not allowed", cred.uid()),
            ));
        }
        let mut sender = HandoffSender::new(stream);
        for (name, fd) in listeners {
            sender.send_listener(name, fd).await?;
        }
        sender.finish().await?;
        let mut ready = [0; 1];
        let read = sender.stream_mut().read_exact(&mut ready);
        match tokio::time::timeout(READY_TIMEOUT, read).await {
            Ok(Ok(_)) if ready == [READY] => Ok(()),
            Ok(Ok(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "successor sent something other than ready",
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "successor was not ready in time",
            )),
        }
    }
}

/// What a successor inherited: the listeners, and the way to say it is ready.
#[derive(Debug)]
pub struct Inherited {
    listeners: Vec<Named>,
    stream: UnixStream,
}

impl Inherited {
    /// The inherited listener named `name`, as a TCP listener (it can be
    /// taken once per name; the descriptor is duplicated for the caller).
    pub fn listener(&self, name: &str) -> io::Result<std::net::TcpListener> {
        let named = self
            .listeners
            .iter()
            .find(|l| l.name == name)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no inherited listener named {name:?}"),
                )
            })?;
        let listener = std::net::TcpListener::from(named.fd.try_clone()?);
        listener.set_nonblocking(true)?;
        Ok(listener)
    }

    /// The names of the inherited listeners.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.listeners.iter().map(|l| l.name.as_str())
    }

    /// Tells the predecessor this process serves the listeners now: it stops
    /// accepting and drains.
    pub async fn ready(mut self) -> io::Result<()> {
        self.stream.write_all(&[READY]).await?;
        self.stream.flush().await
    }
}

/// Connects to the running process's control socket at `path` and takes its
/// listeners. `Ok(None)` if nothing listens there (a first start).
pub async fn take_over(
    path: impl AsRef<Path>,
    policy: &PeerPolicy,
) -> io::Result<Option<Inherited>> {
    let stream = match UnixStream::connect(path).await {
        Ok(stream) => stream,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut receiver = HandoffReceiver::new(stream, policy)?;
    let receive = async {
        let mut listeners = Vec::new();
        while let Some(handoff) = receiver.recv().await? {
            match handoff {
                Handoff::Listener(named) if listeners.len() < MAX_LISTENERS => {
                    listeners.push(named)
                }
                Handoff::Listener(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "too many listeners handed over",
                    ));
                }
                Handoff::Connection(_) | Handoff::File(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a restart hands over listeners only",
                    ));
                }
            }
        }
        io::Result::Ok(listeners)
    };
    let listeners = tokio::time::timeout(RECEIVE_TIMEOUT, receive)
        .await
        .map_err(|_| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                "the running process did not hand over its listeners in time",
            )
        })??;
    Ok(Some(Inherited {
        listeners,
        stream: receiver.into_stream(),
    }))
}
