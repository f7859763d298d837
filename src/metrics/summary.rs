//! The figures a run reports, named as `summary.json` names them (DESIGN.md "Outputs").

use serde::Serialize;

#[derive(Clone, Debug, Serialize, PartialEq)]
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
    pub run: RunInfo,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Connections {
    pub attempted: u64,
    pub established: u64,
    pub failed: u64,
    pub failed_fraction: f64,
}

/// Candidates examined per attempt, failed attempts included.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Probes {
    pub mean: f64,
    pub p50: u32,
    pub p99: u32,
    pub max: u32,
    /// `[candidates, attempts]` pairs.
    pub histogram: Vec<(u32, u64)>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Collisions {
    /// Candidates `check_suitable_port` rejected.
    pub local: u64,
    /// New connections whose 4-tuple the server still held in TIME_WAIT.
    pub remote: u64,
    /// Connections opened on a port the allocator had found busy and handed out anyway
    /// (NetBSD's non-`bsd` algorithms on exhaustion).
    pub forced_reuse: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
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

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ReuseIntervals {
    pub min: Option<f64>,
    pub p1: Option<f64>,
    pub p50: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Exhaustion {
    pub first_failure_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Occupancy {
    /// The most 4-tuples live or in TIME_WAIT toward one destination at once.
    pub peak: u32,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
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
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct RunInfo {
    pub wall_s: f64,
    pub connections_per_s: f64,
    pub simulated_connections: u64,
    pub events: u64,
}

/// One row of `timeseries.csv`: what happened in the interval ending at `t_s`.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
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
}

impl StrategySummary {
    /// A metric by its `[expect]` name.
    pub fn metric(&self, name: &str) -> Option<f64> {
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
            _ => return None,
        })
    }
}
