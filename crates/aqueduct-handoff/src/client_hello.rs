//! Reading a TLS ClientHello without terminating TLS: the server name (SNI)
//! and the ALPN protocols a client asks for, so a front can pick a backend
//! and hand the connection over with the ClientHello unread.
//!
//! Sans I/O, in the style of [`peek`](crate::peek): [`parse`] looks at the
//! bytes read so far and answers [`Progress::Incomplete`] (read at most this
//! many more, then ask again), [`Progress::Complete`] with a [`ClientHello`],
//! or a [`ClientHelloError`] that says what is wrong. It reads the bytes
//! itself, with no TLS library:
//!
//! ```text
//!  record (RFC 8446 5.1)   22 | version 3.x (2) | length (2, 1..=2^14) | fragment
//!  handshake (4)           1 (client_hello) | length (3) | body, over one or more records
//!  body (4.1.2)            legacy_version (2) | random (32) | session_id <0..32>
//!                          | cipher_suites <2..2^16-2> | compression <1..2^8-1>
//!                          | extensions <0..2^16-1> (absent in some TLS 1.2 hellos)
//!  server_name (RFC 6066)  list <1..2^16-1> of { type (1), host_name <1..2^16-1> }
//!  ALPN (RFC 7301)         list <2..2^16-1> of protocol name <1..2^8-1>
//! ```
//!
//! Bounded: a ClientHello and its record headers may take at most
//! [`MAX_LEN`] bytes (16 KiB, what a hand-off can carry as peeked bytes; a
//! real ClientHello is a few hundred bytes to 2 KiB), and
//! `Incomplete { at_most }` never asks for more than that in all. Better: it
//! never asks for a byte past the ClientHello, so a front that reads what it
//! asks consumes nothing the backend's TLS stack should see first. Every
//! length and count is checked against what contains it; no byte of the peer
//! is indexed or unwrapped.
//!
//! Not checked: anything a TLS stack checks anyway (cipher suites, key
//! shares, versions beyond the record's major 3), and what follows the
//! ClientHello.
//!
//! ```
//! use aqueduct_handoff::client_hello::{self, Progress};
//!
//! // A TLS 1.2-style ClientHello with no extensions, in one record.
//! let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x2d, 0x01, 0x00, 0x00, 0x29, 0x03, 0x03];
//! hello.extend([0; 32]); // random
//! hello.extend([0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]); // no session id, one suite, null compression
//!
//! // The rest of the record header, and at least a byte of the record.
//! assert_eq!(client_hello::parse(&hello[..3]), Ok(Progress::Incomplete { at_most: 3 }));
//! // Then the rest of the record.
//! assert_eq!(client_hello::parse(&hello[..6]), Ok(Progress::Incomplete { at_most: 44 }));
//! let Ok(Progress::Complete(parsed)) = client_hello::parse(&hello) else {
//!     panic!("a whole ClientHello");
//! };
//! assert_eq!(parsed.server_name, None);
//! assert_eq!(parsed.len, hello.len());
//! assert!(parsed.allows_protocol(b"h2")); // no ALPN: whatever the server speaks
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::MAX_PEEKED;

/// The most bytes a ClientHello may take, its record headers included: what
/// a hand-off can carry as peeked bytes.
pub const MAX_LEN: usize = MAX_PEEKED;

/// Most records a ClientHello may span. Real clients send it in one (a
/// record holds 16 KiB); the bound keeps [`parse`], which walks the records
/// from the start on every call, linear in what a client sends, however it
/// splits it.
pub const MAX_RECORDS: usize = 16;

