//! RFC 7541 Appendix C, the rules of §4–§6, and fuzz-style properties.

use super::DecodeError;
use super::decoder::Decoder;
use super::encoder::{Encoder, Field, int};
use crate::test_rng::Rng;

type List = Vec<(Vec<u8>, Vec<u8>)>;

/// Bytes from the RFC's hex dumps ("8286 8441 ..."), spaces ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|c| char::from(c).to_digit(16).map_or(0, |d| d as u8))
        .collect();
    digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect()
}

fn list(fields: &[(&str, &str)]) -> List {
    fields
        .iter()
        .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect()
}

fn decode(decoder: &mut Decoder, block: &[u8]) -> Result<List, DecodeError> {
    let mut out = Vec::new();
    decoder
        .decode(block, usize::MAX, |n, v, _| {
            out.push((n.to_vec(), v.to_vec()))
        })
        .map(|()| out)
}

fn encode(encoder: &mut Encoder, fields: &List) -> Vec<u8> {
    let mut dst = Vec::new();
    encoder.encode(fields.iter().map(|(n, v)| Field::new(n, v)), &mut dst);
    dst
}

#[test]
fn c1_integers() {
    let mut dst = Vec::new();
    int(&mut dst, 10, 5, 0);
    int(&mut dst, 1337, 5, 0);
    int(&mut dst, 42, 8, 0);
    assert_eq!(dst, [0x0a, 0x1f, 0x9a, 0x0a, 0x2a]);
    // Through the decoder: an indexed field at index 1337 is out of range.
    let mut d = Decoder::default();
    assert_eq!(
        decode(&mut d, &[0xff, 0xba, 0x09]),
        Err(DecodeError::InvalidIndex(127 + 1210))
    );
}

