//! Stream states (RFC 9113 §5.1) as a server sees them, and the rules a
//! frame must follow on a stream in a given state.
//!
//! ```text
//!                      recv HEADERS            recv HEADERS + END_STREAM
//!            idle ──────────────────► open ─┐  (straight to half-closed (remote))
//!                                      │    │
//!           send END_STREAM (trailers) │    │ recv END_STREAM
//!                                      ▼    ▼
//!                     half-closed (local)  half-closed (remote)
//!                                      │    │
//!                      recv END_STREAM │    │ send END_STREAM
//!                                      ▼    ▼
//!                                      closed  ◄── send or recv RST_STREAM, from any state
//! ```
//!
//! A gRPC server never pushes, so the reserved states do not occur. The
//! connection layer keeps a [`StreamState`] per open stream and asks it, for
//! each frame that arrives, whether the frame is allowed ([`StreamState::recv`])
//! and, for what the server sends, what follows ([`StreamState::send_end`],
//! [`StreamState::reset`]). Frames for streams it no longer keeps (closed)
//! are the connection layer's to judge: RFC 9113 lets an endpoint ignore
//! frames on a stream it reset "for a short while", and treats DATA after
//! END_STREAM as STREAM_CLOSED.

use crate::ErrorCode;

/// Where one stream is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamState {
    /// Both sides may send.
    Open,
    /// The client has ended its side (END_STREAM received); the server may
    /// still send.
    HalfClosedRemote,
    /// The server has ended its side; the client may still send.
    HalfClosedLocal,
    /// Both sides are done, or the stream was reset.
    Closed,
}

/// A frame on a stream, as far as its state cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inbound {
    /// HEADERS after the first: trailers, which must end the stream.
    Trailers {
        /// END_STREAM was set.
        end_stream: bool,
    },
    /// DATA (any length, padding included).
    Data {
        /// END_STREAM was set.
        end_stream: bool,
    },
    /// RST_STREAM.
    Reset,
    /// WINDOW_UPDATE or PRIORITY: allowed in every state but closed-by-
    /// END_STREAM's aftermath, which the connection layer handles.
    Control,
}

/// A frame the stream's state does not allow: a stream error (RST_STREAM
/// with `code`) unless `connection` says the RFC makes it a connection error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamError {
    /// The code to send.
    pub code: ErrorCode,
    /// Whether it is a connection error (GOAWAY) rather than a stream error.
    pub connection: bool,
    /// Why, for logs and GOAWAY debug data.
    pub reason: &'static str,
}

impl StreamError {
    fn stream(code: ErrorCode, reason: &'static str) -> Self {
        Self {
            code,
            connection: false,
            reason,
        }
    }
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scope = if self.connection {
            "connection"
        } else {
            "stream"
        };
        write!(f, "{scope} error {}: {}", self.code, self.reason)
    }
}

impl std::error::Error for StreamError {}

impl StreamState {
    /// The state a stream starts in once its request HEADERS arrive.
    #[must_use]
    pub fn opened(end_stream: bool) -> Self {
        if end_stream {
            StreamState::HalfClosedRemote
        } else {
            StreamState::Open
        }
    }

    /// Whether the client may still send on the stream.
    #[must_use]
    pub fn can_recv(self) -> bool {
        matches!(self, StreamState::Open | StreamState::HalfClosedLocal)
    }

    /// Whether the server may still send on the stream.
    #[must_use]
    pub fn can_send(self) -> bool {
        matches!(self, StreamState::Open | StreamState::HalfClosedRemote)
    }

    /// A frame arrived on the stream: the state after it, or the error it is.
    pub fn recv(self, frame: Inbound) -> Result<StreamState, StreamError> {
        match frame {
            Inbound::Reset => Ok(StreamState::Closed),
            Inbound::Control => Ok(self),
            Inbound::Data { end_stream } | Inbound::Trailers { end_stream } if !self.can_recv() => {
                let _ = end_stream;
                // §5.1: half-closed (remote) or closed by END_STREAM.
                Err(StreamError::stream(
                    ErrorCode::StreamClosed,
                    "frame after the client ended the stream",
                ))
            }
            // §8.1: a HEADERS frame after the first that does not end the
            // stream makes the request malformed.
            Inbound::Trailers { end_stream: false } => Err(StreamError::stream(
                ErrorCode::ProtocolError,
                "trailers without END_STREAM",
            )),
            Inbound::Data { end_stream } | Inbound::Trailers { end_stream } => {
                Ok(if end_stream { self.recv_end() } else { self })
            }
        }
    }

    /// The client ended its side.
    fn recv_end(self) -> StreamState {
        match self {
            StreamState::Open => StreamState::HalfClosedRemote,
            StreamState::HalfClosedLocal => StreamState::Closed,
            other => other,
        }
    }

    /// The server ended its side (trailers, or a trailers-only response).
    #[must_use]
    pub fn send_end(self) -> StreamState {
        match self {
            StreamState::Open => StreamState::HalfClosedLocal,
            StreamState::HalfClosedRemote => StreamState::Closed,
            other => other,
        }
    }

    /// The server reset the stream.
    #[must_use]
    pub fn reset(self) -> StreamState {
        StreamState::Closed
    }
}