/// A TLS record's header: content type, version, length.
const RECORD_HEADER: usize = 5;
/// A handshake message's header: type and a 24-bit length.
const HANDSHAKE_HEADER: usize = 4;
/// The largest record fragment (2^14, RFC 8446 5.1).
const MAX_FRAGMENT: usize = 1 << 14;
/// The record content type of handshake messages.
const HANDSHAKE: u8 = 0x16;
/// The handshake message type of a ClientHello.
const CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
/// The only server name type (RFC 6066 3).
const HOST_NAME: u8 = 0;
/// The longest DNS name, without its trailing dot, and the longest label.
const MAX_HOST_NAME: usize = 253;
const MAX_LABEL: usize = 63;

/// Whether `buf` starts as TLS does: with a handshake record (content type 22).
/// An HTTP/2 client's first byte is `P` (`PRI * HTTP/2.0`).
#[must_use]
pub fn starts_tls(buf: &[u8]) -> bool {
    buf.first() == Some(&HANDSHAKE)
}

/// What [`parse`] made of the bytes so far.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Progress {
    /// The ClientHello goes on: read at most `at_most` more bytes (at least
    /// one), append them, and call [`parse`] again. They all still belong to
    /// the ClientHello, and the buffer with them stays within [`MAX_LEN`].
    Incomplete {
        /// How many more bytes to read at most.
        at_most: usize,
    },
    /// The whole ClientHello.
    Complete(ClientHello),
}

/// What a front routes a TLS connection by, read from its ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientHello {
    /// The `server_name` extension's host name (SNI), lower-cased: ASCII
    /// letters, digits, `-` and `_` in dot-separated labels, no trailing dot.
    /// `None` if the client sent none (as clients that dial an IP address do).
    pub server_name: Option<String>,
    /// The ALPN protocols the client offers, in its order of preference
    /// (`b"h2"`, `b"http/1.1"`), or `None` if it sent no ALPN extension.
    pub alpn: Option<Vec<Vec<u8>>>,
    /// The bytes the ClientHello took, record headers included: the records
    /// it spans end exactly there. Bytes after it are not looked at.
    pub len: usize,
}

impl ClientHello {
    /// Whether the client may speak `protocol` on this connection: it offered
    /// it by ALPN, or it offered no ALPN at all.
    #[must_use]
    pub fn allows_protocol(&self, protocol: &[u8]) -> bool {
        self.alpn
            .as_ref()
            .is_none_or(|offered| offered.iter().any(|p| p == protocol))
    }
}

/// Why bytes are not a ClientHello a front can route by.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientHelloError {
    /// The first record is not a TLS handshake record (content type 22,
    /// version 3.x).
    NotTls,
    /// A record's length is 0 or over 2^14 (a handshake record may not be
    /// empty).
    RecordLength(usize),
    /// A record that is not a handshake record of version 3.x (its content
    /// type) came before the ClientHello ended.
    UnexpectedRecord(u8),
    /// The first handshake message is not a ClientHello (its type).
    NotClientHello(u8),
    /// The ClientHello, with its record headers, would take over [`MAX_LEN`]
    /// bytes.
    TooLarge,
    /// A length that overruns what contains it, a vector of a size the RFCs
    /// forbid, or bytes left over: what was wrong.
    Malformed(&'static str),
    /// An extension (its type) that came twice (RFC 8446 4.2 forbids it).
    DuplicateExtension(u16),
    /// A `server_name` that is not a host name: what is wrong with it.
    BadServerName(&'static str),
}

impl fmt::Display for ClientHelloError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotTls => f.write_str("not a TLS handshake record"),
            Self::RecordLength(len) => write!(f, "a TLS record of {len} bytes"),
            Self::UnexpectedRecord(kind) => {
                write!(
                    f,
                    "a TLS record of type {kind} or not of version 3.x inside the ClientHello"
                )
            }
            Self::NotClientHello(kind) => {
                write!(
                    f,
                    "the first handshake message is of type {kind}, not ClientHello"
                )
            }
            Self::TooLarge => write!(f, "the ClientHello is over {MAX_LEN} bytes"),
            Self::Malformed(what) => write!(f, "malformed ClientHello: {what}"),
            Self::DuplicateExtension(kind) => write!(f, "ClientHello extension {kind} twice"),
            Self::BadServerName(what) => write!(f, "bad server_name: {what}"),
        }
    }
}

