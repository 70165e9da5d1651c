//! Reading frames: the buffer check (RFC 9113 §4.1, §4.2) and each frame
//! type's own rules (§6). All access to peer bytes is checked.

use bytes::{Buf, Bytes, BytesMut};

use super::settings;
use super::{
    Continuation, Data, Frame, FrameError, FrameHeader, GoAway, HEADER_LEN, Headers, PREFACE, Ping,
    Priority, PrioritySpec, PushPromise, RstStream, STREAM_ID_MASK, Settings, Unknown,
    WindowUpdate, flags, kind,
};
use crate::ErrorCode;

/// Checks the client connection preface (RFC 9113 §3.4) at the start of
/// `buf`, for a server: `Ok(Some(n))` when all of it is there (consume `n`
/// bytes), `Ok(None)` when what is there is a correct beginning, and a
/// connection PROTOCOL_ERROR as soon as a byte differs.
pub fn check_preface(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let n = buf.len().min(PREFACE.len());
    if buf.get(..n) != PREFACE.get(..n) {
        return Err(FrameError::connection(
            ErrorCode::ProtocolError,
            "invalid connection preface",
        ));
    }
    Ok((n == PREFACE.len()).then_some(n))
}

/// Takes one frame off the front of `buf`.
///
/// * `Ok(None)`: a whole frame is not there yet; `buf` is untouched.
/// * `Ok(Some(frame))`: the frame's bytes were removed from `buf`; its
///   payload slices share `buf`'s memory.
/// * `Err(e)`: the frame breaks a rule. For an oversized frame (its length
///   above `max_frame_size`, our SETTINGS_MAX_FRAME_SIZE; a connection
///   FRAME_SIZE_ERROR, reported as soon as the 9-byte header is there)
///   `buf` is untouched; otherwise the frame was removed, so after a stream
///   error the caller resets the stream and goes on decoding.
pub fn decode(buf: &mut BytesMut, max_frame_size: u32) -> Result<Option<Frame>, FrameError> {
    let Some(header) = FrameHeader::parse(buf) else {
        return Ok(None);
    };
    if header.length > max_frame_size {
        return Err(FrameError::connection(
            ErrorCode::FrameSizeError,
            "frame larger than SETTINGS_MAX_FRAME_SIZE",
        ));
    }
    let total = HEADER_LEN + header.length as usize;
    if buf.len() < total {
        return Ok(None);
    }
    let mut frame = buf.split_to(total);
    frame.advance(HEADER_LEN);
    parse_payload(header, frame.freeze()).map(Some)
}

/// Decodes a frame from its header and its whole payload (`payload.len()`
/// must be `header.length`; a mismatch is a FRAME_SIZE_ERROR), checking the
/// rules RFC 9113 §6 gives each frame type on its own.
pub fn parse_payload(header: FrameHeader, payload: Bytes) -> Result<Frame, FrameError> {
    if payload.len() != header.length as usize {
        return Err(conn(
            ErrorCode::FrameSizeError,
            "payload length differs from header",
        ));
    }
    let id = header.stream_id;
    let frame = match header.kind {
        kind::DATA => {
            on_stream(id, "DATA on stream 0")?;
            let (data, pad_len) = strip_padding(&header, payload, 0)?;
            Frame::Data(Data {
                stream_id: id,
                end_stream: header.has(flags::END_STREAM),
                data,
                pad_len,
            })
        }
        kind::HEADERS => {
            on_stream(id, "HEADERS on stream 0")?;
            let fixed = if header.has(flags::PRIORITY) { 5 } else { 0 };
            let (rest, _) = strip_padding(&header, payload, fixed)?;
            let priority = if header.has(flags::PRIORITY) {
                Some(priority_spec(&rest).ok_or(frame_size("HEADERS too short"))?)
            } else {
                None
            };
            Frame::Headers(Headers {
                stream_id: id,
                end_stream: header.has(flags::END_STREAM),
                end_headers: header.has(flags::END_HEADERS),
                priority,
                fragment: tail(&rest, fixed)?,
            })
        }
        kind::PRIORITY => {
            on_stream(id, "PRIORITY on stream 0")?;
            let spec = match priority_spec(&payload) {
                Some(spec) if payload.len() == 5 => spec,
                _ => {
                    return Err(FrameError::stream(
                        id,
                        ErrorCode::FrameSizeError,
                        "PRIORITY length not 5",
                    ));
                }
            };
            if spec.dependency == id {
                return Err(FrameError::stream(
                    id,
                    ErrorCode::ProtocolError,
                    "stream depends on itself",
                ));
            }
            Frame::Priority(Priority {
                stream_id: id,
                spec,
            })
        }
        kind::RST_STREAM => {
            on_stream(id, "RST_STREAM on stream 0")?;
            let code = exact_u32(&payload, "RST_STREAM length not 4")?;
            Frame::RstStream(RstStream {
                stream_id: id,
                error_code: ErrorCode::from_u32(code),
            })
        }
        kind::SETTINGS => {
            on_connection(id, "SETTINGS on a stream")?;
            let ack = header.has(flags::ACK);
            if ack && !payload.is_empty() {
                return Err(frame_size("SETTINGS ACK with a payload"));
            }
            settings::validate(&payload)?;
            Frame::Settings(Settings { ack, raw: payload })
        }
        kind::PUSH_PROMISE => {
            on_stream(id, "PUSH_PROMISE on stream 0")?;
            let (rest, _) = strip_padding(&header, payload, 4)?;
            let promised = read_u32(&rest, 0).ok_or(frame_size("PUSH_PROMISE too short"))?;
            Frame::PushPromise(PushPromise {
                stream_id: id,
                promised_stream_id: promised & STREAM_ID_MASK,
                end_headers: header.has(flags::END_HEADERS),
                fragment: tail(&rest, 4)?,
            })
        }
        kind::PING => {
            on_connection(id, "PING on a stream")?;
            let bytes: [u8; 8] = payload
                .as_ref()
                .try_into()
                .map_err(|_| frame_size("PING length not 8"))?;
            Frame::Ping(Ping {
                ack: header.has(flags::ACK),
                payload: bytes,
            })
        }
        kind::GOAWAY => {
            on_connection(id, "GOAWAY on a stream")?;
            let (Some(last), Some(code)) = (read_u32(&payload, 0), read_u32(&payload, 4)) else {
                return Err(frame_size("GOAWAY shorter than 8"));
            };
            Frame::GoAway(GoAway {
                last_stream_id: last & STREAM_ID_MASK,
                error_code: ErrorCode::from_u32(code),
                debug_data: tail(&payload, 8)?,
            })
        }
        kind::WINDOW_UPDATE => {
            let increment = exact_u32(&payload, "WINDOW_UPDATE length not 4")? & STREAM_ID_MASK;
            if increment == 0 {
                let reason = "WINDOW_UPDATE increment 0";
                return Err(if id == 0 {
                    conn(ErrorCode::ProtocolError, reason)
                } else {
                    FrameError::stream(id, ErrorCode::ProtocolError, reason)
                });
            }
            Frame::WindowUpdate(WindowUpdate {
                stream_id: id,
                increment,
            })
        }
        kind::CONTINUATION => {
            on_stream(id, "CONTINUATION on stream 0")?;
            Frame::Continuation(Continuation {
                stream_id: id,
                end_headers: header.has(flags::END_HEADERS),
                fragment: payload,
            })
        }
        _ => Frame::Unknown(Unknown { header, payload }),
    };
    Ok(frame)
}

