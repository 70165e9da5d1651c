//! The hand-off message format, sans I/O: what travels next to the file
//! descriptors. Every length read from the peer is bounded before it is used.
//!
//! ```text
//!  header (8 bytes)                         payload (len bytes)
//!  "AQH1" | kind u8 | fds u8 | len u16 LE | connection: local addr, peer addr, u16 n, n peeked bytes
//!                                          |   (kind 1, or kind 4: the sender wrote the HTTP/2 server preface)
//!                                          | listener / file: u16 n, n bytes of UTF-8 name
//!  addr: 4 | 4 bytes ip | u16 port   or   6 | 16 bytes ip | u16 port | u32 scope id
//! ```
//!
//! Each message carries exactly one descriptor, sent with the message's first
//! byte.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Magic and version: a peer speaking anything else is refused at once.
const MAGIC: &[u8; 4] = b"AQH1";
/// Header length.
pub(crate) const HEADER: usize = 8;
/// Largest payload (the `len` field is a `u16`).
pub(crate) const MAX_PAYLOAD: usize = u16::MAX as usize;
/// Most peeked bytes a connection may carry.
pub const MAX_PEEKED: usize = 16 * 1024;
/// Longest name of a listener or file, in bytes.
pub const MAX_NAME: usize = 1024;
/// Descriptors per message.
pub(crate) const FDS_PER_MESSAGE: usize = 1;

const KIND_CONNECTION: u8 = 1;
const KIND_LISTENER: u8 = 2;
const KIND_FILE: u8 = 3;
/// A connection the sender already wrote the HTTP/2 server preface to
/// (`preface::SERVER_PREFACE`): the client's ACK of it is still to come.
const KIND_CONNECTION_PREFACED: u8 = 4;

/// A message without its descriptor, borrowing its bytes: from the caller
/// when sending, from the receive buffer when decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame<'a> {
    /// A connected TCP socket, the bytes already read from it, its addresses.
    Connection {
        local: SocketAddr,
        peer: SocketAddr,
        peeked: &'a [u8],
        /// The sender wrote the server preface to the client.
        preface_sent: bool,
    },
    /// A listening socket, by name.
    Listener { name: &'a str },
    /// Any file, by name.
    File { name: &'a str },
}

/// A malformed message. The channel it came on is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// The first bytes are not this protocol's.
    BadMagic,
    /// A message kind this version does not know.
    UnknownKind(u8),
    /// A message declared a number of descriptors other than one.
    BadDescriptorCount(u8),
    /// A length in the message is over its bound, or runs past the payload.
    BadLength(&'static str),
    /// An address family other than IPv4 or IPv6.
    BadAddressFamily(u8),
    /// A name that is not UTF-8.
    BadName,
    /// Bytes left over after the fields of the payload.
    TrailingBytes,
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => f.write_str("not a hand-off message (bad magic)"),
            Self::UnknownKind(k) => write!(f, "unknown hand-off message kind {k}"),
            Self::BadDescriptorCount(n) => {
                write!(f, "a hand-off message declared {n} descriptors; expected 1")
            }
            Self::BadLength(what) => write!(f, "hand-off message: {what} is out of bounds"),
            Self::BadAddressFamily(fam) => write!(f, "hand-off message: address family {fam}"),
            Self::BadName => f.write_str("hand-off message: name is not UTF-8"),
            Self::TrailingBytes => f.write_str("hand-off message: bytes after the payload"),
        }
    }
}

impl std::error::Error for WireError {}

