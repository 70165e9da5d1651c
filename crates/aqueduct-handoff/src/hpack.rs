//! Just enough HPACK (RFC 7541) to read `:path` and `:authority` from a
//! connection's first header block, fast: every field representation, the
//! static table, the dynamic table as the block fills it (with its size
//! bound and evictions, so later indexes resolve as the encoder meant), and
//! Huffman-coded strings (`huffman.rs`).
//!
//! Everything read from the block is bounded: integers fit in 32 bits,
//! strings in the block, the dynamic table in 4096 bytes.

use std::ops::ControlFlow;

/// The HPACK static table (RFC 7541, Appendix A): index 1 is the first entry.
const STATIC: [(&str, &str); 61] = [
    (":authority", ""),
    (":method", "GET"),
    (":method", "POST"),
    (":path", "/"),
    (":path", "/index.html"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "200"),
    (":status", "204"),
    (":status", "206"),
    (":status", "304"),
    (":status", "400"),
    (":status", "404"),
    (":status", "500"),
    ("accept-charset", ""),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", ""),
    ("accept-ranges", ""),
    ("accept", ""),
    ("access-control-allow-origin", ""),
    ("age", ""),
    ("allow", ""),
    ("authorization", ""),
    ("cache-control", ""),
    ("content-disposition", ""),
    ("content-encoding", ""),
    ("content-language", ""),
    ("content-length", ""),
    ("content-location", ""),
    ("content-range", ""),
    ("content-type", ""),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("expect", ""),
    ("expires", ""),
    ("from", ""),
    ("host", ""),
    ("if-match", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("if-range", ""),
    ("if-unmodified-since", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("max-forwards", ""),
    ("proxy-authenticate", ""),
    ("proxy-authorization", ""),
    ("range", ""),
    ("referer", ""),
    ("refresh", ""),
    ("retry-after", ""),
    ("server", ""),
    ("set-cookie", ""),
    ("strict-transport-security", ""),
    ("transfer-encoding", ""),
    ("user-agent", ""),
    ("vary", ""),
    ("via", ""),
    ("www-authenticate", ""),
];

/// Why a header block does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HpackError;

/// The dynamic table, newest entry first, within `max` bytes (RFC 7541, 4.1).
struct Table {
    entries: std::collections::VecDeque<(Vec<u8>, Vec<u8>)>,
    size: usize,
    max: usize,
}

impl Table {
    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = name.len() + value.len() + 32;
        self.evict_to(self.max.saturating_sub(size));
        // An entry larger than the table empties it and is not added.
        if size <= self.max {
            self.size += size;
            self.entries.push_front((name, value));
        }
    }

    fn evict_to(&mut self, max: usize) {
        while self.size > max {
            match self.entries.pop_back() {
                Some((n, v)) => self.size -= n.len() + v.len() + 32,
                None => break,
            }
        }
    }

    fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        if let Some((name, value)) = index.checked_sub(1).and_then(|i| STATIC.get(i)) {
            return Some((name.as_bytes(), value.as_bytes()));
        }
        let (name, value) = self.entries.get(index.checked_sub(STATIC.len() + 1)?)?;
        Some((name, value))
    }
}

