//! One test per rule of RFC 9113 §3.4, §4 and §6 that a frame follows on its
//! own, named after the section (h2spec's numbering).

use bytes::{BufMut, BytesMut};

use super::*;
use crate::ErrorCode;

const MAX: u32 = DEFAULT_MAX_FRAME_SIZE;

/// A frame as raw bytes, reserved bit and all.
fn raw(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> BytesMut {
    let mut buf = BytesMut::new();
    let [_, l0, l1, l2] = (payload.len() as u32).to_be_bytes();
    buf.put_slice(&[l0, l1, l2, kind, flags]);
    buf.put_u32(stream_id);
    buf.put_slice(payload);
    buf
}

/// Decodes a buffer holding exactly one frame.
fn one(mut buf: BytesMut) -> Result<Frame, FrameError> {
    let frame = decode(&mut buf, MAX).map(|f| f.expect("a whole frame"));
    if frame.is_ok() {
        assert!(buf.is_empty(), "the frame was consumed");
    }
    frame
}

fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Result<Frame, FrameError> {
    one(raw(kind, flags, stream_id, payload))
}

#[track_caller]
fn conn_err(result: Result<Frame, FrameError>, code: ErrorCode) {
    let err = result.expect_err("a connection error");
    assert_eq!(
        (err.code(), err.scope()),
        (code, ErrorScope::Connection),
        "{err}"
    );
    assert!(!err.reason().is_empty());
}

#[track_caller]
fn stream_err(result: Result<Frame, FrameError>, id: u32, code: ErrorCode) {
    let err = result.expect_err("a stream error");
    assert_eq!(
        (err.code(), err.scope()),
        (code, ErrorScope::Stream(id)),
        "{err}"
    );
}

use ErrorCode::{EnhanceYourCalm, FlowControlError, FrameSizeError, ProtocolError};

// §3.4

#[test]
fn s3_4_preface_whole_partial_and_wrong() {
    assert_eq!(check_preface(PREFACE), Ok(Some(24)));
    let mut longer = PREFACE.to_vec();
    longer.extend_from_slice(b"\0\0\0\x04");
    assert_eq!(check_preface(&longer), Ok(Some(24)));
    assert_eq!(check_preface(b""), Ok(None));
    assert_eq!(check_preface(&PREFACE[..10]), Ok(None));
    let err = check_preface(b"GET / HTTP/1.1\r\n").unwrap_err();
    assert_eq!(
        (err.code(), err.is_connection_error()),
        (ProtocolError, true)
    );
    assert!(check_preface(b"PRI * HTTP/2.1").is_err());
}

// §4.1

#[test]
fn s4_1_header_fields_and_reserved_bit_ignored() {
    let buf = raw(0xfa, 0x5a, 0x8000_0003, &[1, 2, 3]);
    let header = FrameHeader::parse(&buf).unwrap();
    assert_eq!(
        header,
        FrameHeader {
            length: 3,
            kind: 0xfa,
            flags: 0x5a,
            stream_id: 3
        }
    );
    assert_eq!(FrameHeader::parse(&buf[..8]), None);
    let Frame::Data(data) = frame(kind::DATA, 0, 0x8000_0001, b"x").unwrap() else {
        panic!("DATA");
    };
    assert_eq!(data.stream_id, 1);
}

#[test]
fn s4_1_unknown_frame_type_is_returned_for_skipping() {
    let f = frame(0x42, 0xff, 7, b"whatever").unwrap();
    let Frame::Unknown(u) = &f else {
        panic!("{f:?}")
    };
    assert_eq!(
        (u.header.kind, u.header.flags, u.header.stream_id),
        (0x42, 0xff, 7)
    );
    assert_eq!(&u.payload[..], b"whatever");
    assert_eq!(f.stream_id(), 7);
}

#[test]
fn s4_1_undefined_flags_are_ignored() {
    let f = frame(kind::DATA, 0xf6, 1, b"ab").unwrap();
    let Frame::Data(d) = f else { panic!() };
    assert_eq!(
        (d.end_stream, d.pad_len, &d.data[..]),
        (false, None, &b"ab"[..])
    );
    let Frame::Ping(p) = frame(kind::PING, 0xfe, 0, &[0; 8]).unwrap() else {
        panic!()
    };
    assert!(!p.ack);
}

#[test]
fn s4_1_incomplete_frames_wait_and_leave_the_buffer_alone() {
    let whole = raw(kind::DATA, 0, 1, b"hello");
    for cut in 0..whole.len() {
        let mut buf = BytesMut::from(&whole[..cut]);
        assert_eq!(decode(&mut buf, MAX), Ok(None), "cut at {cut}");
        assert_eq!(&buf[..], &whole[..cut]);
    }
}

#[test]
fn s4_1_frames_in_a_row_and_leftovers() {
    let mut buf = raw(kind::PING, 0, 0, &[1; 8]);
    buf.extend_from_slice(&raw(kind::DATA, 1, 3, b"z"));
    buf.extend_from_slice(&[0, 0]);
    assert!(matches!(decode(&mut buf, MAX), Ok(Some(Frame::Ping(_)))));
    assert!(matches!(decode(&mut buf, MAX), Ok(Some(Frame::Data(_)))));
    assert_eq!(decode(&mut buf, MAX), Ok(None));
    assert_eq!(&buf[..], &[0, 0]);
}

// §4.2

#[test]
fn s4_2_frame_above_max_frame_size_fails_before_its_payload_arrives() {
    let mut head = raw(kind::DATA, 0, 1, &[]);
    head[0..3].copy_from_slice(&[0x00, 0x40, 0x01]); // 16,385
    let err = decode(&mut head, MAX).unwrap_err();
    assert_eq!(
        (err.code(), err.is_connection_error()),
        (FrameSizeError, true)
    );
    assert_eq!(head.len(), HEADER_LEN, "untouched");
    // 2^24-1, a peer lying about a 16 MiB frame, same.
    head[0..3].copy_from_slice(&[0xff, 0xff, 0xff]);
    assert!(decode(&mut head, MAX).is_err());
    // Whatever the type (h2spec 4.2/3: HEADERS).
    for kind in [kind::HEADERS, kind::SETTINGS, kind::CONTINUATION, 0x77] {
        let mut head = raw(kind, 0, 1, &[]);
        head[0..3].copy_from_slice(&[0x00, 0x40, 0x01]);
        let err = decode(&mut head, MAX).unwrap_err();
        assert_eq!(
            (err.code(), err.is_connection_error()),
            (FrameSizeError, true)
        );
    }
}

#[test]
fn s4_2_frame_at_max_frame_size_and_a_raised_limit() {
    let payload = vec![7; MAX as usize];
    assert!(frame(kind::DATA, 0, 1, &payload).is_ok());
    let mut big = raw(kind::DATA, 0, 1, &vec![7; MAX as usize + 1]);
    assert!(decode(&mut big.clone(), MAX).is_err());
    assert!(matches!(
        decode(&mut big, MAX + 1),
        Ok(Some(Frame::Data(_)))
    ));
}

#[test]
fn s4_2_payload_not_matching_the_header_is_frame_size_error() {
    let header = FrameHeader {
        length: 4,
        kind: kind::RST_STREAM,
        flags: 0,
        stream_id: 1,
    };
    conn_err(
        parse_payload(header, bytes::Bytes::from_static(&[0; 3])),
        FrameSizeError,
    );
}

#[test]
fn s5_4_after_a_stream_error_the_next_frame_decodes() {
    let mut buf = raw(kind::WINDOW_UPDATE, 0, 5, &[0; 4]);
    buf.extend_from_slice(&raw(kind::PING, 0, 0, &[0; 8]));
    let err = decode(&mut buf, MAX).unwrap_err();
    assert_eq!(err.stream_id(), Some(5));
    assert!(matches!(decode(&mut buf, MAX), Ok(Some(Frame::Ping(_)))));
}

// §6.1 DATA

#[test]
fn s6_1_data_with_end_stream() {
    let f = frame(kind::DATA, flags::END_STREAM, 1, b"body").unwrap();
    let Frame::Data(d) = f else { panic!() };
    assert!(d.end_stream);
    assert_eq!(&d.data[..], b"body");
    assert_eq!(d.flow_controlled_len(), 4);
}

#[test]
fn s6_1_data_padding_is_removed_and_counted() {
    let f = frame(kind::DATA, flags::PADDED, 1, b"\x03body\0\0\0").unwrap();
    let Frame::Data(d) = f else { panic!() };
    assert_eq!((&d.data[..], d.pad_len), (&b"body"[..], Some(3)));
    assert_eq!(d.flow_controlled_len(), 8);
    // Padding that fills the payload exactly leaves empty data.
    let Frame::Data(d) = frame(kind::DATA, flags::PADDED, 1, b"\x02\0\0").unwrap() else {
        panic!()
    };
    assert!(d.data.is_empty());
    assert_eq!(d.flow_controlled_len(), 3);
}

#[test]
fn s6_1_data_on_stream_0_is_protocol_error() {
    conn_err(frame(kind::DATA, 0, 0, b"x"), ProtocolError);
}

#[test]
fn s6_1_data_padding_longer_than_payload_is_protocol_error() {
    conn_err(
        frame(kind::DATA, flags::PADDED, 1, b"\x03ab"),
        ProtocolError,
    );
    conn_err(frame(kind::DATA, flags::PADDED, 1, b"\x01"), ProtocolError);
    conn_err(frame(kind::DATA, flags::PADDED, 1, b""), FrameSizeError);
}

// §6.2 HEADERS

#[test]
fn s6_2_headers_flags_padding_and_priority_removed() {
    let payload = b"\x02\x80\0\0\x03\x0fblock\0\0";
    let flags = flags::PADDED | flags::PRIORITY | flags::END_STREAM | flags::END_HEADERS;
    let Frame::Headers(h) = frame(kind::HEADERS, flags, 1, payload).unwrap() else {
        panic!()
    };
    assert!(h.end_stream && h.end_headers);
    assert_eq!(&h.fragment[..], b"block");
    assert_eq!(
        h.priority,
        Some(PrioritySpec {
            exclusive: true,
            dependency: 3,
            weight: 15
        })
    );
    let Frame::Headers(h) = frame(kind::HEADERS, 0, 1, b"raw").unwrap() else {
        panic!()
    };
    assert!(!h.end_stream && !h.end_headers && h.priority.is_none());
    assert_eq!(&h.fragment[..], b"raw");
}

#[test]
fn rfc7540_s5_3_1_headers_depending_on_itself_is_reported_not_rejected() {
    let f = frame(
        kind::HEADERS,
        flags::PRIORITY | flags::END_HEADERS,
        3,
        b"\0\0\0\x03\x10hb",
    );
    let Frame::Headers(h) = f.unwrap() else {
        panic!()
    };
    assert!(h.depends_on_itself());
    assert_eq!(&h.fragment[..], b"hb", "the block is kept for HPACK");
    let Frame::Headers(h) = frame(kind::HEADERS, flags::PRIORITY, 3, b"\0\0\0\x01\x10").unwrap()
    else {
        panic!()
    };
    assert!(!h.depends_on_itself());
}

#[test]
fn s6_2_headers_on_stream_0_is_protocol_error() {
    conn_err(
        frame(kind::HEADERS, flags::END_HEADERS, 0, b"x"),
        ProtocolError,
    );
}

#[test]
fn s6_2_headers_padding_longer_than_fragment_room_is_protocol_error() {
    conn_err(
        frame(kind::HEADERS, flags::PADDED, 1, b"\x05abc"),
        ProtocolError,
    );
    let both = flags::PADDED | flags::PRIORITY;
    conn_err(
        frame(kind::HEADERS, both, 1, b"\x01\0\0\0\x03\x0f"),
        ProtocolError,
    );
}

#[test]
fn s6_2_headers_too_short_for_priority_is_frame_size_error() {
    conn_err(
        frame(kind::HEADERS, flags::PRIORITY, 1, b"\0\0\0"),
        FrameSizeError,
    );
}

// §6.3 PRIORITY

#[test]
fn s6_3_priority_parsed() {
    let Frame::Priority(p) = frame(kind::PRIORITY, 0, 3, b"\0\0\0\x01\x10").unwrap() else {
        panic!()
    };
    assert_eq!((p.stream_id, p.spec.dependency, p.spec.weight), (3, 1, 16));
    assert!(!p.spec.exclusive);
}

#[test]
fn s6_3_priority_on_stream_0_is_protocol_error() {
    conn_err(
        frame(kind::PRIORITY, 0, 0, b"\0\0\0\x01\x10"),
        ProtocolError,
    );
}

#[test]
fn s6_3_priority_wrong_length_is_stream_frame_size_error() {
    stream_err(
        frame(kind::PRIORITY, 0, 3, b"\0\0\0\x01"),
        3,
        FrameSizeError,
    );
    stream_err(
        frame(kind::PRIORITY, 0, 3, b"\0\0\0\x01\x10\0"),
        3,
        FrameSizeError,
    );
}

#[test]
fn rfc7540_s5_3_1_priority_depending_on_itself_is_stream_protocol_error() {
    stream_err(
        frame(kind::PRIORITY, 0, 3, b"\0\0\0\x03\x10"),
        3,
        ProtocolError,
    );
}

// §6.4 RST_STREAM

#[test]
fn s6_4_rst_stream_parsed() {
    let Frame::RstStream(r) = frame(kind::RST_STREAM, 0, 1, &[0, 0, 0, 8]).unwrap() else {
        panic!()
    };
    assert_eq!((r.stream_id, r.error_code), (1, ErrorCode::Cancel));
}

#[test]
fn s6_4_rst_stream_on_stream_0_is_protocol_error() {
    conn_err(frame(kind::RST_STREAM, 0, 0, &[0, 0, 0, 8]), ProtocolError);
}

#[test]
fn s6_4_rst_stream_wrong_length_is_frame_size_error() {
    conn_err(frame(kind::RST_STREAM, 0, 1, &[0, 0, 8]), FrameSizeError);
    conn_err(
        frame(kind::RST_STREAM, 0, 1, &[0, 0, 0, 0, 8]),
        FrameSizeError,
    );
}

// §6.5 SETTINGS

fn settings_payload(entries: &[(u16, u32)]) -> Vec<u8> {
    let mut buf = Vec::new();
    for &(id, value) in entries {
        buf.put_u16(id);
        buf.put_u32(value);
    }
    buf
}

fn settings(entries: &[(u16, u32)]) -> Result<Frame, FrameError> {
    frame(kind::SETTINGS, 0, 0, &settings_payload(entries))
}

#[test]
fn s6_5_settings_known_in_order_unknown_ignored() {
    let f = settings(&[
        (1, 0),
        (0x99, 5),
        (2, 0),
        (3, 100),
        (4, 65_535),
        (5, 16_384),
        (6, 8192),
        (1, 4096),
    ])
    .unwrap();
    let Frame::Settings(s) = f else { panic!() };
    assert!(!s.ack);
    let got: Vec<_> = s.iter().collect();
    assert_eq!(
        got,
        [
            Setting::HeaderTableSize(0),
            Setting::EnablePush(false),
            Setting::MaxConcurrentStreams(100),
            Setting::InitialWindowSize(65_535),
            Setting::MaxFrameSize(16_384),
            Setting::MaxHeaderListSize(8192),
            Setting::HeaderTableSize(4096),
        ]
    );
}

#[test]
fn s6_5_settings_ack_and_empty() {
    let Frame::Settings(s) = frame(kind::SETTINGS, flags::ACK, 0, b"").unwrap() else {
        panic!()
    };
    assert!(s.ack && s.iter().next().is_none());
    let Frame::Settings(s) = frame(kind::SETTINGS, 0, 0, b"").unwrap() else {
        panic!()
    };
    assert!(!s.ack);
}

#[test]
fn s6_5_settings_on_a_stream_is_protocol_error() {
    conn_err(frame(kind::SETTINGS, 0, 1, b""), ProtocolError);
}

#[test]
fn s6_5_settings_ack_with_payload_is_frame_size_error() {
    conn_err(
        frame(kind::SETTINGS, flags::ACK, 0, &settings_payload(&[(1, 0)])),
        FrameSizeError,
    );
}

#[test]
fn s6_5_settings_length_not_multiple_of_6_is_frame_size_error() {
    conn_err(
        frame(kind::SETTINGS, 0, 0, &[0, 1, 0, 0, 0]),
        FrameSizeError,
    );
    conn_err(
        frame(kind::SETTINGS, 0, 0, &[0, 1, 0, 0, 0, 0, 0]),
        FrameSizeError,
    );
}

#[test]
fn s6_5_2_enable_push_not_0_or_1_is_protocol_error() {
    assert!(settings(&[(2, 1)]).is_ok());
    conn_err(settings(&[(2, 2)]), ProtocolError);
}

#[test]
fn s6_5_2_initial_window_size_above_max_is_flow_control_error() {
    assert!(settings(&[(4, MAX_WINDOW_SIZE)]).is_ok());
    conn_err(settings(&[(4, MAX_WINDOW_SIZE + 1)]), FlowControlError);
    conn_err(settings(&[(4, u32::MAX)]), FlowControlError);
}

#[test]
fn s6_5_2_max_frame_size_out_of_range_is_protocol_error() {
    assert!(settings(&[(5, 16_384)]).is_ok());
    assert!(settings(&[(5, MAX_MAX_FRAME_SIZE)]).is_ok());
    conn_err(settings(&[(5, 16_383)]), ProtocolError);
    conn_err(settings(&[(5, MAX_MAX_FRAME_SIZE + 1)]), ProtocolError);
    conn_err(settings(&[(5, 0)]), ProtocolError);
}

#[test]
fn s6_5_2_unknown_settings_with_any_value_are_ignored() {
    let Frame::Settings(s) = settings(&[(0, u32::MAX), (7, 9), (0xffff, 1)]).unwrap() else {
        panic!()
    };
    assert_eq!(s.iter().count(), 0);
}

// §6.6 PUSH_PROMISE

#[test]
fn s6_6_push_promise_is_parsed_for_the_caller_to_judge() {
    let payload = b"\x01\x80\0\0\x02blk\0";
    let f = frame(
        kind::PUSH_PROMISE,
        flags::PADDED | flags::END_HEADERS,
        1,
        payload,
    )
    .unwrap();
    let Frame::PushPromise(p) = f else { panic!() };
    assert_eq!(
        (p.stream_id, p.promised_stream_id, p.end_headers),
        (1, 2, true)
    );
    assert_eq!(&p.fragment[..], b"blk");
}

#[test]
fn s6_6_push_promise_on_stream_0_is_protocol_error() {
    conn_err(
        frame(kind::PUSH_PROMISE, 0, 0, b"\0\0\0\x02"),
        ProtocolError,
    );
}

#[test]
fn s6_6_push_promise_too_short_or_overpadded() {
    conn_err(frame(kind::PUSH_PROMISE, 0, 1, b"\0\0\x02"), FrameSizeError);
    conn_err(
        frame(kind::PUSH_PROMISE, flags::PADDED, 1, b"\x01\0\0\0\x02"),
        ProtocolError,
    );
}

// §6.7 PING

#[test]
fn s6_7_ping_and_ack() {
    let Frame::Ping(p) = frame(kind::PING, flags::ACK, 0, b"12345678").unwrap() else {
        panic!()
    };
    assert!(p.ack);
    assert_eq!(&p.payload, b"12345678");
}

#[test]
fn s6_7_ping_on_a_stream_is_protocol_error() {
    conn_err(frame(kind::PING, 0, 1, &[0; 8]), ProtocolError);
}

#[test]
fn s6_7_ping_wrong_length_is_frame_size_error() {
    conn_err(frame(kind::PING, 0, 0, &[0; 7]), FrameSizeError);
    conn_err(frame(kind::PING, 0, 0, &[0; 9]), FrameSizeError);
}

// §6.8 GOAWAY

#[test]
fn s6_8_goaway_fields_and_debug_data() {
    let f = frame(kind::GOAWAY, 0, 0, b"\x80\0\0\x05\0\0\0\x0btoo_many_pings").unwrap();
    let Frame::GoAway(g) = f else { panic!() };
    assert_eq!((g.last_stream_id, g.error_code), (5, EnhanceYourCalm));
    assert_eq!(&g.debug_data[..], b"too_many_pings");
    let Frame::GoAway(g) = frame(kind::GOAWAY, 0, 0, &[0; 8]).unwrap() else {
        panic!()
    };
    assert!(g.debug_data.is_empty());
}

#[test]
fn s6_8_goaway_on_a_stream_is_protocol_error() {
    conn_err(frame(kind::GOAWAY, 0, 1, &[0; 8]), ProtocolError);
}

#[test]
fn s6_8_goaway_shorter_than_8_is_frame_size_error() {
    conn_err(frame(kind::GOAWAY, 0, 0, &[0; 7]), FrameSizeError);
}

// §6.9 WINDOW_UPDATE

#[test]
fn s6_9_window_update_reserved_bit_ignored() {
    let f = frame(kind::WINDOW_UPDATE, 0, 3, &[0x80, 0, 0, 1]).unwrap();
    assert_eq!(
        f,
        Frame::WindowUpdate(WindowUpdate {
            stream_id: 3,
            increment: 1
        })
    );
    let f = frame(kind::WINDOW_UPDATE, 0, 0, &[0x7f, 0xff, 0xff, 0xff]).unwrap();
    let Frame::WindowUpdate(w) = f else { panic!() };
    assert_eq!((w.stream_id, w.increment), (0, MAX_WINDOW_SIZE));
}

#[test]
fn s6_9_window_update_increment_0_on_a_stream_is_stream_protocol_error() {
    stream_err(frame(kind::WINDOW_UPDATE, 0, 3, &[0; 4]), 3, ProtocolError);
    // Only the reserved bit set is still 0.
    stream_err(
        frame(kind::WINDOW_UPDATE, 0, 3, &[0x80, 0, 0, 0]),
        3,
        ProtocolError,
    );
}

#[test]
fn s6_9_window_update_increment_0_on_stream_0_is_connection_protocol_error() {
    conn_err(frame(kind::WINDOW_UPDATE, 0, 0, &[0; 4]), ProtocolError);
}

#[test]
fn s6_9_window_update_wrong_length_is_frame_size_error() {
    conn_err(frame(kind::WINDOW_UPDATE, 0, 1, &[0, 0, 1]), FrameSizeError);
    conn_err(
        frame(kind::WINDOW_UPDATE, 0, 0, &[0, 0, 0, 1, 0]),
        FrameSizeError,
    );
}

// §6.10 CONTINUATION

#[test]
fn s6_10_continuation_parsed_raw() {
    let f = frame(
        kind::CONTINUATION,
        flags::END_HEADERS | flags::PADDED,
        1,
        b"\x05rest",
    )
    .unwrap();
    let Frame::Continuation(c) = f else { panic!() };
    assert!(c.end_headers);
    assert_eq!(&c.fragment[..], b"\x05rest", "CONTINUATION has no padding");
}

#[test]
fn s6_10_continuation_on_stream_0_is_protocol_error() {
    conn_err(
        frame(kind::CONTINUATION, flags::END_HEADERS, 0, b"x"),
        ProtocolError,
    );
}

#[test]
fn frame_error_accessors_and_display() {
    let e = FrameError::stream(3, ProtocolError, "why");
    assert_eq!(
        (e.stream_id(), e.is_connection_error(), e.reason()),
        (Some(3), false, "why")
    );
    assert!(e.to_string().contains("stream 3") && e.to_string().contains("PROTOCOL_ERROR"));
    let e = FrameError::connection(FrameSizeError, "big");
    assert_eq!(e.stream_id(), None);
    assert!(
        e.to_string()
            .starts_with("connection error FRAME_SIZE_ERROR")
    );
}
