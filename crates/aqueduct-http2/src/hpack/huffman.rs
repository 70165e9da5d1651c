//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B): encoding, and a
//! decoder that rejects what the RFC says to reject.
//!
//! The code is canonical: the codes of one length are consecutive, and each
//! length's first code follows from the previous one's. The decoder uses
//! that, reading one bit at a time against per-length ranges built at
//! compile time from the RFC's table ([`CODES`]); building them would fail
//! to compile if the table were not canonical.

use super::DecodeError;
use super::huffman_table::CODES;

/// The longest code (EOS and a few rare octets) is 30 bits.
const MAX_LEN: usize = 30;

/// EOS, the symbol that must never appear in a string (§5.2).
const EOS: u16 = 256;

/// Per-length ranges of the canonical code.
struct Canonical {
    /// The smallest code of each length (`u32::MAX` when none).
    first: [u32; MAX_LEN + 1],
    /// How many codes have each length.
    count: [u16; MAX_LEN + 1],
    /// Where each length's symbols start in `symbols`.
    offset: [u16; MAX_LEN + 1],
    /// Symbols ordered by (length, code).
    symbols: [u16; 257],
}

const fn build() -> Canonical {
    let mut count = [0u16; MAX_LEN + 1];
    let mut first = [u32::MAX; MAX_LEN + 1];
    let mut i = 0;
    while i < CODES.len() {
        let (code, len) = CODES[i];
        count[len as usize] += 1;
        if code < first[len as usize] {
            first[len as usize] = code;
        }
        i += 1;
    }
    let mut offset = [0u16; MAX_LEN + 1];
    let mut acc = 0;
    let mut len = 0;
    while len <= MAX_LEN {
        offset[len] = acc;
        acc += count[len];
        len += 1;
    }
    let mut symbols = [0u16; 257];
    let mut placed = [false; 257];
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        // Out of range (a compile error) unless a length's codes are consecutive.
        let slot = offset[len as usize] as usize + (code - first[len as usize]) as usize;
        assert!(!placed[slot], "two symbols share a code");
        placed[slot] = true;
        symbols[slot] = sym as u16;
        sym += 1;
    }
    Canonical {
        first,
        count,
        offset,
        symbols,
    }
}

static CANONICAL: Canonical = build();

/// The symbol whose code is the `len` bits in `code`, if there is one.
fn lookup(code: u32, len: usize) -> Option<u16> {
    let first = *CANONICAL.first.get(len)?;
    let count = u32::from(*CANONICAL.count.get(len)?);
    if code < first || code - first >= count {
        return None;
    }
    let slot = usize::from(*CANONICAL.offset.get(len)?) + (code - first) as usize;
    CANONICAL.symbols.get(slot).copied()
}

/// The length in bytes of `src` once Huffman-encoded.
pub(super) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src
        .iter()
        .map(|&b| usize::from(CODES[usize::from(b)].1))
        .sum();
    bits.div_ceil(8)
}

/// Appends `src`, Huffman-encoded and padded with ones (the EOS prefix).
pub(super) fn encode(src: &[u8], dst: &mut Vec<u8>) {
    // Never more than 7 + 30 pending bits.
    let mut acc: u64 = 0;
    let mut bits: u32 = 0;
    for &b in src {
        let (code, len) = CODES[usize::from(b)];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            dst.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        dst.push(((acc << (8 - bits)) as u8) | (0xff >> bits));
    }
}

/// Appends the decoding of `src` to `dst`.
///
/// Rejects EOS in the string, padding longer than 7 bits, and padding that
/// is not all ones (RFC 7541 §5.2).
pub(super) fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<(), DecodeError> {
    // The bits read since the last symbol: `len` of them, in `code`.
    let mut code: u32 = 0;
    let mut len: usize = 0;
    for &byte in src {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            match lookup(code, len) {
                Some(EOS) => return Err(DecodeError::HuffmanEos),
                Some(sym) => {
                    dst.push(sym as u8);
                    code = 0;
                    len = 0;
                }
                // The code is complete, so 30 bits always end a symbol; kept
                // so a broken table cannot loop past `MAX_LEN`.
                None if len >= MAX_LEN => return Err(DecodeError::HuffmanEos),
                None => {}
            }
        }
    }
    if len > 7 {
        return Err(DecodeError::HuffmanPaddingTooLong);
    }
    if code != (1u32 << len) - 1 {
        return Err(DecodeError::HuffmanPaddingNotOnes);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|()| out)
    }

    #[test]
    fn every_octet_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let mut enc = Vec::new();
        encode(&all, &mut enc);
        assert_eq!(enc.len(), encoded_len(&all));
        assert_eq!(dec(&enc), Ok(all));
    }

    #[test]
    fn rfc_c4_strings() {
        // RFC 7541 C.4.1: "www.example.com".
        let mut enc = Vec::new();
        encode(b"www.example.com", &mut enc);
        assert_eq!(
            enc,
            [
                0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff
            ]
        );
        assert_eq!(dec(&enc).as_deref(), Ok(&b"www.example.com"[..]));
    }

    #[test]
    fn padding_and_eos_are_refused() {
        // 'a' is 00011 (5 bits); padded with 111: fine.
        assert_eq!(dec(&[0b0001_1111]).as_deref(), Ok(&b"a"[..]));
        // Padding with a zero in it.
        assert_eq!(dec(&[0b0001_1101]), Err(DecodeError::HuffmanPaddingNotOnes));
        // A whole byte of ones after a symbol: 8 bits of padding.
        assert_eq!(
            dec(&[0b0001_1111, 0xff]),
            Err(DecodeError::HuffmanPaddingTooLong)
        );
        // EOS itself: 30 ones, then two of padding.
        assert_eq!(dec(&[0xff, 0xff, 0xff, 0xff]), Err(DecodeError::HuffmanEos));
        assert_eq!(dec(&[]).as_deref(), Ok(&b""[..]));
    }
}
