//! The HPACK decoder (RFC 7541 §3, §6).

use std::fmt;

use super::table::{Table, entry_size};
use super::{DEFAULT_TABLE_SIZE, DecodeError, huffman};

/// Decodes header blocks, keeping the dynamic table between them.
///
/// One per connection direction: it decodes what the peer's encoder wrote,
/// in the order the blocks arrived.
///
/// # Limits
///
/// - The dynamic table never grows past the size we advertise in
///   `SETTINGS_HEADER_TABLE_SIZE` ([`Decoder::new`],
///   [`Decoder::set_max_table_size`]); an update above it is
///   [`DecodeError::SizeUpdateTooLarge`].
/// - The header list size (RFC 9113 §6.5.2) is checked per field in
///   [`Decoder::decode`], before the field is handed out, so an oversized
///   list is never built.
/// - Integers above `u32::MAX` or longer than 6 bytes are refused.
///
/// # After an error
///
/// [`DecodeError::HeaderListTooLarge`] leaves the decoder usable: the block
/// is still decoded to its end (table inserts and size updates included,
/// without handing out further fields), so the table stays in sync with
/// the peer's encoder (RFC 9113 §4.3). Any other error is a connection
/// error (`COMPRESSION_ERROR`); the table is then in an unknown state and
/// the decoder must not be used again.
///
/// ```
/// use aqueduct_http2::hpack::Decoder;
///
/// let mut decoder = Decoder::new(4096);
/// let mut fields = Vec::new();
/// // `:method: GET`, `:path: /` from the static table.
/// decoder
///     .decode(&[0x82, 0x84], 16 * 1024, |name, value, _sensitive| {
///         fields.push((name.to_vec(), value.to_vec()));
///     })
///     .unwrap();
/// assert_eq!(fields[0], (b":method".to_vec(), b"GET".to_vec()));
/// ```
#[derive(Clone)]
pub struct Decoder {
    table: Table,
    /// The `SETTINGS_HEADER_TABLE_SIZE` we advertise (once acknowledged).
    settings_max: usize,
    /// Set when our setting dropped below the table's current maximum: the
    /// next block must start with a size update (RFC 7541 §4.2).
    update_required: bool,
    /// Scratch space for Huffman-decoded strings, reused between fields.
    name_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl fmt::Debug for Decoder {
    /// Sizes only: the table holds header values, which may be private.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("max_table_size", &self.settings_max)
            .field("table_max_size", &self.table.max_size())
            .field("update_required", &self.update_required)
            .finish_non_exhaustive()
    }
}

impl Default for Decoder {
    /// A decoder for the default `SETTINGS_HEADER_TABLE_SIZE`, 4,096.
    fn default() -> Self {
        Self::new(DEFAULT_TABLE_SIZE)
    }
}

impl Decoder {
    /// A decoder whose table may grow to `max_table_size` bytes: the
    /// `SETTINGS_HEADER_TABLE_SIZE` the peer is known to use (4,096 until our
    /// SETTINGS are acknowledged).
    ///
    /// ```
    /// let decoder = aqueduct_http2::hpack::Decoder::new(4096);
    /// assert_eq!(decoder.max_table_size(), 4096);
    /// ```
    pub fn new(max_table_size: usize) -> Self {
        Self {
            table: Table::new(max_table_size),
            settings_max: max_table_size,
            update_required: false,
            name_buf: Vec::new(),
            value_buf: Vec::new(),
        }
    }

    /// The limit on the table size: our `SETTINGS_HEADER_TABLE_SIZE`.
    ///
    /// ```
    /// # let mut decoder = aqueduct_http2::hpack::Decoder::new(4096);
    /// decoder.set_max_table_size(256);
    /// assert_eq!(decoder.max_table_size(), 256);
    /// ```
    pub fn max_table_size(&self) -> usize {
        self.settings_max
    }

    /// The dynamic table's (size, entry count), for tests.
    #[cfg(test)]
    pub(super) fn table_stats(&self) -> (usize, usize) {
        (self.table.size(), self.table.len())
    }

    /// Applies a new `SETTINGS_HEADER_TABLE_SIZE` of ours, once the peer has
    /// acknowledged it. If it is below the table's current maximum, the
    /// next block must begin with a size update that honours it, or it is
    /// refused with [`DecodeError::SizeUpdateMissing`].
    ///
    /// ```
    /// use aqueduct_http2::hpack::{DecodeError, Decoder};
    ///
    /// let mut decoder = Decoder::new(4096);
    /// decoder.set_max_table_size(0);
    /// let none = |_: &[u8], _: &[u8], _: bool| {};
    /// assert_eq!(
    ///     decoder.decode(&[0x82], 8192, none),
    ///     Err(DecodeError::SizeUpdateMissing)
    /// );
    /// // A size update to 0, then `:method: GET`.
    /// # let mut decoder = Decoder::new(4096);
    /// # decoder.set_max_table_size(0);
    /// assert_eq!(decoder.decode(&[0x20, 0x82], 8192, none), Ok(()));
    /// ```
    pub fn set_max_table_size(&mut self, max_table_size: usize) {
        if max_table_size < self.table.max_size() {
            self.update_required = true;
        }
        self.settings_max = max_table_size;
    }