/// Encodes `frame` for sending. Panics never; fails if a field is over its bound.
pub(crate) fn encode(frame: &Frame<'_>) -> Result<Vec<u8>, WireError> {
    let mut payload = Vec::new();
    let kind = match frame {
        Frame::Connection {
            local,
            peer,
            peeked,
            preface_sent,
        } => {
            if peeked.len() > MAX_PEEKED {
                return Err(WireError::BadLength("peeked bytes"));
            }
            put_addr(&mut payload, local);
            put_addr(&mut payload, peer);
            put_bytes(&mut payload, peeked);
            if *preface_sent {
                KIND_CONNECTION_PREFACED
            } else {
                KIND_CONNECTION
            }
        }
        Frame::Listener { name } | Frame::File { name } => {
            if name.len() > MAX_NAME {
                return Err(WireError::BadLength("name"));
            }
            put_bytes(&mut payload, name.as_bytes());
            if matches!(frame, Frame::Listener { .. }) {
                KIND_LISTENER
            } else {
                KIND_FILE
            }
        }
    };
    let len = u16::try_from(payload.len()).map_err(|_| WireError::BadLength("payload"))?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(kind);
    out.push(FDS_PER_MESSAGE as u8);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Callers bound the length to well under u16::MAX.
    out.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn put_addr(out: &mut Vec<u8>, addr: &SocketAddr) {
    match addr {
        SocketAddr::V4(a) => {
            out.push(4);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_le_bytes());
        }
        SocketAddr::V6(a) => {
            out.push(6);
            out.extend_from_slice(&a.ip().octets());
            out.extend_from_slice(&a.port().to_le_bytes());
            out.extend_from_slice(&a.scope_id().to_le_bytes());
        }
    }
}