/// Calls `field` with each (name, value) of `block`, decoded with a fresh
/// dynamic table of at most `max_table` bytes, until it says stop.
pub(crate) fn decode(
    mut block: &[u8],
    max_table: usize,
    mut field: impl FnMut(&[u8], &[u8]) -> ControlFlow<()>,
) -> Result<(), HpackError> {
    let mut table = Table {
        entries: Default::default(),
        size: 0,
        max: max_table,
    };
    while let Some(&first) = block.first() {
        if first & 0x80 != 0 {
            // Indexed field.
            let index = integer(&mut block, 7)?;
            let (name, value) = table.get(index).ok_or(HpackError)?;
            if field(name, value).is_break() {
                return Ok(());
            }
        } else if first & 0x40 != 0 {
            // Literal with incremental indexing.
            let (name, value) = literal(&mut block, 6, &table)?;
            if field(&name, &value).is_break() {
                return Ok(());
            }
            table.insert(name, value);
        } else if first & 0x20 != 0 {
            // Dynamic table size update: never above what the decoder allows.
            let max = integer(&mut block, 5)?;
            if max > max_table {
                return Err(HpackError);
            }
            table.max = max;
            table.evict_to(max);
        } else {
            // Literal without indexing, or never indexed.
            let (name, value) = literal(&mut block, 4, &table)?;
            if field(&name, &value).is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// A literal field: an indexed name or a literal one, then a literal value.
fn literal(block: &mut &[u8], prefix: u8, table: &Table) -> Result<(Vec<u8>, Vec<u8>), HpackError> {
    let index = integer(block, prefix)?;
    let name = if index == 0 {
        string(block)?
    } else {
        table.get(index).ok_or(HpackError)?.0.to_vec()
    };
    Ok((name, string(block)?))
}

/// An integer with an N-bit prefix (RFC 7541, 5.1), at most `u32::MAX`.
fn integer(block: &mut &[u8], prefix: u8) -> Result<usize, HpackError> {
    let (&first, rest) = block.split_first().ok_or(HpackError)?;
    *block = rest;
    let mask = u8::MAX >> (8 - prefix);
    let mut value = u64::from(first & mask);
    if value < u64::from(mask) {
        return usize::try_from(value).map_err(|_| HpackError);
    }
    let mut shift = 0;
    loop {
        let (&byte, rest) = block.split_first().ok_or(HpackError)?;
        *block = rest;
        // Five continuation bytes reach past 32 bits: refuse more.
        if shift > 28 {
            return Err(HpackError);
        }
        value += u64::from(byte & 0x7f) << shift;
        if value > u64::from(u32::MAX) {
            return Err(HpackError);
        }
        if byte & 0x80 == 0 {
            return usize::try_from(value).map_err(|_| HpackError);
        }
        shift += 7;
    }
}

/// A string literal (RFC 7541, 5.2), Huffman-coded or not.
fn string(block: &mut &[u8]) -> Result<Vec<u8>, HpackError> {
    let huffman = block.first().ok_or(HpackError)? & 0x80 != 0;
    let len = integer(block, 7)?;
    if len > block.len() {
        return Err(HpackError);
    }
    let (raw, rest) = block.split_at(len);
    *block = rest;
    if !huffman {
        return Ok(raw.to_vec());
    }
    crate::huffman::decode(raw).map_err(|_| HpackError)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    type Fields = Vec<(Vec<u8>, Vec<u8>)>;

    fn fields(block: &[u8]) -> Result<Fields, HpackError> {
        let mut out = Vec::new();
        decode(block, 4096, |n, v| {
            out.push((n.to_vec(), v.to_vec()));
            ControlFlow::Continue(())
        })?;
        Ok(out)
    }

    fn loona(block: &[u8]) -> Option<Fields> {
        loona_hpack::Decoder::new().decode(block).ok()
    }

    #[test]
    fn the_static_table_matches_loona_hpack() {
        for index in 1..=61u8 {
            let block = [0x80 | index];
            assert_eq!(fields(&block).ok(), loona(&block), "index {index}");
        }
        assert_eq!(fields(&[0x80 | 62]), Err(HpackError), "empty dynamic table");
        assert_eq!(fields(&[0x80]), Err(HpackError), "index 0");
    }

    #[test]
    fn literals_fill_and_evict_the_dynamic_table_as_the_rfc_says() {
        // RFC 7541 C.3.1-C.3.3 (requests without Huffman), decoded as one
        // block each with a fresh table, plus a reference to the newest entry.
        let first = [
            0x82, 0x86, 0x84, 0x41, 0x0f, b'w', b'w', b'w', b'.', b'e', b'x', b'a', b'm', b'p',
            b'l', b'e', b'.', b'c', b'o', b'm', 0xbe,
        ];
        let decoded = fields(&first).unwrap();
        assert_eq!(decoded, loona(&first).unwrap());
        assert_eq!(decoded[3].0, b":authority");
        assert_eq!(decoded[4], decoded[3], "index 62 is the entry just added");
        // A size update to 0 empties the table: index 62 is then an error.
        let mut emptied = first[..first.len() - 1].to_vec();
        emptied.extend_from_slice(&[0x20, 0xbe]);
        assert_eq!(fields(&emptied), Err(HpackError));
        // An update above the allowed size is refused.
        assert_eq!(
            fields(&[0x3f, 0xe1, 0x1f]),
            Ok(Vec::new()),
            "4096 is allowed"
        );
        assert_eq!(fields(&[0x3f, 0xe2, 0x1f]), Err(HpackError), "4097 is not");
    }

    #[test]
    fn huffman_strings_decode() {
        // RFC 7541 C.4.1: :authority www.example.com, Huffman-coded.
        let block = [
            0x82, 0x86, 0x84, 0x41, 0x8c, 0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab,
            0x90, 0xf4, 0xff,
        ];
        let decoded = fields(&block).unwrap();
        assert_eq!(decoded, loona(&block).unwrap());
        assert_eq!(decoded[3].1, b"www.example.com");
    }

    #[test]
    fn integers_are_bounded() {
        assert_eq!(integer(&mut &[0x1f, 0x9a, 0x0a][..], 5), Ok(1337));
        let huge = [0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(integer(&mut &huge[..], 7), Err(HpackError));
        assert_eq!(
            integer(&mut &[0x7f, 0x80][..], 7),
            Err(HpackError),
            "truncated"
        );
        let zeros = [
            0x7f, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
        ];
        assert_eq!(integer(&mut &zeros[..], 7), Err(HpackError), "too long");
    }

    #[test]
    fn random_blocks_never_panic_and_agree_with_loona_hpack() {
        let mut rng = crate::testing::XorShift(0x1234_5678_9abc_def1);
        let mut agreed = 0;
        for _ in 0..20_000 {
            let n = (rng.next() % 64) as usize;
            let block: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let ours = fields(&block);
            // Where both decode, they agree.
            if let (Ok(ours), Some(theirs)) = (ours, loona(&block)) {
                assert_eq!(ours, theirs, "{block:02x?}");
                agreed += 1;
            }
        }
        assert!(agreed > 100, "too few blocks decoded to compare: {agreed}");
    }
}
