//! Counts each attempt as the simulator makes it. One call per attempt, no allocation on the
//! way (the histograms only grow the first time a new largest value appears).
//!
//! The counts every attempt moves are kept once, as running totals over the whole run
//! ([`Totals`]): a time-series row is the difference of the totals at its two boundaries, the
//! summary the difference of the totals at the end and at the end of the warm-up. Integer
//! differences, so the bytes are those of counting each figure separately. Callgrind on the
//! speed scenario (bsd, 20-minute copy): the collector's and histograms' code inlined into the
//! loop went from 111 to 79 instructions per connection with this and the histograms' change.

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

/// The counts every attempt moves, from the start of the run.
#[derive(Clone, Copy, Debug, Default)]
struct Totals {
    established: u64,
    failed: u64,
    candidates: u64,
    collisions_local: u64,
    collisions_remote: u64,
}

impl Totals {
    /// Every attempt is established or failed: one count fewer to move per attempt.
    fn attempts(self) -> u64 {
        self.established + self.failed
    }

    /// What was counted between `earlier` and `self`.
    fn since(self, earlier: Totals) -> Totals {
        Totals {
            established: self.established - earlier.established,
            failed: self.failed - earlier.failed,
            candidates: self.candidates - earlier.candidates,
            collisions_local: self.collisions_local - earlier.collisions_local,
            collisions_remote: self.collisions_remote - earlier.collisions_remote,
        }
    }
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
/// event, handled before any later row ends, would). Each close time is booked when the
/// connection opens ([`Collector::close_at`]): the engine moves closes to their FIFOs ahead of
/// the rows they fall in, so counting them as the close queue gives them up would count some in
/// a row that ends before them. The releases are not counted here: every connection opened is
/// live in the stack until released, so the releases are the connections established less the
/// stack's `live()`, read at the row.
#[derive(Debug, Default)]
struct UnseenCloses {
    /// The row ending at the collector's `next_sample`: `next_sample / interval`.
    row: u64,
    /// That row's boundary, `row * interval` (`None` past `u64::MAX`): a close before it, or
    /// before the next one, is booked without a division.
    boundary: Option<Nanos>,
    /// Closes in the current row and in the next: nearly all of them (99.7 % in the speed
    /// scenario), counted with no ring index to wrap.
    this_row: u64,
    next_row: u64,
    /// Closes per row from `row + 2` on, for rows within [`Self::AHEAD`]; farther ones in
    /// `far`.
    ahead: VecDeque<u64>,
    far: BTreeMap<u64, u64>,
    /// Connections closed before the current row's boundary.
    closed: u64,
}

impl UnseenCloses {
    /// Rows tracked in the ring (512 KiB at most); closes farther ahead are rare.
    const AHEAD: u64 = 1 << 16;

    /// Starts at the row ending at `next_sample`.
    fn new(next_sample: Nanos, interval: Nanos) -> UnseenCloses {
        let row = next_sample / interval;
        UnseenCloses { row, boundary: row.checked_mul(interval), ..Default::default() }
    }

    /// Books a close at `at`, never before now.
    #[inline]
    fn book(&mut self, at: Nanos, interval: Nanos) {
        // Most closes fall in the current row or the next: no division for them.
        match self.boundary {
            Some(b) if at < b => self.this_row += 1,
            Some(b) if at - b < interval => self.next_row += 1,
            _ => self.book_later(at, interval),
        }
    }

    /// [`Self::book`] for a close past the next row (or any close once the boundary is past
    /// `u64::MAX`).
    #[cold]
    fn book_later(&mut self, at: Nanos, interval: Nanos) {
        // The first row whose boundary lies after the close. Never before the current row: a
        // close is never before now, and now is before the current row's boundary.
        let ahead = (at / interval + 1).max(self.row) - self.row;
        match ahead {
            0 => self.this_row += 1,
            1 => self.next_row += 1,
            _ if ahead < Self::AHEAD => {
                let i = (ahead - 2) as usize;
                if i >= self.ahead.len() {
                    self.ahead.resize(i + 1, 0);
                }
                self.ahead[i] += 1;
            }
            _ => *self.far.entry(self.row + ahead).or_default() += 1,
        }
    }

