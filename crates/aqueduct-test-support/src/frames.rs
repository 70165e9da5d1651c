//! Building HTTP/2 frames (RFC 9113 §6) as bytes, for a test to write to a
//! server: [`Frames`], a builder that appends one frame per call.
//!
//! Everything is written as the test asks, valid or not: stream ids keep the
//! reserved bit if the test sets it, a WINDOW_UPDATE may carry 0, flags are
//! written as given. Only what the frame types themselves need is added: the
//! PADDED and PRIORITY fields and their flags, the 9-byte header.

use bytes::Bytes;

use crate::hpack::HeaderBlock;

/// What a client sends first on a connection (RFC 9113 §3.4), before its
/// SETTINGS.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The largest payload a frame's 24-bit length field can declare.
pub const MAX_LENGTH: usize = (1 << 24) - 1;

/// Frame types (RFC 9113 §6).
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY.
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;

    /// The frame type's name, or `UNKNOWN` for a type RFC 9113 does not define.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            DATA => "DATA",
            HEADERS => "HEADERS",
            PRIORITY => "PRIORITY",
            RST_STREAM => "RST_STREAM",
            SETTINGS => "SETTINGS",
            PUSH_PROMISE => "PUSH_PROMISE",
            PING => "PING",
            GOAWAY => "GOAWAY",
            WINDOW_UPDATE => "WINDOW_UPDATE",
            CONTINUATION => "CONTINUATION",
            _ => "UNKNOWN",
        }
    }
}

/// END_STREAM, on DATA and HEADERS.
pub const END_STREAM: u8 = 0x1;
/// ACK, on SETTINGS and PING (the same bit as END_STREAM).
pub const ACK: u8 = 0x1;
/// END_HEADERS, on HEADERS, PUSH_PROMISE and CONTINUATION.
pub const END_HEADERS: u8 = 0x4;
/// PADDED, on DATA, HEADERS and PUSH_PROMISE: set by the `_padded` builders.
pub const PADDED: u8 = 0x8;
/// PRIORITY, on HEADERS: set by [`Frames::headers_with`] when it is given one.
pub const PRIORITY: u8 = 0x20;

/// SETTINGS parameters (RFC 9113 §6.5.2).
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
    /// SETTINGS_MAX_HEADER_LIST_SIZE.
    pub const MAX_HEADER_LIST_SIZE: u16 = 0x6;
}

/// Error codes for RST_STREAM and GOAWAY (RFC 9113 §7).
pub mod reason {
    /// NO_ERROR.
    pub const NO_ERROR: u32 = 0x0;
    /// PROTOCOL_ERROR.
    pub const PROTOCOL_ERROR: u32 = 0x1;
    /// INTERNAL_ERROR.
    pub const INTERNAL_ERROR: u32 = 0x2;
    /// FLOW_CONTROL_ERROR.
    pub const FLOW_CONTROL_ERROR: u32 = 0x3;
    /// SETTINGS_TIMEOUT.
    pub const SETTINGS_TIMEOUT: u32 = 0x4;
    /// STREAM_CLOSED.
    pub const STREAM_CLOSED: u32 = 0x5;
    /// FRAME_SIZE_ERROR.
    pub const FRAME_SIZE_ERROR: u32 = 0x6;
    /// REFUSED_STREAM.
    pub const REFUSED_STREAM: u32 = 0x7;
    /// CANCEL.
    pub const CANCEL: u32 = 0x8;
    /// COMPRESSION_ERROR.
    pub const COMPRESSION_ERROR: u32 = 0x9;
    /// CONNECT_ERROR.
    pub const CONNECT_ERROR: u32 = 0xa;
    /// ENHANCE_YOUR_CALM.
    pub const ENHANCE_YOUR_CALM: u32 = 0xb;
    /// INADEQUATE_SECURITY.
    pub const INADEQUATE_SECURITY: u32 = 0xc;
    /// HTTP_1_1_REQUIRED.
    pub const HTTP_1_1_REQUIRED: u32 = 0xd;
}

/// A stream dependency, for HEADERS (with [`Frames::headers_with`]) and
/// PRIORITY frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The E bit.
    pub exclusive: bool,
    /// The stream this one depends on (31 bits; the E bit is `exclusive`).
    pub depends_on: u32,
    /// The weight byte as sent: the weight minus one.
    pub weight: u8,
}

