//! The figures a run reports, named as `summary.json` names them (DESIGN.md "Outputs").

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct StrategySummary {
    /// The label the scenario reports the strategy under.
    pub name: String,
    /// The registry name of the algorithm.
    pub strategy: String,
    /// Effective settings: the strategy's parameters and the stack it ran on.
    pub settings: serde_json::Value,
    pub connections: Connections,
    pub probes: Probes,
    pub collisions: Collisions,
    pub reuse: Reuse,
    pub exhaustion: Exhaustion,
    pub occupancy: Occupancy,
    pub port_usage: PortUsage,
    pub warmup: Warmup,
    pub pools: Pools,
    /// Whether the run reached its steady state (see [`super::steady`]).
    pub steady: super::Steady,
    pub run: RunInfo,
}

/// Per pool (source address, destination): who ran out. Counted after the warm-up, as the
/// summary is; the first failure is the pool's first of the whole run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Pools {
    /// Pools that saw an attempt; 0 when there are too many to track (more than 65,536).
    pub count: u64,
    /// Pools with at least one failed attempt.
    pub with_failures: u64,
    /// The [`POOLS_LISTED`] pools with the most failures (then the highest peak).
    pub top: Vec<Pool>,
    /// Every pool that saw an attempt, for `pools.csv`.
    #[serde(skip)]
    pub all: Vec<Pool>,
}

/// How many pools `summary.json` lists.
pub const POOLS_LISTED: usize = 20;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Pool {
    pub local_addr: String,
    pub destination: String,
    pub attempted: u64,
    pub failed: u64,
    pub first_failure_s: Option<f64>,
    /// The most 4-tuples this pool held at once.
    pub peak: u32,
    #[serde(skip)]
    pub index: (u16, u32),
}

/// What the warm-up saw: left out of every count above, but a wrap-around or a burst in it is
/// real behaviour (double-hash's 16-bit counter wraps every 65,536 connections).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Warmup {
    pub duration_s: f64,
    pub attempts: u64,
    pub failures: u64,
    pub max_probes: u32,
    /// The warm-up held something the counted window does not: more probes on one attempt
    /// than any counted attempt, or failures when none was counted.
    pub held_more: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Connections {
    pub attempted: u64,
    pub established: u64,
    pub failed: u64,
    pub failed_fraction: f64,
}