    /// Ends the current row: the connections closed before its boundary (released or not).
    fn end_row(&mut self, interval: Nanos) -> u64 {
        let far = if self.far.is_empty() { 0 } else { self.far.remove(&self.row).unwrap_or(0) };
        self.closed += self.this_row + far;
        self.this_row = self.next_row;
        self.next_row = self.ahead.pop_front().unwrap_or(0);
        self.row += 1;
        self.boundary = self.row.checked_mul(interval);
        self.closed
    }
}

/// Everything a run measures.
#[derive(Debug)]
pub struct Collector {
    warmup: Nanos,
    reuse_threshold: Nanos,
    interval: Nanos,
    next_sample: Nanos,
    /// The counts of the whole run so far; at the last row's boundary; after the last warm-up
    /// attempt.
    totals: Totals,
    at_row: Totals,
    at_warmup: Totals,
    samples: Vec<Sample>,
    probes: CountHistogram,
    forced_reuse: u64,
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
    /// Connections per port, modulo 2^16: a quarter of the cache footprint of 64-bit counts
    /// (56 KiB over Linux's range), which a strategy picking ports at random touches once a
    /// connection at a random place. An array, so a `u16` index needs no bounds check.
    port_usage: Box<[u16; 65536]>,
    /// The carries out of `port_usage` (every 65,536th use of a port), per port.
    port_usage_carries: std::collections::BTreeMap<u16, u64>,
    warmup_max_probes: u32,
    /// Per pool `local * destinations + dest`: attempted, failed, first failure, peak.
    pools: Vec<PoolCount>,
    /// Exactly one pool is tracked: its attempts and failures after the warm-up are the run's,
    /// its first failure the run's first, and its peak the run's occupancy peak or the most
    /// held at a failure after the warm-up, so only failures touch `pools[0]` (its
    /// `first_failure` and `peak`). Callgrind on the speed scenario (bsd, 20-minute copy):
    /// `pool_attempt` went from 13 instructions per connection to 4, and the pool's held count
    /// is no longer read per attempt.
    one_pool: bool,
    destinations: usize,
    unseen: Option<UnseenCloses>,
}

impl Collector {
    pub fn new(warmup: Nanos, reuse_threshold: Nanos, interval: Nanos) -> Collector {
        Collector {
            warmup,
            reuse_threshold,
            interval: interval.max(1),
            next_sample: interval.max(1),
            totals: Totals::default(),
            at_row: Totals::default(),
            at_warmup: Totals::default(),
            samples: Vec::new(),
            probes: CountHistogram::default(),
            forced_reuse: 0,
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
            port_usage: Box::new([0; 65536]),
            port_usage_carries: std::collections::BTreeMap::new(),
            warmup_max_probes: 0,
            pools: Vec::new(),
            one_pool: false,
            destinations: 1,
            unseen: None,
        }
    }

    /// Counts per pool from now on: `local_addrs` x `destinations` of them (at most
    /// [`crate::stack::MAX_POOLS`]; more are not tracked).
    pub fn track_pools(&mut self, local_addrs: usize, destinations: usize) {
        let n = local_addrs.max(1) * destinations.max(1);
        if n <= crate::stack::MAX_POOLS {
            self.pools = vec![PoolCount::default(); n];
            self.destinations = destinations.max(1);
            self.one_pool = n == 1;
        }
    }

    /// From now on the stack's `live()` counts TIME_WAITs too (their closes are not evented):
    /// the engine reports each close time to [`Self::close_at`], and the time series derives
    /// the split from those and the stack's counts (every connection established is live in
    /// the stack until released, so the releases need no call of their own).
    pub fn derive_time_wait(&mut self) {
        self.unseen = Some(UnseenCloses::new(self.next_sample, self.interval));
    }

    /// A connection just opened will close at `at` (one-event path).
    #[inline]
    pub fn close_at(&mut self, at: Nanos) {
        if let Some(u) = &mut self.unseen {
            u.book(at, self.interval);
        }
    }

