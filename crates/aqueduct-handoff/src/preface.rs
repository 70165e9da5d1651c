//! The HTTP/2 server preface a front sends before it hands a connection over,
//! and the client's acknowledgement of it, which the receiving side drops.
//!
//! Most HTTP/2 clients (grpc-go, grpc-core, and so Python `grpcio`) send no
//! request before they have the server's SETTINGS, so a front that routes by
//! the first request must send SETTINGS first: [`SERVER_PREFACE`], the
//! protocol's defaults but for a limit of 100 concurrent streams. The client
//! acknowledges it. That ACK must
//! not reach the backend's HTTP/2 stack, which never sent those SETTINGS and
//! would take the ACK for one of its own (or fail the connection with
//! `PROTOCOL_ERROR`). It can come anywhere in the client's first bytes: before
//! the first request (grpc-go, grpcio), or after it and its DATA (clients that
//! send at once, as ours does, and may send a whole window of DATA first). So
//! it is dropped on the receiving side, by [`AckStrip`], as the bytes are read,
//! wherever it falls: the front never waits for it, and the peeked bytes stay
//! within their bound whatever the client sends before it.
//!
//! Why so little: until the backend's own SETTINGS arrive (the first thing
//! its HTTP/2 stack writes), the client works with these, as a client that
//! sends before it has any SETTINGS does when it connects straight to the
//! backend; the backend's SETTINGS then apply as they would have. Values
//! other than the defaults would be promises the backend may not keep (a
//! larger frame size, say). The one exception is a limit, not a promise:
//! `SETTINGS_MAX_CONCURRENT_STREAMS` 100 (RFC 9113's recommended least, and
//! the backend's default). Without it a first SETTINGS means "no limit", and
//! a client that opens hundreds of streams at once (ours, on a busy channel)
//! has them refused by the backend's HTTP/2, which answers about a thousand
//! such refusals with GOAWAY `ENHANCE_YOUR_CALM`. An Aqueduct backend always
//! sends its own limit, which replaces this one.
//!
//! Sans I/O, like [`peek`](crate::peek): bytes in, bytes out.

/// The server's connection preface a front sends: a SETTINGS frame with
/// every setting at its default but `SETTINGS_MAX_CONCURRENT_STREAMS` (0x3),
/// 100. A front writes it as soon as it accepts a connection, then hands the
/// connection over with
/// [`HandoffSender::send_connection_after_preface`](crate::HandoffSender::send_connection_after_preface).
pub const SERVER_PREFACE: [u8; FRAME_HEADER + 6] =
    [0, 0, 6, SETTINGS, 0, 0, 0, 0, 0, 0, 0x3, 0, 0, 0, 100];

const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
const ACK: u8 = 0x1;
/// The client connection preface's length (`PRI * HTTP/2.0...`).
const CLIENT_PREFACE: usize = crate::peek::PREFACE.len();
/// How far into the client's bytes the ACK is looked for. The client sends it
/// as soon as it reads the front's SETTINGS, written before the client's first
/// byte was read; and before it has the backend's SETTINGS it can send at most
/// one 64 KiB window of DATA. Past this the stream is passed on untouched (a
/// later ACK reaches the backend, which closes the connection: the client's
/// fault, and no unbounded work for us).
const SEARCH_LIMIT: u64 = 1024 * 1024;

/// Drops the first SETTINGS acknowledgement from a client's byte stream,
/// passing every other byte through in order.
///
/// ```text
///  Preface(n) ──24 bytes──► Header ──9 bytes──┬─ SETTINGS+ACK, empty ──► Done (bytes pass)
///                             ▲               └─ any other ──► Payload(len)
///                             └────────── len bytes ─────────────┘
/// ```
///
/// Frame headers are held back until complete (at most 9 bytes), so an ACK
/// split across reads is still found; payload bytes are passed through
/// unread, so an ACK-like pattern inside a frame is never mistaken for one.
/// A SETTINGS ACK with a payload is malformed and passed on for the HTTP/2
/// stack to refuse.
#[derive(Debug, Clone)]
pub(crate) struct AckStrip {
    state: State,
    /// Bytes looked at so far, against [`SEARCH_LIMIT`].
    seen: u64,
}

#[derive(Debug, Clone)]
enum State {
    /// Bytes of the client preface still to pass.
    Preface(usize),
    /// A frame header being gathered.
    Header {
        header: [u8; FRAME_HEADER],
        have: usize,
    },
    /// Bytes of a frame's payload still to pass.
    Payload(usize),
    /// The ACK was dropped (or the search given up): everything passes.
    Done,
}

impl Default for AckStrip {
    fn default() -> Self {
        Self::new()
    }
}

