//! When a Linux TIME_WAIT really ends: on the grid of the kernel's timer wheel.
//!
//! `inet_twsk_schedule()` (net/ipv4/inet_timewait_sock.c) arms the TIME_WAIT timer with
//! `mod_timer(&tw->tw_timer, jiffies + TCP_TIMEWAIT_LEN)`. Since the non-cascading wheel
//! (kernel/time/timer.c, commit 500462a9de65 "timers: Switch to a non-cascading wheel", 4.8) a
//! timer does not fire at its jiffy but at the end of a bucket whose width grows with the
//! distance to the expiry:
//!
//! - `calc_wheel_index()` picks level `k` for a timeout of `delta` jiffies when
//!   `LVL_START(k) <= delta < LVL_START(k + 1)`, with `LVL_START(k) = (LVL_SIZE - 1) <<
//!   ((k - 1) * LVL_CLK_SHIFT)`, `LVL_SIZE = 1 << LVL_BITS = 64`, `LVL_CLK_SHIFT = 3`: level 0
//!   below 63 jiffies, level 1 below 504, level 2 below 4,032, level 3 below 32,256, level 4
//!   below 258,048, ...
//! - Level `k` has buckets of `LVL_GRAN(k) = 1 << (k * LVL_CLK_SHIFT)` jiffies: 1, 8, 64, 512,
//!   4,096, ...
//! - `calc_index()` rounds up: `expires = (expires >> LVL_SHIFT(k)) + 1`, and the bucket
//!   expires at `expires << LVL_SHIFT(k)`: the next multiple of the granularity strictly after
//!   the requested jiffy.
//!
//! So a 60 s TIME_WAIT is 60 * HZ jiffies: level 3 (512-jiffy buckets) at HZ 100, 250 and 300
//! (6,000, 15,000 and 18,000 jiffies), level 4 (4,096) at HZ 1000 (60,000 jiffies). Its grid is
//! 512 / 250 = 2.048 s at HZ 250 (5.12 s at 100, 1.707 s at 300, 4.096 s at 1000); it lasts from
//! 60 s to 60 s plus one grid step, and every TIME_WAIT entered within one grid step ends at the
//! same instant. The grid's phase is that of `jiffies` itself (which starts at
//! `INITIAL_JIFFIES`, five minutes before wrap, and counts from boot): unknown to a simulation,
//! so drawn once per run.
//!
//! Not modelled: the timer base's `clk` lagging `jiffies` on an idle CPU (`forward_timer_base()`
//! catches up on the next enqueue, so the level is the same), and the softirq running a little
//! after the tick.

use crate::time::{NANOS_PER_SEC, Nanos};

const LVL_CLK_SHIFT: u32 = 3;
const LVL_BITS: u32 = 6;
const LVL_SIZE: u64 = 1 << LVL_BITS;

/// How TIME_WAIT ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeWaitTimer {
    /// Exactly `time_wait` after it was entered (the RFC strategies' default).
    Exact,
    /// On the Linux timer wheel of a kernel built with `CONFIG_HZ = hz`.
    Wheel { hz: u32 },
}

impl TimeWaitTimer {
    pub fn name(self) -> &'static str {
        match self {
            TimeWaitTimer::Exact => "exact",
            TimeWaitTimer::Wheel { .. } => "wheel",
        }
    }
}

/// The kernel's `CONFIG_HZ` choices (kernel/Kconfig.hz).
pub const HZ_CHOICES: &[u32] = &[100, 250, 300, 1000];

/// The wheel of one run: `hz` and where jiffy 0 lies before the run's time 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerWheel {
    hz: u32,
    /// Nanoseconds from jiffy 0 to the run's time 0.
    phase: Nanos,
}

impl TimerWheel {
    /// `LVL_DEPTH`: 9 levels, 8 when HZ <= 100 (kernel/time/timer.c).
    fn depth(hz: u32) -> u32 {
        if hz > 100 { 9 } else { 8 }
    }

    /// A wheel whose jiffy 0 lies `phase` before time 0.
    pub fn new(hz: u32, phase: Nanos) -> TimerWheel {
        assert!(hz > 0, "HZ must be positive");
        TimerWheel { hz, phase }
    }

    /// A wheel with the phase drawn from `rng`: uniform over 2^24 jiffies (a whole turn of
    /// level 8), so every level's grid has a uniform phase.
    pub fn with_random_phase<R: rand::Rng>(hz: u32, rng: &mut R) -> TimerWheel {
        use rand::RngExt;
        let turn = ((1u128 << 24) * u128::from(NANOS_PER_SEC) / u128::from(hz)) as u64;
        TimerWheel::new(hz, rng.random_range(0..turn))
    }

    pub fn hz(self) -> u32 {
        self.hz
    }

