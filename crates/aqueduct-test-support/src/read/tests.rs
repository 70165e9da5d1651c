use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, duplex};

use super::*;
use crate::frames::{END_HEADERS, Frames, kind, reason};

#[tokio::test]
async fn frames_split_over_many_reads_are_whole() {
    let bytes = Frames::new()
        .data(1, vec![5u8; 40_000], 0)
        .ping([1; 8])
        .into_bytes();
    let (mut peer, ours) = duplex(7);
    let writer = tokio::spawn(async move {
        peer.write_all(&bytes).await.unwrap();
    });
    let mut reader = FrameReader::new(ours);
    let data = reader.next().await.unwrap();
    assert_eq!(data.data().map(<[u8]>::len), Some(40_000));
    assert_eq!(reader.next().await.unwrap().ping_payload(), Some([1; 8]));
    writer.await.unwrap();
    assert!(matches!(reader.next().await, Err(ReadError::Closed)));
}

#[tokio::test]
async fn a_close_inside_a_frame_is_truncated() {
    let bytes = Frames::new().data(1, b"abcdef", 0).into_bytes();
    let mut reader = FrameReader::new(&bytes[..12]);
    assert!(matches!(
        reader.next().await,
        Err(ReadError::Truncated { buffered: 12 })
    ));
}

#[tokio::test]
async fn a_frame_over_the_limit_is_refused_before_it_is_read() {
    let bytes = Frames::new()
        .frame_declaring(1 << 20, 0, 0, 1, [])
        .into_bytes();
    let mut reader = FrameReader::new(&bytes[..]).max_payload(1024);
    assert!(matches!(
        reader.next().await,
        Err(ReadError::TooLarge {
            length: 1_048_576,
            limit: 1024
        })
    ));
}

#[tokio::test(start_paused = true)]
async fn silence_ends_in_a_timeout() {
    let (_peer, ours) = duplex(64);
    let mut reader = FrameReader::new(ours).patience(Duration::from_secs(3));
    let err = reader.next().await.unwrap_err();
    assert!(matches!(err, ReadError::TimedOut { waited } if waited == Duration::from_secs(3)));
    let seen = reader.read_to_close().await;
    assert!(!seen.closed(), "{:?}", seen.end);
    assert!(seen.frames.is_empty());
}

