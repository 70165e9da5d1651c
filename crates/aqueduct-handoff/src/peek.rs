//! Reading a connection's first gRPC request without consuming it: the HTTP/2
//! client preface, the frames a client sends before its first request
//! (SETTINGS, WINDOW_UPDATE, PING, PRIORITY), then the first HEADERS block
//! with its CONTINUATION frames, HPACK-decoded (`hpack.rs`) for `:path` and
//! `:authority`.
//!
//! Sans I/O: [`peek_first_request`] looks at the bytes read so far and says
//! whether it needs more. Everything is bounded: the bytes looked at
//! ([`MAX_PEEKED`], which is also what a hand-off can carry)
//! and the HPACK dynamic table (4096 bytes, the size a client may use before
//! it has the server's settings).

use std::fmt;

use aqueduct_http2::hpack::Decoder;
use aqueduct_wire::headers::{self, Field};

use crate::MAX_PEEKED;
pub use crate::preface::SERVER_PREFACE;

/// The HTTP/2 client connection preface.
pub const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const FRAME_HEADER: usize = 9;
const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The HPACK table a client encodes with before it knows the server's settings.
const HPACK_TABLE: usize = 4096;

/// The largest header list (RFC 9113's size: names, values and 32 a field)
/// the peeker decodes from a first request's block: far more than a real one
/// carries, and a bound on what a block of references can make it walk.
const MAX_DECODED: usize = 1024 * 1024;

/// What the first request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstRequest {
    /// `:path`, as in `/package.Service/Method`.
    pub path: String,
    /// `:authority`, if the client sent one.
    pub authority: Option<String>,
    /// The HTTP/2 stream the request opened (1 for a new client).
    pub stream_id: u32,
}

impl FirstRequest {
    /// The gRPC service the path names (`package.Service`), if it has the
    /// form `/service/method`.
    #[must_use]
    pub fn service(&self) -> Option<&str> {
        let (service, method) = self.path.strip_prefix('/')?.split_once('/')?;
        (!service.is_empty() && !method.is_empty() && !method.contains('/')).then_some(service)
    }
}

/// Why a connection's first bytes cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeekError {
    /// Not an HTTP/2 client preface.
    NotHttp2,
    /// The first request did not fit in the bytes a hand-off may carry.
    TooLarge,
    /// A frame out of place (DATA or CONTINUATION before any HEADERS, a
    /// CONTINUATION of another stream, padding longer than its frame).
    Malformed(&'static str),
    /// The header block does not decode.
    Hpack,
    /// The first request has no `:path`.
    NoPath,
}

impl fmt::Display for PeekError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotHttp2 => f.write_str("not an HTTP/2 connection (no client preface)"),
            Self::TooLarge => write!(f, "the first request is over {MAX_PEEKED} bytes"),
            Self::Malformed(what) => write!(f, "malformed HTTP/2: {what}"),
            Self::Hpack => f.write_str("the first request's headers do not decode"),
            Self::NoPath => f.write_str("the first request has no :path"),
        }
    }
}

impl std::error::Error for PeekError {}

/// Looks at `buf`, a connection's first bytes: `Ok(None)` while more are
/// needed (up to [`MAX_PEEKED`]), else the first request's `:path` and
/// `:authority`.
pub fn peek_first_request(buf: &[u8]) -> Result<Option<FirstRequest>, PeekError> {
    let seen = buf.len().min(PREFACE.len());
    if buf.get(..seen) != PREFACE.get(..seen) {
        return Err(PeekError::NotHttp2);
    }
    let incomplete = || {
        if buf.len() >= MAX_PEEKED {
            Err(PeekError::TooLarge)
        } else {
            Ok(None)
        }
    };
    let mut rest = buf.get(PREFACE.len()..).unwrap_or_default();
    // The header block, gathered from HEADERS and its CONTINUATIONs.
    let mut block: Vec<u8> = Vec::new();
    let mut stream = None;
    loop {
        let Some(Frame {
            kind,
            flags,
            id,
            payload,
            after,
        }) = frame(rest)
        else {
            return incomplete();
        };
        rest = after;
        match (kind, stream) {
            (HEADERS, None) => {
                block.extend_from_slice(headers_fragment(flags, payload)?);
                stream = Some(id);
            }
            (CONTINUATION, Some(s)) if s == id => block.extend_from_slice(payload),
            (CONTINUATION, _) => return Err(PeekError::Malformed("CONTINUATION out of place")),
            (_, Some(_)) => return Err(PeekError::Malformed("a frame inside a header block")),
            (DATA, None) => return Err(PeekError::Malformed("DATA before any HEADERS")),
            // SETTINGS, WINDOW_UPDATE, PING, PRIORITY, unknown types: skip.
            _ => continue,
        }
        if flags & END_HEADERS != 0 {
            return decode(&block, id).map(Some);
        }
    }
}