impl AckStrip {
    /// For a stream from its first byte (the client preface).
    pub(crate) fn new() -> Self {
        Self {
            state: State::Preface(CLIENT_PREFACE),
            seen: 0,
        }
    }

    /// Whether the ACK has been dropped (or given up on): from now on every
    /// byte passes as it is, and the caller may stop feeding.
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Takes the next bytes of the stream and appends to `out` those that
    /// pass. A frame header still incomplete at the end of `input` is held
    /// until the next call (or [`finish`](Self::finish)).
    pub(crate) fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            if self.seen >= SEARCH_LIMIT {
                self.give_up(out);
            }
            match &mut self.state {
                State::Done => {
                    out.extend_from_slice(input);
                    return;
                }
                State::Preface(left) | State::Payload(left) => {
                    let (pass, rest) = input.split_at((*left).min(input.len()));
                    out.extend_from_slice(pass);
                    *left -= pass.len();
                    self.seen += pass.len() as u64;
                    input = rest;
                    if *left == 0 {
                        self.state = State::Header {
                            header: [0; FRAME_HEADER],
                            have: 0,
                        };
                    }
                }
                State::Header { header, have } => {
                    let (take, rest) = input.split_at((FRAME_HEADER - *have).min(input.len()));
                    if let Some(room) = header.get_mut(*have..*have + take.len()) {
                        room.copy_from_slice(take);
                    }
                    *have += take.len();
                    self.seen += take.len() as u64;
                    input = rest;
                    if *have == FRAME_HEADER {
                        let header = *header;
                        self.state = if is_settings_ack(&header) {
                            State::Done
                        } else {
                            out.extend_from_slice(&header);
                            match payload_len(&header) {
                                0 => State::Header {
                                    header: [0; FRAME_HEADER],
                                    have: 0,
                                },
                                len => State::Payload(len),
                            }
                        };
                    }
                }
            }
        }
    }

    /// The stream ended: appends the bytes of a frame header still held (a
    /// truncated frame, which the HTTP/2 stack will see as such).
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        self.give_up(out);
    }

    fn give_up(&mut self, out: &mut Vec<u8>) {
        if let State::Header { header, have } = &self.state {
            out.extend_from_slice(header.get(..*have).unwrap_or_default());
        }
        self.state = State::Done;
    }
}

fn payload_len(header: &[u8; FRAME_HEADER]) -> usize {
    let [l0, l1, l2, ..] = *header;
    usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2)
}

