//! Reading HTTP/2 frames back from a socket: [`FrameReader`] splits what the
//! peer sends into [`Frame`]s, with a bounded buffer and a time limit on
//! every wait, so a test that expects a frame fails instead of hanging.
//!
//! The bytes come from the server under test, so nothing here trusts them:
//! lengths are checked against a limit before anything is buffered, and a
//! short payload gives `None` from the accessors rather than a panic.

use std::fmt;
use std::io;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::frames::{ACK, Frames, PREFACE};

mod frame;

pub use frame::{Frame, GoAway};

/// How long a [`FrameReader`] waits by default: long enough for a slow
/// machine, short enough that a test that would hang fails instead.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The largest payload a [`FrameReader`] buffers by default: the largest
/// SETTINGS_MAX_FRAME_SIZE a peer may choose.
pub const MAX_PAYLOAD: usize = (1 << 24) - 1;

/// What one read from the socket asks for at most: the buffer never holds more
/// than one frame and this much of the next.
const CHUNK: usize = 16 * 1024;

/// Why a [`FrameReader`] has no frame to give.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// The peer closed the connection between frames.
    Closed,
    /// The peer closed the connection inside a frame, or inside the preface.
    Truncated {
        /// The bytes of the unfinished frame that had arrived.
        buffered: usize,
    },
    /// Nothing more came for the reader's whole patience.
    TimedOut {
        /// How long the reader waited.
        waited: Duration,
    },
    /// A frame declared a payload over the reader's limit; nothing of it
    /// was buffered.
    TooLarge {
        /// The declared length.
        length: usize,
        /// The reader's limit.
        limit: usize,
    },
    /// What a client sent first was not the connection preface.
    NotPreface(Bytes),
    /// The socket failed.
    Io(io::Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the peer closed the connection"),
            ReadError::Truncated { buffered } => write!(
                f,
                "the peer closed the connection {buffered} bytes into a frame"
            ),
            ReadError::TimedOut { waited } => write!(f, "nothing arrived within {waited:?}"),
            ReadError::TooLarge { length, limit } => {
                write!(f, "a frame declared {length} bytes, over the limit {limit}")
            }
            ReadError::NotPreface(got) => write!(f, "not the connection preface: {got:?}"),
            ReadError::Io(e) => write!(f, "reading the socket: {e}"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Splits what a socket delivers into [`Frame`]s, waiting at most its
/// patience ([`PATIENCE`] unless set) for each, and writes frames back
/// through the same socket.
///
/// The buffer holds at most one frame of up to [`FrameReader::max_payload`]
/// and a read's worth of the next.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use aqueduct_test_support::frames::{Frames, kind};
/// use aqueduct_test_support::read::FrameReader;
///
/// let bytes = Frames::new().settings(&[(3, 100)]).ping([7; 8]).into_bytes();
/// let mut reader = FrameReader::new(&bytes[..]);
/// let settings = reader.next().await.unwrap();
/// assert_eq!(settings.settings(), Some(vec![(3, 100)]));
/// assert_eq!(reader.next().await.unwrap().ping_payload(), Some([7; 8]));
/// assert!(reader.next().await.is_err(), "closed");
/// # }
/// ```
#[derive(Debug)]
pub struct FrameReader<S> {
    io: S,
    buf: BytesMut,
    patience: Duration,
    max_payload: usize,
}

impl<S> FrameReader<S> {
    /// A reader of `io`, with the default patience and limit.
    pub fn new(io: S) -> Self {
        Self {
            io,
            buf: BytesMut::new(),
            patience: PATIENCE,
            max_payload: MAX_PAYLOAD,
        }
    }

    /// Waits at most `patience` for each frame, and for each write.
    #[must_use]
    pub fn patience(mut self, patience: Duration) -> Self {
        self.patience = patience;
        self
    }

    /// Refuses frames that declare payloads longer than `limit`.
    #[must_use]
    pub fn max_payload(mut self, limit: usize) -> Self {
        self.max_payload = limit;
        self
    }

    /// The socket.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The socket, and what was read past the last frame.
    pub fn into_parts(self) -> (S, Bytes) {
        (self.io, self.buf.freeze())
    }
}

impl<S: AsyncRead + Unpin> FrameReader<S> {
    /// The next frame, waiting at most the reader's patience for it.
    pub async fn next(&mut self) -> Result<Frame, ReadError> {
        self.next_by(Instant::now() + self.patience).await
    }

    /// The next frame for which `wanted` holds, skipping others, waiting at
    /// most the reader's patience for it (however many come before it).
    pub async fn next_where(
        &mut self,
        mut wanted: impl FnMut(&Frame) -> bool,
    ) -> Result<Frame, ReadError> {
        let deadline = Instant::now() + self.patience;
        loop {
            let frame = self.next_by(deadline).await?;
            if wanted(&frame) {
                return Ok(frame);
            }
        }
    }

    /// The next frame, if it is whole by `deadline`.
    async fn next_by(&mut self, deadline: Instant) -> Result<Frame, ReadError> {
        loop {
            if let Some(frame) = self.parse()? {
                return Ok(frame);
            }
            self.fill(deadline).await?;
        }
    }

    /// Reads a client's connection preface (for a test that plays the
    /// server), within the reader's patience.
    pub async fn preface(&mut self) -> Result<(), ReadError> {
        let deadline = Instant::now() + self.patience;
        while self.buf.len() < PREFACE.len() {
            self.fill(deadline).await?;
        }
        let got = self.buf.split_to(PREFACE.len()).freeze();
        match &got[..] == PREFACE {
            true => Ok(()),
            false => Err(ReadError::NotPreface(got)),
        }
    }

    /// A whole frame from the buffer, if there is one.
    fn parse(&mut self) -> Result<Option<Frame>, ReadError> {
        let Some(&[l0, l1, l2, kind, flags, s0, s1, s2, s3]) = self.buf.get(..9) else {
            return Ok(None);
        };
        let length = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
        if length > self.max_payload {
            return Err(ReadError::TooLarge {
                length,
                limit: self.max_payload,
            });
        }
        if self.buf.len() < 9 + length {
            return Ok(None);
        }
        self.buf.advance(9);
        Ok(Some(Frame {
            kind,
            flags,
            stream: u32::from_be_bytes([s0, s1, s2, s3]) & 0x7fff_ffff,
            payload: self.buf.split_to(length).freeze(),
        }))
    }

    /// Reads at most [`CHUNK`] more bytes into the buffer, by `deadline`.
    async fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        self.buf.reserve(CHUNK);
        let mut limited = (&mut self.io).take(CHUNK as u64);
        let read = tokio::time::timeout_at(deadline, limited.read_buf(&mut self.buf)).await;
        match read {
            Err(_) => Err(ReadError::TimedOut {
                waited: self.patience,
            }),
            Ok(Err(e)) => Err(ReadError::Io(e)),
            Ok(Ok(0)) if self.buf.is_empty() => Err(ReadError::Closed),
            Ok(Ok(0)) => Err(ReadError::Truncated {
                buffered: self.buf.len(),
            }),
            Ok(Ok(_)) => Ok(()),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FrameReader<S> {
    /// Writes `frames` to the peer, waiting at most the reader's patience.
    pub async fn send(&mut self, frames: impl AsRef<[u8]>) -> Result<(), ReadError> {
        let write = async {
            self.io.write_all(frames.as_ref()).await?;
            self.io.flush().await
        };
        match tokio::time::timeout(self.patience, write).await {
            Err(_) => Err(ReadError::TimedOut {
                waited: self.patience,
            }),
            Ok(result) => result.map_err(ReadError::Io),
        }
    }

    /// The next frame for which `wanted` holds, answering the peer's PINGs
    /// on the way (a server's graceful shutdown may wait for one), within
    /// the reader's patience as [`FrameReader::next_where`] is.
    pub async fn next_answering_pings(
        &mut self,
        mut wanted: impl FnMut(&Frame) -> bool,
    ) -> Result<Frame, ReadError> {
        let deadline = Instant::now() + self.patience;
        loop {
            let frame = self.next_by(deadline).await?;
            if wanted(&frame) {
                return Ok(frame);
            }
            self.answer_ping(&frame).await;
        }
    }

    /// The peer's next GOAWAY, answering its PINGs on the way.
    pub async fn until_goaway(&mut self) -> Result<GoAway, ReadError> {
        let frame = self.next_answering_pings(|f| f.goaway().is_some()).await?;
        frame.goaway().ok_or(ReadError::Closed)
    }

    /// Reads until the peer closes the connection, answering its PINGs, and
    /// reports every frame it sent. Waits at most the reader's patience for
    /// the whole of it, not for each frame: a peer that keeps talking ends
    /// the read too.
    pub async fn read_to_close(&mut self) -> Seen {
        let deadline = Instant::now() + self.patience;
        let mut frames = Vec::new();
        let end = loop {
            match self.next_by(deadline).await {
                Ok(frame) => {
                    self.answer_ping(&frame).await;
                    frames.push(frame);
                }
                Err(e) => break e,
            }
        };
        Seen { frames, end }
    }

    /// Acknowledges `frame` if it is a PING that is not an acknowledgement.
    /// A failed write is not an error: the peer may be closing.
    async fn answer_ping(&mut self, frame: &Frame) {
        if frame.has(ACK) {
            return;
        }
        if let Some(payload) = frame.ping_payload() {
            let _ = self.send(Frames::new().ping_ack(payload)).await;
        }
    }
}

/// What [`FrameReader::read_to_close`] saw.
#[derive(Debug)]
pub struct Seen {
    /// Every frame, in order.
    pub frames: Vec<Frame>,
    /// How the read ended: [`ReadError::Closed`] when the peer closed between
    /// frames, [`ReadError::TimedOut`] if it never closed.
    pub end: ReadError,
}

impl Seen {
    /// Whether the connection was closed (cleanly, mid-frame, or by a socket
    /// error such as a reset), rather than left open past the patience.
    pub fn closed(&self) -> bool {
        matches!(
            self.end,
            ReadError::Closed | ReadError::Truncated { .. } | ReadError::Io(_)
        )
    }

    /// The first GOAWAY, if one came.
    pub fn goaway(&self) -> Option<GoAway> {
        self.frames.iter().find_map(Frame::goaway)
    }

    /// Every DATA frame's data on `stream`, joined.
    pub fn data(&self, stream: u32) -> Vec<u8> {
        let on_stream = self.frames.iter().filter(|f| f.stream == stream);
        on_stream
            .filter_map(Frame::data)
            .flatten()
            .copied()
            .collect()
    }

    /// Whether a DATA or HEADERS frame ended `stream`.
    pub fn ended(&self, stream: u32) -> bool {
        let mut frames = self.frames.iter();
        frames.any(|f| f.stream == stream && f.ends_stream())
    }

    /// The frames of type `kind`.
    pub fn of_kind(&self, kind: u8) -> impl Iterator<Item = &Frame> {
        self.frames.iter().filter(move |f| f.kind == kind)
    }
}

#[cfg(test)]
mod tests;