/// Whether `buf`, a connection's first bytes, holds the end of the client's
/// side of stream `stream_id`: a whole HEADERS or DATA frame of that stream
/// with END_STREAM. A frame cut short at the end of `buf` is not looked at.
pub(crate) fn request_ended(buf: &[u8], stream_id: u32) -> bool {
    let mut rest = buf.get(PREFACE.len()..).unwrap_or_default();
    while let Some(Frame {
        kind,
        flags,
        id,
        after,
        ..
    }) = frame(rest)
    {
        if id == stream_id && matches!(kind, HEADERS | DATA) && flags & END_STREAM != 0 {
            return true;
        }
        rest = after;
    }
    false
}

/// One HTTP/2 frame, and the bytes after it.
struct Frame<'a> {
    kind: u8,
    flags: u8,
    id: u32,
    payload: &'a [u8],
    after: &'a [u8],
}

/// The next frame, if all of it is in `buf`.
fn frame(buf: &[u8]) -> Option<Frame<'_>> {
    let header: [u8; FRAME_HEADER] = buf.get(..FRAME_HEADER)?.try_into().ok()?;
    let [l0, l1, l2, kind, flags, i0, i1, i2, i3] = header;
    let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
    let id = u32::from_be_bytes([i0, i1, i2, i3]) & 0x7fff_ffff;
    let payload = buf.get(FRAME_HEADER..FRAME_HEADER + len)?;
    let after = buf.get(FRAME_HEADER + len..)?;
    Some(Frame {
        kind,
        flags,
        id,
        payload,
        after,
    })
}

/// A HEADERS frame's header block fragment, without padding and priority.
fn headers_fragment(flags: u8, payload: &[u8]) -> Result<&[u8], PeekError> {
    let mut fragment = payload;
    let mut pad = 0;
    if flags & PADDED != 0 {
        let (&n, rest) = fragment
            .split_first()
            .ok_or(PeekError::Malformed("PADDED HEADERS without a pad length"))?;
        pad = usize::from(n);
        fragment = rest;
    }
    if flags & PRIORITY != 0 {
        fragment = fragment
            .get(5..)
            .ok_or(PeekError::Malformed("HEADERS too short for its priority"))?;
    }
    let end = fragment
        .len()
        .checked_sub(pad)
        .ok_or(PeekError::Malformed("padding longer than the frame"))?;
    fragment
        .get(..end)
        .ok_or(PeekError::Malformed("padding longer than the frame"))
}