impl std::error::Error for ClientHelloError {}

/// Looks at `buf`, a connection's first bytes: more needed, the ClientHello,
/// or why it is not one. Pure: the same bytes give the same answer, and
/// bytes after a complete ClientHello are ignored.
pub fn parse(buf: &[u8]) -> Result<Progress, ClientHelloError> {
    // The end of the complete records so far, and the handshake bytes they
    // carry.
    let mut at = 0;
    let mut carried = 0;
    // The handshake message's length with its header, once known; its
    // header, gathered until whole (records may carry a byte each).
    let mut message_len = None;
    let mut header = [0u8; HANDSHAKE_HEADER];
    let mut records = 0;
    loop {
        if message_len == Some(carried) {
            return complete(buf, at, carried).map(Progress::Complete);
        }
        records += 1;
        if records > MAX_RECORDS {
            return Err(ClientHelloError::Malformed(
                "the ClientHello spans too many records",
            ));
        }
        let record = buf.get(at..).unwrap_or_default();
        let Some((len, fragment)) = record_at(record, at == 0)? else {
            // A partial header: the rest of it, then what the message still
            // takes (at least a byte if its length is not known yet: records
            // are never empty) would fit one more record.
            let have = record.len();
            let left = message_len.map_or(1, |total: usize| total - carried);
            return incomplete(at + have, RECORD_HEADER - have + left);
        };
        let end = at + RECORD_HEADER + len;
        // Check the bound before waiting for a record that cannot fit.
        if end > MAX_LEN {
            return Err(ClientHelloError::TooLarge);
        }
        // The handshake header, from the first bytes of the fragments.
        for (slot, &byte) in header.iter_mut().skip(carried).zip(fragment) {
            *slot = byte;
        }
        if carried == 0 {
            if let Some(&kind) = fragment.first() {
                if kind != CLIENT_HELLO {
                    return Err(ClientHelloError::NotClientHello(kind));
                }
            }
        }
        if message_len.is_none() && carried + fragment.len() >= HANDSHAKE_HEADER {
            let [_, l0, l1, l2] = header;
            let body = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            let total = HANDSHAKE_HEADER + body;
            // The rest of the message takes this record's header at least.
            if at + RECORD_HEADER + (total - carried) > MAX_LEN {
                return Err(ClientHelloError::TooLarge);
            }
            message_len = Some(total);
        }
        if let Some(total) = message_len {
            if carried + len > total {
                return Err(ClientHelloError::Malformed(
                    "a record goes on past the ClientHello",
                ));
            }
        }
        if fragment.len() < len {
            return incomplete(buf.len(), len - fragment.len());
        }
        carried += len;
        at = end;
    }
}

/// `Incomplete { at_most }` for a buffer of `have` bytes, unless even that
/// would pass the bound.
fn incomplete(have: usize, at_most: usize) -> Result<Progress, ClientHelloError> {
    if have + at_most > MAX_LEN {
        Err(ClientHelloError::TooLarge)
    } else {
        Ok(Progress::Incomplete { at_most })
    }
}

/// The record at the start of `record`: `None` while its header is partial
/// (after checking the bytes there are), else its fragment's length and as
/// much of the fragment as is there.
fn record_at(record: &[u8], first: bool) -> Result<Option<(usize, &[u8])>, ClientHelloError> {
    let wrong_record = |kind| {
        if first {
            ClientHelloError::NotTls
        } else {
            ClientHelloError::UnexpectedRecord(kind)
        }
    };
    if let Some(&kind) = record.first() {
        if kind != HANDSHAKE {
            return Err(wrong_record(kind));
        }
    }
    if let Some(&major) = record.get(1) {
        if major != 3 {
            return Err(wrong_record(HANDSHAKE));
        }
    }
    let Some(&[_, _, _, l0, l1]) = record.get(..RECORD_HEADER) else {
        return Ok(None);
    };
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len == 0 || len > MAX_FRAGMENT {
        return Err(ClientHelloError::RecordLength(len));
    }
    let after = record.get(RECORD_HEADER..).unwrap_or_default();
    Ok(Some((len, after.get(..len).unwrap_or(after))))
}

