use super::*;
use crate::grpc;
use crate::read::{Frame, FrameReader};

/// The frames in `frames`, read back by the crate's own reader (no h2).
fn read_back(frames: &Frames) -> Vec<Frame> {
    let mut reader = FrameReader::new(frames.as_bytes());
    let mut out = Vec::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        loop {
            match reader.next().await {
                Ok(frame) => out.push(frame),
                Err(crate::read::ReadError::Closed) => return,
                Err(e) => panic!("{e}"),
            }
        }
    });
    out
}

#[test]
fn the_header_is_length_type_flags_and_stream() {
    let frames = Frames::new().frame(0xfa, 0x81, 0x8000_0003, [1, 2, 3]);
    assert_eq!(
        frames.as_bytes(),
        [0, 0, 3, 0xfa, 0x81, 0x80, 0, 0, 3, 1, 2, 3],
        "the reserved bit is written as given"
    );
    let [frame] = &read_back(&frames)[..] else {
        panic!("one frame")
    };
    assert_eq!(frame.kind, 0xfa);
    assert_eq!(frame.flags, 0x81);
    assert_eq!(frame.stream, 3, "the reader drops the reserved bit");
    assert_eq!(&frame.payload[..], [1, 2, 3]);
    assert_eq!(kind::name(frame.kind), "UNKNOWN");
}

#[test]
fn a_lying_length_is_written_as_asked() {
    let frames = Frames::new().frame_declaring(0x0100_0005, kind::DATA, 0, 1, [9]);
    assert_eq!(frames.as_bytes(), [0, 0, 5, 0, 0, 0, 0, 0, 1, 9]);
}

#[test]
fn preface_then_settings_is_what_a_client_sends_first() {
    let frames = Frames::new().preface().settings(&[]);
    let mut expected = PREFACE.to_vec();
    expected.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    assert_eq!(frames.as_bytes(), expected);
}

#[test]
fn settings_and_ack() {
    let frames = Frames::new()
        .settings(&[
            (setting::INITIAL_WINDOW_SIZE, 65_535),
            (setting::ENABLE_PUSH, 0),
        ])
        .settings_ack();
    assert_eq!(
        &frames.as_bytes()[..9 + 12],
        [
            0, 0, 12, 4, 0, 0, 0, 0, 0, //
            0, 4, 0, 0, 0xff, 0xff, //
            0, 2, 0, 0, 0, 0,
        ]
    );
    let read = read_back(&frames);
    assert_eq!(read[0].settings(), Some(vec![(4, 65_535), (2, 0)]));
    assert_eq!(read[1].kind, kind::SETTINGS);
    assert!(read[1].has(ACK));
    assert_eq!(read[1].settings(), Some(vec![]));
}

#[test]
fn data_plain_and_padded() {
    let frames = Frames::new()
        .data(1, b"abc", 0)
        .data_padded(3, b"de", 4, END_STREAM);
    assert_eq!(
        &frames.as_bytes()[9 + 3..],
        [
            0,
            0,
            7,
            0,
            PADDED | END_STREAM,
            0,
            0,
            0,
            3,
            4,
            b'd',
            b'e',
            0,
            0,
            0,
            0
        ]
    );
    let read = read_back(&frames);
    assert_eq!(read[0].data(), Some(&b"abc"[..]));
    assert!(!read[0].ends_stream());
    assert_eq!(read[1].data(), Some(&b"de"[..]));
    assert!(read[1].ends_stream());
    assert_eq!(read[1].stream, 3);
}

#[test]
fn headers_with_padding_and_priority() {
    let block = HeaderBlock::new().indexed(2);
    let priority = Priority {
        exclusive: true,
        depends_on: 5,
        weight: 15,
    };
    let frames = Frames::new()
        .headers(1, block.clone(), END_HEADERS | END_STREAM)
        .headers_with(
            3,
            block.clone(),
            END_HEADERS,
            HeadersExtras {
                padding: Some(2),
                priority: Some(priority),
            },
        )
        .headers_with(
            5,
            block.clone(),
            0,
            HeadersExtras {
                padding: None,
                priority: Some(Priority {
                    exclusive: false,
                    ..priority
                }),
            },
        );
    let read = read_back(&frames);
    assert_eq!(&read[0].payload[..], [0x82]);
    assert!(read[0].has(END_HEADERS) && read[0].ends_stream());
    assert_eq!(
        &read[1].payload[..],
        [2, 0x80, 0, 0, 5, 15, 0x82, 0, 0],
        "pad length, priority, block, padding"
    );
    assert!(read[1].has(PADDED | PRIORITY | END_HEADERS));
    assert_eq!(read[1].header_block(), Some(&[0x82][..]));
    assert_eq!(&read[2].payload[..], [0, 0, 0, 5, 15, 0x82]);
    assert_eq!(read[2].flags, PRIORITY);
    assert_eq!(read[2].header_block(), Some(&[0x82][..]));
}

