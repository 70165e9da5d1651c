//! The HPACK encoder (RFC 7541 §4.2, §6).

use std::fmt;

use super::table::{Match, Table, entry_size};
use super::{DEFAULT_TABLE_SIZE, huffman};

/// One header field to encode.
///
/// ```
/// use aqueduct_http2::hpack::Field;
///
/// let plain = Field::new(b"content-type", b"application/grpc");
/// let secret = Field::sensitive(b"authorization", b"Bearer x");
/// assert!(!plain.is_sensitive() && secret.is_sensitive());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    name: &'a [u8],
    value: &'a [u8],
    sensitive: bool,
}

impl<'a> Field<'a> {
    /// A field the encoder may add to its dynamic table.
    pub fn new(name: &'a [u8], value: &'a [u8]) -> Self {
        Self {
            name,
            value,
            sensitive: false,
        }
    }

    /// A field sent as a never-indexed literal (§6.2.3), so no table on the
    /// way keeps it (credentials, short secrets that compression could leak).
    pub fn sensitive(name: &'a [u8], value: &'a [u8]) -> Self {
        Self {
            name,
            value,
            sensitive: true,
        }
    }

    /// The field name.
    pub fn name(&self) -> &'a [u8] {
        self.name
    }

    /// The field value.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Whether the field is sent never-indexed.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive
    }
}

impl fmt::Debug for Field<'_> {
    /// Shows the name; the value only when the field is not sensitive, so
    /// credentials do not reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Field");
        d.field("name", &String::from_utf8_lossy(self.name));
        if self.sensitive {
            d.field("value", &"<sensitive>");
        } else {
            d.field("value", &String::from_utf8_lossy(self.value));
        }
        d.field("sensitive", &self.sensitive).finish()
    }
}

impl<'a> From<(&'a [u8], &'a [u8])> for Field<'a> {
    fn from((name, value): (&'a [u8], &'a [u8])) -> Self {
        Self::new(name, value)
    }
}

/// Names whose values change on nearly every message: adding them to the
/// table would only evict entries that repeat.
const NOT_INDEXED: [&[u8]; 2] = [b"content-length", b"grpc-timeout"];

/// Encodes header blocks, keeping the dynamic table between them.
///
/// One per connection direction, fed the blocks in the order they are
/// sent. Its choices, per field:
///
/// 1. a full match in the static, then the dynamic table: one index;
/// 2. sensitive fields: never-indexed literal (name by index when known);
/// 3. otherwise a literal with incremental indexing, so the next identical
///    field is one byte, except for names whose values rarely repeat
///    (`content-length`, `grpc-timeout`: literal without indexing, once
///    the name itself is in a table)
///    and entries above 3/4 of the table, which would flush it;
/// 4. strings Huffman-coded unless that is longer.
///
/// So after the first response on a connection, `:status: 200` is 1 byte
/// (static) and `content-type: application/grpc`, `grpc-status: 0`,
/// `grpc-encoding`, `grpc-accept-encoding`, `grpc-message` with a value
/// seen before are one byte each (dynamic).
///
/// The table is `min(peer's SETTINGS_HEADER_TABLE_SIZE, our cap)`: see
/// [`Encoder::with_table_size_cap`].
///
/// ```
/// use aqueduct_http2::hpack::{Encoder, Field};
///
/// let mut encoder = Encoder::new();
/// let response = [
///     Field::new(b":status", b"200"),
///     Field::new(b"content-type", b"application/grpc"),
/// ];
/// let mut first = Vec::new();
/// encoder.encode(response, &mut first);
/// let mut second = Vec::new();
/// encoder.encode(response, &mut second);
/// assert_eq!(second.len(), 2);
/// ```
#[derive(Clone)]
pub struct Encoder {
    table: Table,
    /// The most we use, whatever the peer allows (memory per connection).
    cap: usize,
    /// Size updates owed at the start of the next block: the smallest
    /// maximum since the last block, and the final one (RFC 7541 §4.2).
    pending: Option<(usize, usize)>,
}

impl fmt::Debug for Encoder {
    /// Sizes only: the table holds header values, which may be private.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoder")
            .field("table_size", &self.table_size())
            .field("cap", &self.cap)
            .field("pending_update", &self.pending)
            .finish_non_exhaustive()
    }
}

impl Default for Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Encoder {
    /// An encoder for a peer with the default `SETTINGS_HEADER_TABLE_SIZE`
    /// (4,096), capped at 4,096.
    ///
    /// ```
    /// let encoder = aqueduct_http2::hpack::Encoder::new();
    /// assert_eq!(encoder.table_size(), 4096);
    /// ```
    pub fn new() -> Self {
        Self::with_table_size_cap(DEFAULT_TABLE_SIZE)
    }