/// A well-formed SETTINGS ACK: empty, on stream 0, ACK set (other flags,
/// undefined for SETTINGS, are ignored as RFC 9113 says).
fn is_settings_ack(header: &[u8; FRAME_HEADER]) -> bool {
    let [_, _, _, kind, flags, i0, i1, i2, i3] = *header;
    let stream = u32::from_be_bytes([i0, i1, i2, i3]) & 0x7fff_ffff;
    kind == SETTINGS && flags & ACK != 0 && stream == 0 && payload_len(header) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::peek::PREFACE;
    use crate::testing::{XorShift, frame};

    fn ack() -> Vec<u8> {
        frame(SETTINGS, ACK, 0, &[])
    }

    /// The client's SETTINGS and WINDOW_UPDATE, a PING, then a request:
    /// HEADERS and a DATA frame whose payload holds an ACK's bytes.
    fn client_frames() -> Vec<Vec<u8>> {
        let mut sneaky = b"\0\0\0\0\x10".to_vec();
        sneaky.extend(ack());
        sneaky.extend_from_slice(b"tail");
        vec![
            frame(SETTINGS, 0, 0, &[0, 4, 0, 0x10, 0, 0]),
            frame(0x8, 0, 0, &1_000_000u32.to_be_bytes()),
            frame(0x6, 0, 0, &[7; 8]),
            frame(0x1, 0x4, 1, b"\x83\x86"),
            frame(0x0, 0x1, 1, &sneaky),
        ]
    }

    /// The preface, then `frames` with the ACK inserted before frame `at`.
    fn stream_with_ack_at(at: usize) -> (Vec<u8>, Vec<u8>) {
        let frames = client_frames();
        let mut with = PREFACE.to_vec();
        let mut without = PREFACE.to_vec();
        for (i, f) in frames.iter().enumerate() {
            if i == at {
                with.extend(ack());
            }
            with.extend(f);
            without.extend(f);
        }
        if at == frames.len() {
            with.extend(ack());
        }
        (with, without)
    }

    /// Feeds `input` cut at `cuts`, then finishes.
    fn strip(input: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut strip = AckStrip::new();
        let mut out = Vec::new();
        let mut from = 0;
        for &cut in cuts {
            strip.feed(&input[from..cut], &mut out);
            from = cut;
        }
        strip.feed(&input[from..], &mut out);
        strip.finish(&mut out);
        out
    }

    #[test]
    fn the_ack_is_dropped_before_between_or_after_the_first_request() {
        for at in 0..=client_frames().len() {
            let (with, without) = stream_with_ack_at(at);
            assert_eq!(strip(&with, &[]), without, "ACK before frame {at}");
        }
    }

    #[test]
    fn the_ack_is_found_at_every_split_of_the_stream() {
        for at in 0..=client_frames().len() {
            let (with, without) = stream_with_ack_at(at);
            for cut in 0..=with.len() {
                assert_eq!(strip(&with, &[cut]), without, "ACK at {at}, cut at {cut}");
            }
            // And one byte at a time.
            let every: Vec<usize> = (1..with.len()).collect();
            assert_eq!(strip(&with, &every), without, "ACK at {at}, byte by byte");
        }
    }

    #[test]
    fn only_the_first_ack_is_dropped() {
        let (mut with, mut without) = stream_with_ack_at(1);
        // The ACK of the backend's own SETTINGS, later: the backend's to see.
        with.extend(ack());
        without.extend(ack());
        assert_eq!(strip(&with, &[]), without);
        let mut strip = AckStrip::new();
        strip.feed(&with, &mut Vec::new());
        assert!(strip.is_done());
    }

    #[test]
    fn a_missing_ack_changes_nothing() {
        let (_, without) = stream_with_ack_at(0);
        let mut strip = AckStrip::new();
        let mut out = Vec::new();
        strip.feed(&without, &mut out);
        assert!(!strip.is_done(), "still looking");
        strip.finish(&mut out);
        assert_eq!(out, without);
    }

    #[test]
    fn malformed_acks_and_truncated_frames_pass_untouched() {
        let mut input = PREFACE.to_vec();
        // A SETTINGS ACK with a payload, one on a stream, and a SETTINGS
        // without ACK: none is the acknowledgement.
        input.extend(frame(SETTINGS, ACK, 0, &[0; 6]));
        input.extend(frame(SETTINGS, ACK, 1, &[]));
        input.extend(frame(SETTINGS, 0, 0, &[]));
        // A frame header cut short at the end of the stream.
        input.extend_from_slice(&[0, 0, 0, SETTINGS]);
        assert_eq!(strip(&input, &[]), input);
        for cut in 0..input.len() {
            assert_eq!(strip(&input, &[cut]), input, "cut at {cut}");
        }
    }

    #[test]
    fn the_search_stops_at_its_limit() {
        // A frame filling the search window, then an ACK past it.
        let big = SEARCH_LIMIT as usize;
        let mut input = PREFACE.to_vec();
        input.extend(frame(0x0, 0, 1, &vec![0; big]));
        input.extend(ack());
        let mut strip = AckStrip::new();
        let mut out = Vec::new();
        for chunk in input.chunks(16 * 1024) {
            strip.feed(chunk, &mut out);
        }
        assert!(strip.is_done());
        assert_eq!(out, input, "the late ACK passes");
    }

    /// Whether `out` is `input` with one SETTINGS ACK frame header cut out
    /// (any flags besides ACK: undefined flags are ignored).
    fn lost_one_ack(input: &[u8], out: &[u8]) -> bool {
        if out.len() + FRAME_HEADER != input.len() {
            return false;
        }
        let same_start = input.iter().zip(out).take_while(|(a, b)| a == b).count();
        let same_end = input
            .iter()
            .rev()
            .zip(out.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let first = out.len().saturating_sub(same_end);
        (first..=same_start.min(out.len()))
            .any(|at| is_settings_ack(&input[at..at + FRAME_HEADER].try_into().unwrap()))
    }

    #[test]
    fn random_input_never_panics_and_loses_at_most_the_ack() {
        let mut rng = XorShift(0x5851_f42d_4c95_7f2d);
        let (valid, _) = stream_with_ack_at(3);
        for round in 0..20_000 {
            let mut bytes = valid.clone();
            if round % 2 == 0 {
                for _ in 0..1 + rng.next() % 6 {
                    let at = (rng.next() as usize) % bytes.len();
                    bytes[at] = rng.next() as u8;
                }
            } else {
                bytes.truncate(PREFACE.len());
                let n = (rng.next() % 300) as usize;
                bytes.extend((0..n).map(|_| rng.next() as u8));
            }
            let cuts: Vec<usize> = {
                let mut c: Vec<usize> = (0..rng.next() % 5)
                    .map(|_| (rng.next() as usize) % (bytes.len() + 1))
                    .collect();
                c.sort_unstable();
                c
            };
            let out = strip(&bytes, &cuts);
            assert!(
                out == bytes || lost_one_ack(&bytes, &out),
                "round {round}: {bytes:?} became {out:?}"
            );
        }
    }
}