    /// The pool (local address, destination) of the attempt just counted by [`Self::attempt`],
    /// and what it holds after it (`None` when pools are not tracked), asked only when needed.
    #[inline]
    pub fn pool_attempt(
        &mut self,
        now: Nanos,
        local: u16,
        dest: u32,
        failed: bool,
        held: impl FnOnce() -> Option<u32>,
    ) {
        if self.one_pool {
            if failed {
                self.one_pool_failed(now, held());
            }
            return;
        }
        let held = held();
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

    /// [`Self::pool_attempt`]'s failure with one pool: what the run's own counts do not give.
    #[cold]
    fn one_pool_failed(&mut self, now: Nanos, held: Option<u32>) {
        let p = &mut self.pools[0];
        p.first_failure.get_or_insert(now);
        if now >= self.warmup {
            p.peak = p.peak.max(held.unwrap_or(0));
        }
    }

    /// Attempts of the whole run so far, warm-up included: the simulator's work.
    pub fn total_attempts(&self) -> u64 {
        self.totals.attempts()
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
        let b = self.totals.since(self.at_row);
        self.at_row = self.totals;
        let (live, time_wait) = match &mut self.unseen {
            None => (stack.live(), stack.time_wait()),
            Some(u) => {
                // Closed before the boundary, less released: in TIME_WAIT at the row.
                let released = self.totals.established - stack.live();
                let tw = u.end_row(self.interval) - released;
                (stack.live() - tw, stack.time_wait() + tw)
            }
        };
        self.samples.push(Sample {
            t_s: secs(self.next_sample),
            attempts: b.attempts(),
            established: b.established,
            failed: b.failed,
            mean_candidates: if b.attempts() == 0 { 0.0 } else { b.candidates as f64 / b.attempts() as f64 },
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
        let t = &mut self.totals;
        t.candidates += u64::from(candidates);
        match outcome {
            Outcome::Established { port, opened, held_toward_dest } => {
                t.established += 1;
                t.collisions_local += u64::from(candidates.saturating_sub(1));
                t.collisions_remote += u64::from(opened.remote_collision);
                if self.episode.is_some() {
                    self.end_current_episode(now);
                }
                if now < self.warmup {
                    self.warmup_attempt(candidates);
                    return;
                }
                self.probes.record(candidates);
                self.peak = self.peak.max(held_toward_dest);
                self.count_port_use(port);
                self.forced_reuse += u64::from(opened.forced_reuse);
                if let Some(closed) = opened.previous_close {
                    let gap = now.saturating_sub(closed);
                    self.reuse_within += u64::from(gap < self.reuse_threshold);
                    self.reuse_intervals.record(gap);
                }
            }
            Outcome::Failed => {
                t.failed += 1;
                t.collisions_local += u64::from(candidates);
                self.first_failure.get_or_insert(now);
                self.last_failure = Some(now);
                match &mut self.episode {
                    Some((_, failures)) => *failures += 1,
                    None => self.episode = Some((now, 1)),
                }
                if now < self.warmup {
                    self.warmup_attempt(candidates);
                    return;
                }
                self.probes.record(candidates);
            }
        }
    }

    /// The rest of an attempt during the warm-up: the summary starts after the last one.
    #[cold]
    fn warmup_attempt(&mut self, candidates: u32) {
        self.warmup_max_probes = self.warmup_max_probes.max(candidates);
        self.at_warmup = self.totals;
    }

    /// The first connection after a failure ends the episode under way.
    #[cold]
    fn end_current_episode(&mut self, now: Nanos) {
        if let Some((start, failures)) = self.episode.take() {
            self.end_episode(start, failures, now, true);
        }
    }

    /// The pools' summary; `after`: the run's counts after the warm-up.
    fn pools_summary(&self, after: Totals) -> Pools {
        let one: Vec<PoolCount>;
        let pools = if self.one_pool {
            let p = self.pools[0];
            one = vec![PoolCount {
                attempted: after.attempts(),
                failed: after.failed,
                first_failure: p.first_failure,
                peak: p.peak.max(self.peak),
            }];
            &one[..]
        } else {
            &self.pools[..]
        };
        let all: Vec<Pool> = pools
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

    #[inline]
    fn count_port_use(&mut self, port: u16) {
        let c = &mut self.port_usage[usize::from(port)];
        *c = c.wrapping_add(1);
        if *c == 0 {
            *self.port_usage_carries.entry(port).or_default() += 1;
        }
    }

    /// Every port used at least once and how many times, in port order.
    fn port_uses(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        (0..=u16::MAX).zip(self.port_usage.iter()).filter_map(|(p, &low)| {
            let high = self.port_usage_carries.get(&p).copied().unwrap_or(0);
            let uses = (high << 16) | u64::from(low);
            (uses > 0).then_some((p, uses))
        })
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
        let per_port: Vec<(u16, u64)> = self.port_uses().collect();
        let used: Vec<u64> = per_port.iter().map(|&(_, c)| c).collect();
        let total: u64 = used.iter().sum();
        let mean = total as f64 / f64::from(usable_ports.max(1));
        let max = used.iter().copied().max().unwrap_or(0);
        // No attempt after the warm-up: the warm-up took them all.
        let after = self.totals.since(self.at_warmup);
        let warmup = self.at_warmup;
        let summary = StrategySummary {
            name: String::new(),
            strategy: String::new(),
            settings: serde_json::Value::Null,
            connections: Connections {
                attempted: after.attempts(),
                established: after.established,
                failed: after.failed,
                failed_fraction: if after.attempts() == 0 {
                    0.0
                } else {
                    after.failed as f64 / after.attempts() as f64
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
                local: after.collisions_local,
                remote: after.collisions_remote,
                forced_reuse: self.forced_reuse,
            },
            reuse: Reuse {
                count: self.reuse_intervals.count(),
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
                per_port,
            },
            pools: self.pools_summary(after),
            warmup: Warmup {
                duration_s: secs(self.warmup),
                attempts: warmup.attempts(),
                failures: warmup.failed,
                max_probes: self.warmup_max_probes,
                held_more: self.warmup_max_probes > self.probes.max()
                    || (warmup.failed > 0 && after.failed == 0),
            },
            steady: super::steady::judge(&[], 0.0, 0.0, 0.0),
            run: RunInfo {
                wall_s,
                connections_per_s: if wall_s > 0.0 { self.totals.attempts() as f64 / wall_s } else { 0.0 },
                simulated_connections: self.totals.attempts(),
                events: sim_events,
            },
        };
        (summary, self.samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_port_used_2_to_the_16_times_keeps_its_count() {
        let mut c = Collector::new(0, 20, 1_000_000);
        c.count_port_use(40_000);
        for _ in 0..(3 << 16) + 5 {
            c.count_port_use(40_001);
        }
        c.port_usage[40_002] = u16::MAX - 1;
        for _ in 0..3 {
            c.count_port_use(40_002);
        }
        assert_eq!(
            c.port_uses().collect::<Vec<_>>(),
            vec![(40_000, 1), (40_001, (3 << 16) + 5), (40_002, (1 << 16) + 1)]
        );
    }

    /// What the engine's loop does on the one-event path, for connections opened at `opens`
    /// (sorted) with `lifetimes`: rows end before any event at or after their boundary, closes
    /// are handled in time order. Returns each row's count of closed connections, booked at
    /// the open (`close_at`), or counted one by one in time order (the reference).
    fn rows(opens: &[Nanos], lifetimes: &[Nanos], interval: Nanos, end: Nanos, at_open: bool) -> Vec<u64> {
        let mut u = UnseenCloses::new(interval, interval);
        let mut next_sample = interval;
        let mut out = Vec::new();
        // (time, kind, close time): kind 0 a close (ordered before an open at the same time,
        // as a close scheduled earlier has the smaller sequence number), 1 an open.
        let mut events: Vec<(Nanos, u8, Nanos)> = Vec::new();
        for (&o, &l) in opens.iter().zip(lifetimes) {
            events.push((o, 1, o.saturating_add(l)));
            events.push((o.saturating_add(l), 0, 0));
        }
        events.sort();
        for (t, kind, close) in events {
            if t >= end {
                break;
            }
            while next_sample <= t {
                out.push(u.end_row(interval));
                next_sample += interval;
            }
            match kind {
                1 if at_open => u.book(close, interval),
                0 if !at_open => u.closed += 1,
                _ => {}
            }
        }
        while next_sample <= end {
            out.push(u.end_row(interval));
            next_sample += interval;
        }
        out
    }

    proptest! {
        /// Booking each close time at the open counts, per row, the closes before its boundary.
        #[test]
        fn closes_counted_at_the_queue_match_closes_booked_at_the_open(
            mut opens in prop::collection::vec(0u64..2_000, 0..200),
            lifetimes in prop::collection::vec(prop_oneof![0u64..30, 0u64..3_000, Just(10), Just(0)], 200),
            interval in prop_oneof![1u64..40, Just(10)],
        ) {
            opens.sort_unstable();
            let end = 2_000;
            prop_assert_eq!(rows(&opens, &lifetimes, interval, end, true), rows(&opens, &lifetimes, interval, end, false));
        }
    }

    proptest! {
        /// The summary read from the running totals is the summary counted figure by figure.
        #[test]
        fn totals_count_what_separate_counters_count(
            steps in prop::collection::vec((0u64..5, 0u32..6, any::<bool>(), any::<bool>(), prop::option::of(0u64..50)), 0..300),
            warmup in 0u64..400,
        ) {
            let mut c = Collector::new(warmup, 20, 1_000_000);
            let (mut now, mut attempted, mut established, mut failed) = (0, 0u64, 0u64, 0u64);
            let (mut local, mut remote, mut warm_attempts, mut warm_failed) = (0u64, 0u64, 0u64, 0u64);
            let (mut probes, mut reuses, mut sum) = (Vec::new(), 0u64, 0u64);
            for (dt, candidates, ok, collided, previous) in steps {
                now += dt;
                let outcome = if ok {
                    let opened = Opened { previous_close: previous.map(|p| now.saturating_sub(p)), remote_collision: collided, ..Opened::default() };
                    Outcome::Established { port: 40_000, opened, held_toward_dest: 1 }
                } else {
                    Outcome::Failed
                };
                c.attempt(now, candidates, outcome);
                if now < warmup {
                    warm_attempts += 1;
                    warm_failed += u64::from(!ok);
                    continue;
                }
                attempted += 1;
                established += u64::from(ok);
                failed += u64::from(!ok);
                local += u64::from(if ok { candidates.saturating_sub(1) } else { candidates });
                remote += u64::from(ok && collided);
                reuses += u64::from(ok && previous.is_some());
                probes.push(candidates);
                sum += u64::from(candidates);
            }
            let (s, _) = c.finish(now + 1, 100, 1.0, 0);
            prop_assert_eq!((s.connections.attempted, s.connections.established, s.connections.failed), (attempted, established, failed));
            prop_assert_eq!((s.collisions.local, s.collisions.remote, s.reuse.count), (local, remote, reuses));
            prop_assert_eq!((s.warmup.attempts, s.warmup.failures), (warm_attempts, warm_failed));
            prop_assert_eq!(s.run.simulated_connections, attempted + warm_attempts);
            let mean = if probes.is_empty() { 0.0 } else { sum as f64 / probes.len() as f64 };
            prop_assert_eq!(s.probes.mean.to_bits(), mean.to_bits());
            prop_assert_eq!(s.probes.max, probes.iter().copied().max().unwrap_or(0));
            prop_assert_eq!(s.probes.histogram.iter().map(|&(_, n)| n).sum::<u64>(), attempted);
        }
    }

    proptest! {
        /// With one pool, the pool's figures derived from the run's own counts (failures alone
        /// touching the pool) are those of tracking the pool attempt by attempt.
        #[test]
        fn one_pool_derived_matches_one_pool_tracked(
            steps in prop::collection::vec((0u64..5, 1u32..6, any::<bool>(), 0u32..40), 0..300),
            warmup in 0u64..400,
        ) {
            let (mut derived, mut tracked) = (Collector::new(warmup, 20, 1_000_000), Collector::new(warmup, 20, 1_000_000));
            derived.track_pools(1, 1);
            tracked.track_pools(1, 1);
            prop_assert!(derived.one_pool);
            tracked.one_pool = false;
            let mut now = 0;
            for (dt, candidates, ok, held) in steps {
                now += dt;
                let outcome = if ok {
                    Outcome::Established { port: 40_000, opened: Opened::default(), held_toward_dest: held }
                } else {
                    Outcome::Failed
                };
                for c in [&mut derived, &mut tracked] {
                    c.attempt(now, candidates, outcome);
                    c.pool_attempt(now, 0, 0, !ok, || Some(held));
                }
            }
            let (a, _) = derived.finish(now + 1, 100, 1.0, 0);
            let (b, _) = tracked.finish(now + 1, 100, 1.0, 0);
            prop_assert_eq!(a.pools, b.pools);
        }
    }

    #[test]
    fn a_close_on_a_boundary_counts_in_the_next_row() {
        // Rows end at 10, 20, 30: closes at 9, 10, 19, 20 and 35 (booked at 0).
        let mut u = UnseenCloses::new(10, 10);
        for at in [9, 10, 19, 20, 35, 25_000_000] {
            u.book(at, 10);
        }
        assert_eq!((u.end_row(10), u.end_row(10), u.end_row(10), u.end_row(10)), (1, 3, 4, 5));
    }

    #[test]
    fn a_close_past_the_ring_is_booked_far() {
        let mut u = UnseenCloses::new(1, 1);
        u.book(UnseenCloses::AHEAD + 5, 1);
        assert_eq!(u.far.get(&(UnseenCloses::AHEAD + 6)), Some(&1));
        for _ in 0..UnseenCloses::AHEAD + 5 {
            assert_eq!(u.end_row(1), 0);
        }
        assert_eq!(u.end_row(1), 1);
    }
}
