//! Did the run reach its steady state? The closed forms (Erlang-B, n/H) describe a host whose
//! occupancy has settled; a run that ends before TIME_WAIT and the longest lifetimes have
//! turned over, or whose occupancy is still climbing at the end, is mostly transient and must
//! not be read against them without a word.
//!
//! Two tests. The hold a port sees, `H` = the 99th-percentile lifetime plus TIME_WAIT (when
//! the client may close first), must be covered: either the warm-up lasts at least `H` (the
//! counted window starts settled), or the run lasts at least [`SETTLE_FACTOR`] x `H` (the
//! transient is a small part of it). And the occupancy the simulation measured (live plus
//! TIME_WAIT, from the time series) must not still be rising: the mean of the counted
//! window's last quarter may exceed its third quarter's by no more than 5 % and three Poisson
//! standard deviations.

use super::Sample;
use serde::{Deserialize, Serialize};

/// How many holds a run without enough warm-up must last for its transient to be minor.
pub const SETTLE_FACTOR: f64 = 10.0;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Steady {
    /// Neither test found a transient: the run may be compared with the closed forms.
    pub settled: bool,
    /// The hold `H` the tests used: p99 lifetime + TIME_WAIT.
    pub hold_s: f64,
    /// The run is too short for its hold (warm-up < H and duration < 10 H).
    pub too_short: bool,
    /// Mean occupancy (live + TIME_WAIT) over the counted window's third and last quarter.
    pub occupancy_third_quarter: f64,
    pub occupancy_last_quarter: f64,
    /// The occupancy was still rising at the end.
    pub still_rising: bool,
}

/// Judges a run from its time series. `hold_s` is `H`; times in seconds.
pub fn judge(samples: &[Sample], warmup_s: f64, duration_s: f64, hold_s: f64) -> Steady {
    let too_short = warmup_s < hold_s && duration_s < SETTLE_FACTOR * hold_s;
    let counted: Vec<f64> =
        samples.iter().filter(|s| s.t_s > warmup_s).map(|s| (s.live + s.time_wait) as f64).collect();
    let q = counted.len() / 4;
    let mean = |v: &[f64]| if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
    let (third, last) = if q == 0 {
        (0.0, 0.0)
    } else {
        (mean(&counted[counted.len() - 2 * q..counted.len() - q]), mean(&counted[counted.len() - q..]))
    };
    let still_rising = q >= 2 && last > third * 1.05 && last - third > 3.0 * third.sqrt().max(1.0);
    Steady {
        settled: !too_short && !still_rising,
        hold_s,
        too_short,
        occupancy_third_quarter: third,
        occupancy_last_quarter: last,
        still_rising,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(occupancy: impl Iterator<Item = u64>) -> Vec<Sample> {
        occupancy
            .enumerate()
            .map(|(i, o)| Sample {
                t_s: (i + 1) as f64,
                attempts: 0,
                established: 0,
                failed: 0,
                mean_candidates: 0.0,
                collisions_local: 0,
                collisions_remote: 0,
                live: 0,
                time_wait: o,
                peak_held_toward_one_destination: 0,
                busiest_pool_held: 0,
            })
            .collect()
    }

    #[test]
    fn a_flat_occupancy_over_a_long_run_is_settled() {
        let s = judge(&rows((0..100).map(|i| 1000 + (i % 3))), 0.0, 100.0, 5.0);
        assert!(s.settled && !s.too_short && !s.still_rising, "{s:?}");
    }

    #[test]
    fn a_climbing_occupancy_is_still_rising() {
        // TIME_WAIT fills for 60 s in a 100 s run at 100/s.
        let s = judge(&rows((0..100).map(|i| 100 * i.min(60))), 0.0, 100.0, 5.0);
        assert!(!s.still_rising, "flat over the last half: {s:?}");
        let s = judge(&rows((0..100).map(|i| 100 * i)), 0.0, 100.0, 5.0);
        assert!(s.still_rising && !s.settled);
        assert_eq!((s.occupancy_third_quarter, s.occupancy_last_quarter), (6200.0, 8700.0));
    }

    #[test]
    fn a_run_shorter_than_ten_holds_without_a_warmup_is_too_short() {
        let flat = rows((0..100).map(|_| 50));
        assert!(judge(&flat, 0.0, 100.0, 10.1).too_short);
        assert!(!judge(&flat, 0.0, 100.0, 10.0).too_short);
        assert!(!judge(&flat, 11.0, 100.0, 10.1).too_short, "a warm-up of one hold covers it");
    }
}
