//! The `grpc-timeout` header: `TimeoutValue TimeoutUnit`, at most 8 ASCII digits and
//! one unit letter (`H`, `M`, `S`, `m`, `u`, `n`).

use std::fmt;
use std::time::Duration;

/// The largest value the header may carry: 8 digits.
const MAX_VALUE: u64 = 99_999_999;

/// Why a `grpc-timeout` value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutError {
    /// The value was empty or had no unit.
    Empty,
    /// The digits were missing, not ASCII digits, or more than 8 of them.
    BadValue,
    /// The unit letter was not one of `H M S m u n`.
    BadUnit,
}

impl fmt::Display for TimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "grpc-timeout is empty",
            Self::BadValue => "grpc-timeout value must be 1 to 8 ASCII digits",
            Self::BadUnit => "grpc-timeout unit must be one of H, M, S, m, u, n",
        })
    }
}

impl std::error::Error for TimeoutError {}

/// Parses a `grpc-timeout` header value.
///
/// ```
/// use std::time::Duration;
/// use aqueduct_wire::timeout::parse;
///
/// assert_eq!(parse(b"100m"), Ok(Duration::from_millis(100)));
/// assert_eq!(parse(b"2H"), Ok(Duration::from_secs(7200)));
/// assert!(parse(b"123456789n").is_err()); // 9 digits
/// ```
pub fn parse(value: &[u8]) -> Result<Duration, TimeoutError> {
    let Some((&unit, digits)) = value.split_last() else {
        return Err(TimeoutError::Empty);
    };
    if digits.is_empty() || digits.len() > 8 {
        return Err(TimeoutError::BadValue);
    }
    let mut n: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(TimeoutError::BadValue);
        }
        n = n * 10 + u64::from(d - b'0');
    }
    Ok(match unit {
        b'H' => Duration::from_secs(n * 3600),
        b'M' => Duration::from_secs(n * 60),
        b'S' => Duration::from_secs(n),
        b'm' => Duration::from_millis(n),
        b'u' => Duration::from_micros(n),
        b'n' => Duration::from_nanos(n),
        _ => return Err(TimeoutError::BadUnit),
    })
}

/// Formats a timeout for the `grpc-timeout` header, in the finest unit that fits in
/// 8 digits, rounding up so the peer never sees a shorter deadline than ours.
///
/// Timeouts longer than 99,999,999 hours are capped there.
///
/// ```
/// use std::time::Duration;
/// use aqueduct_wire::timeout::format;
///
/// assert_eq!(format(Duration::from_millis(250)), "250000u");
/// assert_eq!(format(Duration::from_secs(3600)), "3600000m");
/// assert_eq!(format(Duration::ZERO), "0n");
/// ```
#[must_use]
pub fn format(timeout: Duration) -> String {
    let nanos = timeout.as_nanos();
    const UNITS: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (per, unit) in UNITS {
        let value = nanos.div_ceil(per);
        if value <= u128::from(MAX_VALUE) {
            return format!("{value}{unit}");
        }
    }
    format!("{MAX_VALUE}H")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit() {
        assert_eq!(parse(b"1H"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse(b"1M"), Ok(Duration::from_secs(60)));
        assert_eq!(parse(b"1S"), Ok(Duration::from_secs(1)));
        assert_eq!(parse(b"1m"), Ok(Duration::from_millis(1)));
        assert_eq!(parse(b"1u"), Ok(Duration::from_micros(1)));
        assert_eq!(parse(b"1n"), Ok(Duration::from_nanos(1)));
        assert_eq!(
            parse(b"99999999H"),
            Ok(Duration::from_secs(99_999_999 * 3600))
        );
        assert_eq!(parse(b"00000000S"), Ok(Duration::ZERO));
    }

    #[test]
    fn error_paths() {
        assert_eq!(parse(b""), Err(TimeoutError::Empty));
        assert_eq!(parse(b"S"), Err(TimeoutError::BadValue));
        assert_eq!(parse(b"123456789S"), Err(TimeoutError::BadValue));
        assert_eq!(parse(b"1 S"), Err(TimeoutError::BadValue));
        assert_eq!(parse(b"-1S"), Err(TimeoutError::BadValue));
        assert_eq!(parse(b"10x"), Err(TimeoutError::BadUnit));
        assert_eq!(parse(b"10s"), Err(TimeoutError::BadUnit));
        assert_eq!(parse("1٣S".as_bytes()), Err(TimeoutError::BadValue));
    }

    #[test]
    fn format_round_trips_and_never_shortens() {
        for d in [
            Duration::from_nanos(1),
            Duration::from_nanos(99_999_999),
            Duration::from_nanos(100_000_001),
            Duration::from_millis(1500),
            Duration::from_secs(100_000),
            Duration::from_secs(100_000_000),
            Duration::from_secs(99_999_999 * 3600),
        ] {
            let s = format(d);
            assert!(s.len() <= 9, "{s}");
            let back = parse(s.as_bytes()).unwrap();
            assert!(back >= d, "{d:?} -> {s} -> {back:?}");
        }
        assert_eq!(format(Duration::MAX), "99999999H");
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = crate::test_rng::Rng::new(7);
        for _ in 0..50_000 {
            let len = rng.below(12);
            let v: Vec<u8> = (0..len)
                .map(|_| rng.byte_from(b"0123456789HMSmun"))
                .collect();
            if let Ok(d) = parse(&v) {
                assert!(d <= Duration::from_secs(99_999_999 * 3600));
            }
        }
    }
}
