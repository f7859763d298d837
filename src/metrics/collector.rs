//! Counts each attempt as the simulator makes it. One call per attempt, no allocation on the
//! way (the histograms only grow the first time a new largest value appears).

use super::histogram::{CountHistogram, LogHistogram};
use super::summary::*;
use crate::stack::{Opened, Stack};
use crate::time::{Nanos, secs};

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Established { port: u16, opened: Opened, held_toward_dest: u32 },
    Failed,
}

/// The time-series row being filled.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    attempts: u64,
    established: u64,
    failed: u64,
    candidates: u64,
    collisions_local: u64,
    collisions_remote: u64,
    peak_held: u32,
}

/// Everything a run measures.
#[derive(Debug)]
pub struct Collector {
    warmup: Nanos,
    reuse_threshold: Nanos,
    interval: Nanos,
    next_sample: Nanos,
    bucket: Bucket,
    samples: Vec<Sample>,
    attempted: u64,
    established: u64,
    failed: u64,
    probes: CountHistogram,
    collisions_local: u64,
    collisions_remote: u64,
    forced_reuse: u64,
    reuse_count: u64,
    reuse_within: u64,
    reuse_intervals: LogHistogram,
    first_failure: Option<Nanos>,
    peak: u32,
    port_usage: Vec<u64>,
    /// Attempts of the whole run, warm-up included: the simulator's work.
    pub total_attempts: u64,
}

impl Collector {
    pub fn new(warmup: Nanos, reuse_threshold: Nanos, interval: Nanos) -> Collector {
        Collector {
            warmup,
            reuse_threshold,
            interval: interval.max(1),
            next_sample: interval.max(1),
            bucket: Bucket::default(),
            samples: Vec::new(),
            attempted: 0,
            established: 0,
            failed: 0,
            probes: CountHistogram::default(),
            collisions_local: 0,
            collisions_remote: 0,
            forced_reuse: 0,
            reuse_count: 0,
            reuse_within: 0,
            reuse_intervals: LogHistogram::default(),
            first_failure: None,
            peak: 0,
            port_usage: vec![0; 65536],
            total_attempts: 0,
        }
    }

    /// When the next time-series row ends.
    #[inline]
    pub fn next_sample(&self) -> Nanos {
        self.next_sample
    }

    /// Closes the current time-series row (at `next_sample`), reading the stack's state then.
    pub fn sample(&mut self, stack: &Stack) {
        let b = std::mem::take(&mut self.bucket);
        self.samples.push(Sample {
            t_s: secs(self.next_sample),
            attempts: b.attempts,
            established: b.established,
            failed: b.failed,
            mean_candidates: if b.attempts == 0 { 0.0 } else { b.candidates as f64 / b.attempts as f64 },
            collisions_local: b.collisions_local,
            collisions_remote: b.collisions_remote,
            live: stack.live(),
            time_wait: stack.time_wait(),
            peak_held_toward_one_destination: b.peak_held,
        });
        self.next_sample += self.interval;
    }

    /// One attempt at `now` that examined `candidates` ports in all.
    #[inline]
    pub fn attempt(&mut self, now: Nanos, candidates: u32, outcome: Outcome) {
        self.total_attempts += 1;
        let b = &mut self.bucket;
        b.attempts += 1;
        b.candidates += u64::from(candidates);
        let rejected = match outcome {
            Outcome::Established { .. } => candidates.saturating_sub(1),
            Outcome::Failed => candidates,
        };
        b.collisions_local += u64::from(rejected);
        match outcome {
            Outcome::Established { opened, held_toward_dest, .. } => {
                b.established += 1;
                b.peak_held = b.peak_held.max(held_toward_dest);
                b.collisions_remote += u64::from(opened.remote_collision);
            }
            Outcome::Failed => b.failed += 1,
        }
        if now < self.warmup {
            return;
        }
        self.attempted += 1;
        self.probes.record(candidates);
        self.collisions_local += u64::from(rejected);
        match outcome {
            Outcome::Established { port, opened, held_toward_dest } => {
                self.established += 1;
                self.peak = self.peak.max(held_toward_dest);
                self.port_usage[usize::from(port)] += 1;
                self.collisions_remote += u64::from(opened.remote_collision);
                self.forced_reuse += u64::from(opened.forced_reuse);
                if let Some(closed) = opened.previous_close {
                    let gap = now.saturating_sub(closed);
                    self.reuse_count += 1;
                    self.reuse_within += u64::from(gap < self.reuse_threshold);
                    self.reuse_intervals.record(gap);
                }
            }
            Outcome::Failed => {
                self.failed += 1;
                self.first_failure.get_or_insert(now);
            }
        }
    }

    /// The summary of the run. `usable_ports` is the range less its reserved ports: what an
    /// even spread would share the connections over.
    pub fn finish(self, usable_ports: u32, wall_s: f64, sim_events: u64) -> (StrategySummary, Vec<Sample>) {
        let used: Vec<u64> = self.port_usage.iter().copied().filter(|&c| c > 0).collect();
        let total: u64 = used.iter().sum();
        let mean = total as f64 / f64::from(usable_ports.max(1));
        let max = used.iter().copied().max().unwrap_or(0);
        let summary = StrategySummary {
            name: String::new(),
            strategy: String::new(),
            settings: serde_json::Value::Null,
            connections: Connections {
                attempted: self.attempted,
                established: self.established,
                failed: self.failed,
                failed_fraction: if self.attempted == 0 {
                    0.0
                } else {
                    self.failed as f64 / self.attempted as f64
                },
            },
            probes: Probes {
                mean: self.probes.mean(),
                p50: self.probes.percentile(0.5),
                p99: self.probes.percentile(0.99),
                max: self.probes.max(),
                histogram: self.probes.nonzero(),
            },
            collisions: Collisions {
                local: self.collisions_local,
                remote: self.collisions_remote,
                forced_reuse: self.forced_reuse,
            },
            reuse: Reuse {
                count: self.reuse_count,
                within_threshold: self.reuse_within,
                threshold_s: secs(self.reuse_threshold),
                forgotten: 0,
                interval_s: ReuseIntervals {
                    min: self.reuse_intervals.min().map(secs),
                    p1: self.reuse_intervals.percentile(0.01).map(secs),
                    p50: self.reuse_intervals.percentile(0.5).map(secs),
                },
                interval_histogram_s: self
                    .reuse_intervals
                    .buckets()
                    .into_iter()
                    .map(|(lo, c)| (secs(lo), c))
                    .collect(),
            },
            exhaustion: Exhaustion { first_failure_s: self.first_failure.map(secs) },
            occupancy: Occupancy { peak: self.peak },
            port_usage: PortUsage {
                distinct: used.len() as u32,
                max_over_mean: if total == 0 { 0.0 } else { max as f64 / mean },
                per_port: self
                    .port_usage
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c > 0)
                    .map(|(p, c)| (p as u16, *c))
                    .collect(),
            },
            run: RunInfo {
                wall_s,
                connections_per_s: if wall_s > 0.0 { self.total_attempts as f64 / wall_s } else { 0.0 },
                simulated_connections: self.total_attempts,
                events: sim_events,
            },
        };
        (summary, self.samples)
    }
}
