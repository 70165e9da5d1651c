//! Flow-control windows (RFC 9113 §5.2, §6.9), as pure arithmetic.
//!
//! Two kinds, one per direction:
//!
//! - [`SendWindow`]: what the peer lets us send. It shrinks as we send DATA,
//!   grows with the peer's WINDOW_UPDATE, and moves by the difference when
//!   the peer's SETTINGS_INITIAL_WINDOW_SIZE changes, which may leave it
//!   negative (§6.9.2): then nothing may be sent until updates bring it back
//!   above zero. Past 2^31-1 it is a FLOW_CONTROL_ERROR.
//! - [`RecvWindow`]: what we let the peer send. Received DATA (padding
//!   included) uses it up; a frame larger than what is left is a
//!   FLOW_CONTROL_ERROR. Room is given back only as the application
//!   *consumes* the data, not as it arrives, so a slow reader bounds what a
//!   peer can make us hold; and WINDOW_UPDATEs are batched: one is due once
//!   the room owed reaches half the window, not one per DATA frame.
//!
//! Every operation is checked: none can overflow or panic, whatever the peer
//! sends.

use crate::ErrorCode;

/// The largest window RFC 9113 allows: 2^31-1.
pub const MAX_WINDOW: u32 = (1 << 31) - 1;

/// The window every stream and the connection start with, until SETTINGS
/// say otherwise: 65,535 (§6.9.2).
pub const DEFAULT_WINDOW: u32 = 65_535;

/// A window operation the peer made invalid: `FLOW_CONTROL_ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowError {
    /// What went wrong, for GOAWAY debug data and logs.
    pub reason: &'static str,
}

impl FlowError {
    /// The error code to send: always `FLOW_CONTROL_ERROR`.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        ErrorCode::FlowControlError
    }
}

impl std::fmt::Display for FlowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FLOW_CONTROL_ERROR: {}", self.reason)
    }
}

impl std::error::Error for FlowError {}

/// What the peer lets us send on a stream or the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendWindow(i64);

impl SendWindow {
    /// A window of `initial` bytes.
    #[must_use]
    pub fn new(initial: u32) -> Self {
        Self(i64::from(initial.min(MAX_WINDOW)))
    }

    /// Bytes that may be sent now: 0 while the window is zero or negative.
    #[must_use]
    pub fn available(&self) -> u32 {
        u32::try_from(self.0.max(0)).unwrap_or(MAX_WINDOW)
    }

    /// The window as it stands, possibly negative.
    #[must_use]
    pub fn get(&self) -> i64 {
        self.0
    }

    /// Takes `n` bytes we are about to send. The caller sends no more than
    /// [`available`](Self::available): anything else is our bug, so it is
    /// clamped rather than trusted.
    pub fn consume(&mut self, n: u32) {
        let n = n.min(self.available());
        self.0 -= i64::from(n);
    }

    /// The peer's WINDOW_UPDATE of `increment` (already checked non-zero by
    /// the frame layer).
    pub fn increase(&mut self, increment: u32) -> Result<(), FlowError> {
        let next = self.0 + i64::from(increment);
        if next > i64::from(MAX_WINDOW) {
            return Err(FlowError {
                reason: "WINDOW_UPDATE took the window past 2^31-1",
            });
        }
        self.0 = next;
        Ok(())
    }

    /// The peer changed SETTINGS_INITIAL_WINDOW_SIZE from `old` to `new`:
    /// every open stream's window moves by the difference (§6.9.2).
    pub fn adjust(&mut self, old: u32, new: u32) -> Result<(), FlowError> {
        let next = self.0 + i64::from(new) - i64::from(old);
        if next > i64::from(MAX_WINDOW) {
            return Err(FlowError {
                reason: "SETTINGS_INITIAL_WINDOW_SIZE took a window past 2^31-1",
            });
        }
        self.0 = next;
        Ok(())
    }
}

/// What we let the peer send on a stream or the connection, and the
/// WINDOW_UPDATEs owed as the application consumes what arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvWindow {
    /// The window we want the peer to have: what we advertised.
    target: u32,
    /// What the peer may still send, by our count.
    left: u32,
    /// Bytes consumed by the application and not yet given back.
    owed: u32,
}

impl RecvWindow {
    /// A window of `target` bytes, all of it the peer's already (the initial
    /// window, or the connection's after a first WINDOW_UPDATE).
    #[must_use]
    pub fn new(target: u32) -> Self {
        let target = target.min(MAX_WINDOW);
        Self {
            target,
            left: target,
            owed: 0,
        }
    }

    /// A stream's window when the peer starts from `granted` (the initial
    /// window in force) but we want `target`: the difference is owed at
    /// once, so the first update brings the peer up to `target`.
    #[must_use]
    pub fn starting_at(granted: u32, target: u32) -> Self {
        let target = target.min(MAX_WINDOW);
        let granted = granted.min(target);
        Self {
            target,
            left: granted,
            owed: target - granted,
        }
    }

    /// What the peer may still send.
    #[must_use]
    pub fn left(&self) -> u32 {
        self.left
    }

