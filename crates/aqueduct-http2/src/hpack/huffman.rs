//! The HPACK Huffman code (RFC 7541 §5.2, Appendix B): encoding, and a
//! decoder that rejects what the RFC says to reject.
//!
//! The decoder is a state machine read four bits at a time, built at
//! compile time from the RFC's table ([`CODES`]): the states are the inner
//! nodes of the code tree (256 of them for 257 symbols), and each
//! (state, nibble) says which state follows and which symbol, if any, was
//! completed. Building it fails to compile if a code were a prefix of
//! another.

use super::DecodeError;
use super::huffman_table::CODES;

/// EOS, the symbol that must never appear in a string (§5.2).
const EOS: u16 = 256;

/// Inner nodes of the tree: 257 leaves need 256.
const NODES: usize = 256;

/// A child in the tree: `0` unset (the root is nobody's child), positive an
/// inner node, negative the leaf `-(symbol + 1)`.
type Child = i16;

const fn tree() -> [[Child; 2]; NODES] {
    let mut nodes = [[0 as Child; 2]; NODES];
    let mut next = 1;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let mut node = 0;
        let mut bit = len;
        while bit > 0 {
            bit -= 1;
            let b = ((code >> bit) & 1) as usize;
            if bit == 0 {
                assert!(nodes[node][b] == 0, "a code is a prefix of another");
                nodes[node][b] = -(sym as Child) - 1;
            } else {
                if nodes[node][b] == 0 {
                    nodes[node][b] = next as Child;
                    next += 1;
                }
                assert!(nodes[node][b] > 0, "a code is a prefix of another");
                node = nodes[node][b] as usize;
            }
        }
        sym += 1;
    }
    nodes
}

/// The decoder's transition for one (state, nibble).
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    /// [`EMIT`], [`FAIL`].
    flags: u8,
    sym: u8,
}

const EMIT: u8 = 1;
const FAIL: u8 = 2;

struct Machine {
    steps: [[Step; 16]; NODES],
    /// For each state, how many bits led to it from the last symbol
    /// boundary: more than 7 is padding too long.
    depth: [u8; NODES],
    /// Whether those bits are all ones (the EOS prefix, valid padding).
    ones: [bool; NODES],
}

const fn machine() -> Machine {
    let nodes = tree();
    let mut steps = [[Step {
        next: 0,
        flags: 0,
        sym: 0,
    }; 16]; NODES];
    let mut state = 0;
    while state < NODES {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = Step {
                next: 0,
                flags: 0,
                sym: 0,
            };
            let mut bit = 4;
            while bit > 0 {
                bit -= 1;
                let child = nodes[node][(nibble >> bit) & 1];
                if child < 0 {
                    let sym = (-child - 1) as u16;
                    if sym == EOS {
                        step.flags |= FAIL;
                    } else {
                        // Codes are at least 5 bits: one symbol per nibble.
                        step.flags |= EMIT;
                        step.sym = sym as u8;
                    }
                    node = 0;
                } else {
                    node = child as usize;
                }
            }
            step.next = node as u8;
            steps[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    // Children are numbered after their parents, so one pass in order sees
    // each parent before its children.
    let mut depth = [0u8; NODES];
    let mut ones = [false; NODES];
    ones[0] = true;
    let mut node = 0;
    while node < NODES {
        let mut b = 0;
        while b < 2 {
            let child = nodes[node][b];
            if child > 0 {
                depth[child as usize] = depth[node] + 1;
                ones[child as usize] = ones[node] && b == 1;
            }
            b += 1;
        }
        node += 1;
    }
    Machine { steps, depth, ones }
}

static MACHINE: Machine = machine();

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
    let mut state = 0usize;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = MACHINE
                .steps
                .get(state)
                .and_then(|s| s.get(usize::from(nibble)))
                .ok_or(DecodeError::HuffmanEos)?;
            if step.flags & FAIL != 0 {
                return Err(DecodeError::HuffmanEos);
            }
            if step.flags & EMIT != 0 {
                dst.push(step.sym);
            }
            state = usize::from(step.next);
        }
    }
    if MACHINE.depth.get(state).is_none_or(|&d| d > 7) {
        Err(DecodeError::HuffmanPaddingTooLong)
    } else if MACHINE.ones.get(state).is_some_and(|&o| o) {
        Ok(())
    } else {
        Err(DecodeError::HuffmanPaddingNotOnes)
    }
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

    /// The RFC's definition, one bit at a time against a map of the table.
    fn reference(src: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let codes: std::collections::HashMap<(u32, u8), u16> = CODES
            .iter()
            .enumerate()
            .map(|(sym, &(code, len))| ((code, len), sym as u16))
            .collect();
        let (mut out, mut code, mut len) = (Vec::new(), 0u32, 0u8);
        for &byte in src {
            for shift in (0..8).rev() {
                code = code << 1 | u32::from(byte >> shift & 1);
                len += 1;
                match codes.get(&(code, len)) {
                    Some(&EOS) => return Err(DecodeError::HuffmanEos),
                    Some(&sym) => {
                        out.push(sym as u8);
                        (code, len) = (0, 0);
                    }
                    None => {}
                }
            }
        }
        if len > 7 {
            Err(DecodeError::HuffmanPaddingTooLong)
        } else if code != (1 << len) - 1 {
            Err(DecodeError::HuffmanPaddingNotOnes)
        } else {
            Ok(out)
        }
    }

    #[test]
    fn the_state_machine_agrees_with_the_definition() {
        let mut rng = crate::test_rng::Rng::new(5);
        for i in 0..20_000 {
            let src: Vec<u8> = if i % 2 == 0 {
                (0..rng.below(10)).map(|_| rng.next_u64() as u8).collect()
            } else {
                // Mostly-ones inputs reach the long codes, EOS and padding.
                (0..rng.below(10))
                    .map(|_| 0xff ^ ((1u8 << rng.below(8)) * u8::from(rng.below(3) == 0)))
                    .collect()
            };
            assert_eq!(dec(&src), reference(&src), "{src:02x?}");
        }
    }
}
