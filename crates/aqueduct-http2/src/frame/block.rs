//! Joining a header block's HEADERS (or PUSH_PROMISE) and CONTINUATION
//! frames (RFC 9113 §4.3, §6.10), with bounds against CONTINUATION floods.

use bytes::{Bytes, BytesMut};

use super::{Frame, FrameError, PrioritySpec};
use crate::ErrorCode;

/// What a header block started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// HEADERS, with its END_STREAM flag and priority fields.
    Headers {
        /// END_STREAM of the HEADERS frame.
        end_stream: bool,
        /// The priority fields, if any (see [`Headers::priority`](super::Headers::priority)).
        priority: Option<PrioritySpec>,
    },
    /// PUSH_PROMISE, with the stream it reserves.
    PushPromise {
        /// The promised stream.
        promised_stream_id: u32,
    },
}

/// A whole header block, ready for the HPACK decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderBlock {
    /// The stream the block is on.
    pub stream_id: u32,
    /// What started it.
    pub kind: BlockKind,
    /// The joined fragments (no copy when there was no CONTINUATION).
    pub block: Bytes,
}

/// What [`HeaderBlockAssembler::push`] made of a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assembled {
    /// The frame completed a header block.
    Block(HeaderBlock),
    /// The frame was part of a block still waiting for CONTINUATION.
    Pending,
    /// Not a header block frame, and none is open: handle it as usual.
    Other(Frame),
}

/// Collects a header block's fragments, for the connection layer, which
/// passes every decoded frame through [`push`](Self::push).
///
/// RFC 9113 §4.3: once a HEADERS or PUSH_PROMISE frame without END_HEADERS
/// arrives, only CONTINUATION frames of the same stream may follow until
/// one has END_HEADERS; anything else, and a CONTINUATION with no block
/// open, is a connection PROTOCOL_ERROR. A block that needs more than
/// `max_continuations` CONTINUATION frames or more than `max_block_size`
/// bytes is a connection ENHANCE_YOUR_CALM: a block cannot be skipped
/// without decoding it (the HPACK state would be lost), so a peer that
/// floods us loses the connection, and memory stays bounded by
/// `max_block_size`.
///
/// ```text
///   idle --HEADERS/PUSH_PROMISE without END_HEADERS--> open(stream)
///   open --CONTINUATION(stream) without END_HEADERS--> open
///   open --CONTINUATION(stream) with END_HEADERS-----> idle, Block
///   idle --HEADERS/PUSH_PROMISE with END_HEADERS-----> idle, Block
///   idle --any other frame---------------------------> idle, Other
/// ```
///
/// ```
/// use aqueduct_http2::frame::{self, Assembled, HeaderBlockAssembler};
/// use bytes::BytesMut;
///
/// // A 20,000-byte block is HEADERS plus one CONTINUATION at the default
/// // max frame size.
/// let block = vec![0x82; 20_000];
/// let mut buf = BytesMut::new();
/// frame::write_headers(&mut buf, 1, &block, true, frame::DEFAULT_MAX_FRAME_SIZE);
///
/// let mut assembler = HeaderBlockAssembler::new(16, 64 * 1024);
/// let mut whole = None;
/// while let Some(f) = frame::decode(&mut buf, frame::DEFAULT_MAX_FRAME_SIZE)? {
///     match assembler.push(f)? {
///         Assembled::Block(b) => whole = Some(b),
///         Assembled::Pending => {}
///         Assembled::Other(other) => panic!("unexpected {other:?}"),
///     }
/// }
/// assert_eq!(whole.map(|b| b.block.len()), Some(20_000));
/// # Ok::<(), aqueduct_http2::frame::FrameError>(())
/// ```
#[derive(Debug)]
pub struct HeaderBlockAssembler {
    max_continuations: usize,
    max_block_size: usize,
    open: Option<Open>,
}

#[derive(Debug)]
struct Open {
    stream_id: u32,
    kind: BlockKind,
    buf: BytesMut,
    /// CONTINUATION frames received for this block so far.
    continuations: usize,
}

impl HeaderBlockAssembler {
    /// An assembler allowing at most `max_continuations` CONTINUATION
    /// frames and `max_block_size` bytes of fragments per block.
    #[must_use]
    pub fn new(max_continuations: usize, max_block_size: usize) -> Self {
        Self {
            max_continuations,
            max_block_size,
            open: None,
        }
    }