    /// An encoder that never uses more than `cap` bytes of table, even if
    /// the peer allows more. A cap below 4,096 is announced with a size
    /// update in the first block.
    ///
    /// ```
    /// let encoder = aqueduct_http2::hpack::Encoder::with_table_size_cap(0);
    /// assert_eq!(encoder.table_size(), 0);
    /// ```
    pub fn with_table_size_cap(cap: usize) -> Self {
        let mut encoder = Self {
            table: Table::new(DEFAULT_TABLE_SIZE),
            cap,
            pending: None,
        };
        encoder.set_max_table_size(DEFAULT_TABLE_SIZE);
        encoder
    }

    /// The table size in use (or owed, when an update is pending).
    ///
    /// ```
    /// # let mut encoder = aqueduct_http2::hpack::Encoder::new();
    /// encoder.set_max_table_size(100);
    /// assert_eq!(encoder.table_size(), 100);
    /// ```
    pub fn table_size(&self) -> usize {
        self.pending.map_or(self.table.max_size(), |(_, last)| last)
    }

    /// Applies the peer's `SETTINGS_HEADER_TABLE_SIZE` (when its SETTINGS
    /// frame arrives). The size update it calls for is written at the start
    /// of the next block.
    ///
    /// ```
    /// use aqueduct_http2::hpack::{Encoder, Field};
    ///
    /// let mut encoder = Encoder::new();
    /// encoder.set_max_table_size(0);
    /// let mut block = Vec::new();
    /// encoder.encode([Field::new(b":status", b"200")], &mut block);
    /// assert_eq!(block, [0x20, 0x88]);
    /// ```
    pub fn set_max_table_size(&mut self, peer_max: usize) {
        let size = peer_max.min(self.cap);
        let current = self.table_size();
        if size == current && self.pending.is_none() {
            return;
        }
        let low = self.pending.map_or(current, |(low, _)| low).min(size);
        self.pending = Some((low, size));
    }

    /// Appends one header block with `fields`, in order, to `dst`.
    pub fn encode<'a>(&mut self, fields: impl IntoIterator<Item = Field<'a>>, dst: &mut Vec<u8>) {
        if let Some((low, last)) = self.pending.take() {
            if low < last {
                int(dst, low, 5, 0x20);
                self.table.set_max_size(low);
            }
            int(dst, last, 5, 0x20);
            self.table.set_max_size(last);
        }
        for field in fields {
            self.field(field, dst);
        }
    }

    fn field(&mut self, field: Field<'_>, dst: &mut Vec<u8>) {
        let (name, value) = (field.name, field.value);
        let found = self.table.find(name, value);
        if field.sensitive {
            let index = match found {
                Match::Full(i) | Match::Name(i) => i,
                Match::None => 0,
            };
            return literal(dst, index, name, value, 4, 0x10);
        }
        let index = match found {
            Match::Full(i) => return int(dst, i, 7, 0x80),
            Match::Name(i) => i,
            Match::None => 0,
        };
        let size = entry_size(name, value);
        // A name that is not worth indexing is still indexed once when the
        // tables lack it (`grpc-timeout`), so later values carry only the
        // name's index.
        let churns = NOT_INDEXED.contains(&name) && index != 0;
        if churns || size > self.table.max_size() / 4 * 3 {
            return literal(dst, index, name, value, 4, 0x00);
        }
        literal(dst, index, name, value, 6, 0x40);
        self.table.insert(name.into(), value.into());
    }
}

/// A literal field (§6.2): the name by `index`, or as a string when 0.
fn literal(dst: &mut Vec<u8>, index: usize, name: &[u8], value: &[u8], prefix: u8, flags: u8) {
    int(dst, index, prefix, flags);
    if index == 0 {
        string(dst, name);
    }
    string(dst, value);
}

/// A string literal (§5.2), Huffman-coded unless that is longer.
fn string(dst: &mut Vec<u8>, s: &[u8]) {
    let huff_len = huffman::encoded_len(s);
    // Huffman on a tie too, as RFC 7541 Appendix C does ("307").
    if huff_len <= s.len() {
        int(dst, huff_len, 7, 0x80);
        huffman::encode(s, dst);
    } else {
        int(dst, s.len(), 7, 0x00);
        dst.extend_from_slice(s);
    }
}

/// An integer with a `prefix`-bit prefix (§5.1), `flags` in the bits above.
pub(super) fn int(dst: &mut Vec<u8>, value: usize, prefix: u8, flags: u8) {
    let mask = (1usize << prefix) - 1;
    if value < mask {
        dst.push(flags | value as u8);
        return;
    }
    dst.push(flags | mask as u8);
    let mut rest = value - mask;
    while rest >= 0x80 {
        dst.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    dst.push(rest as u8);
}