/// What HEADERS can carry besides its header block: padding and a priority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadersExtras {
    /// Pad with this many zero bytes (and set PADDED).
    pub padding: Option<u8>,
    /// Send this dependency (and set PRIORITY).
    pub priority: Option<Priority>,
}

/// HTTP/2 frames as bytes, one builder call per frame, in order.
///
/// ```
/// use aqueduct_test_support::frames::{END_HEADERS, END_STREAM, Frames};
/// use aqueduct_test_support::grpc;
///
/// let bytes = Frames::new()
///     .preface()
///     .settings(&[])
///     .headers(1, grpc::request("/test.v1.Probe/Echo"), END_HEADERS)
///     .data(1, grpc::message(&"hi".to_owned()), END_STREAM)
///     .into_bytes();
/// assert!(bytes.starts_with(b"PRI * HTTP/2.0"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Frames {
    bytes: Vec<u8>,
}

impl Frames {
    /// No frames yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The client connection preface ([`PREFACE`]), without the SETTINGS
    /// that must follow it.
    pub fn preface(self) -> Self {
        self.bytes(PREFACE)
    }

    /// Any bytes, as they are: half a frame, a preface with a typo.
    pub fn bytes(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.bytes.extend_from_slice(bytes.as_ref());
        self
    }

    /// A frame of any type, unknown ones included, declaring the payload's
    /// length.
    ///
    /// # Panics
    ///
    /// If the payload is longer than [`MAX_LENGTH`] (use [`Frames::frame_declaring`]
    /// to declare a length that is not the payload's).
    pub fn frame(self, kind: u8, flags: u8, stream: u32, payload: impl AsRef<[u8]>) -> Self {
        let payload = payload.as_ref();
        assert!(
            payload.len() <= MAX_LENGTH,
            "a {}-byte payload does not fit a frame",
            payload.len()
        );
        let len = payload.len() as u32;
        self.frame_declaring(len, kind, flags, stream, payload)
    }

    /// A frame whose header declares `length` (only its low 24 bits fit),
    /// whatever the payload that follows: for a peer that lies.
    pub fn frame_declaring(
        mut self,
        length: u32,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: impl AsRef<[u8]>,
    ) -> Self {
        let [_, l0, l1, l2] = length.to_be_bytes();
        self.bytes.extend_from_slice(&[l0, l1, l2, kind, flags]);
        self.bytes.extend_from_slice(&stream.to_be_bytes());
        self.bytes.extend_from_slice(payload.as_ref());
        self
    }

    /// DATA (§6.1).
    pub fn data(self, stream: u32, payload: impl AsRef<[u8]>, flags: u8) -> Self {
        self.frame(kind::DATA, flags, stream, payload)
    }

    /// DATA with `padding` zero bytes after the payload; sets PADDED.
    pub fn data_padded(
        self,
        stream: u32,
        payload: impl AsRef<[u8]>,
        padding: u8,
        flags: u8,
    ) -> Self {
        let body = padded(payload.as_ref(), &[], padding);
        self.frame(kind::DATA, flags | PADDED, stream, body)
    }

    /// HEADERS (§6.2) carrying `block` whole; flags as given (END_HEADERS
    /// for a block with no CONTINUATION).
    pub fn headers(self, stream: u32, block: impl Into<HeaderBlock>, flags: u8) -> Self {
        self.frame(kind::HEADERS, flags, stream, block.into().as_bytes())
    }

    /// HEADERS with padding and/or a priority, each setting its flag.
    pub fn headers_with(
        self,
        stream: u32,
        block: impl Into<HeaderBlock>,
        flags: u8,
        extras: HeadersExtras,
    ) -> Self {
        let block = block.into();
        let mut before = Vec::new();
        let mut flags = flags;
        if let Some(priority) = extras.priority {
            before.extend_from_slice(&priority_bytes(priority));
            flags |= PRIORITY;
        }
        let body = match extras.padding {
            Some(padding) => {
                flags |= PADDED;
                padded(block.as_bytes(), &before, padding)
            }
            None => [before.as_slice(), block.as_bytes()].concat(),
        };
        self.frame(kind::HEADERS, flags, stream, body)
    }