    /// The stream whose block is waiting for CONTINUATION, if any.
    #[must_use]
    pub fn open_stream(&self) -> Option<u32> {
        self.open.as_ref().map(|open| open.stream_id)
    }

    /// Takes the next decoded frame. After an error the assembler is idle
    /// again, but the connection is to be closed.
    pub fn push(&mut self, frame: Frame) -> Result<Assembled, FrameError> {
        let result = self.push_inner(frame);
        if result.is_err() {
            self.open = None;
        }
        result
    }

    fn push_inner(&mut self, frame: Frame) -> Result<Assembled, FrameError> {
        let Some(open) = self.open.as_mut() else {
            let (stream_id, kind, end_headers, fragment) = match frame {
                Frame::Headers(h) => (
                    h.stream_id,
                    BlockKind::Headers {
                        end_stream: h.end_stream,
                        priority: h.priority,
                    },
                    h.end_headers,
                    h.fragment,
                ),
                Frame::PushPromise(p) => (
                    p.stream_id,
                    BlockKind::PushPromise {
                        promised_stream_id: p.promised_stream_id,
                    },
                    p.end_headers,
                    p.fragment,
                ),
                Frame::Continuation(_) => {
                    return Err(protocol("CONTINUATION without an open header block"));
                }
                other => return Ok(Assembled::Other(other)),
            };
            if fragment.len() > self.max_block_size {
                return Err(calm("header block too large"));
            }
            if end_headers {
                return Ok(Assembled::Block(HeaderBlock {
                    stream_id,
                    kind,
                    block: fragment,
                }));
            }
            self.open = Some(Open {
                stream_id,
                kind,
                buf: BytesMut::from(fragment.as_ref()),
                continuations: 0,
            });
            return Ok(Assembled::Pending);
        };
        let c = match frame {
            Frame::Continuation(c) if c.stream_id == open.stream_id => c,
            Frame::Continuation(_) => return Err(protocol("CONTINUATION for another stream")),
            _ => return Err(protocol("frame interleaved in a header block")),
        };
        open.continuations += 1;
        if open.continuations > self.max_continuations {
            return Err(calm("too many CONTINUATION frames"));
        }
        if open.buf.len().saturating_add(c.fragment.len()) > self.max_block_size {
            return Err(calm("header block too large"));
        }
        open.buf.extend_from_slice(&c.fragment);
        if !c.end_headers {
            return Ok(Assembled::Pending);
        }
        match self.open.take() {
            Some(open) => Ok(Assembled::Block(HeaderBlock {
                stream_id: open.stream_id,
                kind: open.kind,
                block: open.buf.freeze(),
            })),
            None => Ok(Assembled::Pending),
        }
    }
}

fn protocol(reason: &'static str) -> FrameError {
    FrameError::connection(ErrorCode::ProtocolError, reason)
}