fn decode(block: &[u8], stream_id: u32) -> Result<FirstRequest, PeekError> {
    let mut path = None;
    let mut authority = None;
    // Pseudo-header fields come before all others (RFC 9113, 8.3): from the
    // first regular field on, nothing is read (a `:path` there is not one).
    let mut pseudo = true;
    let mut decoder = Decoder::new(HPACK_TABLE);
    decoder
        .decode(block, MAX_DECODED, |name, value, _sensitive| {
            if !pseudo {
                return;
            }
            let value = || String::from_utf8_lossy(value).into_owned();
            if name == headers::PATH.as_bytes() {
                path.get_or_insert_with(value);
            } else if name == headers::AUTHORITY.as_bytes() {
                authority.get_or_insert_with(value);
            } else if headers::classify(name) != Field::Pseudo {
                pseudo = false;
            }
        })
        .map_err(|_| PeekError::Hpack)?;
    Ok(FirstRequest {
        path: path.ok_or(PeekError::NoPath)?,
        authority,
        stream_id,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::XorShift;
    use crate::testing::frame as frame_bytes;

    /// A header block from our HPACK encoder, fresh table.
    fn encode(fields: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        aqueduct_http2::hpack::Encoder::new().encode(
            fields
                .iter()
                .map(|&(n, v)| aqueduct_http2::hpack::Field::new(n, v)),
            &mut out,
        );
        out
    }

    fn block(path: &str, authority: &str) -> Vec<u8> {
        encode(&[
            (b":method", b"POST"),
            (b":scheme", b"http"),
            (b":path", path.as_bytes()),
            (b":authority", authority.as_bytes()),
            (b"content-type", b"application/grpc"),
        ])
    }

    /// Preface, SETTINGS, WINDOW_UPDATE, then HEADERS split over a CONTINUATION.
    fn connection_start(path: &str) -> Vec<u8> {
        let block = block(path, "notes.internal:50051");
        let (first, second) = block.split_at(block.len() / 2);
        let mut out = PREFACE.to_vec();
        out.extend(frame_bytes(0x4, 0, 0, &[0, 4, 0, 0x10, 0, 0]));
        out.extend(frame_bytes(0x8, 0, 0, &1_000_000u32.to_be_bytes()));
        // PADDED and PRIORITY, as some clients send.
        let mut headers = vec![3];
        headers.extend_from_slice(&[0, 0, 0, 0, 15]);
        headers.extend_from_slice(first);
        headers.extend_from_slice(&[0, 0, 0]);
        out.extend(frame_bytes(HEADERS, PADDED | PRIORITY, 1, &headers));
        out.extend(frame_bytes(CONTINUATION, END_HEADERS, 1, second));
        out
    }

    #[test]
    fn finds_path_and_authority_and_waits_for_every_byte() {
        let bytes = connection_start("/notes.v1.Notes/GetNote");
        for cut in 0..bytes.len() {
            assert_eq!(peek_first_request(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        let first = peek_first_request(&bytes).unwrap().unwrap();
        assert_eq!(first.path, "/notes.v1.Notes/GetNote");
        assert_eq!(first.authority.as_deref(), Some("notes.internal:50051"));
        assert_eq!(first.service(), Some("notes.v1.Notes"));
        assert_eq!(first.stream_id, 1);
    }

    /// grpc-go's and grpcio's order: SETTINGS, then the ACK of the front's
    /// SETTINGS (and maybe a PING) once they have it, then the request.
    #[test]
    fn frames_a_waiting_client_sends_before_its_request_are_skipped() {
        let block = block("/grpc.health.v1.Health/Check", "127.0.0.1:50050");
        let mut bytes = PREFACE.to_vec();
        bytes.extend(frame_bytes(0x4, 0, 0, &[0, 2, 0, 0, 0, 0]));
        bytes.extend(frame_bytes(0x4, 0x1, 0, &[]));
        bytes.extend(frame_bytes(0x6, 0, 0, &[1; 8]));
        bytes.extend(frame_bytes(0x8, 0, 0, &65_535u32.to_be_bytes()));
        bytes.extend(frame_bytes(HEADERS, END_HEADERS, 1, &block));
        let first = peek_first_request(&bytes).unwrap().unwrap();
        assert_eq!(first.service(), Some("grpc.health.v1.Health"));
    }

    #[test]
    fn a_request_ends_with_a_whole_end_stream_frame_of_its_stream() {
        let mut bytes = connection_start("/notes.v1.Notes/GetNote");
        assert!(!request_ended(&bytes, 1), "headers only");
        bytes.extend(frame_bytes(DATA, END_STREAM, 3, b"x"));
        assert!(!request_ended(&bytes, 1), "another stream's end");
        let end = frame_bytes(DATA, END_STREAM, 1, &[0; 5]);
        bytes.extend(&end[..end.len() - 1]);
        assert!(!request_ended(&bytes, 1), "a frame cut short");
        bytes.extend(&end[end.len() - 1..]);
        assert!(request_ended(&bytes, 1));
        let mut headers_only = PREFACE.to_vec();
        let block = block("/a.B/C", "x");
        headers_only.extend(frame_bytes(HEADERS, END_HEADERS | END_STREAM, 1, &block));
        assert!(request_ended(&headers_only, 1));
    }

    #[test]
    fn services_come_from_well_formed_paths_only() {
        let service = |path: &str| {
            FirstRequest {
                path: path.into(),
                authority: None,
                stream_id: 1,
            }
            .service()
            .map(str::to_owned)
        };
        assert_eq!(service("/a.B/C").as_deref(), Some("a.B"));
        for bad in ["", "/", "a.B/C", "/a.B", "/a.B/", "//C", "/a.B/C/D"] {
            assert_eq!(service(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_grpc_start() {
        assert_eq!(
            peek_first_request(b"GET / HTTP/1.1\r\n"),
            Err(PeekError::NotHttp2)
        );
        let mut data_first = PREFACE.to_vec();
        data_first.extend(frame_bytes(DATA, 0, 1, b"x"));
        assert!(matches!(
            peek_first_request(&data_first),
            Err(PeekError::Malformed(_))
        ));
        let mut stray = PREFACE.to_vec();
        stray.extend(frame_bytes(CONTINUATION, END_HEADERS, 1, b""));
        assert!(matches!(
            peek_first_request(&stray),
            Err(PeekError::Malformed(_))
        ));
        let mut no_path = PREFACE.to_vec();
        let only_method = encode(&[(b":method", b"POST")]);
        no_path.extend(frame_bytes(HEADERS, END_HEADERS, 1, &only_method));
        assert_eq!(peek_first_request(&no_path), Err(PeekError::NoPath));
        // Pseudo-headers come first: a :path after a regular field is not read.
        let mut late_path = PREFACE.to_vec();
        let late = encode(&[
            (b"content-type", b"application/grpc"),
            (b":path", b"/a.B/C"),
        ]);
        late_path.extend(frame_bytes(HEADERS, END_HEADERS, 1, &late));
        assert_eq!(peek_first_request(&late_path), Err(PeekError::NoPath));
        let mut bad_hpack = PREFACE.to_vec();
        bad_hpack.extend(frame_bytes(HEADERS, END_HEADERS, 1, &[0xff, 0xff, 0xff]));
        assert_eq!(peek_first_request(&bad_hpack), Err(PeekError::Hpack));
    }

    #[test]
    fn a_first_request_past_the_bound_is_too_large() {
        let mut big = PREFACE.to_vec();
        big.extend(frame_bytes(HEADERS, 0, 1, &vec![0x40; MAX_PEEKED]));
        let cut = &big[..MAX_PEEKED];
        assert_eq!(peek_first_request(cut), Err(PeekError::TooLarge));
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        let valid = connection_start("/notes.v1.Notes/GetNote");
        for round in 0..20_000 {
            let mut bytes = valid.clone();
            if round % 2 == 0 {
                // Corrupt the frames and the header block, keep the preface.
                for _ in 0..1 + rng.next() % 6 {
                    let at = PREFACE.len() + (rng.next() as usize) % (bytes.len() - PREFACE.len());
                    bytes[at] = rng.next() as u8;
                }
            } else {
                // A valid start, then a HEADERS frame of random HPACK bytes.
                bytes.truncate(PREFACE.len());
                let n = (rng.next() % 200) as usize;
                let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                bytes.extend(frame_bytes(HEADERS, END_HEADERS, 1, &junk));
            }
            let _ = peek_first_request(&bytes);
        }
    }
}
