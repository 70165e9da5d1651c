//! Writing frames (RFC 9113 §6) into any [`BufMut`], so a driver collects
//! many frames in one buffer and flushes it once.
//!
//! Stream identifiers are cut to 31 bits. DATA and header blocks are split
//! by the peer's SETTINGS_MAX_FRAME_SIZE; flow control is the caller's.

use bytes::BufMut;

use super::{
    DEFAULT_MAX_FRAME_SIZE, FrameHeader, MAX_MAX_FRAME_SIZE, PrioritySpec, STREAM_ID_MASK, Setting,
    flags, kind,
};
use crate::ErrorCode;

/// The chunk size for a peer's SETTINGS_MAX_FRAME_SIZE, kept within the
/// range RFC 9113 allows so a bad value can neither loop nor overflow.
fn chunk_size(max_frame_size: u32) -> usize {
    max_frame_size.clamp(DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE) as usize
}

fn head<B: BufMut>(dst: &mut B, length: usize, kind: u8, flags: u8, stream_id: u32) {
    FrameHeader {
        // Callers pass at most MAX_MAX_FRAME_SIZE (chunk_size) or a small
        // fixed length.
        length: length as u32,
        kind,
        flags,
        stream_id,
    }
    .encode(dst);
}

/// Appends `data` on `stream_id` as DATA frames of at most
/// `max_frame_size` bytes (the peer's SETTINGS_MAX_FRAME_SIZE), END_STREAM
/// on the last if `end_stream`. Empty `data` gives one empty frame.
pub fn write_data<B: BufMut>(
    dst: &mut B,
    stream_id: u32,
    data: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) {
    let mut chunks = data.chunks(chunk_size(max_frame_size)).peekable();
    if chunks.peek().is_none() {
        let flag = if end_stream { flags::END_STREAM } else { 0 };
        head(dst, 0, kind::DATA, flag, stream_id);
        return;
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        let flag = if last && end_stream {
            flags::END_STREAM
        } else {
            0
        };
        head(dst, chunk.len(), kind::DATA, flag, stream_id);
        dst.put_slice(chunk);
    }
}

/// Appends an encoded header block as one HEADERS frame followed by as
/// many CONTINUATION frames as `max_frame_size` requires, END_HEADERS on
/// the last and END_STREAM (a HEADERS flag) if `end_stream`.
pub fn write_headers<B: BufMut>(
    dst: &mut B,
    stream_id: u32,
    block: &[u8],
    end_stream: bool,
    max_frame_size: u32,
) {
    let first_flags = if end_stream { flags::END_STREAM } else { 0 };
    write_block(
        dst,
        kind::HEADERS,
        first_flags,
        stream_id,
        &[],
        block,
        max_frame_size,
    );
}

/// Appends PUSH_PROMISE (and CONTINUATION frames as needed). gRPC servers
/// never push; this exists for tests and completeness.
pub fn write_push_promise<B: BufMut>(
    dst: &mut B,
    stream_id: u32,
    promised_stream_id: u32,
    block: &[u8],
    max_frame_size: u32,
) {
    let promised = (promised_stream_id & STREAM_ID_MASK).to_be_bytes();
    write_block(
        dst,
        kind::PUSH_PROMISE,
        0,
        stream_id,
        &promised,
        block,
        max_frame_size,
    );
}

fn write_block<B: BufMut>(
    dst: &mut B,
    first_kind: u8,
    first_flags: u8,
    stream_id: u32,
    fields: &[u8],
    block: &[u8],
    max_frame_size: u32,
) {
    let size = chunk_size(max_frame_size);
    let first_len = block.len().min(size - fields.len());
    let (first, mut rest) = block.split_at(first_len);
    let end = if rest.is_empty() {
        flags::END_HEADERS
    } else {
        0
    };
    head(
        dst,
        fields.len() + first.len(),
        first_kind,
        first_flags | end,
        stream_id,
    );
    dst.put_slice(fields);
    dst.put_slice(first);
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(rest.len().min(size));
        rest = after;
        let end = if rest.is_empty() {
            flags::END_HEADERS
        } else {
            0
        };
        head(dst, chunk.len(), kind::CONTINUATION, end, stream_id);
        dst.put_slice(chunk);
    }
}

/// Appends PRIORITY (deprecated; for tests and completeness).
pub fn write_priority<B: BufMut>(dst: &mut B, stream_id: u32, spec: PrioritySpec) {
    head(dst, 5, kind::PRIORITY, 0, stream_id);
    let exclusive = if spec.exclusive { !STREAM_ID_MASK } else { 0 };
    dst.put_u32(spec.dependency & STREAM_ID_MASK | exclusive);
    dst.put_u8(spec.weight);
}

/// Appends RST_STREAM.
pub fn write_rst_stream<B: BufMut>(dst: &mut B, stream_id: u32, code: ErrorCode) {
    head(dst, 4, kind::RST_STREAM, 0, stream_id);
    dst.put_u32(code.to_u32());
}

/// Appends SETTINGS with `settings` in order.
pub fn write_settings<B: BufMut>(dst: &mut B, settings: &[Setting]) {
    head(dst, settings.len() * 6, kind::SETTINGS, 0, 0);
    for setting in settings {
        dst.put_u16(setting.id());
        dst.put_u32(setting.value());
    }
}

/// Appends a SETTINGS ACK.
pub fn write_settings_ack<B: BufMut>(dst: &mut B) {
    head(dst, 0, kind::SETTINGS, flags::ACK, 0);
}

/// Appends PING, or its reply if `ack` (echoing the payload received).
pub fn write_ping<B: BufMut>(dst: &mut B, payload: [u8; 8], ack: bool) {
    head(dst, 8, kind::PING, if ack { flags::ACK } else { 0 }, 0);
    dst.put_slice(&payload);
}

/// Appends GOAWAY. `debug_data` is cut so the frame stays within the
/// smallest SETTINGS_MAX_FRAME_SIZE.
pub fn write_goaway<B: BufMut>(
    dst: &mut B,
    last_stream_id: u32,
    code: ErrorCode,
    debug_data: &[u8],
) {
    let debug = debug_data
        .get(..debug_data.len().min(DEFAULT_MAX_FRAME_SIZE as usize - 8))
        .unwrap_or_default();
    head(dst, 8 + debug.len(), kind::GOAWAY, 0, 0);
    dst.put_u32(last_stream_id & STREAM_ID_MASK);
    dst.put_u32(code.to_u32());
    dst.put_slice(debug);
}

/// Appends WINDOW_UPDATE (`stream_id` 0 for the connection window). The
/// increment is cut to 31 bits; the caller sends 1..=2^31-1.
pub fn write_window_update<B: BufMut>(dst: &mut B, stream_id: u32, increment: u32) {
    head(dst, 4, kind::WINDOW_UPDATE, 0, stream_id);
    dst.put_u32(increment & STREAM_ID_MASK);
}
