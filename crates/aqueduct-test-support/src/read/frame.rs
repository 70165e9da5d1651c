//! One frame as [`FrameReader`](super::FrameReader) read it, and the fields
//! of the frame types a test asserts on. The payload is the peer's: every
//! accessor checks lengths and answers `None` rather than panicking.

use std::fmt;

use bytes::Bytes;

use crate::frames::{END_STREAM, PADDED, PRIORITY, kind};

/// One frame as the peer sent it.
#[derive(Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame type ([`kind`]).
    pub kind: u8,
    /// The flags byte.
    pub flags: u8,
    /// The stream id, without the reserved bit.
    pub stream: u32,
    /// The payload, padding and all.
    pub payload: Bytes,
}

/// What a GOAWAY frame says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoAway {
    /// The last stream the sender processed.
    pub last_stream: u32,
    /// The error code ([`crate::frames::reason`]).
    pub code: u32,
    /// The debug data.
    pub debug: Bytes,
}

impl Frame {
    /// Whether the flags byte has every bit of `flag`.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag == flag
    }

    /// Whether this is a DATA or HEADERS frame that ends its stream.
    pub fn ends_stream(&self) -> bool {
        matches!(self.kind, kind::DATA | kind::HEADERS) && self.has(END_STREAM)
    }

    /// A GOAWAY frame's fields; `None` for another frame or a short payload.
    pub fn goaway(&self) -> Option<GoAway> {
        if self.kind != kind::GOAWAY {
            return None;
        }
        let last_stream = be_u32(self.payload.get(0..4)?)? & 0x7fff_ffff;
        let code = be_u32(self.payload.get(4..8)?)?;
        Some(GoAway {
            last_stream,
            code,
            debug: self.payload.slice(8..),
        })
    }

    /// A RST_STREAM frame's error code.
    pub fn rst_code(&self) -> Option<u32> {
        (self.kind == kind::RST_STREAM).then_some(())?;
        be_u32(&self.payload)
    }

    /// A WINDOW_UPDATE frame's increment, reserved bit included.
    pub fn window_increment(&self) -> Option<u32> {
        (self.kind == kind::WINDOW_UPDATE).then_some(())?;
        be_u32(&self.payload)
    }

    /// A PING frame's 8 bytes.
    pub fn ping_payload(&self) -> Option<[u8; 8]> {
        (self.kind == kind::PING).then_some(())?;
        self.payload.as_ref().try_into().ok()
    }

    /// A SETTINGS frame's (identifier, value) pairs; `None` for another frame
    /// or a payload that is not a whole number of pairs.
    pub fn settings(&self) -> Option<Vec<(u16, u32)>> {
        if self.kind != kind::SETTINGS || self.payload.len() % 6 != 0 {
            return None;
        }
        let pairs = self.payload.chunks_exact(6).map(|pair| {
            let (id, value) = pair.split_at(2);
            Some((u16::from_be_bytes(id.try_into().ok()?), be_u32(value)?))
        });
        pairs.collect()
    }

    /// A DATA frame's data, without its padding; `None` for another frame or
    /// padding longer than the payload.
    pub fn data(&self) -> Option<&[u8]> {
        (self.kind == kind::DATA).then_some(())?;
        self.unpadded(0)
    }

    /// A HEADERS, PUSH_PROMISE or CONTINUATION frame's header block fragment,
    /// without padding, priority or promised stream id.
    pub fn header_block(&self) -> Option<&[u8]> {
        match self.kind {
            kind::HEADERS if self.has(PRIORITY) => self.unpadded(5),
            kind::HEADERS => self.unpadded(0),
            kind::PUSH_PROMISE => self.unpadded(4),
            kind::CONTINUATION => Some(&self.payload),
            _ => None,
        }
    }

    /// The payload after the pad length (if PADDED) and `skip` more bytes,
    /// without the padding.
    fn unpadded(&self, skip: usize) -> Option<&[u8]> {
        if !self.has(PADDED) {
            return self.payload.get(skip..);
        }
        let (&padding, rest) = self.payload.split_first()?;
        let end = rest.len().checked_sub(usize::from(padding))?;
        rest.get(skip..end)
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}(type {:#x}, flags {:#x}, stream {}, {} bytes)",
            kind::name(self.kind),
            self.kind,
            self.flags,
            self.stream,
            self.payload.len()
        )
    }
}

fn be_u32(bytes: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.try_into().ok()?))
}
