//! SETTINGS parameters (RFC 9113 §6.5.2) and their validity rules.

use super::{DEFAULT_MAX_FRAME_SIZE, FrameError, MAX_MAX_FRAME_SIZE, MAX_WINDOW_SIZE};
use crate::ErrorCode;

/// A SETTINGS parameter RFC 9113 defines, with a value that passed its
/// validity rule (§6.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// SETTINGS_HEADER_TABLE_SIZE (0x1): the HPACK dynamic table limit.
    HeaderTableSize(u32),
    /// SETTINGS_ENABLE_PUSH (0x2): 0 or 1 on the wire.
    EnablePush(bool),
    /// SETTINGS_MAX_CONCURRENT_STREAMS (0x3).
    MaxConcurrentStreams(u32),
    /// SETTINGS_INITIAL_WINDOW_SIZE (0x4): at most 2^31-1.
    InitialWindowSize(u32),
    /// SETTINGS_MAX_FRAME_SIZE (0x5): 16,384..=16,777,215.
    MaxFrameSize(u32),
    /// SETTINGS_MAX_HEADER_LIST_SIZE (0x6): advisory.
    MaxHeaderListSize(u32),
}

impl Setting {
    /// The parameter's identifier on the wire.
    #[must_use]
    pub fn id(&self) -> u16 {
        match self {
            Setting::HeaderTableSize(_) => 0x1,
            Setting::EnablePush(_) => 0x2,
            Setting::MaxConcurrentStreams(_) => 0x3,
            Setting::InitialWindowSize(_) => 0x4,
            Setting::MaxFrameSize(_) => 0x5,
            Setting::MaxHeaderListSize(_) => 0x6,
        }
    }

    /// The value on the wire.
    #[must_use]
    pub fn value(&self) -> u32 {
        match *self {
            Setting::EnablePush(on) => u32::from(on),
            Setting::HeaderTableSize(v)
            | Setting::MaxConcurrentStreams(v)
            | Setting::InitialWindowSize(v)
            | Setting::MaxFrameSize(v)
            | Setting::MaxHeaderListSize(v) => v,
        }
    }

    /// Decodes one parameter: `Ok(None)` for an identifier RFC 9113 does not
    /// define (to be ignored, §6.5.2), an error for a value out of range.
    pub fn decode(id: u16, value: u32) -> Result<Option<Self>, FrameError> {
        let setting = match id {
            0x1 => Setting::HeaderTableSize(value),
            0x2 => match value {
                0 => Setting::EnablePush(false),
                1 => Setting::EnablePush(true),
                _ => {
                    return Err(conn(
                        ErrorCode::ProtocolError,
                        "SETTINGS_ENABLE_PUSH not 0 or 1",
                    ));
                }
            },
            0x3 => Setting::MaxConcurrentStreams(value),
            0x4 if value > MAX_WINDOW_SIZE => {
                return Err(conn(
                    ErrorCode::FlowControlError,
                    "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1",
                ));
            }
            0x4 => Setting::InitialWindowSize(value),
            0x5 if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) => {
                return Err(conn(
                    ErrorCode::ProtocolError,
                    "SETTINGS_MAX_FRAME_SIZE out of range",
                ));
            }
            0x5 => Setting::MaxFrameSize(value),
            0x6 => Setting::MaxHeaderListSize(value),
            _ => return Ok(None),
        };
        Ok(Some(setting))
    }
}

fn conn(code: ErrorCode, reason: &'static str) -> FrameError {
    FrameError::connection(code, reason)
}

/// Checks a SETTINGS payload (not an ACK): a multiple of 6 bytes, each known
/// parameter valid.
pub(crate) fn validate(raw: &[u8]) -> Result<(), FrameError> {
    if raw.len() % 6 != 0 {
        return Err(conn(
            ErrorCode::FrameSizeError,
            "SETTINGS length not a multiple of 6",
        ));
    }
    for entry in raw.chunks_exact(6) {
        let (id, value) = split_entry(entry);
        Setting::decode(id, value)?;
    }
    Ok(())
}

fn split_entry(entry: &[u8]) -> (u16, u32) {
    match *entry {
        [i0, i1, v0, v1, v2, v3] => (
            u16::from_be_bytes([i0, i1]),
            u32::from_be_bytes([v0, v1, v2, v3]),
        ),
        // chunks_exact(6) gives only 6-byte entries.
        _ => (0, 0),
    }
}

/// The known parameters of a checked SETTINGS frame, in order
/// ([`Settings::iter`](super::Settings::iter)).
#[derive(Debug, Clone)]
pub struct SettingsIter<'a> {
    entries: std::slice::ChunksExact<'a, u8>,
}

impl<'a> SettingsIter<'a> {
    pub(crate) fn new(raw: &'a [u8]) -> Self {
        Self {
            entries: raw.chunks_exact(6),
        }
    }
}

impl Iterator for SettingsIter<'_> {
    type Item = Setting;

    fn next(&mut self) -> Option<Setting> {
        for entry in self.entries.by_ref() {
            let (id, value) = split_entry(entry);
            // The frame was validated when decoded, so errors cannot occur
            // here; unknown identifiers are skipped.
            if let Ok(Some(setting)) = Setting::decode(id, value) {
                return Some(setting);
            }
        }
        None
    }
}
