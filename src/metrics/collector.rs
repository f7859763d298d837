//! Counts each attempt as the simulator makes it. One call per attempt, no allocation on the
//! way (the histograms only grow the first time a new largest value appears).

use super::histogram::{CountHistogram, LogHistogram};
use super::summary::*;
use crate::stack::{Opened, Stack};
use crate::time::{Nanos, secs};
use std::collections::{BTreeMap, VecDeque};

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Established { port: u16, opened: Opened, held_toward_dest: u32 },
    Failed,
}

/// What the busiest pool holds now: the most 4-tuples (live or TIME_WAIT) competing for one
/// range of ports, under the stack's scope. Read once per time-series row, so its O(pools)
/// walk is off the per-event path. Where pools are not tracked (more than
/// [`crate::stack::MAX_POOLS`]), the busiest destination over every address (four-tuple scope)
/// or the whole host (local-port scope) stands in: exact with one address, an upper bound
/// with several.
fn busiest_pool_held(stack: &Stack) -> u32 {
    use crate::stack::Scope;
    let cfg = stack.config();
    let (addrs, dests) = (cfg.local_addrs.max(1), cfg.destinations.max(1));
    let held = |a: usize, d: usize| stack.held_in_pool(a as u16, d as u32).unwrap_or(0);
    let host = u32::try_from(stack.live() + stack.time_wait()).unwrap_or(u32::MAX);
    let tracked = stack.held_in_pool(0, 0).is_some();
    match cfg.scope {
        Scope::HostWide => host,
        Scope::FourTuple if !tracked => stack.max_held(),
        Scope::LocalPort if !tracked => host,
        Scope::FourTuple => (0..addrs).flat_map(|a| (0..dests).map(move |d| held(a, d))).max().unwrap_or(0),
        Scope::LocalPort => {
            (0..addrs).map(|a| (0..dests).map(|d| held(a, d)).sum::<u32>()).max().unwrap_or(0)
        }
    }
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
}

#[derive(Clone, Copy, Debug, Default)]
struct PoolCount {
    attempted: u64,
    failed: u64,
    first_failure: Option<Nanos>,
    peak: u32,
}

/// The one-event path's close times, so the time series can split the held 4-tuples into live
/// and TIME_WAIT without an event per close: per row, how many connections close before its
/// boundary (a close at `c` counts in every row ending after `c`, as the two-event path's close
/// event, handled before any later row ends, would).
#[derive(Debug, Default)]
struct UnseenCloses {
    /// The row ending at the collector's `next_sample`: `next_sample / interval`.
    row: u64,
    /// Closes per row from `row` on, for rows within [`Self::AHEAD`]; farther ones in `far`.
    ahead: VecDeque<u64>,
    far: BTreeMap<u64, u64>,
    /// Connections closed before the current row's boundary, and releases handled so far.
    closed: u64,
    released: u64,
}

