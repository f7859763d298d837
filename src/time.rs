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

/// Converts seconds to nanoseconds, rounding to the nearest nanosecond (ties away from zero)
/// and saturating.
#[inline]
pub fn from_secs_f64(s: f64) -> Nanos {
    let ns = s * NANOS_PER_SEC as f64;
    // Every time and lifetime the workload draws lands here (2^52 ns is 52 days): two compares
    // before the rounding. A NaN, a negative or a huge `s` fails them and takes the checks
    // below; `0.0` and `-0.0` pass and give 0, as `s <= 0.0` does.
    if (0.0..F64_INTEGERS_FROM).contains(&ns) {
        return round_below_2_52(ns);
    }
    if s.is_nan() || s <= 0.0 {
        0
    } else if s >= u64::MAX as f64 / NANOS_PER_SEC as f64 {
        u64::MAX
    } else {
        round_to_u64(ns)
    }
}

/// 2^52: from here on every `f64` is an integer.
const F64_INTEGERS_FROM: f64 = 4_503_599_627_370_496.0;

/// `x.round() as u64`, bit for bit, for every `x` (NaN and negatives give 0, huge values
/// saturate), without a call. On baseline x86_64 (no SSE4.1 `roundsd`) `f64::round` is a call
/// into compiler-builtins' libm, and the workload converts two draws per connection: callgrind
/// on the speed scenario (bsd, 20 min) counted 48 instructions per connection inside `round`
/// alone. From 2^52 `x` is already an integer and the saturating cast is `round`'s.
/// `time::tests` prove the equality over random bit patterns, ties and edges.
#[inline]
pub fn round_to_u64(x: f64) -> u64 {
    if (0.0..F64_INTEGERS_FROM).contains(&x) {
        round_below_2_52(x)
    } else {
        // Negative (rounding to 0 or below, saturated to 0), NaN (0), or already an integer.
        x as u64
    }
}

/// `x.round() as u64` for `0 <= x < 2^52`. Adding 2^52 lands in [2^52, 2^53], where
/// consecutive `f64`s are 1 apart: the sum is `x` rounded to an integer (ties to even), and
/// that integer is the sum's bits minus 2^52's bits, read without a float-to-int conversion
/// (Rust's saturating `as` costs six instructions more). `x - r` is exact (Sterbenz for
/// `x < 1`; above, both are multiples of `x`'s ulp and the difference is at most 0.5), so a
/// difference of exactly 0.5 is a tie that went down to even, which `round` takes up.
#[inline]
fn round_below_2_52(x: f64) -> u64 {
    let sum = x + F64_INTEGERS_FROM;
    let r = sum.to_bits() - F64_INTEGERS_FROM.to_bits();
    r + u64::from(x - (sum - F64_INTEGERS_FROM) == 0.5)
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

    /// What `from_secs_f64` did before [`round_to_u64`]: the reference it must equal.
    fn from_secs_f64_libm(s: f64) -> Nanos {
        if s.is_nan() || s <= 0.0 {
            0
        } else if s >= u64::MAX as f64 / NANOS_PER_SEC as f64 {
            u64::MAX
        } else {
            (s * NANOS_PER_SEC as f64).round() as u64
        }
    }

    #[test]
    fn rounding_matches_libm_round_at_the_edges() {
        let two52 = F64_INTEGERS_FROM;
        let mut xs = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.5,
            2.5,
            -2.5,
            0.49999999999999994, // the largest below 0.5: x + 0.5 rounds up to 1.0, round() does not
            0.5000000000000001,
            f64::MIN_POSITIVE,
            f64::from_bits(1), // the smallest subnormal
            f64::from_bits(0x000f_ffff_ffff_ffff),
            -f64::from_bits(1),
            two52,
            two52 - 0.5,
            two52 - 1.5,
            two52 + 1.0,
            two52 * 2.0,
            9_007_199_254_740_993.0, // 2^53 + 1 (rounds to 2^53 as a literal)
            2f64.powi(63),
            f64::from_bits(2f64.powi(64).to_bits() - 1), // the largest below 2^64
            2f64.powi(64),                               // saturates
            1e300,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::MIN,
        ];
        // Both neighbours of every tie k + 0.5 up to 2^52, where the fraction test matters.
        let mut k = 0.5;
        while k < two52 {
            xs.extend([k, f64::from_bits(k.to_bits() - 1), f64::from_bits(k.to_bits() + 1)]);
            k = k * 3.0 + 0.5;
        }
        for x in xs {
            assert_eq!(round_to_u64(x), x.round() as u64, "{x:e} ({:#x})", x.to_bits());
            assert_eq!(from_secs_f64(x), from_secs_f64_libm(x), "{x:e}");
        }
        // The exact values: ties go away from zero, as f64::round does.
        assert_eq!([0.5, 1.5, 2.5, 0.49999999999999994].map(round_to_u64), [1, 2, 3, 0]);
        assert_eq!(round_to_u64(two52 - 0.5), 4_503_599_627_370_496);
        assert_eq!(round_to_u64(f64::INFINITY), u64::MAX);
        assert_eq!(round_to_u64(f64::NAN), 0);
        // Ties to even would give 2 and 4: round() goes away from zero.
        assert_eq!([2.5, 3.5, 4.5].map(round_below_2_52), [3, 4, 5]);
        assert_eq!(round_below_2_52(two52 - 1.0), 4_503_599_627_370_495);
    }

    proptest::proptest! {
        #[test]
        fn rounding_matches_libm_round_for_any_bits(bits: u64) {
            let x = f64::from_bits(bits);
            proptest::prop_assert_eq!(round_to_u64(x), x.round() as u64);
            proptest::prop_assert_eq!(from_secs_f64(x), from_secs_f64_libm(x));
        }

        #[test]
        fn rounding_matches_libm_round_where_draws_fall(
            s in 0.0f64..1e10,
            k in 0u64..(1 << 52),
            ulps in -3i64..=3,
        ) {
            // Seconds as the workload draws them, and ties k + 0.5 moved a few ulps either way.
            proptest::prop_assert_eq!(from_secs_f64(s), from_secs_f64_libm(s));
            let tie = k as f64 + 0.5;
            let x = f64::from_bits(tie.to_bits().wrapping_add_signed(ulps));
            proptest::prop_assert_eq!(round_to_u64(x), x.round() as u64);
        }
    }

    #[test]
    fn seconds_round_trip() {
        assert_eq!(from_secs_f64(1.5), 1_500_000_000);
        assert_eq!(from_secs_f64(-1.0), 0);
        assert_eq!(secs(2_500_000_000), 2.5);
        assert_eq!(format_duration(60 * NANOS_PER_SEC), "1m");
    }
}