fn conn(code: ErrorCode, reason: &'static str) -> FrameError {
    FrameError::connection(code, reason)
}

/// A frame too short for its fixed fields: a connection FRAME_SIZE_ERROR
/// (RFC 9113 §4.2; the frames checked this way either carry a field block,
/// are on stream 0, or, for DATA and RST_STREAM, change the connection's
/// flow control or stream state).
fn frame_size(reason: &'static str) -> FrameError {
    conn(ErrorCode::FrameSizeError, reason)
}

fn on_stream(id: u32, reason: &'static str) -> Result<(), FrameError> {
    if id == 0 {
        return Err(conn(ErrorCode::ProtocolError, reason));
    }
    Ok(())
}

fn on_connection(id: u32, reason: &'static str) -> Result<(), FrameError> {
    if id != 0 {
        return Err(conn(ErrorCode::ProtocolError, reason));
    }
    Ok(())
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = buf.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

fn exact_u32(buf: &[u8], reason: &'static str) -> Result<u32, FrameError> {
    match read_u32(buf, 0) {
        Some(v) if buf.len() == 4 => Ok(v),
        _ => Err(frame_size(reason)),
    }
}

/// `buf` from `start` on, or a FRAME_SIZE_ERROR if it is shorter.
fn tail(buf: &Bytes, start: usize) -> Result<Bytes, FrameError> {
    if start > buf.len() {
        return Err(frame_size("frame too short"));
    }
    Ok(buf.slice(start..))
}

fn priority_spec(buf: &[u8]) -> Option<PrioritySpec> {
    let word = read_u32(buf, 0)?;
    let weight = *buf.get(4)?;
    Some(PrioritySpec {
        exclusive: word & !STREAM_ID_MASK != 0,
        dependency: word & STREAM_ID_MASK,
        weight,
    })
}

/// Removes the Pad Length octet and the padding if PADDED is set, leaving
/// the fixed fields (`fixed` bytes) and the data or fragment. Padding that
/// leaves no room for the fixed fields is a PROTOCOL_ERROR (§6.1, §6.2,
/// §6.6); a frame too short for the Pad Length octet or, unpadded, for its
/// fixed fields is a FRAME_SIZE_ERROR.
fn strip_padding(
    header: &FrameHeader,
    payload: Bytes,
    fixed: usize,
) -> Result<(Bytes, Option<u8>), FrameError> {
    if !header.has(flags::PADDED) {
        if payload.len() < fixed {
            return Err(frame_size("frame too short"));
        }
        return Ok((payload, None));
    }
    let Some(&pad_len) = payload.first() else {
        return Err(frame_size("PADDED frame without Pad Length"));
    };
    let room = payload.len() - 1;
    let pad = usize::from(pad_len);
    if pad.saturating_add(fixed) > room {
        return Err(conn(
            ErrorCode::ProtocolError,
            "padding longer than the payload",
        ));
    }
    Ok((payload.slice(1..payload.len() - pad), Some(pad_len)))
}
