//! Every frame type written by `write_*` and read back by `decode`.

use bytes::BytesMut;

use super::*;
use crate::ErrorCode;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

/// Decodes every frame in `buf`, which must hold whole frames only.
fn all(buf: BytesMut, max: u32) -> Vec<Frame> {
    let mut buf = buf;
    let mut frames = Vec::new();
    while let Some(frame) = decode(&mut buf, max).expect("valid frames") {
        frames.push(frame);
    }
    assert!(buf.is_empty(), "only whole frames");
    frames
}

fn one(buf: BytesMut) -> Frame {
    let mut frames = all(buf, MAX);
    assert_eq!(frames.len(), 1);
    frames.remove(0)
}

#[test]
fn data_round_trip() {
    for end_stream in [false, true] {
        let mut buf = BytesMut::new();
        write_data(&mut buf, 5, b"payload", end_stream, MAX);
        let expected = Frame::Data(Data {
            stream_id: 5,
            end_stream,
            data: bytes::Bytes::from_static(b"payload"),
            pad_len: None,
        });
        assert_eq!(one(buf), expected);
    }
    let mut buf = BytesMut::new();
    write_data(&mut buf, 5, b"", true, MAX);
    let Frame::Data(d) = one(buf) else { panic!() };
    assert!(d.end_stream && d.data.is_empty());
}

#[test]
fn data_split_by_max_frame_size_end_stream_on_last() {
    let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    let mut buf = BytesMut::new();
    write_data(&mut buf, 1, &data, true, MAX);
    let frames = all(buf, MAX);
    assert_eq!(frames.len(), 3);
    let mut joined = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let Frame::Data(d) = f else { panic!() };
        assert!(d.data.len() <= MAX as usize);
        assert_eq!(d.end_stream, i == 2);
        joined.extend_from_slice(&d.data);
    }
    assert_eq!(joined, data);
    // A bad max (below the RFC's minimum) is raised to it, not looped on.
    let mut buf = BytesMut::new();
    write_data(&mut buf, 1, &data, false, 0);
    assert_eq!(all(buf, MAX).len(), 3);
}

#[test]
fn headers_round_trip_and_split_into_continuation() {
    let mut buf = BytesMut::new();
    write_headers(&mut buf, 3, b"block", true, MAX);
    let expected = Frame::Headers(Headers {
        stream_id: 3,
        end_stream: true,
        end_headers: true,
        priority: None,
        fragment: bytes::Bytes::from_static(b"block"),
    });
    assert_eq!(one(buf), expected);

    let block: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    let mut buf = BytesMut::new();
    write_headers(&mut buf, 3, &block, false, MAX);
    let frames = all(buf, MAX);
    assert_eq!(frames.len(), 4);
    assert!(matches!(&frames[0], Frame::Headers(h) if !h.end_headers && !h.end_stream));
    assert!(matches!(&frames[3], Frame::Continuation(c) if c.end_headers));
    let mut assembler = HeaderBlockAssembler::new(8, 64 * 1024);
    let mut out = None;
    for f in frames {
        if let Assembled::Block(b) = assembler.push(f).unwrap() {
            out = Some(b);
        }
    }
    let out = out.expect("a whole block");
    assert_eq!((out.stream_id, &out.block[..]), (3, &block[..]));
    assert_eq!(
        out.kind,
        BlockKind::Headers {
            end_stream: false,
            priority: None
        }
    );
    // An empty block is one HEADERS frame with END_HEADERS.
    let mut buf = BytesMut::new();
    write_headers(&mut buf, 3, b"", false, MAX);
    assert!(matches!(one(buf), Frame::Headers(h) if h.end_headers && h.fragment.is_empty()));
}

#[test]
fn header_block_split_at_the_exact_boundaries() {
    for (len, frames) in [
        (MAX as usize, 1),
        (MAX as usize + 1, 2),
        (2 * MAX as usize, 2),
    ] {
        let mut buf = BytesMut::new();
        write_headers(&mut buf, 1, &vec![1; len], false, MAX);
        let got = all(buf, MAX);
        assert_eq!(got.len(), frames, "{len} bytes");
        let last_ends = match got.last() {
            Some(Frame::Headers(h)) => h.end_headers,
            Some(Frame::Continuation(c)) => c.end_headers && !c.fragment.is_empty(),
            _ => false,
        };
        assert!(last_ends, "END_HEADERS on a non-empty last frame");
    }
}

#[test]
fn push_promise_round_trip_and_split() {
    let mut buf = BytesMut::new();
    write_push_promise(&mut buf, 1, 2, b"blk", MAX);
    let expected = Frame::PushPromise(PushPromise {
        stream_id: 1,
        promised_stream_id: 2,
        end_headers: true,
        fragment: bytes::Bytes::from_static(b"blk"),
    });
    assert_eq!(one(buf), expected);
    let block = vec![9u8; MAX as usize];
    let mut buf = BytesMut::new();
    write_push_promise(&mut buf, 1, 2, &block, MAX);
    let frames = all(buf, MAX);
    assert_eq!(
        frames.len(),
        2,
        "the promised id takes 4 bytes of the first frame"
    );
}