fn calm(reason: &'static str) -> FrameError {
    FrameError::connection(ErrorCode::EnhanceYourCalm, reason)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::frame::{Continuation, Data, Headers, Ping, PushPromise};

    fn headers(stream_id: u32, end_headers: bool, fragment: &'static [u8]) -> Frame {
        Frame::Headers(Headers {
            stream_id,
            end_stream: true,
            end_headers,
            priority: None,
            fragment: Bytes::from_static(fragment),
        })
    }

    fn cont(stream_id: u32, end_headers: bool, fragment: &'static [u8]) -> Frame {
        Frame::Continuation(Continuation {
            stream_id,
            end_headers,
            fragment: Bytes::from_static(fragment),
        })
    }

    #[track_caller]
    fn protocol_error(result: Result<Assembled, FrameError>) {
        let err = result.expect_err("an error");
        assert_eq!(err.code(), ErrorCode::ProtocolError);
        assert!(err.is_connection_error());
    }

    #[test]
    fn s6_10_headers_and_continuations_join_into_one_block() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        assert_eq!(a.push(headers(1, false, b"ab")), Ok(Assembled::Pending));
        assert_eq!(a.open_stream(), Some(1));
        assert_eq!(a.push(cont(1, false, b"cd")), Ok(Assembled::Pending));
        let Ok(Assembled::Block(block)) = a.push(cont(1, true, b"ef")) else {
            panic!()
        };
        assert_eq!(&block.block[..], b"abcdef");
        assert_eq!(
            block.kind,
            BlockKind::Headers {
                end_stream: true,
                priority: None
            }
        );
        assert_eq!(a.open_stream(), None);
    }

    #[test]
    fn a_single_headers_frame_is_a_block_without_copy() {
        let mut a = HeaderBlockAssembler::new(0, 16);
        let fragment = Bytes::from_static(b"whole");
        let frame = Frame::Headers(Headers {
            stream_id: 3,
            end_stream: false,
            end_headers: true,
            priority: None,
            fragment: fragment.clone(),
        });
        let Ok(Assembled::Block(block)) = a.push(frame) else {
            panic!()
        };
        assert_eq!(block.block.as_ptr(), fragment.as_ptr());
    }

    #[test]
    fn push_promise_starts_a_block_too() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        let frame = Frame::PushPromise(PushPromise {
            stream_id: 1,
            promised_stream_id: 2,
            end_headers: false,
            fragment: Bytes::from_static(b"p"),
        });
        assert_eq!(a.push(frame), Ok(Assembled::Pending));
        let Ok(Assembled::Block(block)) = a.push(cont(1, true, b"q")) else {
            panic!()
        };
        assert_eq!(
            block.kind,
            BlockKind::PushPromise {
                promised_stream_id: 2
            }
        );
        assert_eq!(&block.block[..], b"pq");
    }

    #[test]
    fn other_frames_pass_through_when_no_block_is_open() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        let ping = Frame::Ping(Ping {
            ack: false,
            payload: [0; 8],
        });
        assert_eq!(a.push(ping.clone()), Ok(Assembled::Other(ping)));
    }

    #[test]
    fn s6_10_any_other_frame_inside_a_block_is_protocol_error() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        a.push(headers(1, false, b"ab")).unwrap();
        let data = Frame::Data(Data {
            stream_id: 1,
            end_stream: false,
            data: Bytes::new(),
            pad_len: None,
        });
        protocol_error(a.push(data));
        assert_eq!(a.open_stream(), None, "idle after an error");
        a.push(headers(1, false, b"ab")).unwrap();
        protocol_error(a.push(headers(3, true, b"x")));
    }

    #[test]
    fn s5_5_unknown_frame_inside_a_block_is_protocol_error() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        a.push(headers(1, false, b"ab")).unwrap();
        let unknown = Frame::Unknown(crate::frame::Unknown {
            header: crate::frame::FrameHeader {
                length: 0,
                kind: 0x77,
                flags: 0,
                stream_id: 1,
            },
            payload: Bytes::new(),
        });
        protocol_error(a.push(unknown));
    }

    #[test]
    fn s6_10_priority_after_a_continuation_inside_a_block_is_protocol_error() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        a.push(headers(1, false, b"ab")).unwrap();
        a.push(cont(1, false, b"cd")).unwrap();
        let priority = Frame::Priority(crate::frame::Priority {
            stream_id: 1,
            spec: PrioritySpec {
                exclusive: false,
                dependency: 0,
                weight: 15,
            },
        });
        protocol_error(a.push(priority));
    }

    #[test]
    fn s6_10_continuation_for_another_stream_is_protocol_error() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        a.push(headers(1, false, b"ab")).unwrap();
        protocol_error(a.push(cont(3, true, b"cd")));
    }

    #[test]
    fn s6_10_continuation_with_nothing_open_is_protocol_error() {
        let mut a = HeaderBlockAssembler::new(4, 1024);
        protocol_error(a.push(cont(1, true, b"cd")));
        // Also after a block was completed.
        a.push(headers(1, true, b"ab")).unwrap();
        protocol_error(a.push(cont(1, true, b"cd")));
    }

    #[test]
    fn continuation_flood_is_bounded_by_count() {
        let mut a = HeaderBlockAssembler::new(2, 1024);
        a.push(headers(1, false, b"")).unwrap();
        a.push(cont(1, false, b"")).unwrap();
        a.push(cont(1, false, b"")).unwrap();
        let err = a.push(cont(1, false, b"")).unwrap_err();
        assert_eq!(
            (err.code(), err.is_connection_error()),
            (ErrorCode::EnhanceYourCalm, true)
        );
    }

    #[test]
    fn header_block_is_bounded_by_bytes() {
        let mut a = HeaderBlockAssembler::new(100, 5);
        a.push(headers(1, false, b"abc")).unwrap();
        assert_eq!(a.push(cont(1, false, b"de")), Ok(Assembled::Pending));
        let err = a.push(cont(1, true, b"f")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::EnhanceYourCalm);
        let err = a.push(headers(1, true, b"abcdef")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::EnhanceYourCalm);
    }
}
