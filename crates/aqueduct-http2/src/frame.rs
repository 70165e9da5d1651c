//! The HTTP/2 frame layer (RFC 9113 §4 and §6), without I/O.
//!
//! This module turns received bytes into typed [`Frame`]s and appends
//! frames to write into one output buffer. It knows the rules a single
//! frame must follow on its own (its length, its stream, its flags and
//! fields); rules that need the connection's state (stream states, flow
//! control windows, which SETTINGS are in force, whether we are the client
//! or the server) belong to the connection layer above. The one exception is
//! [`HeaderBlockAssembler`], a small helper for that layer that enforces
//! that a header block's CONTINUATION frames follow it without interleaving
//! (RFC 9113 §4.3, §6.10), with bounds against CONTINUATION floods.
//!
//! # Layout
//!
//! ```text
//!  frame.rs            constants, the 9-byte FrameHeader, the preface check
//!  frame/types.rs      Frame and one struct per frame type
//!  frame/decode.rs     decode(): buffer -> Frame, each type's rules
//!  frame/settings.rs   SETTINGS parameters and their validity rules
//!  frame/encode.rs     write_*(): frames appended to any BufMut
//!  frame/block.rs      HeaderBlockAssembler (HEADERS/PUSH_PROMISE + CONTINUATION)
//!  frame/error.rs      FrameError: code, connection or stream, reason
//! ```
//!
//! # Receiving
//!
//! [`decode`] takes the connection's read buffer and our
//! SETTINGS_MAX_FRAME_SIZE. It returns `Ok(None)` until a whole frame is
//! there, but checks the declared length against the limit as soon as the
//! 9-byte header is, so a peer cannot make us buffer a frame we would reject.
//! A DATA payload, header block fragment or GOAWAY debug data is a
//! [`Bytes`](bytes::Bytes) slice of the read buffer, not a copy. Errors are
//! [`FrameError`]s that say whether RFC 9113 makes them connection errors
//! (GOAWAY) or stream errors (RST_STREAM); after a stream error the frame has
//! been consumed and the next one can be decoded.
//!
//! Some rules depend on who we are and are left to the connection layer:
//! PUSH_PROMISE is parsed like any frame although a server must treat one
//! as a connection PROTOCOL_ERROR (gRPC never pushes), and HEADERS that make
//! a stream depend on itself is reported by
//! [`Headers::depends_on_itself`] rather than rejected, because its block
//! must still reach the HPACK decoder.
//!
//! # Sending
//!
//! The `write_*` functions append whole frames to any
//! [`BufMut`](bytes::BufMut) (`Vec<u8>`, `BytesMut`), so a driver collects
//! many frames into one buffer and flushes it once. DATA and header blocks
//! are split by the peer's SETTINGS_MAX_FRAME_SIZE.
//!
//! # Example
//!
//! A server checks the preface, then reads frames as they arrive:
//!
//! ```
//! use aqueduct_http2::frame::{self, Frame, Setting};
//! use bytes::BytesMut;
//!
//! // What a client sends first: the preface and its SETTINGS.
//! let mut wire = frame::PREFACE.to_vec();
//! frame::write_settings(&mut wire, &[Setting::InitialWindowSize(1 << 20)]);
//!
//! let mut read_buf = BytesMut::from(&wire[..]);
//! let n = frame::check_preface(&read_buf)?.expect("the whole preface is here");
//! let _ = read_buf.split_to(n);
//! let Some(Frame::Settings(settings)) = frame::decode(&mut read_buf, frame::DEFAULT_MAX_FRAME_SIZE)?
//! else {
//!     panic!("a SETTINGS frame");
//! };
//! assert_eq!(settings.iter().next(), Some(Setting::InitialWindowSize(1 << 20)));
//!
//! // Nothing more yet: wait for the socket.
//! assert_eq!(frame::decode(&mut read_buf, frame::DEFAULT_MAX_FRAME_SIZE)?, None);
//!
//! // The reply: our SETTINGS and the ACK, in one buffer for one write.
//! let mut write_buf = Vec::new();
//! frame::write_settings(&mut write_buf, &[Setting::MaxConcurrentStreams(100)]);
//! frame::write_settings_ack(&mut write_buf);
//! assert_eq!(write_buf.len(), 2 * frame::HEADER_LEN + 6);
//! # Ok::<(), aqueduct_http2::frame::FrameError>(())
//! ```
//!
//! # Testing
//!
//! Every rule has a unit test named after its RFC 9113 section where h2spec
//! has one (`s4_2_...`, `s6_1_...`); every frame type is written and read
//! back; and fuzz-style tests (with the crate's deterministic `test_rng`)
//! feed random bytes and random mutations of valid frames, whole and one byte
//! at a time, checking that nothing panics, that the decoder never consumes
//! more than it was given, and that both feeds give the same frames.

