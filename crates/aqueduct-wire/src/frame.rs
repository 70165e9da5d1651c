//! The gRPC message framing: a 1-byte compressed flag, a 4-byte big-endian length,
//! then that many bytes of message.
//!
//! [`Decoder`] is fed arbitrary chunks of bytes, exactly as they arrive in HTTP/2
//! DATA frames, and yields whole messages. It checks the declared length against the
//! receive limit *before* it buffers the message body, so a peer cannot make it
//! allocate more than the limit.

use std::collections::VecDeque;
use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Length of the gRPC message prefix: flag byte plus 4-byte length.
pub const HEADER_LEN: usize = 5;

/// Writes the 5-byte prefix for a message of `len` bytes.
///
/// Returns `None` when `len` does not fit the 32-bit length field.
///
/// ```
/// let header = aqueduct_wire::frame::encode_header(true, 3).unwrap();
/// assert_eq!(header, [1, 0, 0, 0, 3]);
/// ```
#[must_use]
pub fn encode_header(compressed: bool, len: usize) -> Option<[u8; HEADER_LEN]> {
    let len = u32::try_from(len).ok()?;
    let [a, b, c, d] = len.to_be_bytes();
    Some([u8::from(compressed), a, b, c, d])
}

/// Appends one framed message (prefix and payload) to `dst`.
///
/// Returns `None` when the payload does not fit the 32-bit length field.
pub fn encode(compressed: bool, payload: &[u8], dst: &mut BytesMut) -> Option<()> {
    let header = encode_header(compressed, payload.len())?;
    dst.reserve(HEADER_LEN + payload.len());
    dst.put_slice(&header);
    dst.put_slice(payload);
    Some(())
}

/// Chunks smaller than this are copied into one buffer instead of queued.
pub const COALESCE_BELOW: usize = 256;

/// One message taken out of the byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Whether the sender set the compressed flag: the payload is in the stream's
    /// `grpc-encoding`.
    pub compressed: bool,
    /// The message bytes, still compressed when `compressed` is set.
    pub payload: Bytes,
}

