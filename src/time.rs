//! Simulated time is an integer count of nanoseconds: sums of durations stay exact, so a run
//! replays bit for bit wherever it runs (floating-point clocks drift with the order of additions).

use std::time::Duration;

/// Nanoseconds since the start of a simulated run.
pub type Nanos = u64;

pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The longest duration portsim accepts anywhere (a run, a TIME-WAIT, a lifetime, an interval,
/// a trace time): 100 years of 365.25 days, humantime's `"100y"`. It is a sixth of what a
/// `u64` of nanoseconds holds, so the clock sums the engine makes (a time plus a duration, a
/// sample time plus an interval) stay far from wrapping; those sums also saturate, as a second
/// guard. Without the bound `time_wait = "18446744073709551615ns"` wrapped `now + time_wait`
/// and freed every port at once, and `duration = "584y"` ran the sample clock backwards.
pub const MAX_DURATION: Nanos = 100 * 31_557_600 * NANOS_PER_SEC;

/// Parses the scenario's duration strings (`"250ms"`, `"60s"`, `"10m"`, `"1h 30m"`), at most
/// [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Nanos, String> {
    let d: Duration = humantime::parse_duration(text.trim())
        .map_err(|_| format!("`{text}` is not a duration: write it like \"250ms\", \"60s\" or \"10m\""))?;
    u64::try_from(d.as_nanos())
        .ok()
        .filter(|n| *n <= MAX_DURATION)
        .ok_or_else(|| format!("`{text}` is too long: portsim accepts durations up to 100 years (\"100y\")"))
}

/// Seconds as a float, for reports.
pub fn secs(t: Nanos) -> f64 {
    t as f64 / NANOS_PER_SEC as f64
}

/// Converts seconds to nanoseconds, rounding to the nearest nanosecond and saturating.
pub fn from_secs_f64(s: f64) -> Nanos {
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= u64::MAX as f64 / NANOS_PER_SEC as f64 {
        u64::MAX
    } else {
        (s * NANOS_PER_SEC as f64).round() as u64
    }
}

/// Formats a duration the way a scenario would write it.
pub fn format_duration(t: Nanos) -> String {
    humantime::format_duration(Duration::from_nanos(t)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scenario_durations() {
        assert_eq!(parse_duration("250ms").unwrap(), 250_000_000);
        assert_eq!(parse_duration("60s").unwrap(), 60 * NANOS_PER_SEC);
        assert_eq!(parse_duration("10m").unwrap(), 600 * NANOS_PER_SEC);
        assert_eq!(parse_duration("1h 30m").unwrap(), 5400 * NANOS_PER_SEC);
        assert!(parse_duration("sixty").unwrap_err().contains("not a duration"));
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn durations_are_bounded_to_the_documented_maximum() {
        assert_eq!(parse_duration("100y").unwrap(), MAX_DURATION);
        assert_eq!(parse_duration(&format!("{MAX_DURATION}ns")).unwrap(), MAX_DURATION);
        for text in [format!("{}ns", MAX_DURATION + 1), "584y".into(), "18446744073709551615ns".into()] {
            let e = parse_duration(&text).unwrap_err();
            assert!(e.contains("up to 100 years"), "{text}: {e}");
        }
        // Two maximal durations still add without wrapping.
        assert!(MAX_DURATION.checked_mul(2).is_some());
    }

    #[test]
    fn seconds_round_trip() {
        assert_eq!(from_secs_f64(1.5), 1_500_000_000);
        assert_eq!(from_secs_f64(-1.0), 0);
        assert_eq!(secs(2_500_000_000), 2.5);
        assert_eq!(format_duration(60 * NANOS_PER_SEC), "1m");
    }
}
