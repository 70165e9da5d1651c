//! The SETTINGS exchange (RFC 9113 §6.5.3): the values each side has in
//! force, ours until the peer acknowledges them, and what changes when the
//! peer's arrive.
//!
//! Our SETTINGS take effect when the peer acknowledges them, in the order
//! sent; an ACK for SETTINGS we never sent is a connection PROTOCOL_ERROR
//! (which is why a connection handed over mid-handshake must bring its
//! pending SETTINGS along). The peer's take effect on receipt, and each one
//! owes an ACK. [`Changes`] tells the connection what to adjust: every open
//! stream's send window on a new SETTINGS_INITIAL_WINDOW_SIZE (§6.9.2), the
//! HPACK encoder's table on a new SETTINGS_HEADER_TABLE_SIZE, the largest
//! frame we may write on a new SETTINGS_MAX_FRAME_SIZE.

use std::collections::VecDeque;

use crate::ErrorCode;
use crate::frame::{DEFAULT_MAX_FRAME_SIZE, Setting, Settings};

/// SETTINGS we may have sent and not yet had acknowledged; more is the
/// caller's bug (it should not send SETTINGS faster than the peer answers).
pub const MAX_PENDING: usize = 8;

/// The settings one side has in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Values {
    /// SETTINGS_HEADER_TABLE_SIZE: the HPACK dynamic table its decoder keeps.
    pub header_table_size: u32,
    /// SETTINGS_ENABLE_PUSH.
    pub enable_push: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS; `None`: no limit (the default).
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE: every new stream's window.
    pub initial_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: the largest frame payload it accepts.
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE; `None`: no limit advertised.
    pub max_header_list_size: Option<u32>,
}

impl Default for Values {
    /// RFC 9113's initial values (§6.5.2).
    fn default() -> Self {
        Self {
            header_table_size: 4096,
            enable_push: true,
            max_concurrent_streams: None,
            initial_window_size: 65_535,
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            max_header_list_size: None,
        }
    }
}

impl Values {
    /// The parameters to send to announce these values to a peer that has
    /// RFC 9113's defaults: only those that differ.
    #[must_use]
    pub fn to_announce(&self) -> Vec<Setting> {
        let d = Values::default();
        let mut out = Vec::new();
        if self.header_table_size != d.header_table_size {
            out.push(Setting::HeaderTableSize(self.header_table_size));
        }
        if self.enable_push != d.enable_push {
            out.push(Setting::EnablePush(self.enable_push));
        }
        if let Some(max) = self.max_concurrent_streams {
            out.push(Setting::MaxConcurrentStreams(max));
        }
        if self.initial_window_size != d.initial_window_size {
            out.push(Setting::InitialWindowSize(self.initial_window_size));
        }
        if self.max_frame_size != d.max_frame_size {
            out.push(Setting::MaxFrameSize(self.max_frame_size));
        }
        if let Some(max) = self.max_header_list_size {
            out.push(Setting::MaxHeaderListSize(max));
        }
        out
    }

    fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::HeaderTableSize(v) => self.header_table_size = v,
            Setting::EnablePush(on) => self.enable_push = on,
            Setting::MaxConcurrentStreams(v) => self.max_concurrent_streams = Some(v),
            Setting::InitialWindowSize(v) => self.initial_window_size = v,
            Setting::MaxFrameSize(v) => self.max_frame_size = v,
            Setting::MaxHeaderListSize(v) => self.max_header_list_size = Some(v),
        }
    }
}

/// What the peer's SETTINGS changed, for the connection to act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// SETTINGS_INITIAL_WINDOW_SIZE went from the first value to the second:
    /// every open stream's send window moves by the difference.
    pub initial_window_size: Option<(u32, u32)>,
    /// The peer's HPACK decoder table is now this large: the encoder must
    /// fit it, with a table size update in its next block.
    pub header_table_size: Option<u32>,
    /// The largest frame payload we may now send.
    pub max_frame_size: Option<u32>,
    /// The most streams the peer now lets us open (a client's concern).
    pub max_concurrent_streams: Option<u32>,
}

/// What a SETTINGS frame from the peer was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// New values from the peer, in force now: send an ACK, and act on the
    /// changes.
    Values(Changes),
    /// The peer acknowledged our oldest pending SETTINGS: these are in force
    /// now (for instance, our larger stream window applies from here on).
    Acknowledged(Values),
}

/// An ACK for SETTINGS we never sent: a connection PROTOCOL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnexpectedAck;

impl UnexpectedAck {
    /// The code to send with GOAWAY.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::ProtocolError
    }
}

impl std::fmt::Display for UnexpectedAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PROTOCOL_ERROR: SETTINGS ACK for SETTINGS never sent")
    }
}

impl std::error::Error for UnexpectedAck {}

/// Both sides' settings on one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsState {
    /// Ours, as the peer has acknowledged them.
    local: Values,
    /// Ours sent and not yet acknowledged, oldest first.
    pending: VecDeque<Values>,
    /// The peer's, as received.
    remote: Values,
}

impl SettingsState {
    /// A connection where nothing has been sent yet: both sides at RFC
    /// 9113's defaults.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// We send `values` (the parameters to write are
    /// [`Values::to_announce`] for the first SETTINGS of a connection): they
    /// take effect when acknowledged. `false` when [`MAX_PENDING`] are
    /// already waiting; nothing is recorded then, and nothing should be sent.
    pub fn send(&mut self, values: Values) -> bool {
        if self.pending.len() >= MAX_PENDING {
            return false;
        }
        self.pending.push_back(values);
        true
    }

    /// Our values in force (acknowledged).
    #[must_use]
    pub fn local(&self) -> &Values {
        &self.local
    }