#[test]
fn integers_are_bounded() {
    let mut d = Decoder::default();
    // u32::MAX is the largest index; one more overflows.
    let mut block = Vec::new();
    int(&mut block, u32::MAX as usize, 7, 0x80);
    assert_eq!(
        decode(&mut d, &block),
        Err(DecodeError::InvalidIndex(u32::MAX as usize))
    );
    let mut block = Vec::new();
    int(&mut block, 1 << 32, 7, 0x80);
    assert_eq!(decode(&mut d, &block), Err(DecodeError::IntegerOverflow));
    // Zero-padded continuation bytes: refused after five.
    assert_eq!(
        decode(&mut d, &[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(DecodeError::IntegerOverflow)
    );
    // Five are fine (value 127, index 127 out of range).
    assert_eq!(
        decode(&mut d, &[0xff, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(DecodeError::InvalidIndex(127))
    );
    assert_eq!(decode(&mut d, &[0xff, 0x80]), Err(DecodeError::Truncated));
}

#[test]
fn c2_literals_and_indexed() {
    let mut d = Decoder::default();
    assert_eq!(
        decode(
            &mut d,
            &hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")
        ),
        Ok(list(&[("custom-key", "custom-header")]))
    );
    assert_eq!(d_table(&d), (55, 1));

    let mut d = Decoder::default();
    assert_eq!(
        decode(&mut d, &hex("040c 2f73 616d 706c 652f 7061 7468")),
        Ok(list(&[(":path", "/sample/path")]))
    );
    assert_eq!(d_table(&d), (0, 0));

    let mut d = Decoder::default();
    let mut sensitive = Vec::new();
    d.decode(
        &hex("1008 7061 7373 776f 7264 0673 6563 7265 74"),
        1 << 20,
        |n, v, s| {
            sensitive.push((n.to_vec(), v.to_vec(), s));
        },
    )
    .unwrap();
    assert_eq!(
        sensitive,
        [(b"password".to_vec(), b"secret".to_vec(), true)]
    );
    assert_eq!(d_table(&d), (0, 0));

    let mut d = Decoder::default();
    assert_eq!(decode(&mut d, &[0x82]), Ok(list(&[(":method", "GET")])));
    assert_eq!(d_table(&d), (0, 0));
}

/// The dynamic table's (size, entry count).
fn d_table(d: &Decoder) -> (usize, usize) {
    d.table_stats()
}

fn requests() -> [List; 3] {
    [
        list(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
        ]),
        list(&[
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":authority", "www.example.com"),
            ("cache-control", "no-cache"),
        ]),
        list(&[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            (":authority", "www.example.com"),
            ("custom-key", "custom-value"),
        ]),
    ]
}

fn responses() -> [List; 3] {
    [
        list(&[
            (":status", "302"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ]),
        list(&[
            (":status", "307"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:21 GMT"),
            ("location", "https://www.example.com"),
        ]),
        list(&[
            (":status", "200"),
            ("cache-control", "private"),
            ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ("location", "https://www.example.com"),
            ("content-encoding", "gzip"),
            (
                "set-cookie",
                "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
            ),
        ]),
    ]
}

const C3: [&str; 3] = [
    "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
    "8286 84be 5808 6e6f 2d63 6163 6865",
    "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];
const C4: [&str; 3] = [
    "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
    "8286 84be 5886 a8eb 1064 9cbf",
    "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];
const C5: [&str; 3] = [
    "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 \
     2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 \
     6c65 2e63 6f6d",
    "4803 3330 37c1 c0bf",
    "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d \
     54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 \
     5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31",
];
const C6: [&str; 3] = [
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 \
     2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab \
     77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f \
     9587 3160 65c0 03ed 4ee5 b106 3d50 07",
];

#[test]
fn c3_c4_requests_decode() {
    for dumps in [C3, C4] {
        let mut d = Decoder::default();
        let sizes = [(57, 1), (110, 2), (164, 3)];
        for ((dump, want), size) in dumps.iter().zip(requests()).zip(sizes) {
            assert_eq!(decode(&mut d, &hex(dump)), Ok(want));
            assert_eq!(d_table(&d), size);
        }
        // The third request's table, newest first (C.3.3).
        assert_eq!(
            decode(&mut d, &[0xbe, 0xbf, 0xc0]),
            Ok(list(&[
                ("custom-key", "custom-value"),
                ("cache-control", "no-cache"),
                (":authority", "www.example.com"),
            ]))
        );
    }
}

#[test]
fn c5_c6_responses_decode_with_eviction() {
    for dumps in [C5, C6] {
        let mut d = Decoder::new(256);
        let sizes = [(222, 4), (222, 4), (215, 3)];
        for ((dump, want), size) in dumps.iter().zip(responses()).zip(sizes) {
            assert_eq!(decode(&mut d, &hex(dump)), Ok(want));
            assert_eq!(d_table(&d), size);
        }
        assert_eq!(
            decode(&mut d, &[0xbe, 0xbf, 0xc0]),
            Ok(list(&[
                (
                    "set-cookie",
                    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"
                ),
                ("content-encoding", "gzip"),
                ("date", "Mon, 21 Oct 2013 20:13:22 GMT"),
            ]))
        );
        assert_eq!(decode(&mut d, &[0xc1]), Err(DecodeError::InvalidIndex(65)));
    }
}

#[test]
fn c4_requests_encode_as_the_rfc() {
    let mut e = Encoder::new();
    let mut d = Decoder::default();
    for (dump, fields) in C4.iter().zip(requests()) {
        let block = encode(&mut e, &fields);
        assert_eq!(block, hex(dump));
        assert_eq!(decode(&mut d, &block), Ok(fields));
    }
}

#[test]
fn c6_responses_encode_as_the_rfc() {
    let mut e = Encoder::new();
    e.set_max_table_size(256);
    let mut d = Decoder::default();
    d.set_max_table_size(256);
    for (i, (dump, fields)) in C6.iter().zip(responses()).enumerate() {
        let block = encode(&mut e, &fields);
        // The first block starts with the size update to 256 (3f e1 01),
        // which the RFC's examples leave out.
        let body = if i == 0 {
            assert_eq!(block[..3], [0x3f, 0xe1, 0x01]);
            &block[3..]
        } else {
            &block[..]
        };
        assert_eq!(body, hex(dump));
        assert_eq!(decode(&mut d, &block), Ok(fields));
    }
    assert_eq!(d_table(&d), (215, 3));
}

#[test]
fn grpc_responses_cost_a_byte_per_field_after_the_first() {
    let headers = list(&[
        (":status", "200"),
        ("content-type", "application/grpc"),
        ("grpc-encoding", "identity"),
        ("grpc-accept-encoding", "identity,deflate,gzip"),
    ]);
    let trailers = list(&[("grpc-status", "0"), ("grpc-message", "")]);
    let mut e = Encoder::new();
    let mut d = Decoder::default();
    for round in 0..3 {
        let h = encode(&mut e, &headers);
        let t = encode(&mut e, &trailers);
        if round > 0 {
            assert_eq!((h.len(), t.len()), (4, 2), "round {round}");
        }
        assert_eq!(decode(&mut d, &h), Ok(headers.clone()));
        assert_eq!(decode(&mut d, &t), Ok(trailers.clone()));
    }
}

#[test]
fn sensitive_fields_are_never_indexed() {
    let mut e = Encoder::new();
    let mut d = Decoder::default();
    for _ in 0..2 {
        let mut block = Vec::new();
        e.encode(
            [Field::sensitive(b"authorization", b"Bearer abc")],
            &mut block,
        );
        assert_eq!(block[0] & 0xf0, 0x10);
        let mut seen = Vec::new();
        d.decode(&block, 1 << 16, |n, v, s| {
            seen.push((n.to_vec(), v.to_vec(), s))
        })
        .unwrap();
        assert_eq!(
            seen,
            [(b"authorization".to_vec(), b"Bearer abc".to_vec(), true)]
        );
    }
    assert_eq!(d_table(&d), (0, 0));
}

#[test]
fn size_updates() {
    // Not at the start.
    let mut d = Decoder::default();
    assert_eq!(
        decode(&mut d, &[0x82, 0x20]),
        Err(DecodeError::SizeUpdateNotAtStart)
    );
    // Above our setting.
    let mut d = Decoder::default();
    assert_eq!(
        decode(&mut d, &[0x3f, 0xe1, 0x1f]), // 31 + 4065 = 4096 is fine
        Ok(vec![])
    );
    assert_eq!(
        decode(&mut d, &[0x3f, 0xe2, 0x1f]),
        Err(DecodeError::SizeUpdateTooLarge {
            size: 4097,
            max: 4096
        })
    );
    // Two at the start are fine; the table shrinks and evicts.
    let mut d = Decoder::default();
    decode(&mut d, &hex(C3[0])).unwrap();
    assert_eq!(
        decode(&mut d, &[0x20, 0x3f, 0x21, 0xbe]),
        Err(DecodeError::InvalidIndex(62))
    );
    // After we lower the setting, the next block must start with an update.
    let mut d = Decoder::default();
    d.set_max_table_size(100);
    assert_eq!(decode(&mut d, &[0x82]), Err(DecodeError::SizeUpdateMissing));
    let mut d = Decoder::default();
    d.set_max_table_size(100);
    assert_eq!(
        decode(&mut d, &[0x3f, 0x46]), // 101
        Err(DecodeError::SizeUpdateTooLarge {
            size: 101,
            max: 100
        })
    );
    let mut d = Decoder::default();
    d.set_max_table_size(100);
    assert_eq!(
        decode(&mut d, &[0x3f, 0x45, 0x82]),
        Ok(list(&[(":method", "GET")]))
    );
    assert_eq!(decode(&mut d, &[0x82]), Ok(list(&[(":method", "GET")])));
    // Raising it needs no update.
    d.set_max_table_size(8192);
    assert_eq!(decode(&mut d, &[0x82]), Ok(list(&[(":method", "GET")])));
}

#[test]
fn encoder_emits_size_updates_at_the_next_block() {
    let mut e = Encoder::new();
    let mut block = Vec::new();
    e.encode([Field::new(b"x", b"y")], &mut block);
    // Down to 0 and back to 4096 between two blocks: both updates (§4.2).
    e.set_max_table_size(0);
    e.set_max_table_size(4096);
    let mut block = Vec::new();
    e.encode([Field::new(b"x", b"y")], &mut block);
    assert_eq!(block[..4], [0x20, 0x3f, 0xe1, 0x1f]);
    // The old entry is gone: "x: y" is a literal again, not an index.
    assert_eq!(block[4], 0x40);
    // Larger than our cap: capped, and no update when nothing changes.
    let mut e = Encoder::new();
    e.set_max_table_size(1 << 20);
    let mut block = Vec::new();
    e.encode([Field::new(b":method", b"GET")], &mut block);
    assert_eq!(block, [0x82]);
}

/// One 4 KiB entry, then `refs` references to it.
fn bomb(refs: usize) -> Vec<u8> {
    let mut block = vec![0x40];
    int(&mut block, 1, 7, 0);
    block.push(b'b');
    int(&mut block, 4000, 7, 0);
    block.extend(std::iter::repeat_n(b'x', 4000));
    block.extend(std::iter::repeat_n(0xbe, refs));
    block
}

#[test]
fn bombs_are_refused_and_the_table_stays_in_sync() {
    let mut d = Decoder::default();
    let mut emitted = 0usize;
    let r = d.decode(&bomb(100_000), 16 * 1024, |_, _, _| emitted += 1);
    assert_eq!(r, Err(DecodeError::HeaderListTooLarge { max: 16 * 1024 }));
    assert_eq!(r.unwrap_err().error_code(), None);
    assert!(emitted <= 4, "{emitted}");
    // An incremental literal after the limit still lands in the table.
    let mut block = bomb(10);
    block.extend_from_slice(&hex(
        "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
    ));
    assert!(d.decode(&block, 100, |_, _, _| {}).is_err());
    assert_eq!(
        decode(&mut d, &[0xbe]),
        Ok(list(&[("custom-key", "custom-header")]))
    );
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(7541);
    let mut seeds: Vec<Vec<u8>> = C3
        .iter()
        .chain(&C4)
        .chain(&C5)
        .chain(&C6)
        .map(|s| hex(s))
        .collect();
    seeds.push(bomb(3));
    for i in 0..20_000 {
        let mut block = if i % 2 == 0 {
            (0..rng.below(64)).map(|_| rng.byte_biased()).collect()
        } else {
            let mut b = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                if !b.is_empty() {
                    let at = rng.below(b.len());
                    b[at] = rng.next_u64() as u8;
                }
            }
            b.truncate(rng.below(b.len() + 1).max(b.len() / 2));
            b
        };
        block.shrink_to_fit();
        let mut d = Decoder::new(rng.below(5000));
        for _ in 0..2 {
            let _ = d.decode(&block, rng.below(1 << 14), |_, _, _| {});
        }
    }
}

fn random_field(rng: &mut Rng) -> (Vec<u8>, Vec<u8>, bool) {
    const NAMES: [&str; 8] = [
        ":status",
        "content-type",
        "grpc-status",
        "grpc-message",
        "x-trace",
        "date",
        "content-length",
        "authorization",
    ];
    let name = if rng.below(4) == 0 {
        (0..rng.below(20)).map(|_| rng.next_u64() as u8).collect()
    } else {
        NAMES[rng.below(NAMES.len())].as_bytes().to_vec()
    };
    let value = if rng.below(3) == 0 {
        (0..rng.below(300)).map(|_| rng.next_u64() as u8).collect()
    } else {
        format!("{}", rng.below(5)).into_bytes()
    };
    (name, value, rng.below(10) == 0)
}

#[test]
fn random_field_lists_round_trip_with_table_size_changes() {
    let mut rng = Rng::new(9113);
    let mut e = Encoder::new();
    let mut d = Decoder::default();
    for _ in 0..3_000 {
        if rng.below(20) == 0 {
            // A SETTINGS_HEADER_TABLE_SIZE change, acknowledged.
            let size = [0, 1, 64, 256, 4096, 8192][rng.below(6)];
            e.set_max_table_size(size);
            d.set_max_table_size(size.min(4096).max(e.table_size()));
        }
        let fields: Vec<_> = (0..rng.below(12)).map(|_| random_field(&mut rng)).collect();
        let mut block = Vec::new();
        e.encode(
            fields.iter().map(|(n, v, s)| {
                if *s {
                    Field::sensitive(n, v)
                } else {
                    Field::new(n, v)
                }
            }),
            &mut block,
        );
        let mut got = Vec::new();
        d.decode(&block, usize::MAX, |n, v, s| {
            got.push((n.to_vec(), v.to_vec(), s))
        })
        .unwrap();
        assert_eq!(got, fields);
    }
}

#[test]
fn random_bombs_are_refused_after_bounded_fields() {
    let mut rng = Rng::new(431);
    for _ in 0..200 {
        let limit = 1 + rng.below(32 * 1024);
        let mut d = Decoder::default();
        let mut emitted = 0usize;
        let mut bytes = 0usize;
        let r = d.decode(&bomb(1 + rng.below(20_000)), limit, |n, v, _| {
            emitted += 1;
            bytes += n.len() + v.len() + 32;
        });
        assert!(bytes <= limit);
        assert!(emitted <= limit / 4033 + 1);
        if r.is_err() {
            assert_eq!(r, Err(DecodeError::HeaderListTooLarge { max: limit }));
        }
    }
}

#[test]
fn list_size_errors_keep_the_tables_in_sync() {
    let mut rng = Rng::new(6552);
    let mut e = Encoder::new();
    let mut d = Decoder::default();
    let (mut refused, mut accepted) = (0, 0);
    for _ in 0..3_000 {
        let fields: Vec<_> = (0..rng.below(12)).map(|_| random_field(&mut rng)).collect();
        let mut block = Vec::new();
        e.encode(fields.iter().map(|(n, v, _)| Field::new(n, v)), &mut block);
        let size: usize = fields.iter().map(|(n, v, _)| n.len() + v.len() + 32).sum();
        let limit = rng.below(size + size / 2 + 1);
        let mut got = Vec::new();
        let r = d.decode(&block, limit, |n, v, _| got.push((n.to_vec(), v.to_vec())));
        if size > limit {
            assert_eq!(r, Err(DecodeError::HeaderListTooLarge { max: limit }));
            refused += 1;
        } else {
            assert_eq!(r, Ok(()));
            let want: Vec<_> = fields.into_iter().map(|(n, v, _)| (n, v)).collect();
            assert_eq!(got, want);
            accepted += 1;
        }
    }
    assert!(refused > 500 && accepted > 500, "{refused} {accepted}");
}

#[test]
fn debug_never_shows_sensitive_values() {
    let shown = format!(
        "{:?}",
        Field::sensitive(b"authorization", b"Bearer hunter2")
    );
    assert!(!shown.contains("hunter2"), "{shown}");
    let mut e = Encoder::new();
    let mut block = Vec::new();
    e.encode([Field::new(b"cookie", b"session=hunter2")], &mut block);
    let mut d = Decoder::default();
    d.decode(&block, 1 << 16, |_, _, _| {}).unwrap();
    assert!(!format!("{e:?}{d:?}").contains("hunter2"));
}

#[test]
fn grpc_requests_are_cheap_after_the_first() {
    let request = |timeout: &str| {
        list(&[
            (":method", "POST"),
            (":scheme", "http"),
            (":path", "/grpc.testing.TestService/UnaryCall"),
            (":authority", "localhost:50051"),
            ("content-type", "application/grpc"),
            ("te", "trailers"),
            ("grpc-timeout", timeout),
            ("user-agent", "aqueduct/0.1"),
        ])
    };
    let mut e = Encoder::new();
    let mut d = Decoder::default();
    let first = encode(&mut e, &request("1S"));
    assert_eq!(decode(&mut d, &first), Ok(request("1S")));
    for timeout in ["999m", "5S", "1S"] {
        let block = encode(&mut e, &request(timeout));
        // Seven one-byte indices, and grpc-timeout as an indexed name (2
        // bytes: a 4-bit prefix) plus its value (1 + at most its length).
        assert!(block.len() <= 7 + 2 + 1 + timeout.len(), "{block:02x?}");
        assert_eq!(decode(&mut d, &block), Ok(request(timeout)));
    }
}

/// `iters` blocks from `seed`: random bytes and mutated RFC examples, each
/// decoded twice with the same decoder (a table left by an error must not
/// panic the next block) under random table and list limits.
fn fuzz(iters: u64, seed: u64) {
    let mut rng = Rng::new(seed);
    let seeds: Vec<Vec<u8>> = C3
        .iter()
        .chain(&C4)
        .chain(&C5)
        .chain(&C6)
        .map(|s| hex(s))
        .chain([bomb(3)])
        .collect();
    for i in 0..iters {
        let block: Vec<u8> = if i % 2 == 0 {
            (0..rng.below(64)).map(|_| rng.byte_biased()).collect()
        } else {
            let mut b = seeds[rng.below(seeds.len())].clone();
            for _ in 0..=rng.below(4) {
                if !b.is_empty() {
                    let at = rng.below(b.len());
                    b[at] = rng.next_u64() as u8;
                }
            }
            b.truncate(rng.below(b.len() + 1).max(b.len() / 2));
            b
        };
        let mut d = Decoder::new(rng.below(5000));
        let limit = rng.below(1 << 14);
        for _ in 0..2 {
            let mut listed = 0usize;
            let _ = d.decode(&block, limit, |name, value, _| {
                listed += name.len() + value.len() + 32;
            });
            assert!(
                listed <= limit,
                "seed {seed:#x}, block {i}: {listed} over {limit}"
            );
        }
    }
}

/// The long run: `AQUEDUCT_FUZZ_ITERS=10000000 cargo test --release -p
/// aqueduct-http2 hpack::tests::fuzz_long -- --ignored` (and
/// `AQUEDUCT_FUZZ_SEED` for another sequence).
#[test]
#[ignore = "long; set AQUEDUCT_FUZZ_ITERS"]
fn fuzz_long() {
    let (iters, seed) = crate::test_rng::long_run_params();
    fuzz(iters, seed);
}

#[test]
fn fuzz_short() {
    fuzz(5_000, 0x7541_7541);
}
