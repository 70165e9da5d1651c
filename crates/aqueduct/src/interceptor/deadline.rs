//! [`DeadlinePolicy`]: which deadlines a server accepts.

use std::time::Duration;

use tokio::time::Instant;

use super::{CallInfo, Interceptor};
use crate::status::Status;

/// Server interceptor: checks each call's deadline against a policy, and can
/// give calls that have none a default.
///
/// Refused calls end with `INVALID_ARGUMENT` and a message that says what was
/// wrong and what the policy allows. Scope it like any interceptor: to the whole
/// server, or to the one method that must not run unbounded.
///
/// ```
/// use std::time::Duration;
/// use aqueduct::interceptor::DeadlinePolicy;
///
/// // Calls without a deadline get 5 s; none may ask for more than a minute,
/// // or for less than 10 ms.
/// let policy = DeadlinePolicy::new()
///     .default_timeout(Duration::from_secs(5))
///     .min(Duration::from_millis(10))
///     .max(Duration::from_secs(60));
/// # drop(policy);
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct DeadlinePolicy {
    required: bool,
    default: Option<Duration>,
    min: Option<Duration>,
    max: Option<Duration>,
}

impl DeadlinePolicy {
    /// A policy that accepts every call; add rules to it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses calls that carry no deadline (unless a
    /// [`default_timeout`](Self::default_timeout) is set, which gives them one).
    pub fn require(mut self) -> Self {
        self.required = true;
        self
    }

    /// Gives calls that carry no deadline this timeout, from their arrival: the
    /// server enforces it, and the handler and its outgoing calls see it.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default = Some(timeout);
        self
    }

    /// Refuses calls with less than `min` left when they arrive: too little to
    /// do the work, so better refused at once.
    pub fn min(mut self, min: Duration) -> Self {
        self.min = Some(min);
        self
    }

    /// Refuses calls whose deadline is more than `max` away.
    pub fn max(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }

    /// The deadline a call gets under this policy, or why it is refused.
    fn check(&self, deadline: Option<Instant>, now: Instant) -> Result<Option<Instant>, Status> {
        let Some(deadline) = deadline else {
            if let Some(timeout) = self.default {
                return Ok(now.checked_add(timeout));
            }
            if self.required {
                return Err(Status::invalid_argument(
                    "this method requires a deadline: set a timeout on the call",
                ));
            }
            return Ok(None);
        };
        let left = deadline.saturating_duration_since(now);
        if let Some(min) = self.min.filter(|min| left < *min) {
            return Err(Status::invalid_argument(format!(
                "deadline too short: {} left, this method needs at least {}",
                human(left),
                human(min)
            )));
        }
        if let Some(max) = self.max.filter(|max| left > *max) {
            return Err(Status::invalid_argument(format!(
                "deadline too far: {} away, this method accepts at most {}",
                human(left),
                human(max)
            )));
        }
        Ok(Some(deadline))
    }
}

/// A duration for a message: `1.5s`, `250ms`.
fn human(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}ms", d.as_millis())
    }
}

impl Interceptor for DeadlinePolicy {
    async fn on_call(&self, call: &mut CallInfo<'_>) -> Result<(), Status> {
        let deadline = self.check(call.deadline(), Instant::now())?;
        if deadline != call.deadline() {
            call.set_deadline(deadline);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Code;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn the_policy_admits_refuses_and_defaults() {
        let now = Instant::now();
        let open = DeadlinePolicy::new();
        assert_eq!(open.check(None, now).unwrap(), None);
        assert_eq!(open.check(Some(now + S), now).unwrap(), Some(now + S));

        let required = DeadlinePolicy::new().require();
        let refused = required.check(None, now).unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument);
        assert!(refused.message().contains("requires a deadline"));

        let defaulted = DeadlinePolicy::new().require().default_timeout(5 * S);
        assert_eq!(defaulted.check(None, now).unwrap(), Some(now + 5 * S));

        let bounded = DeadlinePolicy::new().min(S).max(10 * S);
        assert_eq!(
            bounded.check(Some(now + 2 * S), now).unwrap(),
            Some(now + 2 * S)
        );
        let short = bounded.check(Some(now + S / 2), now).unwrap_err();
        assert_eq!(short.code(), Code::InvalidArgument);
        assert!(short.message().contains("too short"), "{}", short.message());
        let far = bounded.check(Some(now + 11 * S), now).unwrap_err();
        assert_eq!(
            far.message(),
            "deadline too far: 11.0s away, this method accepts at most 10.0s"
        );
        let short = DeadlinePolicy::new()
            .min(S / 4)
            .check(Some(now + S / 10), now)
            .unwrap_err();
        assert_eq!(
            short.message(),
            "deadline too short: 100ms left, this method needs at least 250ms"
        );
        // Bounds are inclusive.
        assert!(bounded.check(Some(now + S), now).is_ok());
        assert!(bounded.check(Some(now + 10 * S), now).is_ok());
    }
}