    /// Received DATA of `n` flow-controlled bytes (padding and its length
    /// byte included). More than the window allows is the peer's error.
    pub fn receive(&mut self, n: u32) -> Result<(), FlowError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(FlowError {
                reason: "DATA beyond the flow-control window",
            }),
        }
    }

    /// The application consumed `n` bytes of what arrived (or they were
    /// discarded, such as padding or a reset stream's data): they may be
    /// given back.
    pub fn consume(&mut self, n: u32) {
        // Never more than was taken: what is left plus what is owed stays
        // within the target.
        let room = self.target - self.left - self.owed;
        self.owed += n.min(room);
    }

    /// The WINDOW_UPDATE increment to send now, if one is due: once the room
    /// owed reaches half the window (or the peer is down to nothing), so a
    /// steady stream of small frames costs one update per half-window, not
    /// one per frame. Marks it sent.
    pub fn update_due(&mut self) -> Option<u32> {
        if self.owed == 0 {
            return None;
        }
        if self.owed < self.target / 2 && self.left > 0 {
            return None;
        }
        let increment = self.owed;
        self.left += increment;
        self.owed = 0;
        Some(increment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::Rng;

    #[test]
    fn send_window_shrinks_grows_and_refuses_past_the_maximum() {
        let mut w = SendWindow::new(DEFAULT_WINDOW);
        assert_eq!(w.available(), 65_535);
        w.consume(65_535);
        assert_eq!(w.available(), 0);
        w.increase(10).unwrap();
        assert_eq!(w.available(), 10);
        let mut full = SendWindow::new(MAX_WINDOW);
        let err = full.increase(1).unwrap_err();
        assert_eq!(err.code(), ErrorCode::FlowControlError);
        assert_eq!(
            full.available(),
            MAX_WINDOW,
            "a refused update changes nothing"
        );
    }

    /// §6.9.2: a smaller SETTINGS_INITIAL_WINDOW_SIZE can make a window
    /// negative; nothing may be sent until updates bring it back.
    #[test]
    fn s6_9_2_initial_window_changes_may_make_windows_negative() {
        let mut w = SendWindow::new(65_535);
        w.consume(60_000);
        w.adjust(65_535, 1_000).unwrap();
        assert_eq!(w.get(), 1_000 - 60_000);
        assert_eq!(w.available(), 0);
        w.increase(58_999).unwrap();
        assert_eq!(w.available(), 0, "still at -1");
        w.increase(2).unwrap();
        assert_eq!(w.available(), 1);
        let mut w = SendWindow::new(MAX_WINDOW - 5);
        assert!(w.adjust(65_535, 65_541).is_err(), "past 2^31-1");
    }

    #[test]
    fn consuming_more_than_available_is_clamped() {
        let mut w = SendWindow::new(10);
        w.consume(100);
        assert_eq!(w.get(), 0);
    }

    #[test]
    fn data_beyond_the_receive_window_is_a_flow_control_error() {
        let mut w = RecvWindow::new(100);
        w.receive(60).unwrap();
        w.receive(40).unwrap();
        assert_eq!(w.left(), 0);
        assert!(w.receive(1).is_err());
    }

    /// Room goes back only as the application consumes, in batches of half
    /// the window.
    #[test]
    fn updates_are_batched_and_follow_consumption_not_arrival() {
        let mut w = RecvWindow::new(1000);
        w.receive(600).unwrap();
        assert_eq!(w.update_due(), None, "nothing consumed yet");
        w.consume(100);
        assert_eq!(w.update_due(), None, "100 owed is under half the window");
        w.consume(400);
        assert_eq!(w.update_due(), Some(500));
        assert_eq!(w.left(), 900);
        assert_eq!(w.update_due(), None, "nothing more owed");
    }

    #[test]
    fn a_peer_down_to_nothing_gets_its_update_at_once() {
        let mut w = RecvWindow::new(1000);
        w.receive(1000).unwrap();
        w.consume(10);
        assert_eq!(w.update_due(), Some(10));
    }

    #[test]
    fn a_larger_target_than_granted_is_owed_from_the_start() {
        let mut w = RecvWindow::starting_at(65_535, 1 << 20);
        assert_eq!(w.left(), 65_535);
        assert_eq!(w.update_due(), Some((1 << 20) - 65_535));
        assert_eq!(w.left(), 1 << 20);
    }

    #[test]
    fn consuming_more_than_arrived_gives_back_no_more_than_was_taken() {
        let mut w = RecvWindow::new(100);
        w.receive(60).unwrap();
        w.consume(1_000_000);
        assert_eq!(w.update_due(), Some(60));
        assert_eq!(w.left(), 100);
    }

    /// Random operations never panic, never give the peer more than the
    /// target, and never let a send window pass 2^31-1.
    #[test]
    fn random_operations_keep_the_invariants() {
        let mut rng = Rng::new(0x5eed_f10c);
        for _ in 0..2_000 {
            let target = (rng.next_u64() % u64::from(MAX_WINDOW)) as u32 + 1;
            let mut recv = RecvWindow::new(target);
            let mut send = SendWindow::new((rng.next_u64() % u64::from(MAX_WINDOW)) as u32);
            for _ in 0..50 {
                let n = match rng.below(3) {
                    0 => rng.byte_biased().into(),
                    1 => rng.next_u64() as u32,
                    _ => rng.below(1 << 20) as u32,
                };
                match rng.below(6) {
                    0 => {
                        let _ = recv.receive(n);
                    }
                    1 => recv.consume(n),
                    2 => {
                        let _ = recv.update_due();
                    }
                    3 => send.consume(n),
                    4 => {
                        let _ = send.increase(n);
                    }
                    _ => {
                        let _ = send.adjust(n, rng.next_u64() as u32 & MAX_WINDOW);
                    }
                }
                assert!(recv.left() <= target);
                assert!(recv.left() + recv.owed <= target);
                assert!(send.get() <= i64::from(MAX_WINDOW));
            }
        }
    }
}
