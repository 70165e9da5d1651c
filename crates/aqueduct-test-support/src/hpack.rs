//! A tiny HPACK (RFC 7541) encoder for request header blocks: indexed
//! fields, literals in each of their three forms, table size updates, and
//! raw bytes for blocks no encoder would make. Strings are never
//! Huffman-coded, and the encoder keeps no dynamic table: a test that adds
//! entries ([`HeaderBlock::literal_with_indexing`]) counts its own indexes.

use bytes::Bytes;

/// Static table indexes (RFC 7541, Appendix A) a request block uses.
pub mod index {
    /// `:authority` (name only).
    pub const AUTHORITY: u32 = 1;
    /// `:method: GET`.
    pub const METHOD_GET: u32 = 2;
    /// `:method: POST`.
    pub const METHOD_POST: u32 = 3;
    /// `:path: /` (or the name `:path`).
    pub const PATH: u32 = 4;
    /// `:scheme: http`.
    pub const SCHEME_HTTP: u32 = 6;
    /// `:scheme: https`.
    pub const SCHEME_HTTPS: u32 = 7;
    /// `:status: 200`.
    pub const STATUS_200: u32 = 8;
    /// `content-type` (name only).
    pub const CONTENT_TYPE: u32 = 31;
    /// `user-agent` (name only).
    pub const USER_AGENT: u32 = 58;
}

/// An HPACK header block, built one field representation per call.
///
/// ```
/// use aqueduct_test_support::hpack::{HeaderBlock, index};
///
/// let block = HeaderBlock::new()
///     .indexed(index::METHOD_POST)
///     .literal_name_indexed(index::PATH, "/sample/path")
///     .literal("te", "trailers");
/// assert_eq!(&block.as_bytes()[..4], &[0x83, 0x04, 0x0c, b'/']);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct HeaderBlock {
    bytes: Vec<u8>,
}

impl HeaderBlock {
    /// An empty block.
    pub fn new() -> Self {
        Self::default()
    }

    /// An indexed field (§6.1): the table entry at `index`, name and value.
    pub fn indexed(mut self, index: u32) -> Self {
        integer(&mut self.bytes, 0x80, 7, index);
        self
    }

    /// A literal field without indexing (§6.2.2), its name a literal too:
    /// what a test sends for a field the static table does not name.
    pub fn literal(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.bytes.push(0x00);
        string(&mut self.bytes, name.as_ref());
        string(&mut self.bytes, value.as_ref());
        self
    }

    /// A literal field without indexing whose name is the table entry at
    /// `index` (§6.2.2).
    pub fn literal_name_indexed(mut self, index: u32, value: impl AsRef<[u8]>) -> Self {
        integer(&mut self.bytes, 0x00, 4, index);
        string(&mut self.bytes, value.as_ref());
        self
    }

    /// A literal field with incremental indexing (§6.2.1), new name: the
    /// decoder adds it to its dynamic table, at index 62.
    pub fn literal_with_indexing(
        mut self,
        name: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Self {
        self.bytes.push(0x40);
        string(&mut self.bytes, name.as_ref());
        string(&mut self.bytes, value.as_ref());
        self
    }

    /// A literal field never indexed (§6.2.3), new name.
    pub fn never_indexed(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.bytes.push(0x10);
        string(&mut self.bytes, name.as_ref());
        string(&mut self.bytes, value.as_ref());
        self
    }

    /// A dynamic table size update (§6.3).
    pub fn table_size_update(mut self, size: u32) -> Self {
        integer(&mut self.bytes, 0x20, 5, size);
        self
    }

    /// Any bytes, as they are: a truncated integer, a Huffman string with bad
    /// padding, an index past both tables.
    pub fn raw(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.bytes.extend_from_slice(bytes.as_ref());
        self
    }

    /// The block's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The block's bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        Bytes::from(self.bytes)
    }
}

impl AsRef<[u8]> for HeaderBlock {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Raw bytes as a header block, for blocks built by hand.
impl From<Vec<u8>> for HeaderBlock {
    fn from(bytes: Vec<u8>) -> Self {
        Self { bytes }
    }
}

/// Raw bytes as a header block, for blocks built by hand.
impl From<&[u8]> for HeaderBlock {
    fn from(bytes: &[u8]) -> Self {
        Self::new().raw(bytes)
    }
}

/// An integer with an N-bit prefix (§5.1), the prefix's other bits `first`.
fn integer(out: &mut Vec<u8>, first: u8, prefix_bits: u8, value: u32) {
    let max = (1u32 << prefix_bits) - 1;
    if value < max {
        // Fits the prefix: `value < max <= 127`, so the cast keeps it whole.
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.push(0x80 | (rest & 0x7f) as u8);
        rest >>= 7;
    }
    out.push(rest as u8);
}

/// A string literal (§5.2), not Huffman-coded.
fn string(out: &mut Vec<u8>, s: &[u8]) {
    let len = u32::try_from(s.len()).expect("a header string under 4 GiB");
    integer(out, 0x00, 7, len);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests;
