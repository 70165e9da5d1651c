//! A fast HPACK Huffman decoder (RFC 7541, 5.2 and Appendix B).
//!
//! The code is not typed in here: it is read off `loona-hpack`'s decoder once
//! per process, by walking the code tree with it as an oracle, and kept as a
//! flat binary trie walked one bit at a time (array steps, no hashing:
//! `loona-hpack`'s own decoder hashes at every bit, which cost the router a
//! tenth of its time). If the walk ever finds something unexpected, decoding
//! falls back to `loona-hpack` itself.

use std::sync::OnceLock;

/// A trie node: the child for bit 0 and for bit 1. A child is either another
/// node (`index`) or a leaf (`LEAF | symbol`); 256 is EOS.
type Node = [u16; 2];
const LEAF: u16 = 0x8000;
const EOS: u16 = 256;
/// The longest code (EOS) is 30 bits.
const MAX_CODE_BITS: usize = 30;

/// Why a string does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HuffmanError;

/// Decodes a Huffman-coded string.
pub(crate) fn decode(encoded: &[u8]) -> Result<Vec<u8>, HuffmanError> {
    match trie() {
        Some(nodes) => decode_with(nodes, encoded),
        None => loona_hpack::huffman::HuffmanDecoder::new()
            .decode(encoded)
            .map_err(|_| HuffmanError),
    }
}

fn trie() -> Option<&'static [Node]> {
    static TRIE: OnceLock<Option<Vec<Node>>> = OnceLock::new();
    TRIE.get_or_init(build).as_deref()
}

fn decode_with(nodes: &[Node], encoded: &[u8]) -> Result<Vec<u8>, HuffmanError> {
    let mut out = Vec::with_capacity(encoded.len() * 8 / 5);
    let mut node = 0usize;
    // Bits read since the last symbol, and whether all were 1s (padding must
    // be a prefix of EOS: fewer than 8 bits, all 1s).
    let mut pending = 0u32;
    let mut all_ones = true;
    for byte in encoded {
        for shift in (0..8).rev() {
            let bit = usize::from((byte >> shift) & 1);
            pending += 1;
            all_ones &= bit == 1;
            let next = nodes.get(node).ok_or(HuffmanError)?[bit];
            if next & LEAF != 0 {
                let symbol = next & !LEAF;
                if symbol == EOS {
                    return Err(HuffmanError);
                }
                out.push(u8::try_from(symbol).map_err(|_| HuffmanError)?);
                node = 0;
                pending = 0;
                all_ones = true;
            } else {
                node = usize::from(next);
            }
        }
    }
    if pending >= 8 || !all_ones {
        return Err(HuffmanError);
    }
    Ok(out)
}

/// Reads the code tree off `loona-hpack`'s decoder: `bits` is a code for
/// symbol `s` exactly when `bits`, then the 5-bit code of `'0'`, then 1s to
/// the byte boundary decodes to `[s, '0']` (see `probe`).
fn build() -> Option<Vec<Node>> {
    let mut oracle = loona_hpack::huffman::HuffmanDecoder::new();
    // The anchor: '0' is 00000 (RFC 7541, Appendix B); checked, not assumed.
    if oracle.decode(&[0b0000_0111]).ok()? != b"0" {
        return None;
    }
    let mut nodes: Vec<Node> = vec![[0, 0]];
    // Nodes to fill: (node index, its bit prefix).
    let mut todo = vec![(0usize, Vec::<bool>::new())];
    while let Some((node, prefix)) = todo.pop() {
        for bit in [false, true] {
            let mut bits = prefix.clone();
            bits.push(bit);
            let child = if bits.len() == MAX_CODE_BITS && bits.iter().all(|b| *b) {
                LEAF | EOS
            } else if let Some(symbol) = probe(&mut oracle, &bits) {
                LEAF | u16::from(symbol)
            } else if bits.len() < MAX_CODE_BITS && nodes.len() < 512 {
                nodes.push([0, 0]);
                let index = u16::try_from(nodes.len() - 1).ok()?;
                todo.push((usize::from(index), bits));
                index
            } else {
                return None;
            };
            nodes.get_mut(node)?[usize::from(bit)] = child;
        }
    }
    // A complete code over 257 symbols has 256 inner nodes.
    (nodes.len() == 256).then_some(nodes)
}

/// The symbol whose code is `bits`, if it is one.
fn probe(oracle: &mut loona_hpack::huffman::HuffmanDecoder, bits: &[bool]) -> Option<u8> {
    let mut all: Vec<bool> = bits.to_vec();
    all.extend([false; 5]); // '0'
    while all.len() % 8 != 0 {
        all.push(true);
    }
    let bytes: Vec<u8> = all
        .chunks(8)
        .map(|chunk| {
            chunk
                .iter()
                .fold(0u8, |byte, bit| byte << 1 | u8::from(*bit))
        })
        .collect();
    match oracle.decode(&bytes).ok()?.as_slice() {
        [symbol, b'0'] => Some(*symbol),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_tree_is_read_off_whole() {
        assert!(trie().is_some(), "the code tree could not be read");
    }

    #[test]
    fn agrees_with_loona_hpack_on_rfc_examples_and_random_bytes() {
        // RFC 7541 C.4.1: "www.example.com".
        let www = [
            0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff,
        ];
        assert_eq!(decode(&www).unwrap(), b"www.example.com");
        let mut loona = loona_hpack::huffman::HuffmanDecoder::new();
        let mut rng = crate::testing::XorShift(0xfeed_f00d_dead_beef);
        let mut ok = 0;
        for _ in 0..20_000 {
            let n = (rng.next() % 24) as usize;
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            let ours = decode(&bytes).ok();
            assert_eq!(ours, loona.decode(&bytes).ok(), "{bytes:02x?}");
            ok += usize::from(ours.is_some());
        }
        assert!(ok > 100, "too few valid strings to compare: {ok}");
    }
}