/// Decodes one message from the front of `buf`: `Ok(None)` if more bytes are
/// needed, else the frame and how many bytes it took. Never reads past
/// `buf`, never allocates more than the bounded payload.
pub(crate) fn decode(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, WireError> {
    // Check the magic as soon as its bytes are in, so garbage fails fast.
    let magic_seen = buf.len().min(MAGIC.len());
    if buf.get(..magic_seen) != MAGIC.get(..magic_seen) {
        return Err(WireError::BadMagic);
    }
    let Some(header) = buf.get(..HEADER) else {
        return Ok(None);
    };
    let mut r = Reader(header.get(4..).unwrap_or_default());
    let kind = r.u8()?;
    let fds = r.u8()?;
    let len = usize::from(r.u16()?);
    if !matches!(
        kind,
        KIND_CONNECTION | KIND_CONNECTION_PREFACED | KIND_LISTENER | KIND_FILE
    ) {
        return Err(WireError::UnknownKind(kind));
    }
    if usize::from(fds) != FDS_PER_MESSAGE {
        return Err(WireError::BadDescriptorCount(fds));
    }
    let Some(payload) = buf.get(HEADER..HEADER + len) else {
        return Ok(None);
    };
    let mut r = Reader(payload);
    let frame = match kind {
        KIND_CONNECTION | KIND_CONNECTION_PREFACED => {
            let local = r.addr()?;
            let peer = r.addr()?;
            let peeked = r.bytes("peeked bytes", MAX_PEEKED)?;
            Frame::Connection {
                local,
                peer,
                peeked,
                preface_sent: kind == KIND_CONNECTION_PREFACED,
            }
        }
        _ => {
            let name =
                std::str::from_utf8(r.bytes("name", MAX_NAME)?).map_err(|_| WireError::BadName)?;
            if kind == KIND_LISTENER {
                Frame::Listener { name }
            } else {
                Frame::File { name }
            }
        }
    };
    if !r.0.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(Some((frame, HEADER + len)))
}

/// Reads fields off the front of a slice, failing instead of running past it.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if n > self.0.len() {
            return Err(WireError::BadLength(what));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], WireError> {
        let bytes = self.take(N, what)?;
        let mut out = [0; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>("header")?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(u16::from_le_bytes(self.array("u16")?))
    }

    fn bytes(&mut self, what: &'static str, max: usize) -> Result<&'a [u8], WireError> {
        let n = usize::from(self.u16()?);
        if n > max {
            return Err(WireError::BadLength(what));
        }
        self.take(n, what)
    }

    fn addr(&mut self) -> Result<SocketAddr, WireError> {
        match self.u8()? {
            4 => {
                let ip = Ipv4Addr::from(self.array::<4>("address")?);
                let port = self.u16()?;
                Ok(SocketAddr::V4(SocketAddrV4::new(ip, port)))
            }
            6 => {
                let ip = Ipv6Addr::from(self.array::<16>("address")?);
                let port = self.u16()?;
                let scope = u32::from_le_bytes(self.array("scope id")?);
                Ok(SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope)))
            }
            other => Err(WireError::BadAddressFamily(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::testing::XorShift;

    fn frames() -> Vec<Frame<'static>> {
        vec![
            Frame::Connection {
                local: "127.0.0.1:50051".parse().unwrap(),
                peer: "[::1%3]:40000".parse().unwrap(),
                peeked: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
                preface_sent: false,
            },
            Frame::Connection {
                local: "10.0.0.1:443".parse().unwrap(),
                peer: "10.0.0.2:40000".parse().unwrap(),
                peeked: b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\x01\0\0\0\0",
                preface_sent: true,
            },
            Frame::Listener { name: "grpc" },
            Frame::File { name: "state.json" },
        ]
    }

    #[test]
    fn frames_round_trip_and_wait_for_every_byte() {
        for frame in frames() {
            let bytes = encode(&frame).unwrap();
            for cut in 0..bytes.len() {
                assert_eq!(decode(&bytes[..cut]), Ok(None), "{frame:?} cut at {cut}");
            }
            let mut two = bytes.clone();
            two.extend_from_slice(&bytes);
            assert_eq!(decode(&two), Ok(Some((frame.clone(), bytes.len()))));
        }
    }

    #[test]
    fn over_bound_fields_are_refused_both_ways() {
        let big = Frame::Connection {
            local: "127.0.0.1:1".parse().unwrap(),
            peer: "127.0.0.1:2".parse().unwrap(),
            peeked: &[0; MAX_PEEKED + 1],
            preface_sent: false,
        };
        assert_eq!(encode(&big), Err(WireError::BadLength("peeked bytes")));
        let mut forged = encode(&Frame::File { name: "x" }).unwrap();
        forged[8..10].copy_from_slice(&(MAX_NAME as u16 + 1).to_le_bytes());
        forged[6..8].copy_from_slice(&(MAX_NAME as u16 + 3).to_le_bytes());
        forged.resize(HEADER + MAX_NAME + 3, b'a');
        assert_eq!(decode(&forged), Err(WireError::BadLength("name")));
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(decode(b"GET / HTTP/1.1\r\n"), Err(WireError::BadMagic));
        assert_eq!(decode(b"AQX"), Err(WireError::BadMagic));
        assert_eq!(
            decode(b"AQH1\x09\x01\x00\x00"),
            Err(WireError::UnknownKind(9))
        );
        assert_eq!(
            decode(b"AQH1\x03\x02\x00\x00"),
            Err(WireError::BadDescriptorCount(2))
        );
        assert_eq!(
            decode(b"AQH1\x03\x01\x04\x00\x01\x00ab"),
            Err(WireError::TrailingBytes)
        );
        assert_eq!(
            decode(b"AQH1\x03\x01\x03\x00\x01\x00\xff"),
            Err(WireError::BadName)
        );
        assert_eq!(
            decode(b"AQH1\x01\x01\x01\x00\x05"),
            Err(WireError::BadAddressFamily(5))
        );
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let valid: Vec<Vec<u8>> = frames().iter().map(|f| encode(f).unwrap()).collect();
        for round in 0..20_000 {
            let mut bytes = if round % 2 == 0 {
                // Valid messages with bytes flipped, cut or appended.
                let mut b = valid[(rng.next() as usize) % valid.len()].clone();
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() as usize) % b.len();
                    b[at] = rng.next() as u8;
                }
                b.truncate((rng.next() as usize) % (b.len() + 1));
                b
            } else {
                // Anything, behind the magic.
                let mut b = MAGIC.to_vec();
                let n = (rng.next() % 96) as usize;
                b.extend((0..n).map(|_| rng.next() as u8));
                b
            };
            if round % 7 == 0 {
                bytes.extend_from_slice(&valid[0]);
            }
            if let Ok(Some((_, used))) = decode(&bytes) {
                assert!(used <= bytes.len());
            }
        }
    }
}