#[test]
fn priority_round_trip() {
    let spec = PrioritySpec {
        exclusive: true,
        dependency: 1,
        weight: 200,
    };
    let mut buf = BytesMut::new();
    write_priority(&mut buf, 3, spec);
    assert_eq!(one(buf), Frame::Priority(Priority { stream_id: 3, spec }));
}

#[test]
fn rst_stream_round_trip() {
    for code in [ErrorCode::Cancel, ErrorCode::Other(0x99)] {
        let mut buf = BytesMut::new();
        write_rst_stream(&mut buf, 7, code);
        let expected = Frame::RstStream(RstStream {
            stream_id: 7,
            error_code: code,
        });
        assert_eq!(one(buf), expected);
    }
}

#[test]
fn settings_round_trip_and_ack() {
    let sent = [
        Setting::HeaderTableSize(0),
        Setting::EnablePush(false),
        Setting::MaxConcurrentStreams(100),
        Setting::InitialWindowSize(MAX_WINDOW_SIZE),
        Setting::MaxFrameSize(MAX_MAX_FRAME_SIZE),
        Setting::MaxHeaderListSize(16_384),
    ];
    let mut buf = Vec::new();
    write_settings(&mut buf, &sent);
    let Frame::Settings(s) = one(BytesMut::from(&buf[..])) else {
        panic!()
    };
    assert!(!s.ack);
    assert_eq!(s.iter().collect::<Vec<_>>(), sent);
    let mut buf = Vec::new();
    write_settings_ack(&mut buf);
    let Frame::Settings(s) = one(BytesMut::from(&buf[..])) else {
        panic!()
    };
    assert!(s.ack && s.iter().next().is_none());
}

#[test]
fn ping_round_trip() {
    for ack in [false, true] {
        let mut buf = BytesMut::new();
        write_ping(&mut buf, *b"abcdefgh", ack);
        let expected = Frame::Ping(Ping {
            ack,
            payload: *b"abcdefgh",
        });
        assert_eq!(one(buf), expected);
    }
}

#[test]
fn goaway_round_trip_and_long_debug_data_is_cut() {
    let mut buf = BytesMut::new();
    write_goaway(&mut buf, 0x8000_0009, ErrorCode::EnhanceYourCalm, b"calm");
    let expected = Frame::GoAway(GoAway {
        last_stream_id: 9,
        error_code: ErrorCode::EnhanceYourCalm,
        debug_data: bytes::Bytes::from_static(b"calm"),
    });
    assert_eq!(one(buf), expected);
    let mut buf = BytesMut::new();
    write_goaway(&mut buf, 1, ErrorCode::NoError, &vec![b'x'; 100_000]);
    let Frame::GoAway(g) = one(buf) else { panic!() };
    assert_eq!(g.debug_data.len(), MAX as usize - 8);
}

#[test]
fn window_update_round_trip() {
    for stream_id in [0, 1] {
        let mut buf = BytesMut::new();
        write_window_update(&mut buf, stream_id, MAX_WINDOW_SIZE);
        let expected = Frame::WindowUpdate(WindowUpdate {
            stream_id,
            increment: MAX_WINDOW_SIZE,
        });
        assert_eq!(one(buf), expected);
    }
}

#[test]
fn frame_header_round_trip_clears_reserved_bit() {
    let header = FrameHeader {
        length: MAX_MAX_FRAME_SIZE,
        kind: 0xee,
        flags: 0xff,
        stream_id: u32::MAX,
    };
    let mut buf = Vec::new();
    header.encode(&mut buf);
    assert_eq!(buf.len(), HEADER_LEN);
    let back = FrameHeader::parse(&buf).unwrap();
    assert_eq!(back.stream_id, 0x7fff_ffff);
    assert_eq!(
        (back.length, back.kind, back.flags),
        (MAX_MAX_FRAME_SIZE, 0xee, 0xff)
    );
    assert!(back.has(flags::END_HEADERS | flags::PADDED));
}

#[test]
fn writers_append_to_one_buffer_for_one_flush() {
    let mut buf = Vec::new();
    write_settings(&mut buf, &[Setting::MaxConcurrentStreams(10)]);
    write_window_update(&mut buf, 0, 1 << 20);
    write_headers(&mut buf, 1, b"h", false, MAX);
    write_data(&mut buf, 1, b"d", true, MAX);
    write_rst_stream(&mut buf, 3, ErrorCode::RefusedStream);
    write_ping(&mut buf, [0; 8], false);
    write_goaway(&mut buf, 1, ErrorCode::NoError, b"");
    let kinds: Vec<u8> = all(BytesMut::from(&buf[..]), MAX)
        .iter()
        .map(Frame::kind)
        .collect();
    assert_eq!(kinds, [4, 8, 1, 0, 3, 6, 7]);
}