/// Parses the ClientHello whose `total` handshake bytes are carried by the
/// records in `buf[..end]`.
fn complete(buf: &[u8], end: usize, total: usize) -> Result<ClientHello, ClientHelloError> {
    let records = buf.get(..end).unwrap_or_default();
    let message = handshake_bytes(records, total);
    let mut message = Reader(&message);
    // Checked as the records came in: type 1 and this length.
    message.take(HANDSHAKE_HEADER, "the handshake header")?;
    let (server_name, alpn) = body(message)?;
    Ok(ClientHello {
        server_name,
        alpn,
        len: end,
    })
}

/// The handshake bytes the (complete, checked) records in `records` carry:
/// borrowed when one record holds them all, as it nearly always does.
fn handshake_bytes(records: &[u8], total: usize) -> Cow<'_, [u8]> {
    let mut rest = records;
    let mut fragments = Vec::new();
    while let Some(&[_, _, _, l0, l1]) = rest.get(..RECORD_HEADER) {
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let after = rest.get(RECORD_HEADER..).unwrap_or_default();
        let (fragment, next) = after.split_at_checked(len).unwrap_or((after, &[]));
        fragments.push(fragment);
        rest = next;
    }
    match fragments.as_slice() {
        [one] => Cow::Borrowed(one),
        many => {
            let mut joined = Vec::with_capacity(total);
            for fragment in many {
                joined.extend_from_slice(fragment);
            }
            Cow::Owned(joined)
        }
    }
}

/// The ClientHello's body: its server name and ALPN list.
type Routed = (Option<String>, Option<Vec<Vec<u8>>>);

fn body(mut r: Reader<'_>) -> Result<Routed, ClientHelloError> {
    let [major, _] = r.array("legacy_version")?;
    if major != 3 {
        return Err(ClientHelloError::Malformed("legacy_version is not 3.x"));
    }
    r.take(32, "random")?;
    let session_id = r.vec_u8("legacy_session_id")?;
    if session_id.0.len() > 32 {
        return Err(ClientHelloError::Malformed(
            "legacy_session_id over 32 bytes",
        ));
    }
    let suites = r.vec_u16("cipher_suites")?;
    if suites.0.is_empty() || suites.0.len() % 2 != 0 {
        return Err(ClientHelloError::Malformed(
            "cipher_suites of odd or no length",
        ));
    }
    if r.vec_u8("legacy_compression_methods")?.0.is_empty() {
        return Err(ClientHelloError::Malformed("no compression method"));
    }
    // TLS 1.2 allows a ClientHello to end here, without extensions.
    if r.0.is_empty() {
        return Ok((None, None));
    }
    let mut extensions = r.vec_u16("extensions")?;
    r.end("bytes after the extensions")?;
    let mut seen = Vec::new();
    let mut server_name = None;
    let mut alpn = None;
    while !extensions.0.is_empty() {
        let kind = u16::from_be_bytes(extensions.array("an extension type")?);
        let data = extensions.vec_u16("an extension")?;
        seen.push(kind);
        match kind {
            EXT_SERVER_NAME => server_name = host_name(data)?,
            EXT_ALPN => alpn = Some(protocols(data)?),
            _ => {}
        }
    }
    seen.sort_unstable();
    if let Some(pair) = seen.windows(2).find(|pair| pair.first() == pair.last()) {
        let kind = pair.first().copied().unwrap_or_default();
        return Err(ClientHelloError::DuplicateExtension(kind));
    }
    Ok((server_name, alpn))
}