    /// Decodes one complete header block (HEADERS plus its CONTINUATION
    /// frames, joined), handing each field to `emit(name, value,
    /// sensitive)` in order; `sensitive` is set for never-indexed literals,
    /// which must stay never-indexed if forwarded.
    ///
    /// `max_list_size` is the header list limit (RFC 9113 §6.5.2: the sum of
    /// name + value + 32 over the fields). Fields are handed out only while
    /// the sum is within it; past it, the rest of the block is still decoded
    /// to keep the table in sync, and [`DecodeError::HeaderListTooLarge`]
    /// is returned (a stream error: answer 431 or reset the stream).
    /// Fields already handed out belong to the refused list: discard them.
    ///
    /// Names and values are not checked against HTTP's rules (lowercase
    /// names, no CR/LF/NUL): that is the connection layer's job.
    pub fn decode(
        &mut self,
        block: &[u8],
        max_list_size: usize,
        mut emit: impl FnMut(&[u8], &[u8], bool),
    ) -> Result<(), DecodeError> {
        let mut r = Reader { buf: block, pos: 0 };
        let mut at_start = true;
        let mut list_size: usize = 0;
        let mut too_large = false;
        while let Some(first) = r.peek() {
            if first & 0xe0 == 0x20 {
                // Dynamic table size update (§6.3).
                if !at_start {
                    return Err(DecodeError::SizeUpdateNotAtStart);
                }
                let size = r.int(5)?;
                if size > self.settings_max {
                    return Err(DecodeError::SizeUpdateTooLarge {
                        size,
                        max: self.settings_max,
                    });
                }
                self.table.set_max_size(size);
                self.update_required = false;
                continue;
            }
            at_start = false;
            if self.update_required {
                return Err(DecodeError::SizeUpdateMissing);
            }
            if first & 0x80 != 0 {
                // Indexed field (§6.1).
                let index = r.int(7)?;
                if index == 0 {
                    return Err(DecodeError::ZeroIndex);
                }
                let (name, value) = self
                    .table
                    .get(index)
                    .ok_or(DecodeError::InvalidIndex(index))?;
                list_size = list_size.saturating_add(entry_size(name, value));
                too_large |= list_size > max_list_size;
                if !too_large {
                    emit(name, value, false);
                }
                continue;
            }
            // Literals (§6.2): with incremental indexing (01), never indexed
            // (0001), or without indexing (0000).
            let (prefix, indexing, sensitive) = match first & 0xf0 {
                0x10 => (4, false, true),
                0x00 => (4, false, false),
                _ => (6, true, false),
            };
            let index = r.int(prefix)?;
            let name = if index == 0 {
                let (raw, huff) = r.string()?;
                materialize(raw, huff, &mut self.name_buf)?
            } else {
                self.table
                    .get(index)
                    .ok_or(DecodeError::InvalidIndex(index))?
                    .0
            };
            let (raw, huff) = r.string()?;
            let value = materialize(raw, huff, &mut self.value_buf)?;
            list_size = list_size.saturating_add(entry_size(name, value));
            too_large |= list_size > max_list_size;
            if !too_large {
                emit(name, value, sensitive);
            }
            if indexing {
                // Copies out of the table before inserting into it: the
                // name may be one of its entries, about to be evicted.
                if self.table.fits(entry_size(name, value)) {
                    let (name, value) = (name.into(), value.into());
                    self.table.insert(name, value);
                } else {
                    // An entry larger than the table empties it (§4.4).
                    self.table.clear();
                }
            }
        }
        if too_large {
            return Err(DecodeError::HeaderListTooLarge { max: max_list_size });
        }
        Ok(())
    }
}

/// A string's bytes: borrowed from the block, or Huffman-decoded into `buf`.
fn materialize<'a>(
    raw: &'a [u8],
    huff: bool,
    buf: &'a mut Vec<u8>,
) -> Result<&'a [u8], DecodeError> {
    if !huff {
        return Ok(raw);
    }
    buf.clear();
    huffman::decode(raw, buf)?;
    Ok(buf)
}

/// A cursor over a header block; every read is checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn next(&mut self) -> Result<u8, DecodeError> {
        let b = self.peek().ok_or(DecodeError::Truncated)?;
        self.pos += 1;
        Ok(b)
    }

    /// An integer with an `prefix`-bit prefix (§5.1), the flag bits above
    /// the prefix ignored.
    fn int(&mut self, prefix: u8) -> Result<usize, DecodeError> {
        let mask = (1u8 << prefix) - 1;
        let first = self.next()? & mask;
        if first < mask {
            return Ok(usize::from(first));
        }
        let mut value = u64::from(mask);
        let mut shift = 0u32;
        loop {
            let b = self.next()?;
            // Five continuation bytes carry 35 bits; more is refused, so
            // zero-padded encodings cannot make us loop.
            if shift > 28 {
                return Err(DecodeError::IntegerOverflow);
            }
            value += u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
        if value > u64::from(u32::MAX) {
            return Err(DecodeError::IntegerOverflow);
        }
        usize::try_from(value).map_err(|_| DecodeError::IntegerOverflow)
    }

    /// A string literal (§5.2): its raw bytes and whether they are Huffman.
    fn string(&mut self) -> Result<(&'a [u8], bool), DecodeError> {
        let huff = self.peek().ok_or(DecodeError::Truncated)? & 0x80 != 0;
        let len = self.int(7)?;
        let end = self.pos.checked_add(len).ok_or(DecodeError::Truncated)?;
        let raw = self.buf.get(self.pos..end).ok_or(DecodeError::Truncated)?;
        self.pos = end;
        Ok((raw, huff))
    }
}