    /// PRIORITY (§6.3).
    pub fn priority(self, stream: u32, priority: Priority) -> Self {
        self.frame(kind::PRIORITY, 0, stream, priority_bytes(priority))
    }

    /// RST_STREAM (§6.4) with an error code from [`reason`].
    pub fn rst_stream(self, stream: u32, code: u32) -> Self {
        self.frame(kind::RST_STREAM, 0, stream, code.to_be_bytes())
    }

    /// SETTINGS (§6.5) with these (identifier, value) pairs, in order; `&[]`
    /// for the empty SETTINGS a client may start with.
    pub fn settings(self, pairs: &[(u16, u32)]) -> Self {
        let mut payload = Vec::with_capacity(pairs.len() * 6);
        for (id, value) in pairs {
            payload.extend_from_slice(&id.to_be_bytes());
            payload.extend_from_slice(&value.to_be_bytes());
        }
        self.frame(kind::SETTINGS, 0, 0, payload)
    }

    /// A SETTINGS acknowledgement.
    pub fn settings_ack(self) -> Self {
        self.frame(kind::SETTINGS, ACK, 0, [])
    }

    /// PUSH_PROMISE (§6.6), which no client may send: promising `promised`
    /// on `stream`, carrying `block`.
    pub fn push_promise(
        self,
        stream: u32,
        promised: u32,
        block: impl Into<HeaderBlock>,
        flags: u8,
    ) -> Self {
        let body = [&promised.to_be_bytes()[..], block.into().as_bytes()].concat();
        self.frame(kind::PUSH_PROMISE, flags, stream, body)
    }

    /// PING (§6.7).
    pub fn ping(self, payload: [u8; 8]) -> Self {
        self.frame(kind::PING, 0, 0, payload)
    }

    /// A PING acknowledgement, echoing `payload`.
    pub fn ping_ack(self, payload: [u8; 8]) -> Self {
        self.frame(kind::PING, ACK, 0, payload)
    }

    /// GOAWAY (§6.8).
    pub fn goaway(self, last_stream: u32, code: u32, debug: impl AsRef<[u8]>) -> Self {
        let body = [
            &last_stream.to_be_bytes()[..],
            &code.to_be_bytes(),
            debug.as_ref(),
        ]
        .concat();
        self.frame(kind::GOAWAY, 0, 0, body)
    }

    /// WINDOW_UPDATE (§6.9) on `stream` (0 for the connection), with the
    /// increment written as given: 0 and the reserved bit included.
    pub fn window_update(self, stream: u32, increment: u32) -> Self {
        self.frame(kind::WINDOW_UPDATE, 0, stream, increment.to_be_bytes())
    }

    /// CONTINUATION (§6.10) carrying more of a header block.
    pub fn continuation(self, stream: u32, block: impl Into<HeaderBlock>, flags: u8) -> Self {
        self.frame(kind::CONTINUATION, flags, stream, block.into().as_bytes())
    }

    /// `more`'s frames, after these: for frames built apart and sent
    /// together.
    pub fn then(self, more: Frames) -> Self {
        self.bytes(more.bytes)
    }

    /// The bytes built so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// How many bytes have been built.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether nothing has been built.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bytes, to write to a socket.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from(self.bytes)
    }
}

impl AsRef<[u8]> for Frames {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl From<Frames> for Bytes {
    fn from(frames: Frames) -> Bytes {
        frames.into_bytes()
    }
}

fn priority_bytes(priority: Priority) -> [u8; 5] {
    let dependency = match priority.exclusive {
        true => priority.depends_on | 0x8000_0000,
        false => priority.depends_on & 0x7fff_ffff,
    };
    let [d0, d1, d2, d3] = dependency.to_be_bytes();
    [d0, d1, d2, d3, priority.weight]
}

/// A padded payload: the pad length, `before` (a priority), `payload`, and
/// `padding` zeros.
fn padded(payload: &[u8], before: &[u8], padding: u8) -> Vec<u8> {
    let mut body = Vec::with_capacity(1 + before.len() + payload.len() + usize::from(padding));
    body.push(padding);
    body.extend_from_slice(before);
    body.extend_from_slice(payload);
    body.resize(body.len() + usize::from(padding), 0);
    body
}

#[cfg(test)]
mod tests;