/// Candidates examined per attempt, failed attempts included.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Probes {
    pub mean: f64,
    pub p50: u32,
    pub p99: u32,
    pub max: u32,
    /// `[candidates, attempts]` pairs.
    pub histogram: Vec<(u32, u64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Collisions {
    /// Candidates `check_suitable_port` rejected.
    pub local: u64,
    /// New connections whose 4-tuple the server still held in TIME_WAIT.
    pub remote: u64,
    /// Connections opened on a port the allocator had found busy and handed out anyway
    /// (NetBSD's non-`bsd` algorithms on exhaustion).
    pub forced_reuse: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Reuse {
    /// New connections on a 4-tuple used before.
    pub count: u64,
    /// ... less than `threshold_s` after the previous connection on it closed.
    pub within_threshold: u64,
    pub threshold_s: f64,
    pub interval_s: ReuseIntervals,
    /// 4-tuples forgotten to bound memory (more than a million remembered): a reuse of one of
    /// them more than `threshold_s` after its close is not counted in `count`. 0 on runs
    /// that never remember that many, where `count` is exact.
    pub forgotten: u64,
    /// `[lower edge in seconds, reuses]` of the log-linear buckets (1.6 % wide).
    pub interval_histogram_s: Vec<(f64, u64)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ReuseIntervals {
    pub min: Option<f64>,
    pub p1: Option<f64>,
    pub p50: Option<f64>,
}

/// When the range ran out, over the whole run (warm-up included: a failure there is real, and
/// hiding it would clamp the first failure to the warm-up's end).
///
/// An episode starts at a failed attempt while none is under way and ends at the next attempt
/// that succeeds (the host has recovered), or at the end of the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Exhaustion {
    /// The first failed attempt of the run (null when none failed).
    pub first_failure_s: Option<f64>,
    /// It came before the warm-up ended, outside the counted window.
    pub first_failure_in_warmup: bool,
    /// The last failed attempt of the run.
    pub last_failure_s: Option<f64>,
    /// Time spent exhausted: the episodes' durations summed.
    pub exhausted_s: f64,
    pub episodes: Episodes,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Episodes {
    pub count: u64,
    /// The longest episode's duration: how long the host took to recover from its worst burst.
    pub longest_s: f64,
    /// The episodes' durations summed (= `exhausted_s`).
    pub total_s: f64,
    /// The first [`EPISODES_LISTED`] episodes, in order.
    pub list: Vec<Episode>,
}

/// How many episodes `summary.json` lists one by one (the counts cover all of them).
pub const EPISODES_LISTED: usize = 100;

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Episode {
    /// The failure that started it.
    pub start_s: f64,
    /// Its last failure.
    pub last_failure_s: f64,
    /// The first success after it (or the end of the run, if `recovered` is false).
    pub end_s: f64,
    pub duration_s: f64,
    pub failures: u64,
    pub recovered: bool,
    /// It started in the warm-up.
    pub in_warmup: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Occupancy {
    /// The most 4-tuples live or in TIME_WAIT toward one destination at once.
    pub peak: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PortUsage {
    /// Ports that carried at least one connection.
    pub distinct: u32,
    /// The busiest port's connections over the mean across the usable range.
    pub max_over_mean: f64,
    /// `(port, connections)` for every port used; written to `port_usage.csv`, not the JSON.
    #[serde(skip)]
    pub per_port: Vec<(u16, u64)>,
}

/// The simulator's own cost: left out when runs are compared for determinism.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunInfo {
    pub wall_s: f64,
    pub connections_per_s: f64,
    pub simulated_connections: u64,
    pub events: u64,
}

/// One row of `timeseries.csv`: what happened in the interval ending at `t_s`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sample {
    pub t_s: f64,
    pub attempts: u64,
    pub established: u64,
    pub failed: u64,
    pub mean_candidates: f64,
    pub collisions_local: u64,
    pub collisions_remote: u64,
    /// Live connections at `t_s`.
    pub live: u64,
    /// 4-tuples in TIME_WAIT at this host at `t_s`.
    pub time_wait: u64,
    pub peak_held_toward_one_destination: u32,
    /// 4-tuples (live or TIME_WAIT) at `t_s` in the busiest pool: the set of connections that
    /// compete for one range of ports under the strategy's scope (a source address and
    /// destination under four-tuple scope, a source address under local-port scope, the host
    /// under host-wide scope). With one pool it is `live + time_wait`; with several it is what
    /// meets the range's `n` first, which the sums hide. (`compare` reads folders written before
    /// this column existed as 0.)
    #[serde(default)]
    pub busiest_pool_held: u32,
}

impl StrategySummary {
    /// A metric by its `[expect]` name: a short name, or a dotted key of the summary's JSON
    /// (`exhaustion.first_failure_s`; a flag reads as 1 or 0). `None` when it is null (no
    /// failure, no first failure).
    pub fn metric(&self, name: &str) -> Option<f64> {
        if let Some(v) = self.short_metric(name) {
            return Some(v);
        }
        let json = serde_json::to_value(self).ok()?;
        match json.pointer(&format!("/{}", name.replace('.', "/")))? {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::Bool(b) => Some(f64::from(u8::from(*b))),
            _ => None,
        }
    }

    fn short_metric(&self, name: &str) -> Option<f64> {
        Some(match name {
            "attempted" => self.connections.attempted as f64,
            "established" => self.connections.established as f64,
            "failed" => self.connections.failed as f64,
            "failed_fraction" => self.connections.failed_fraction,
            "mean_probes" => self.probes.mean,
            "p99_probes" => f64::from(self.probes.p99),
            "max_probes" => f64::from(self.probes.max),
            "collisions_local" => self.collisions.local as f64,
            "collisions_remote" => self.collisions.remote as f64,
            "forced_reuse" => self.collisions.forced_reuse as f64,
            "reuse_count" => self.reuse.count as f64,
            "reuse_within_threshold" => self.reuse.within_threshold as f64,
            "occupancy_peak" => f64::from(self.occupancy.peak),
            "port_usage_distinct" => f64::from(self.port_usage.distinct),
            "port_usage_max_over_mean" => self.port_usage.max_over_mean,
            _ => return None,
        })
    }
}