    /// `calc_wheel_index()`'s level for a timeout of `delta` jiffies.
    pub fn level(self, delta: u64) -> u32 {
        let depth = Self::depth(self.hz);
        (0..depth - 1).find(|&k| delta < (LVL_SIZE - 1) << (k * LVL_CLK_SHIFT)).unwrap_or(depth - 1)
    }

    /// `LVL_GRAN()` of the level a timeout of `timeout` lands in, in jiffies.
    pub fn granularity_jiffies(self, timeout: Nanos) -> u64 {
        1 << (self.level(self.to_jiffies_up(timeout)) * LVL_CLK_SHIFT)
    }

    /// The grid step of a timeout of `timeout`, in nanoseconds (2.048 s for 60 s at HZ 250).
    pub fn grid(self, timeout: Nanos) -> Nanos {
        self.jiffy_start(self.granularity_jiffies(timeout)) + self.phase
    }

    /// The jiffy counter at `t`.
    fn jiffies_at(self, t: Nanos) -> u64 {
        ((u128::from(t) + u128::from(self.phase)) * u128::from(self.hz) / u128::from(NANOS_PER_SEC)) as u64
    }

    /// A duration in jiffies, rounded up as `msecs_to_jiffies()` does.
    fn to_jiffies_up(self, d: Nanos) -> u64 {
        (u128::from(d) * u128::from(self.hz)).div_ceil(u128::from(NANOS_PER_SEC)) as u64
    }

    /// When jiffy `j` begins, in run time (saturating at 0 before the run).
    fn jiffy_start(self, j: u64) -> Nanos {
        let abs = (u128::from(j) * u128::from(NANOS_PER_SEC)).div_ceil(u128::from(self.hz));
        (abs.saturating_sub(u128::from(self.phase))).min(u128::from(u64::MAX)) as u64
    }

    /// When a timer armed at `armed_at` for `timeout` fires: `jiffies + timeout` placed by
    /// `calc_wheel_index()` and rounded up by `calc_index()`.
    pub fn expiry(self, armed_at: Nanos, timeout: Nanos) -> Nanos {
        let delta = self.to_jiffies_up(timeout);
        let expires = self.jiffies_at(armed_at) + delta;
        let shift = self.level(delta) * LVL_CLK_SHIFT;
        let bucket_expiry = ((expires >> shift) + 1) << shift;
        self.jiffy_start(bucket_expiry).max(armed_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = NANOS_PER_SEC;

    #[test]
    fn the_grid_of_a_60_s_timer_follows_hz() {
        let grid = |hz| TimerWheel::new(hz, 0).grid(60 * S);
        assert_eq!(grid(100), 5_120_000_000);
        assert_eq!(grid(250), 2_048_000_000);
        assert_eq!(grid(300), 1_706_666_667);
        assert_eq!(grid(1000), 4_096_000_000);
    }

    #[test]
    fn levels_change_at_lvl_start() {
        let w = TimerWheel::new(250, 0);
        assert_eq!((w.level(62), w.level(63)), (0, 1));
        assert_eq!((w.level(503), w.level(504)), (1, 2));
        assert_eq!((w.level(4031), w.level(4032)), (2, 3));
        assert_eq!((w.level(32255), w.level(32256)), (3, 4));
        assert_eq!(w.level(u64::MAX), 8);
        assert_eq!(TimerWheel::new(100, 0).level(u64::MAX), 7);
    }

    #[test]
    fn expiry_rounds_up_to_the_next_bucket_boundary() {
        // HZ 250, phase 0: 60 s = 15,000 jiffies, 512-jiffy buckets. Armed at jiffy 0: expires
        // 15,000, bucket 15,360 (61.44 s). Armed at jiffy 360: expires 15,360, already on a
        // boundary, and still rounded up to 15,872 (63.488 s).
        let w = TimerWheel::new(250, 0);
        assert_eq!(w.expiry(0, 60 * S), 61_440_000_000);
        assert_eq!(w.expiry(1_440_000_000, 60 * S) - 1_440_000_000, 62_048_000_000);
        // One jiffy earlier ends one bucket earlier.
        assert_eq!(w.expiry(1_436_000_000, 60 * S), 61_440_000_000);
    }

    #[test]
    fn every_time_wait_lasts_between_60_s_and_one_grid_step_more() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
        for hz in HZ_CHOICES.iter().copied() {
            let w = TimerWheel::with_random_phase(hz, &mut rng);
            let grid = w.grid(60 * S);
            for k in 0..2000u64 {
                let t = k * 7_919_000;
                let len = w.expiry(t, 60 * S) - t;
                assert!(len > 60 * S && len <= 60 * S + grid + NANOS_PER_SEC / u64::from(hz), "{hz}: {len}");
            }
        }
    }
}
