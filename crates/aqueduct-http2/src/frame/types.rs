//! The decoded frames: one struct per frame type (RFC 9113 §6).

use bytes::Bytes;

use super::{FrameHeader, SettingsIter};
use crate::ErrorCode;

/// A decoded frame. Payloads are [`Bytes`] slices of the read buffer.
///
/// Not exhaustive: extension frames (RFC 9113 §5.5) may get their own
/// variants; until then they are [`Frame::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// DATA (§6.1).
    Data(Data),
    /// HEADERS (§6.2).
    Headers(Headers),
    /// PRIORITY (§6.3).
    Priority(Priority),
    /// RST_STREAM (§6.4).
    RstStream(RstStream),
    /// SETTINGS (§6.5).
    Settings(Settings),
    /// PUSH_PROMISE (§6.6).
    PushPromise(PushPromise),
    /// PING (§6.7).
    Ping(Ping),
    /// GOAWAY (§6.8).
    GoAway(GoAway),
    /// WINDOW_UPDATE (§6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (§6.10).
    Continuation(Continuation),
    /// A frame type this crate does not know; RFC 9113 §4.1 says to ignore
    /// and discard it (its bytes are already consumed).
    Unknown(Unknown),
}

impl Frame {
    /// The frame's type code (see [`kind`](super::kind)), for logs and
    /// counters.
    #[must_use]
    pub fn kind(&self) -> u8 {
        use super::kind;
        match self {
            Frame::Data(_) => kind::DATA,
            Frame::Headers(_) => kind::HEADERS,
            Frame::Priority(_) => kind::PRIORITY,
            Frame::RstStream(_) => kind::RST_STREAM,
            Frame::Settings(_) => kind::SETTINGS,
            Frame::PushPromise(_) => kind::PUSH_PROMISE,
            Frame::Ping(_) => kind::PING,
            Frame::GoAway(_) => kind::GOAWAY,
            Frame::WindowUpdate(_) => kind::WINDOW_UPDATE,
            Frame::Continuation(_) => kind::CONTINUATION,
            Frame::Unknown(f) => f.header.kind,
        }
    }

    /// The stream the frame is on (0 for the connection).
    #[must_use]
    pub fn stream_id(&self) -> u32 {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.header.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => 0,
        }
    }
}

/// DATA (RFC 9113 §6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The stream (never 0).
    pub stream_id: u32,
    /// END_STREAM: the sender's last frame on this stream.
    pub end_stream: bool,
    /// The data, padding removed.
    pub data: Bytes,
    /// The Pad Length field if PADDED was set (the padding itself is removed).
    pub pad_len: Option<u8>,
}

impl Data {
    /// The bytes this frame counts against both flow control windows: the
    /// whole payload, padding and the Pad Length octet included (§6.1, §6.9).
    #[must_use]
    pub fn flow_controlled_len(&self) -> u32 {
        let padding = self.pad_len.map_or(0, |n| u32::from(n) + 1);
        // A payload never exceeds 2^24-1 bytes, so this cannot overflow.
        (self.data.len() as u32).saturating_add(padding)
    }
}

/// The priority fields of HEADERS or PRIORITY (deprecated by RFC 9113
/// §5.3.2). Parsed so their bytes can be removed; the connection layer
/// ignores them except for a stream that depends on itself, which RFC 7540
/// §5.3.1 made a stream PROTOCOL_ERROR (h2spec still tests it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrioritySpec {
    /// The E flag.
    pub exclusive: bool,
    /// The stream this one depends on.
    pub dependency: u32,
    /// The weight, as sent (the weight minus one).
    pub weight: u8,
}