    /// Our values as they will be once everything sent is acknowledged: what
    /// to enforce where the stricter of old and new is safe (a frame size
    /// limit may lag; a window we grant grows only once acknowledged).
    #[must_use]
    pub fn local_latest(&self) -> &Values {
        self.pending.back().unwrap_or(&self.local)
    }

    /// The peer's values in force.
    #[must_use]
    pub fn remote(&self) -> &Values {
        &self.remote
    }

    /// Whether any of our SETTINGS still wait for their ACK.
    #[must_use]
    pub fn awaiting_ack(&self) -> bool {
        !self.pending.is_empty()
    }

    /// A SETTINGS frame from the peer (its values already checked by the
    /// frame layer).
    pub fn recv(&mut self, frame: &Settings) -> Result<Received, UnexpectedAck> {
        if frame.ack {
            let acked = self.pending.pop_front().ok_or(UnexpectedAck)?;
            self.local = acked;
            return Ok(Received::Acknowledged(acked));
        }
        let before = self.remote;
        for setting in frame.iter() {
            self.remote.apply(setting);
        }
        let after = self.remote;
        let changed = |a: u32, b: u32| (a != b).then_some(b);
        Ok(Received::Values(Changes {
            initial_window_size: (before.initial_window_size != after.initial_window_size)
                .then_some((before.initial_window_size, after.initial_window_size)),
            header_table_size: changed(before.header_table_size, after.header_table_size),
            max_frame_size: changed(before.max_frame_size, after.max_frame_size),
            max_concurrent_streams: match (
                before.max_concurrent_streams,
                after.max_concurrent_streams,
            ) {
                (a, Some(b)) if a != Some(b) => Some(b),
                _ => None,
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;

    use super::*;
    use crate::frame::{self, Frame};

    /// A SETTINGS frame as the peer would send it, through the frame layer.
    fn settings(values: &[Setting], ack: bool) -> Settings {
        let mut buf = BytesMut::new();
        if ack {
            frame::write_settings_ack(&mut buf);
        } else {
            frame::write_settings(&mut buf, values);
        }
        match frame::decode(&mut buf, DEFAULT_MAX_FRAME_SIZE) {
            Ok(Some(Frame::Settings(s))) => s,
            other => panic!("not a SETTINGS frame: {other:?}"),
        }
    }

    #[test]
    fn only_values_that_differ_from_the_defaults_are_announced() {
        assert!(Values::default().to_announce().is_empty());
        let ours = Values {
            max_concurrent_streams: Some(100),
            initial_window_size: 1 << 20,
            max_header_list_size: Some(16 * 1024),
            ..Values::default()
        };
        assert_eq!(
            ours.to_announce(),
            vec![
                Setting::MaxConcurrentStreams(100),
                Setting::InitialWindowSize(1 << 20),
                Setting::MaxHeaderListSize(16 * 1024),
            ]
        );
    }

    /// §6.5.3: our SETTINGS apply once acknowledged, in the order sent.
    #[test]
    fn s6_5_3_ours_apply_when_acknowledged_in_order() {
        let mut state = SettingsState::new();
        let first = Values {
            initial_window_size: 1 << 20,
            ..Values::default()
        };
        let second = Values {
            initial_window_size: 1 << 21,
            ..first
        };
        assert!(state.send(first));
        assert!(state.send(second));
        assert_eq!(state.local().initial_window_size, 65_535);
        assert_eq!(state.local_latest().initial_window_size, 1 << 21);
        assert_eq!(
            state.recv(&settings(&[], true)).unwrap(),
            Received::Acknowledged(first)
        );
        assert_eq!(state.local().initial_window_size, 1 << 20);
        assert!(state.awaiting_ack());
        state.recv(&settings(&[], true)).unwrap();
        assert_eq!(state.local().initial_window_size, 1 << 21);
        assert!(!state.awaiting_ack());
    }

    #[test]
    fn an_ack_for_settings_never_sent_is_a_protocol_error() {
        let mut state = SettingsState::new();
        let err = state.recv(&settings(&[], true)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::ProtocolError);
    }

    #[test]
    fn pending_settings_are_bounded() {
        let mut state = SettingsState::new();
        for _ in 0..MAX_PENDING {
            assert!(state.send(Values::default()));
        }
        assert!(!state.send(Values::default()));
    }

    /// The peer's values apply on receipt; the changes say what to adjust,
    /// and a value sent again unchanged changes nothing.
    #[test]
    fn the_peers_values_apply_at_once_and_report_what_changed() {
        let mut state = SettingsState::new();
        let got = state
            .recv(&settings(
                &[
                    Setting::InitialWindowSize(1_000),
                    Setting::HeaderTableSize(0),
                    Setting::MaxFrameSize(32_768),
                    Setting::MaxConcurrentStreams(10),
                ],
                false,
            ))
            .unwrap();
        assert_eq!(
            got,
            Received::Values(Changes {
                initial_window_size: Some((65_535, 1_000)),
                header_table_size: Some(0),
                max_frame_size: Some(32_768),
                max_concurrent_streams: Some(10),
            })
        );
        assert_eq!(state.remote().initial_window_size, 1_000);
        let again = state
            .recv(&settings(&[Setting::InitialWindowSize(1_000)], false))
            .unwrap();
        assert_eq!(again, Received::Values(Changes::default()));
    }

    /// §6.5.2: a later value for the same setting in one frame wins.
    #[test]
    fn s6_5_2_the_last_value_of_a_setting_in_a_frame_wins() {
        let mut state = SettingsState::new();
        state
            .recv(&settings(
                &[Setting::InitialWindowSize(1), Setting::InitialWindowSize(2)],
                false,
            ))
            .unwrap();
        assert_eq!(state.remote().initial_window_size, 2);
    }
}