/// Why the byte stream could not be framed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The declared message length exceeds the receive limit.
    TooLarge {
        /// The length the peer declared.
        declared: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The flag byte was neither 0 nor 1.
    InvalidFlag(u8),
    /// The stream ended in the middle of a message.
    Truncated {
        /// Bytes of the unfinished message (prefix included) that were received.
        buffered: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { declared, limit } => write!(
                f,
                "grpc: received message larger than max ({declared} vs. {limit})"
            ),
            Self::InvalidFlag(flag) => {
                write!(f, "grpc: invalid compressed flag {flag} in message prefix")
            }
            Self::Truncated { buffered } => write!(
                f,
                "grpc: stream ended inside a message ({buffered} bytes of it received)"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Turns a stream of byte chunks into whole gRPC messages.
///
/// ```text
///   push(chunk) ──► [chunk queue] ──► decode() ─► Ok(Some(Frame))   a whole message
///                                          ├─► Ok(None)          need more bytes
///                                          └─► Err(DecodeError)  the stream is bad
/// ```
///
/// Chunks are queued without copying. A message that lies inside one chunk is handed
/// out as a slice of it; one that spans chunks is copied once into a buffer of exactly
/// its length, which the limit has already bounded.
///
/// ```
/// use aqueduct_wire::frame::Decoder;
/// use bytes::Bytes;
///
/// let mut dec = Decoder::new(1024);
/// dec.push(Bytes::from_static(&[0, 0, 0, 0, 2, b'h']));
/// assert_eq!(dec.decode().unwrap(), None); // one byte short
/// dec.push(Bytes::from_static(b"i"));
/// let frame = dec.decode().unwrap().unwrap();
/// assert_eq!(&frame.payload[..], b"hi");
/// ```
#[derive(Debug)]
pub struct Decoder {
    limit: usize,
    /// The only queued chunk, while there is one: most messages arrive in one DATA
    /// frame, and a lone chunk needs no queue allocation. Invariant: `Some` only
    /// while `chunks` is empty.
    single: Option<Bytes>,
    chunks: VecDeque<Bytes>,
    /// Small chunks pushed since the last decode, copied together: a peer that sends
    /// thousands of tiny DATA frames costs their bytes, not a queue entry (and a
    /// pinned read buffer) each. Logically the last element of the queue.
    tail: BytesMut,
    /// Total bytes across `chunks`.
    buffered: usize,
    /// The prefix of the message being assembled, once all 5 bytes have arrived.
    pending: Option<(bool, usize)>,
}

impl Decoder {
    /// A decoder that refuses messages declared longer than `limit` bytes.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            single: None,
            chunks: VecDeque::new(),
            tail: BytesMut::new(),
            buffered: 0,
            pending: None,
        }
    }

    /// The receive limit this decoder enforces.
    #[must_use]
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Queues a chunk of received bytes. Empty chunks are ignored; chunks smaller
    /// than [`COALESCE_BELOW`] that arrive while bytes are buffered are copied
    /// together.
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        // A lone chunk is kept as it is (no copy): that is every unary request.
        // Small chunks arriving behind others are copied together.
        if chunk.len() < COALESCE_BELOW && self.buffered > 0 {
            self.buffered += chunk.len();
            self.tail.extend_from_slice(&chunk);
            return;
        }
        self.seal();
        self.enqueue(chunk);
    }

    /// Moves the coalesced small chunks into the queue, keeping byte order.
    fn seal(&mut self) {
        if !self.tail.is_empty() {
            let tail = self.tail.split().freeze();
            self.buffered -= tail.len();
            self.enqueue(tail);
        }
    }

    fn enqueue(&mut self, chunk: Bytes) {
        {
            self.buffered += chunk.len();
            if self.single.is_none() && self.chunks.is_empty() {
                self.single = Some(chunk);
            } else {
                if let Some(first) = self.single.take() {
                    self.chunks.push_back(first);
                }
                self.chunks.push_back(chunk);
            }
        }
    }

    /// Bytes received but not yet handed out as messages.
    #[must_use]
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Takes the next whole message, if one has arrived.
    ///
    /// After an error the decoder's state is unspecified: the stream must be failed.
    pub fn decode(&mut self) -> Result<Option<Frame>, DecodeError> {
        self.seal();
        let (compressed, len) = match self.pending {
            Some(prefix) => prefix,
            None => {
                if self.buffered < HEADER_LEN {
                    return Ok(None);
                }
                let mut header = [0u8; HEADER_LEN];
                // Fast path: the prefix lies in the first chunk (almost always).
                match self.front_mut() {
                    Some(front) if front.len() >= HEADER_LEN => {
                        if let Some(bytes) = front.get(..HEADER_LEN) {
                            header.copy_from_slice(bytes);
                        }
                        front.advance(HEADER_LEN);
                        if front.is_empty() {
                            self.pop_front();
                        }
                        self.buffered -= HEADER_LEN;
                    }
                    _ => self.copy_out(&mut header),
                }
                let flag = header[0];
                let compressed = match flag {
                    0 => false,
                    1 => true,
                    other => return Err(DecodeError::InvalidFlag(other)),
                };
                let declared = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
                let len = usize::try_from(declared).unwrap_or(usize::MAX);
                if len > self.limit {
                    return Err(DecodeError::TooLarge {
                        declared: u64::from(declared),
                        limit: self.limit,
                    });
                }
                self.pending = Some((compressed, len));
                (compressed, len)
            }
        };
        if self.buffered < len {
            return Ok(None);
        }
        self.pending = None;
        let payload = self.take(len);
        Ok(Some(Frame {
            compressed,
            payload,
        }))
    }

    /// Whether the next message has fully arrived (so [`decode`](Self::decode)
    /// would return it, or fail on it). Consumes nothing.
    pub fn has_complete(&mut self) -> bool {
        self.seal();
        match self.pending {
            Some((_, len)) => self.buffered >= len,
            None => {
                let mut header = [0u8; HEADER_LEN];
                if !self.peek(&mut header) {
                    return false;
                }
                let declared = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
                // An invalid flag or an oversized length is "complete": decode fails
                // on it at once, without waiting for a body that may never fit.
                let len = usize::try_from(declared).unwrap_or(usize::MAX);
                header[0] > 1 || len > self.limit || self.buffered >= HEADER_LEN + len
            }
        }
    }

    /// Copies the first `dst.len()` buffered bytes without consuming them; false if
    /// fewer are buffered.
    fn peek(&self, dst: &mut [u8]) -> bool {
        if self.buffered < dst.len() {
            return false;
        }
        let mut filled = 0;
        for chunk in self.single.iter().chain(self.chunks.iter()) {
            let n = chunk.len().min(dst.len() - filled);
            if let (Some(to), Some(from)) = (dst.get_mut(filled..filled + n), chunk.get(..n)) {
                to.copy_from_slice(from);
            }
            filled += n;
            if filled == dst.len() {
                break;
            }
        }
        filled == dst.len()
    }

    /// Checks that the stream ended on a message boundary.
    pub fn finish(&self) -> Result<(), DecodeError> {
        let buffered = self.buffered
            + if self.pending.is_some() {
                HEADER_LEN
            } else {
                0
            };
        if buffered == 0 {
            Ok(())
        } else {
            Err(DecodeError::Truncated { buffered })
        }
    }

    fn front_mut(&mut self) -> Option<&mut Bytes> {
        match self.single {
            Some(ref mut b) => Some(b),
            None => self.chunks.front_mut(),
        }
    }

    fn pop_front(&mut self) {
        if self.single.take().is_none() {
            self.chunks.pop_front();
        }
    }

    /// Copies exactly `dst.len()` bytes out of the queue; the caller has checked
    /// that they are buffered.
    fn copy_out(&mut self, dst: &mut [u8]) {
        let mut filled = 0;
        while filled < dst.len() {
            let Some(front) = self.front_mut() else {
                break;
            };
            let n = front.len().min(dst.len() - filled);
            if let (Some(to), Some(from)) = (dst.get_mut(filled..filled + n), front.get(..n)) {
                to.copy_from_slice(from);
            }
            front.advance(n);
            filled += n;
            if front.is_empty() {
                self.pop_front();
            }
        }
        self.buffered -= filled;
    }

    /// Takes `len` buffered bytes; the caller has checked that they are there.
    fn take(&mut self, len: usize) -> Bytes {
        if len == 0 {
            return Bytes::new();
        }
        if let Some(front) = self.front_mut() {
            if front.len() >= len {
                let out = front.split_to(len);
                if front.is_empty() {
                    self.pop_front();
                }
                self.buffered -= len;
                return out;
            }
        }
        let mut out = BytesMut::with_capacity(len);
        while out.len() < len {
            let Some(front) = self.front_mut() else {
                break;
            };
            let n = front.len().min(len - out.len());
            out.extend_from_slice(front.split_to(n).as_ref());
            if front.is_empty() {
                self.pop_front();
            }
        }
        self.buffered -= out.len();
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(compressed: bool, payload: &[u8]) -> Bytes {
        let mut buf = BytesMut::new();
        encode(compressed, payload, &mut buf).unwrap();
        buf.freeze()
    }

    #[test]
    fn whole_message_in_one_chunk_is_not_copied() {
        let body = vec![7u8; 300];
        let chunk = framed(false, &body);
        let mut dec = Decoder::new(1000);
        dec.push(chunk.clone());
        let frame = dec.decode().unwrap().unwrap();
        assert_eq!(&frame.payload[..], &body[..]);
        assert!(!frame.compressed);
        // Same allocation: the payload is a slice of the chunk.
        assert_eq!(frame.payload.as_ptr(), chunk[5..].as_ptr());
        assert_eq!(dec.decode().unwrap(), None);
        dec.finish().unwrap();
    }

    #[test]
    fn has_complete_peeks_without_consuming() {
        let mut dec = Decoder::new(10);
        assert!(!dec.has_complete());
        dec.push(Bytes::from_static(&[0, 0, 0]));
        assert!(!dec.has_complete());
        dec.push(Bytes::from_static(&[0, 2, b'a']));
        assert!(!dec.has_complete());
        dec.push(Bytes::from_static(b"b"));
        assert!(dec.has_complete());
        assert_eq!(dec.buffered(), 7);
        assert_eq!(&dec.decode().unwrap().unwrap().payload[..], b"ab");
        // Oversized or malformed: "complete" so decode can fail at once.
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[0, 0, 0, 0, 11]));
        assert!(dec.has_complete());
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[9, 0, 0, 0, 1]));
        assert!(dec.has_complete());
    }

    #[test]
    fn small_chunks_are_coalesced_in_order() {
        let mut all = BytesMut::new();
        for i in 0..50u8 {
            encode(false, &[i; 3], &mut all).unwrap();
        }
        let all = all.freeze();
        let mut dec = Decoder::new(100);
        // Tiny pushes, with a large one in the middle, before any decode.
        for part in all.slice(..100).chunks(7) {
            dec.push(Bytes::copy_from_slice(part));
        }
        dec.push(all.slice(100..300));
        for part in all.slice(300..).chunks(5) {
            dec.push(Bytes::copy_from_slice(part));
        }
        assert_eq!(dec.buffered(), all.len());
        for i in 0..50u8 {
            assert_eq!(&dec.decode().unwrap().unwrap().payload[..], &[i; 3]);
        }
        assert_eq!(dec.decode().unwrap(), None);
        dec.finish().unwrap();
    }

    #[test]
    fn message_split_at_every_byte() {
        let mut all = BytesMut::new();
        encode(true, b"first", &mut all).unwrap();
        encode(false, b"", &mut all).unwrap();
        encode(false, b"third message", &mut all).unwrap();
        let all = all.freeze();
        for split in 0..all.len() {
            let mut dec = Decoder::new(100);
            let mut got = Vec::new();
            for part in [all.slice(..split), all.slice(split..)] {
                for byte in part.chunks(1) {
                    dec.push(Bytes::copy_from_slice(byte));
                    while let Some(f) = dec.decode().unwrap() {
                        got.push(f);
                    }
                }
            }
            assert_eq!(got.len(), 3, "split at {split}");
            assert!(got[0].compressed);
            assert_eq!(&got[0].payload[..], b"first");
            assert!(got[1].payload.is_empty());
            assert_eq!(&got[2].payload[..], b"third message");
            dec.finish().unwrap();
        }
    }

    #[test]
    fn declared_length_over_limit_fails_before_body_arrives() {
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[0, 0, 0, 0, 11]));
        assert_eq!(
            dec.decode(),
            Err(DecodeError::TooLarge {
                declared: 11,
                limit: 10
            })
        );
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[0, 0xff, 0xff, 0xff, 0xff]));
        assert!(matches!(dec.decode(), Err(DecodeError::TooLarge { .. })));
    }

    #[test]
    fn exactly_at_limit_is_accepted() {
        let mut dec = Decoder::new(3);
        dec.push(framed(false, b"abc"));
        assert_eq!(&dec.decode().unwrap().unwrap().payload[..], b"abc");
    }

    #[test]
    fn invalid_flag() {
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[2, 0, 0, 0, 0]));
        assert_eq!(dec.decode(), Err(DecodeError::InvalidFlag(2)));
    }

    #[test]
    fn truncated_stream() {
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[0, 0, 0]));
        assert_eq!(dec.decode(), Ok(None));
        assert_eq!(dec.finish(), Err(DecodeError::Truncated { buffered: 3 }));
        let mut dec = Decoder::new(10);
        dec.push(Bytes::from_static(&[0, 0, 0, 0, 4, 1]));
        assert_eq!(dec.decode(), Ok(None));
        assert_eq!(dec.finish(), Err(DecodeError::Truncated { buffered: 6 }));
    }

    #[test]
    fn header_encoding_rejects_oversize() {
        assert_eq!(encode_header(false, 0), Some([0, 0, 0, 0, 0]));
        #[cfg(target_pointer_width = "64")]
        assert_eq!(encode_header(false, 1 << 32), None);
    }

    /// Random bytes in random chunks never panic the decoder and never make it hold
    /// more than what was pushed.
    #[test]
    fn random_input_never_panics() {
        let mut rng = crate::test_rng::Rng::new(0x5eed);
        for _ in 0..20_000 {
            let limit = rng.below(64);
            let mut dec = Decoder::new(limit);
            let pushes = rng.below(8);
            for _ in 0..pushes {
                let len = rng.below(16);
                let chunk: Vec<u8> = (0..len).map(|_| rng.byte_biased()).collect();
                dec.push(Bytes::from(chunk));
                let _ = dec.has_complete();
                loop {
                    match dec.decode() {
                        Ok(Some(f)) => assert!(f.payload.len() <= limit),
                        Ok(None) => break,
                        Err(_) => break,
                    }
                }
            }
            let _ = dec.finish();
        }
    }
}