/// The `server_name` extension's host name (RFC 6066 3): other name types
/// are skipped (none is defined; each would carry a 16-bit length, as
/// host_name does), two host names are an error.
fn host_name(mut data: Reader<'_>) -> Result<Option<String>, ClientHelloError> {
    let mut list = data.vec_u16("server_name_list")?;
    data.end("bytes after the server_name_list")?;
    if list.0.is_empty() {
        return Err(ClientHelloError::Malformed("an empty server_name_list"));
    }
    let mut found = None;
    while !list.0.is_empty() {
        let [kind] = list.array("a server name type")?;
        let name = list.vec_u16("a server name")?;
        if kind != HOST_NAME {
            continue;
        }
        if found.is_some() {
            return Err(ClientHelloError::BadServerName("two host names"));
        }
        found = Some(valid_host_name(name.0)?);
    }
    Ok(found)
}

/// `raw`, lower-cased, if it is a host name: dot-separated labels of ASCII
/// letters, digits, `-` and `_` (some internal names use it), none empty, so
/// no trailing dot (RFC 6066 forbids it).
fn valid_host_name(raw: &[u8]) -> Result<String, ClientHelloError> {
    if raw.is_empty() {
        return Err(ClientHelloError::BadServerName("empty"));
    }
    if !raw.is_ascii() {
        return Err(ClientHelloError::BadServerName("not ASCII"));
    }
    if raw.len() > MAX_HOST_NAME {
        return Err(ClientHelloError::BadServerName("over 253 bytes"));
    }
    for label in raw.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(ClientHelloError::BadServerName("an empty label"));
        }
        if label.len() > MAX_LABEL {
            return Err(ClientHelloError::BadServerName("a label over 63 bytes"));
        }
        let allowed = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_';
        if !label.iter().all(allowed) {
            return Err(ClientHelloError::BadServerName(
                "a character other than a letter, digit, '-', '_' or '.'",
            ));
        }
    }
    Ok(raw
        .iter()
        .map(|&b| char::from(b.to_ascii_lowercase()))
        .collect())
}

/// The ALPN extension's protocol names (RFC 7301 3.1): at least one, none
/// empty.
fn protocols(mut data: Reader<'_>) -> Result<Vec<Vec<u8>>, ClientHelloError> {
    let mut list = data.vec_u16("protocol_name_list")?;
    data.end("bytes after the protocol_name_list")?;
    if list.0.is_empty() {
        return Err(ClientHelloError::Malformed("an empty protocol_name_list"));
    }
    let mut names = Vec::new();
    while !list.0.is_empty() {
        let name = list.vec_u8("a protocol name")?;
        if name.0.is_empty() {
            return Err(ClientHelloError::Malformed("an empty protocol name"));
        }
        names.push(name.0.to_vec());
    }
    Ok(names)
}

/// Reads peer bytes front to back: every read is checked against what is
/// left, and fails with what was being read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], ClientHelloError> {
        let (taken, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(ClientHelloError::Malformed(what))?;
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], ClientHelloError> {
        self.take(N, what)?
            .try_into()
            .map_err(|_| ClientHelloError::Malformed(what))
    }

    /// A vector with a one-byte length.
    fn vec_u8(&mut self, what: &'static str) -> Result<Reader<'a>, ClientHelloError> {
        let [len] = self.array(what)?;
        self.take(usize::from(len), what).map(Reader)
    }

    /// A vector with a two-byte length.
    fn vec_u16(&mut self, what: &'static str) -> Result<Reader<'a>, ClientHelloError> {
        let len = u16::from_be_bytes(self.array(what)?);
        self.take(usize::from(len), what).map(Reader)
    }

    fn end(&self, what: &'static str) -> Result<(), ClientHelloError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ClientHelloError::Malformed(what))
        }
    }
}

#[cfg(test)]
mod tests;