impl UnseenCloses {
    /// Rows tracked in the ring (512 KiB at most); closes farther ahead are rare.
    const AHEAD: u64 = 1 << 16;
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
    last_failure: Option<Nanos>,
    /// The episode under way: (its first failure, failures so far).
    episode: Option<(Nanos, u64)>,
    episodes: u64,
    episodes_listed: Vec<Episode>,
    exhausted: Nanos,
    longest_episode: Nanos,
    peak: u32,
    port_usage: Vec<u64>,
    warmup_failures: u64,
    warmup_max_probes: u32,
    /// Per pool `local * destinations + dest`: attempted, failed, first failure, peak.
    pools: Vec<PoolCount>,
    destinations: usize,
    unseen: Option<UnseenCloses>,
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
            last_failure: None,
            episode: None,
            episodes: 0,
            episodes_listed: Vec::new(),
            exhausted: 0,
            longest_episode: 0,
            peak: 0,
            port_usage: vec![0; 65536],
            warmup_failures: 0,
            warmup_max_probes: 0,
            pools: Vec::new(),
            destinations: 1,
            unseen: None,
            total_attempts: 0,
        }
    }

    /// Counts per pool from now on: `local_addrs` x `destinations` of them (at most
    /// [`crate::stack::MAX_POOLS`]; more are not tracked).
    pub fn track_pools(&mut self, local_addrs: usize, destinations: usize) {
        let n = local_addrs.max(1) * destinations.max(1);
        if n <= crate::stack::MAX_POOLS {
            self.pools = vec![PoolCount::default(); n];
            self.destinations = destinations.max(1);
        }
    }

    /// From now on the stack's `live()` counts TIME_WAITs too (their closes are not evented):
    /// the engine reports each close time to [`Self::close_at`] and each release to
    /// [`Self::released`], and the time series derives the split.
    pub fn derive_time_wait(&mut self) {
        self.unseen = Some(UnseenCloses { row: self.next_sample / self.interval, ..Default::default() });
    }

    /// A connection just opened will close at `at` (one-event path).
    #[inline]
    pub fn close_at(&mut self, at: Nanos) {
        let Some(u) = &mut self.unseen else { return };
        // The first row whose boundary lies after the close. Never before the current row: a
        // close is never before now, and now is before the current row's boundary.
        let row = (at / self.interval + 1).max(u.row);
        let ahead = row - u.row;
        if ahead < UnseenCloses::AHEAD {
            let i = ahead as usize;
            if i >= u.ahead.len() {
                u.ahead.resize(i + 1, 0);
            }
            u.ahead[i] += 1;
        } else {
            *u.far.entry(row).or_default() += 1;
        }
    }

    /// A connection whose close was reported to [`Self::close_at`] released its 4-tuple.
    #[inline]
    pub fn released(&mut self) {
        if let Some(u) = &mut self.unseen {
            u.released += 1;
        }
    }

    /// The pool (local address, destination) of the attempt just counted by [`Self::attempt`],
    /// and what it holds after it (`None` when pools are not tracked).
    #[inline]
    pub fn pool_attempt(&mut self, now: Nanos, local: u16, dest: u32, failed: bool, held: Option<u32>) {
        let i = usize::from(local) * self.destinations + dest as usize;
        let Some(p) = self.pools.get_mut(i) else { return };
        if failed {
            p.first_failure.get_or_insert(now);
        }
        if now < self.warmup {
            return;
        }
        p.attempted += 1;
        p.failed += u64::from(failed);
        p.peak = p.peak.max(held.unwrap_or(0));
    }

    /// When the next time-series row ends.
    #[inline]
    pub fn next_sample(&self) -> Nanos {
        self.next_sample
    }

    /// Closes the current time-series row (at `next_sample`), reading the stack's state then.
    /// The row's peak is the stack's own, tracked on every open and release: it stays up while
    /// the range is exhausted and nothing new opens.
    pub fn sample(&mut self, stack: &mut Stack) {
        let b = std::mem::take(&mut self.bucket);
        let (live, time_wait) = match &mut self.unseen {
            None => (stack.live(), stack.time_wait()),
            Some(u) => {
                u.closed += u.ahead.pop_front().unwrap_or(0) + u.far.remove(&u.row).unwrap_or(0);
                u.row += 1;
                let tw = u.closed - u.released;
                (stack.live() - tw, stack.time_wait() + tw)
            }
        };
        self.samples.push(Sample {
            t_s: secs(self.next_sample),
            attempts: b.attempts,
            established: b.established,
            failed: b.failed,
            mean_candidates: if b.attempts == 0 { 0.0 } else { b.candidates as f64 / b.attempts as f64 },
            collisions_local: b.collisions_local,
            collisions_remote: b.collisions_remote,
            live,
            time_wait,
            peak_held_toward_one_destination: stack.take_peak_held(),
            busiest_pool_held: busiest_pool_held(stack),
        });
        self.next_sample = self.next_sample.saturating_add(self.interval);
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
            Outcome::Established { opened, .. } => {
                b.established += 1;
                b.collisions_remote += u64::from(opened.remote_collision);
                if let Some((start, failures)) = self.episode.take() {
                    self.end_episode(start, failures, now, true);
                }
            }
            Outcome::Failed => {
                b.failed += 1;
                self.first_failure.get_or_insert(now);
                self.last_failure = Some(now);
                match &mut self.episode {
                    Some((_, failures)) => *failures += 1,
                    None => self.episode = Some((now, 1)),
                }
            }
        }
        if now < self.warmup {
            self.warmup_failures += u64::from(outcome == Outcome::Failed);
            self.warmup_max_probes = self.warmup_max_probes.max(candidates);
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
            Outcome::Failed => self.failed += 1,
        }
    }

    fn pools_summary(&self) -> Pools {
        let all: Vec<Pool> = self
            .pools
            .iter()
            .enumerate()
            .filter(|(_, p)| p.attempted > 0 || p.first_failure.is_some())
            .map(|(i, p)| Pool {
                local_addr: String::new(),
                destination: String::new(),
                attempted: p.attempted,
                failed: p.failed,
                first_failure_s: p.first_failure.map(secs),
                peak: p.peak,
                index: ((i / self.destinations) as u16, (i % self.destinations) as u32),
            })
            .collect();
        let mut top = all.clone();
        top.sort_by(|a, b| b.failed.cmp(&a.failed).then(b.peak.cmp(&a.peak)).then(a.index.cmp(&b.index)));
        top.truncate(POOLS_LISTED);
        Pools {
            count: all.len() as u64,
            with_failures: all.iter().filter(|p| p.failed > 0).count() as u64,
            top,
            all,
        }
    }

    /// Closes the episode that started at `start`, at `end`.
    fn end_episode(&mut self, start: Nanos, failures: u64, end: Nanos, recovered: bool) {
        let length = end - start;
        self.episodes += 1;
        self.exhausted += length;
        self.longest_episode = self.longest_episode.max(length);
        if self.episodes_listed.len() < EPISODES_LISTED {
            self.episodes_listed.push(Episode {
                start_s: secs(start),
                last_failure_s: secs(self.last_failure.unwrap_or(start)),
                end_s: secs(end),
                duration_s: secs(length),
                failures,
                recovered,
                in_warmup: start < self.warmup,
            });
        }
    }

    /// The summary of the run, which ended at `end`. `usable_ports` is the range less its
    /// reserved ports: what an even spread would share the connections over.
    pub fn finish(
        mut self,
        end: Nanos,
        usable_ports: u32,
        wall_s: f64,
        sim_events: u64,
    ) -> (StrategySummary, Vec<Sample>) {
        if let Some((start, failures)) = self.episode.take() {
            self.end_episode(start, failures, end.max(start), false);
        }
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
            exhaustion: Exhaustion {
                first_failure_s: self.first_failure.map(secs),
                first_failure_in_warmup: self.first_failure.is_some_and(|t| t < self.warmup),
                last_failure_s: self.last_failure.map(secs),
                exhausted_s: secs(self.exhausted),
                episodes: Episodes {
                    count: self.episodes,
                    longest_s: secs(self.longest_episode),
                    total_s: secs(self.exhausted),
                    list: std::mem::take(&mut self.episodes_listed),
                },
            },
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
            pools: self.pools_summary(),
            warmup: Warmup {
                duration_s: secs(self.warmup),
                attempts: self.total_attempts - self.attempted,
                failures: self.warmup_failures,
                max_probes: self.warmup_max_probes,
                held_more: self.warmup_max_probes > self.probes.max()
                    || (self.warmup_failures > 0 && self.failed == 0),
            },
            steady: super::steady::judge(&[], 0.0, 0.0, 0.0),
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