#[test]
fn the_other_frame_types() {
    let frames = Frames::new()
        .priority(
            7,
            Priority {
                exclusive: false,
                depends_on: 1,
                weight: 0,
            },
        )
        .rst_stream(7, reason::CANCEL)
        .push_promise(1, 2, HeaderBlock::new().indexed(2), END_HEADERS)
        .ping(*b"12345678")
        .ping_ack(*b"abcdefgh")
        .goaway(9, reason::ENHANCE_YOUR_CALM, b"calm")
        .window_update(0, 0)
        .window_update(1, 0x8000_0001)
        .headers(9, HeaderBlock::new().indexed(3), 0)
        .continuation(9, HeaderBlock::new().indexed(6), END_HEADERS);
    let read = read_back(&frames);
    let kinds: Vec<&str> = read.iter().map(|f| kind::name(f.kind)).collect();
    assert_eq!(
        kinds,
        [
            "PRIORITY",
            "RST_STREAM",
            "PUSH_PROMISE",
            "PING",
            "PING",
            "GOAWAY",
            "WINDOW_UPDATE",
            "WINDOW_UPDATE",
            "HEADERS",
            "CONTINUATION"
        ]
    );
    assert_eq!(&read[0].payload[..], [0, 0, 0, 1, 0]);
    assert_eq!(read[1].rst_code(), Some(reason::CANCEL));
    assert_eq!(&read[2].payload[..], [0, 0, 0, 2, 0x82]);
    assert_eq!(read[2].header_block(), Some(&[0x82][..]));
    assert_eq!(read[3].ping_payload(), Some(*b"12345678"));
    assert!(!read[3].has(ACK));
    assert_eq!(read[4].ping_payload(), Some(*b"abcdefgh"));
    assert!(read[4].has(ACK));
    let goaway = read[5].goaway().unwrap();
    assert_eq!(goaway.last_stream, 9);
    assert_eq!(goaway.code, reason::ENHANCE_YOUR_CALM);
    assert_eq!(&goaway.debug[..], b"calm");
    assert_eq!(read[6].window_increment(), Some(0));
    assert_eq!(read[7].window_increment(), Some(0x8000_0001));
    assert_eq!(read[9].header_block(), Some(&[0x86][..]));
    assert!(read[9].has(END_HEADERS));
}

#[test]
fn accessors_refuse_what_does_not_fit() {
    let short = |kind, flags, payload: &'static [u8]| Frame {
        kind,
        flags,
        stream: 1,
        payload: payload.into(),
    };
    assert_eq!(short(kind::GOAWAY, 0, &[0; 7]).goaway(), None);
    assert_eq!(short(kind::RST_STREAM, 0, &[0; 5]).rst_code(), None);
    assert_eq!(short(kind::PING, 0, &[0; 7]).ping_payload(), None);
    assert_eq!(short(kind::SETTINGS, 0, &[0; 7]).settings(), None);
    assert_eq!(short(kind::DATA, PADDED, &[3, 1, 2]).data(), None);
    assert_eq!(short(kind::DATA, PADDED, &[]).data(), None);
    assert_eq!(short(kind::HEADERS, PRIORITY, &[0; 4]).header_block(), None);
    assert_eq!(short(kind::DATA, 0, &[1]).goaway(), None, "not a GOAWAY");
}

/// The hand-off crate's peeker (its own HPACK decoder) finds the path and
/// authority of a request built here.
#[test]
fn the_handoff_peeker_reads_a_request_built_here() {
    let frames = Frames::new()
        .preface()
        .settings(&[])
        .headers(
            1,
            grpc::request("/test.v1.Probe/Echo").authority("example.test:50051"),
            END_HEADERS,
        )
        .data(1, grpc::message(&"x".to_owned()), END_STREAM);
    let first = aqueduct_handoff::peek::peek_first_request(frames.as_bytes())
        .unwrap()
        .expect("a whole first request");
    assert_eq!(first.path, "/test.v1.Probe/Echo");
    assert_eq!(first.authority.as_deref(), Some("example.test:50051"));
    assert_eq!(first.stream_id, 1);
}

#[test]
fn then_appends_and_bytes_convert() {
    let a = Frames::new().ping([0; 8]);
    let both = a.clone().then(Frames::new().settings_ack());
    assert_eq!(both.len(), a.len() + 9);
    assert!(!both.is_empty() && Frames::new().is_empty());
    let bytes: bytes::Bytes = both.clone().into();
    assert_eq!(&bytes[..], both.as_ref());
}