mod block;
mod decode;
mod encode;
mod error;
mod settings;
mod types;

pub use block::{Assembled, BlockKind, HeaderBlock, HeaderBlockAssembler};
pub use decode::{check_preface, decode, parse_payload};
pub use encode::{
    write_data, write_goaway, write_headers, write_ping, write_priority, write_push_promise,
    write_rst_stream, write_settings, write_settings_ack, write_window_update,
};
pub use error::{ErrorScope, FrameError};
pub use settings::{Setting, SettingsIter};
pub use types::{
    Continuation, Data, Frame, GoAway, Headers, Ping, Priority, PrioritySpec, PushPromise,
    RstStream, Settings, Unknown, WindowUpdate,
};

/// The client connection preface (RFC 9113 §3.4), sent before the client's
/// first SETTINGS frame. A server checks for it with [`check_preface`].
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The length of a frame header (RFC 9113 §4.1).
pub const HEADER_LEN: usize = 9;

/// The initial (and smallest allowed) SETTINGS_MAX_FRAME_SIZE (RFC 9113 §6.5.2).
pub const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;

/// The largest SETTINGS_MAX_FRAME_SIZE allowed, 2^24-1 (RFC 9113 §6.5.2).
pub const MAX_MAX_FRAME_SIZE: u32 = 16_777_215;

/// The largest flow control window and SETTINGS_INITIAL_WINDOW_SIZE,
/// 2^31-1 (RFC 9113 §6.9.1).
pub const MAX_WINDOW_SIZE: u32 = 0x7fff_ffff;

/// The 31 bits of a stream identifier; the top bit is reserved (RFC 9113 §4.1).
pub(crate) const STREAM_ID_MASK: u32 = 0x7fff_ffff;

/// Frame type codes (RFC 9113 §6), as they appear in [`FrameHeader::kind`].
pub mod kind {
    /// DATA (§6.1).
    pub const DATA: u8 = 0x0;
    /// HEADERS (§6.2).
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (§6.3, deprecated but still parsed).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM (§6.4).
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS (§6.5).
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (§6.6).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING (§6.7).
    pub const PING: u8 = 0x6;
    /// GOAWAY (§6.8).
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE (§6.9).
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION (§6.10).
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flag bits (RFC 9113 §6). Each is defined only for some frame
/// types; others must be ignored on receipt.
pub mod flags {
    /// END_STREAM on DATA and HEADERS.
    pub const END_STREAM: u8 = 0x1;
    /// ACK on SETTINGS and PING.
    pub const ACK: u8 = 0x1;
    /// END_HEADERS on HEADERS, PUSH_PROMISE and CONTINUATION.
    pub const END_HEADERS: u8 = 0x4;
    /// PADDED on DATA, HEADERS and PUSH_PROMISE.
    pub const PADDED: u8 = 0x8;
    /// PRIORITY on HEADERS.
    pub const PRIORITY: u8 = 0x20;
}

/// A frame header (RFC 9113 §4.1): 24-bit payload length, type, flags, and a
/// 31-bit stream identifier after one reserved bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The payload length, excluding these 9 bytes.
    pub length: u32,
    /// The frame type code (see [`kind`]); unknown codes are kept.
    pub kind: u8,
    /// The flags byte, as received (see [`flags`]).
    pub flags: u8,
    /// The stream identifier, reserved bit cleared (it is ignored on receipt).
    pub stream_id: u32,
}

impl FrameHeader {
    /// Reads a header from the start of `buf`, or `None` if `buf` holds fewer
    /// than [`HEADER_LEN`] bytes. Never reads past `buf`.
    #[must_use]
    pub fn parse(buf: &[u8]) -> Option<Self> {
        let head: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        let [l0, l1, l2, kind, flags, s0, s1, s2, s3] = *head;
        Some(Self {
            length: u32::from_be_bytes([0, l0, l1, l2]),
            kind,
            flags,
            stream_id: u32::from_be_bytes([s0, s1, s2, s3]) & STREAM_ID_MASK,
        })
    }

    /// Appends the header's 9 bytes. The length is cut to 24 bits and the
    /// reserved bit is sent as 0; callers keep `length` within
    /// [`MAX_MAX_FRAME_SIZE`].
    pub fn encode<B: bytes::BufMut>(&self, dst: &mut B) {
        let [_, l0, l1, l2] = self.length.to_be_bytes();
        dst.put_slice(&[l0, l1, l2, self.kind, self.flags]);
        dst.put_u32(self.stream_id & STREAM_ID_MASK);
    }

    /// Whether `flag` (one of [`flags`]) is set.
    #[must_use]
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }
}

#[cfg(test)]
mod tests_fuzz;
#[cfg(test)]
mod tests_round_trip;
#[cfg(test)]
mod tests_rules;