/// HEADERS (RFC 9113 §6.2). The fragment is raw HPACK: it must reach the
/// HPACK decoder even if the stream is then refused, or the connection's
/// header compression state is lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Headers {
    /// The stream (never 0).
    pub stream_id: u32,
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// The priority fields, if the PRIORITY flag was set. The decoder does
    /// not reject a stream depending on itself here, because the block
    /// must still be decoded to keep the HPACK state: the connection layer
    /// checks [`depends_on_itself`](Self::depends_on_itself) after decoding
    /// it and resets the stream.
    pub priority: Option<PrioritySpec>,
    /// The header block fragment, padding and priority fields removed.
    pub fragment: Bytes,
}

impl Headers {
    /// Whether the priority fields make the stream depend on itself (RFC
    /// 7540 §5.3.1: a stream error of type PROTOCOL_ERROR).
    #[must_use]
    pub fn depends_on_itself(&self) -> bool {
        self.priority
            .is_some_and(|spec| spec.dependency == self.stream_id)
    }
}

/// PRIORITY (RFC 9113 §6.3): deprecated; parsed, checked and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Priority {
    /// The stream (never 0).
    pub stream_id: u32,
    /// The priority fields (never a dependency on the stream itself).
    pub spec: PrioritySpec,
}

/// RST_STREAM (RFC 9113 §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RstStream {
    /// The stream (never 0).
    pub stream_id: u32,
    /// Why the peer reset it.
    pub error_code: ErrorCode,
}

/// SETTINGS (RFC 9113 §6.5), on stream 0. The parameters were checked when
/// the frame was decoded; [`Settings::iter`] gives the known ones in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// ACK: the peer acknowledges our SETTINGS (the payload is then empty).
    pub ack: bool,
    /// The raw parameters: a multiple of 6 bytes, each one valid.
    pub(crate) raw: Bytes,
}

impl Settings {
    /// The known parameters in the order they were sent (a later one for the
    /// same setting overrides an earlier one); unknown ones are skipped
    /// (§6.5.2).
    #[must_use]
    pub fn iter(&self) -> SettingsIter<'_> {
        SettingsIter::new(&self.raw)
    }
}

/// PUSH_PROMISE (RFC 9113 §6.6). gRPC never pushes: a server receiving one,
/// or a client that sent SETTINGS_ENABLE_PUSH = 0, must treat it as a
/// connection PROTOCOL_ERROR (§8.4). The decoder does not know our role, so
/// it parses the frame and leaves that check to the connection layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushPromise {
    /// The stream the promise is on (never 0).
    pub stream_id: u32,
    /// The reserved stream, reserved bit cleared.
    pub promised_stream_id: u32,
    /// END_HEADERS.
    pub end_headers: bool,
    /// The header block fragment, padding removed.
    pub fragment: Bytes,
}

/// PING (RFC 9113 §6.7), on stream 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    /// ACK: a reply to our PING.
    pub ack: bool,
    /// The 8 opaque bytes, echoed in the reply.
    pub payload: [u8; 8],
}

/// GOAWAY (RFC 9113 §6.8), on stream 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoAway {
    /// The highest stream the sender may have processed (reserved bit cleared).
    pub last_stream_id: u32,
    /// Why the connection is closing.
    pub error_code: ErrorCode,
    /// Opaque diagnostic data.
    pub debug_data: Bytes,
}

/// WINDOW_UPDATE (RFC 9113 §6.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection window.
    pub stream_id: u32,
    /// The increment, 1..=2^31-1 (the reserved bit is ignored).
    pub increment: u32,
}

/// CONTINUATION (RFC 9113 §6.10). See [`HeaderBlockAssembler`](super::HeaderBlockAssembler)
/// for the rule that it follows HEADERS or PUSH_PROMISE without interleaving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continuation {
    /// The stream (never 0).
    pub stream_id: u32,
    /// END_HEADERS: the block is complete.
    pub end_headers: bool,
    /// The header block fragment.
    pub fragment: Bytes,
}

/// A frame of a type this crate does not know (RFC 9113 §4.1, §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    /// Its header: type code, flags, stream.
    pub header: FrameHeader,
    /// Its payload, unread.
    pub payload: Bytes,
}