/// Stream ids the client may open (RFC 9113 §5.1.1): odd, and each higher
/// than every one before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamIds {
    /// The highest id the client has opened; 0 before the first.
    last: u32,
}

impl StreamIds {
    /// Checks the id of a stream the client opens with HEADERS, and records
    /// it. An even id or one not above the last is a connection
    /// PROTOCOL_ERROR.
    pub fn open(&mut self, id: u32) -> Result<(), StreamError> {
        if id % 2 == 0 {
            return Err(StreamError {
                code: ErrorCode::ProtocolError,
                connection: true,
                reason: "a client stream id must be odd",
            });
        }
        if id <= self.last {
            return Err(StreamError {
                code: ErrorCode::ProtocolError,
                connection: true,
                reason: "stream id not above the last one opened",
            });
        }
        self.last = id;
        Ok(())
    }

    /// The highest id opened: GOAWAY's last-stream-id.
    #[must_use]
    pub fn last(&self) -> u32 {
        self.last
    }

    /// Whether `id` names a stream the client could have opened by now (so a
    /// frame on it that the connection no longer tracks is for a closed
    /// stream, not an idle one: §5.1 makes frames other than HEADERS and
    /// PRIORITY on an idle stream a connection PROTOCOL_ERROR).
    #[must_use]
    pub fn was_opened(&self, id: u32) -> bool {
        id != 0 && id % 2 == 1 && id <= self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    #[test]
    fn a_unary_call_goes_open_half_closed_closed() {
        let s = StreamState::opened(false);
        assert_eq!(s, StreamState::Open);
        let s = s.recv(Inbound::Data { end_stream: true }).unwrap();
        assert_eq!(s, StreamState::HalfClosedRemote);
        assert!(s.can_send() && !s.can_recv());
        assert_eq!(s.send_end(), StreamState::Closed);
    }

    #[test]
    fn headers_with_end_stream_open_half_closed() {
        assert_eq!(StreamState::opened(true), StreamState::HalfClosedRemote);
    }

    #[test]
    fn server_ending_first_leaves_the_client_side_open() {
        let s = StreamState::Open.send_end();
        assert_eq!(s, StreamState::HalfClosedLocal);
        let s = s.recv(Inbound::Data { end_stream: false }).unwrap();
        assert_eq!(s, StreamState::HalfClosedLocal);
        let s = s.recv(Inbound::Trailers { end_stream: true }).unwrap();
        assert_eq!(s, StreamState::Closed);
    }

    /// §5.1: DATA or HEADERS after the client's END_STREAM is STREAM_CLOSED.
    #[test]
    fn s5_1_frames_after_end_stream_are_stream_closed() {
        for frame in [
            Inbound::Data { end_stream: false },
            Inbound::Data { end_stream: true },
            Inbound::Trailers { end_stream: true },
        ] {
            let err = StreamState::HalfClosedRemote.recv(frame).unwrap_err();
            assert_eq!(err.code, ErrorCode::StreamClosed);
            assert!(!err.connection);
        }
    }

    /// §8.1: trailers must end the stream.
    #[test]
    fn s8_1_trailers_without_end_stream_are_a_protocol_error() {
        let err = StreamState::Open
            .recv(Inbound::Trailers { end_stream: false })
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::ProtocolError);
        assert!(!err.connection);
    }

    #[test]
    fn resets_and_control_frames_are_allowed_in_every_state() {
        for s in [
            StreamState::Open,
            StreamState::HalfClosedRemote,
            StreamState::HalfClosedLocal,
            StreamState::Closed,
        ] {
            assert_eq!(s.recv(Inbound::Reset).unwrap(), StreamState::Closed);
            assert_eq!(s.recv(Inbound::Control).unwrap(), s);
            assert_eq!(s.reset(), StreamState::Closed);
        }
    }

    /// §5.1.1: client ids are odd and increase.
    #[test]
    fn s5_1_1_stream_ids_are_odd_and_increasing() {
        let mut ids = StreamIds::default();
        ids.open(1).unwrap();
        ids.open(5).unwrap();
        assert_eq!(ids.last(), 5);
        for bad in [2, 3, 5] {
            let err = ids.open(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::ProtocolError);
            assert!(err.connection);
        }
        assert!(ids.was_opened(3), "skipped ids count as opened and closed");
        assert!(!ids.was_opened(7));
        assert!(!ids.was_opened(0));
        assert!(!ids.was_opened(4));
    }

    /// A random walk of frames never panics, and once closed a stream stays
    /// closed.
    #[test]
    fn random_walks_end_closed_and_stay_closed() {
        let mut rng = Rng::new(0x57a7e);
        for _ in 0..5_000 {
            let mut s = StreamState::opened(rng.below(2) == 0);
            for _ in 0..20 {
                let end_stream = rng.below(3) == 0;
                let next = match rng.below(6) {
                    0 => s.recv(Inbound::Data { end_stream }),
                    1 => s.recv(Inbound::Trailers { end_stream }),
                    2 => s.recv(Inbound::Reset),
                    3 => s.recv(Inbound::Control),
                    4 => Ok(s.send_end()),
                    _ => Ok(s),
                };
                let closed = s == StreamState::Closed;
                if let Ok(next) = next {
                    if closed {
                        assert_eq!(next, StreamState::Closed);
                    }
                    s = next;
                }
            }
        }
    }
}
