//! Fuzz-style tests with the crate's deterministic generator: random bytes
//! and random mutations of valid frames never panic, the decoder never
//! consumes more than it holds, and a byte-at-a-time feed gives the same
//! frames and errors as a whole one.

use bytes::{BufMut, BytesMut};

use super::*;
use crate::ErrorCode;
use crate::test_rng::Rng;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

/// Decodes what `buf` holds, as a connection would: on past stream errors,
/// stopping at a connection error. Returns whether it stopped.
fn drain(buf: &mut BytesMut, max: u32, out: &mut Vec<Result<Frame, FrameError>>) -> bool {
    // Each round consumes a frame or stops, so this bound is never reached.
    for _ in 0..100_000 {
        let before = buf.len();
        let result = decode(buf, max);
        assert!(buf.len() <= before, "decode never adds bytes");
        match result {
            Ok(None) => {
                assert_eq!(buf.len(), before, "waiting consumes nothing");
                return false;
            }
            Ok(Some(frame)) => {
                assert!(
                    buf.len() + HEADER_LEN <= before,
                    "a frame consumed its header"
                );
                check_frame(&frame, before - buf.len());
                out.push(Ok(frame));
            }
            Err(e) => {
                out.push(Err(e));
                if e.is_connection_error() {
                    return true;
                }
                assert!(buf.len() < before, "a stream error consumed its frame");
            }
        }
    }
    panic!("decode made no progress");
}

/// What a frame's slices may hold, given the bytes it consumed.
fn check_frame(frame: &Frame, consumed: usize) {
    let payload = consumed - HEADER_LEN;
    let inner = match frame {
        Frame::Data(d) => {
            assert_eq!(d.flow_controlled_len() as usize, payload);
            d.data.len()
        }
        Frame::Headers(h) => h.fragment.len(),
        Frame::PushPromise(p) => p.fragment.len() + 4,
        Frame::Continuation(c) => c.fragment.len(),
        Frame::GoAway(g) => g.debug_data.len() + 8,
        Frame::Unknown(u) => u.payload.len(),
        Frame::Settings(s) => s.iter().count() * 6,
        _ => 0,
    };
    assert!(inner <= payload);
}

fn whole(bytes: &[u8], max: u32) -> Vec<Result<Frame, FrameError>> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    drain(&mut buf, max, &mut out);
    out
}

fn byte_at_a_time(bytes: &[u8], max: u32) -> Vec<Result<Frame, FrameError>> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for &b in bytes {
        buf.put_u8(b);
        if drain(&mut buf, max, &mut out) {
            break;
        }
    }
    out
}

/// Valid frames of every type, written by the encoders and by hand (padding).
fn corpus(rng: &mut Rng) -> Vec<u8> {
    let mut buf = Vec::new();
    let n = 1 + rng.below(6);
    for _ in 0..n {
        let id = 1 + rng.below(9) as u32;
        let len = rng.below(40);
        let body: Vec<u8> = (0..len).map(|_| rng.byte_biased()).collect();
        match rng.below(12) {
            0 => write_data(&mut buf, id, &body, rng.below(2) == 0, MAX),
            1 => write_headers(&mut buf, id, &body, rng.below(2) == 0, MAX),
            2 => write_priority(
                &mut buf,
                id,
                PrioritySpec {
                    exclusive: rng.below(2) == 0,
                    dependency: id + 1,
                    weight: rng.byte_biased(),
                },
            ),
            3 => write_rst_stream(&mut buf, id, ErrorCode::from_u32(rng.below(16) as u32)),
            4 => write_settings(
                &mut buf,
                &[
                    Setting::InitialWindowSize(rng.below(1 << 20) as u32),
                    Setting::MaxFrameSize(MAX),
                    Setting::EnablePush(false),
                ],
            ),
            5 => write_settings_ack(&mut buf),
            6 => write_push_promise(&mut buf, id, id + 1, &body, MAX),
            7 => write_ping(&mut buf, [rng.byte_biased(); 8], rng.below(2) == 0),
            8 => write_goaway(&mut buf, id, ErrorCode::NoError, &body),
            9 => write_window_update(&mut buf, rng.below(3) as u32, 1 + rng.below(1000) as u32),
            10 => {
                // DATA or HEADERS with padding, by hand.
                let kind = if rng.below(2) == 0 {
                    kind::DATA
                } else {
                    kind::HEADERS
                };
                let pad = rng.below(5);
                FrameHeader {
                    length: (1 + len + pad) as u32,
                    kind,
                    flags: flags::PADDED | flags::END_HEADERS,
                    stream_id: id,
                }
                .encode(&mut buf);
                buf.put_u8(pad as u8);
                buf.put_slice(&body);
                buf.put_bytes(0, pad);
            }
            _ => {
                FrameHeader {
                    length: len as u32,
                    kind: 0x10 + rng.below(0xe0) as u8,
                    flags: rng.byte_biased(),
                    stream_id: id,
                }
                .encode(&mut buf);
                buf.put_slice(&body);
            }
        }
    }
    buf
}

fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            0 | 1 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b = rng.byte_biased();
                }
            }
            2 => {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << rng.below(8);
                }
            }
            3 => bytes.truncate(at),
            _ => {
                let extra: Vec<u8> = (0..rng.below(12)).map(|_| rng.byte_biased()).collect();
                bytes.splice(at..at, extra);
            }
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0x5eed_f4a3);
    for _ in 0..20_000 {
        let len = rng.below(120);
        let bytes: Vec<u8> = (0..len).map(|_| rng.byte_biased()).collect();
        let max = if rng.below(2) == 0 {
            MAX
        } else {
            rng.next_u64() as u32
        };
        let frames = whole(&bytes, max);
        let _ = check_preface(&bytes);
        let _ = FrameHeader::parse(&bytes);
        let mut assembler = HeaderBlockAssembler::new(rng.below(4), rng.below(64));
        for frame in frames.into_iter().flatten() {
            if assembler.push(frame).is_err() {
                break;
            }
        }
    }
}

#[test]
fn valid_frames_decode_without_errors() {
    let mut rng = Rng::new(7);
    for _ in 0..2_000 {
        let bytes = corpus(&mut rng);
        let frames = whole(&bytes, MAX);
        assert!(frames.iter().all(Result::is_ok), "{frames:?}");
        let mut buf = BytesMut::from(&bytes[..]);
        let mut out = Vec::new();
        drain(&mut buf, MAX, &mut out);
        assert!(buf.is_empty(), "all consumed");
    }
}

#[test]
fn mutated_frames_never_panic_and_feed_the_same_byte_by_byte() {
    let mut rng = Rng::new(0xdead_beef);
    let (mut frames, mut errors) = (0, std::collections::HashSet::new());
    for _ in 0..5_000 {
        let mut bytes = corpus(&mut rng);
        mutate(&mut rng, &mut bytes);
        let max = if rng.below(4) == 0 {
            16 + rng.below(64) as u32
        } else {
            MAX
        };
        let out = whole(&bytes, max);
        assert_eq!(out, byte_at_a_time(&bytes, max));
        for result in out {
            match result {
                Ok(_) => frames += 1,
                Err(e) => {
                    errors.insert((e.code(), e.is_connection_error()));
                }
            }
        }
    }
    // The mutations reach the decoder's rules, not only its length check.
    assert!(frames > 5_000, "{frames}");
    for expected in [
        (ErrorCode::ProtocolError, true),
        (ErrorCode::ProtocolError, false),
        (ErrorCode::FrameSizeError, true),
        (ErrorCode::FrameSizeError, false),
        (ErrorCode::FlowControlError, true),
    ] {
        assert!(errors.contains(&expected), "{expected:?} not in {errors:?}");
    }
}

#[test]
fn valid_frames_feed_the_same_byte_by_byte() {
    let mut rng = Rng::new(99);
    for _ in 0..500 {
        let bytes = corpus(&mut rng);
        let frames = whole(&bytes, MAX);
        assert_eq!(frames, byte_at_a_time(&bytes, MAX));
    }
}

/// `iters` inputs from `seed`: random bytes and mutated valid streams in
/// turn, each decoded whole and byte at a time (the same frames and errors),
/// and the frames pushed through a header block assembler.
fn fuzz(iters: u64, seed: u64) {
    let mut rng = Rng::new(seed);
    for i in 0..iters {
        let bytes = if i % 2 == 0 {
            let len = rng.below(120);
            (0..len).map(|_| rng.byte_biased()).collect()
        } else {
            let mut bytes = corpus(&mut rng);
            mutate(&mut rng, &mut bytes);
            bytes
        };
        let max = if rng.below(4) == 0 {
            16 + rng.below(64) as u32
        } else {
            MAX
        };
        let out = whole(&bytes, max);
        assert_eq!(
            out,
            byte_at_a_time(&bytes, max),
            "seed {seed:#x}, input {i}"
        );
        let _ = check_preface(&bytes);
        let mut assembler = HeaderBlockAssembler::new(rng.below(4), rng.below(64));
        for frame in out.into_iter().flatten() {
            if assembler.push(frame).is_err() {
                break;
            }
        }
    }
}

#[test]
fn fuzz_short() {
    fuzz(5_000, 0x1f2e_3d4c);
}

/// The long run: `AQUEDUCT_FUZZ_ITERS=10000000 cargo test --release -p
/// aqueduct-http2 frame::tests_fuzz::fuzz_long -- --ignored` (and
/// `AQUEDUCT_FUZZ_SEED` for another sequence).
#[test]
#[ignore = "long; set AQUEDUCT_FUZZ_ITERS"]
fn fuzz_long() {
    let (iters, seed) = crate::test_rng::long_run_params();
    fuzz(iters, seed);
}