#[tokio::test]
async fn the_preface_is_checked() {
    let good = Frames::new().preface().settings(&[]).into_bytes();
    let mut reader = FrameReader::new(&good[..]);
    reader.preface().await.unwrap();
    assert_eq!(reader.next().await.unwrap().kind, kind::SETTINGS);
    let bad = Frames::new()
        .bytes(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .into_bytes();
    let mut reader = FrameReader::new(&bad[..]);
    assert!(matches!(
        reader.preface().await,
        Err(ReadError::NotPreface(_))
    ));
}

#[tokio::test]
async fn next_where_skips_and_keeps_what_follows() {
    let bytes = Frames::new()
        .settings(&[])
        .ping([2; 8])
        .rst_stream(1, reason::CANCEL)
        .into_bytes();
    let mut reader = FrameReader::new(&bytes[..]);
    let ping = reader.next_where(|f| f.kind == kind::PING).await.unwrap();
    assert_eq!(ping.ping_payload(), Some([2; 8]));
    assert_eq!(
        reader.next().await.unwrap().rst_code(),
        Some(reason::CANCEL)
    );
    let (_, rest) = reader.into_parts();
    assert!(rest.is_empty());
}

/// A server that PINGs, answers a request, says GOAWAY and closes only
/// once its PING is answered: read to its close, the client sees it all.
#[tokio::test]
async fn read_to_close_answers_pings_and_reports_what_came() {
    let (mut server, client) = duplex(1024);
    let peer = tokio::spawn(async move {
        let out = Frames::new()
            .settings(&[])
            .ping(*b"shutdown")
            .headers(1, vec![0x88], END_HEADERS)
            .data(1, b"hello, ", 0)
            .data_padded(1, b"world", 3, 0)
            .headers(1, vec![0x88], END_HEADERS | crate::frames::END_STREAM)
            .data(3, b"other", 0)
            .goaway(1, reason::NO_ERROR, []);
        server.write_all(out.as_bytes()).await.unwrap();
        let mut ack = [0u8; 17];
        server.read_exact(&mut ack).await.unwrap();
        assert_eq!(ack[..], Frames::new().ping_ack(*b"shutdown").as_bytes()[..]);
    });
    let mut reader = FrameReader::new(client);
    let seen = reader.read_to_close().await;
    peer.await.unwrap();
    assert!(seen.closed(), "{:?}", seen.end);
    assert!(matches!(seen.end, ReadError::Closed));
    let goaway = seen.goaway().unwrap();
    assert_eq!((goaway.last_stream, goaway.code), (1, reason::NO_ERROR));
    assert_eq!(seen.data(1), b"hello, world");
    assert!(seen.ended(1));
    assert!(!seen.ended(3));
    assert_eq!(seen.of_kind(kind::DATA).count(), 3);
}

#[tokio::test]
async fn next_answering_pings_answers_until_the_wanted_frame() {
    let (mut server, client) = duplex(1024);
    let mut reader = FrameReader::new(client);
    let out = Frames::new()
        .ping(*b"one-ping")
        .rst_stream(1, reason::CANCEL);
    server.write_all(out.as_bytes()).await.unwrap();
    let rst = reader
        .next_answering_pings(|f| f.kind == kind::RST_STREAM)
        .await
        .unwrap();
    assert_eq!(rst.rst_code(), Some(reason::CANCEL));
    let mut ack = FrameReader::new(server);
    let pong = ack.next().await.unwrap();
    assert!(pong.has(crate::frames::ACK));
    assert_eq!(pong.ping_payload(), Some(*b"one-ping"));
    reader.send(Frames::new().settings_ack()).await.unwrap();
    assert_eq!(ack.next().await.unwrap().kind, kind::SETTINGS);
}

#[tokio::test]
async fn until_goaway_answers_pings_and_reads_its_fields() {
    let (mut server, client) = duplex(1024);
    let out =
        Frames::new()
            .ping(*b"before!!")
            .data(1, b"x", 0)
            .goaway(3, reason::PROTOCOL_ERROR, b"bad");
    server.write_all(out.as_bytes()).await.unwrap();
    drop(server.shutdown().await);
    let mut reader = FrameReader::new(client);
    let goaway = reader.until_goaway().await.unwrap();
    assert_eq!(goaway.last_stream, 3);
    assert_eq!(goaway.code, reason::PROTOCOL_ERROR);
    assert_eq!(&goaway.debug[..], b"bad");
    let mut pong = FrameReader::new(server);
    assert_eq!(
        pong.next().await.unwrap().ping_payload(),
        Some(*b"before!!")
    );
    assert!(matches!(
        reader.until_goaway().await,
        Err(ReadError::Closed)
    ));
}

/// A peer that keeps sending what the test does not want cannot keep it
/// waiting past the reader's patience. On the paused clock: the peer's pause
/// between PINGs is virtual time, not a wait, and nothing races.
#[tokio::test(start_paused = true)]
async fn a_chatty_peer_does_not_stretch_the_wait() {
    let (mut server, client) = duplex(1024);
    let chatter = tokio::spawn(async move {
        loop {
            let ping = Frames::new().ping([0; 8]);
            if server.write_all(ping.as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    let mut reader = FrameReader::new(client).patience(Duration::from_secs(5));
    let wanted = reader.next_where(|f| f.kind == kind::GOAWAY).await;
    assert!(
        matches!(wanted, Err(ReadError::TimedOut { .. })),
        "{wanted:?}"
    );
    chatter.abort();
}
