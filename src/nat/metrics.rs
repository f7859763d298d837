//! What a gateway run measures, counted as the events happen: nothing here is computed from the
//! scenario's inputs.

use crate::metrics::CountHistogram;
use crate::scenario::Scenario;
use crate::scenario::nat::NatSettings;
use crate::time::{Nanos, secs};
use serde::Serialize;
use std::collections::HashMap;

/// RFC 6888 REQ-8: a CGN should not hand a freed external port to another subscriber for 120 s.
pub const REQ8_HOLD: Nanos = 120 * crate::time::NANOS_PER_SEC;

/// External ports in use, per address, at one instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NatSample {
    pub time_s: f64,
    pub ports_per_ip: Vec<u32>,
    pub entries: u64,
}

/// One inside host over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostStats {
    pub host: u32,
    pub group: u32,
    /// The most distinct external ports it held at once.
    pub peak_ports: u32,
    pub quota: Option<u32>,
    /// Time it held its whole quota.
    pub time_at_quota_s: f64,
    pub failed: u64,
}

/// One external address over the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IpStats {
    pub addr: String,
    pub peak_ports: u32,
    /// Time-weighted mean of the ports in use.
    pub mean_ports: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidates {
    pub mean: f64,
    pub p99: u32,
    pub max: u32,
}

/// One allocator's run: the `nat.allocators[]` entry of summary.json.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NatRun {
    pub label: String,
    pub allocator: String,
    /// Connections the inside hosts started (after the warm-up, as every count below).
    pub attempted: u64,
    pub established: u64,
    /// Connections whose every SYN was dropped (or UDP flows whose first packet was).
    pub failed: u64,
    pub failed_fraction: f64,
    /// Connections whose host found no inside port (its own stack was exhausted).
    pub inside_failed: u64,
    /// Translations attempted (first SYNs and retransmissions).
    pub allocations: u64,
    /// Translations with no free tuple: the allocator refused (`ErrorPortAllocation`) or its
    /// search ended on a used tuple (netfilter's drop after 248 tries).
    pub alloc_failures: u64,
    /// Entries that lost the insert race at confirmation (`insert_failed`).
    pub clashes: u64,
    /// Clashes per translation.
    pub clash_fraction: f64,
    pub syn_retransmits: u64,
    pub candidates: Candidates,
    /// Translations that kept the inside port, of those that found a free tuple.
    pub preserved_fraction: f64,
    /// Translations that reused the source's existing mapping (endpoint-independent).
    pub mapping_reused: u64,
    /// SYNs that reopened a closing entry's original tuple.
    pub reopened: u64,
    pub peak_entries: u64,
    pub peak_ports_per_ip: u32,
    pub per_ip: Vec<IpStats>,
    /// Hosts that held their whole quota at some point.
    pub hosts_at_quota: u32,
    pub max_time_at_quota_s: f64,
    pub mean_time_at_quota_s: f64,
    /// External ports handed to another host less than 120 s after being freed (RFC 6888
    /// REQ-8), and the shortest such gap.
    pub req8_reuses: u64,
    pub req8_min_gap_s: Option<f64>,
    pub wall_s: f64,
    pub events: u64,
    #[serde(skip)]
    pub samples: Vec<NatSample>,
    #[serde(skip)]
    pub hosts: Vec<HostStats>,
}

impl NatRun {
    /// A metric `[nat.expect]` names.
    pub fn metric(&self, name: &str) -> Option<f64> {
        Some(match name {
            "attempted" => self.attempted as f64,
            "established" => self.established as f64,
            "failed" => self.failed as f64,
            "failed_fraction" => self.failed_fraction,
            "inside_failed" => self.inside_failed as f64,
            "allocations" => self.allocations as f64,
            "alloc_failures" => self.alloc_failures as f64,
            "clashes" => self.clashes as f64,
            "clash_fraction" => self.clash_fraction,
            "syn_retransmits" => self.syn_retransmits as f64,
            "mean_candidates" => self.candidates.mean,
            "p99_candidates" => f64::from(self.candidates.p99),
            "max_candidates" => f64::from(self.candidates.max),
            "preserved_fraction" => self.preserved_fraction,
            "peak_ports_per_ip" => f64::from(self.peak_ports_per_ip),
            "peak_entries" => self.peak_entries as f64,
            "hosts_at_quota" => f64::from(self.hosts_at_quota),
            "max_time_at_quota_s" => self.max_time_at_quota_s,
            "req8_reuses" => self.req8_reuses as f64,
            _ => return None,
        })
    }
}

struct HostState {
    ports: HashMap<u32, u32>,
    quota: Option<u32>,
    peak: u32,
    at_quota_since: Option<Nanos>,
    at_quota_total: Nanos,
    failed: u64,
    group: u32,
}

/// Counts as the gateway runs.
pub struct Recorder {
    warmup: Nanos,
    interval: Nanos,
    next_sample: Nanos,
    addrs: Vec<String>,
    /// Entries per (address, protocol, port) slot, and the slots in use per address.
    slot_refs: Vec<u32>,
    in_use: Vec<u32>,
    peak_in_use: Vec<u32>,
    area: Vec<f64>,
    last_change: Nanos,
    /// Per slot: (release time in ms + 1, host + 1), for REQ-8.
    released_at: Vec<(u64, u32)>,
    entries: u64,
    peak_entries: u64,
    hosts: Vec<HostState>,
    attempted: u64,
    established: u64,
    failed: u64,
    inside_failed: u64,
    allocations: u64,
    alloc_failures: u64,
    clashes: u64,
    retransmits: u64,
    preserved: u64,
    found: u64,
    mapping_reused: u64,
    reopened: u64,
    candidates: CountHistogram,
    req8: u64,
    req8_min: Option<Nanos>,
    samples: Vec<NatSample>,
}

impl Recorder {
    pub fn new(s: &Scenario, nat: &NatSettings, quotas: &[Option<u32>], group_of: &[u32]) -> Recorder {
        let n = nat.addrs.len();
        let interval = s.metrics.sample_interval.unwrap_or_else(|| crate::sim::default_interval(s.duration));
        Recorder {
            warmup: s.warmup,
            interval,
            next_sample: 0,
            addrs: nat.addrs.iter().map(|a| a.to_string()).collect(),
            slot_refs: vec![0; n << 17],
            in_use: vec![0; n],
            peak_in_use: vec![0; n],
            area: vec![0.0; n],
            last_change: s.warmup,
            released_at: vec![(0, 0); n << 17],
            entries: 0,
            peak_entries: 0,
            hosts: quotas
                .iter()
                .zip(group_of)
                .map(|(&quota, &group)| HostState {
                    ports: HashMap::new(),
                    quota,
                    peak: 0,
                    at_quota_since: None,
                    at_quota_total: 0,
                    failed: 0,
                    group,
                })
                .collect(),
            attempted: 0,
            established: 0,
            failed: 0,
            inside_failed: 0,
            allocations: 0,
            alloc_failures: 0,
            clashes: 0,
            retransmits: 0,
            preserved: 0,
            found: 0,
            mapping_reused: 0,
            reopened: 0,
            candidates: CountHistogram::default(),
            req8: 0,
            req8_min: None,
            samples: Vec::new(),
        }
    }

    fn counting(&self, now: Nanos) -> bool {
        now >= self.warmup
    }

    /// Takes the samples due before an event at `now`.
    pub fn advance(&mut self, now: Nanos) {
        while self.next_sample <= now {
            let t = self.next_sample;
            self.accumulate(t);
            self.samples.push(NatSample {
                time_s: secs(t),
                ports_per_ip: self.in_use.clone(),
                entries: self.entries,
            });
            self.next_sample += self.interval;
        }
    }

    fn accumulate(&mut self, now: Nanos) {
        if now > self.last_change {
            let dt = secs(now - self.last_change);
            for (a, &u) in self.area.iter_mut().zip(&self.in_use) {
                *a += f64::from(u) * dt;
            }
            self.last_change = now;
        }
    }

    pub fn attempt(&mut self, now: Nanos) {
        if self.counting(now) {
            self.attempted += 1;
        }
    }

    pub fn inside_failed(&mut self, now: Nanos, host: u32) {
        if self.counting(now) {
            self.inside_failed += 1;
            self.hosts[host as usize].failed += 1;
        }
    }

    pub fn allocation(&mut self, now: Nanos, candidates: u32, preserved: bool, failed: bool, reused: bool) {
        if !self.counting(now) {
            return;
        }
        self.allocations += 1;
        if reused {
            self.mapping_reused += 1;
        } else {
            self.candidates.record(candidates);
        }
        if failed {
            self.alloc_failures += 1;
        } else {
            self.found += 1;
            self.preserved += u64::from(preserved);
        }
    }

    pub fn retransmit(&mut self, now: Nanos) {
        if self.counting(now) {
            self.retransmits += 1;
        }
    }

    pub fn clash(&mut self, now: Nanos) {
        if self.counting(now) {
            self.clashes += 1;
        }
    }

    pub fn reopened(&mut self, now: Nanos) {
        if self.counting(now) {
            self.reopened += 1;
        }
    }

    pub fn failed(&mut self, now: Nanos, host: u32) {
        if self.counting(now) {
            self.failed += 1;
            self.hosts[host as usize].failed += 1;
        }
    }

    fn slot(ip: u16, port: u16, udp: bool) -> usize {
        (usize::from(ip) << 17) | (usize::from(udp) << 16) | usize::from(port)
    }

    fn set_quota_state(h: &mut HostState, now: Nanos, warmup: Nanos) {
        let held = h.ports.len() as u32;
        h.peak = h.peak.max(held);
        let at = h.quota.is_some_and(|q| held >= q);
        match (at, h.at_quota_since) {
            (true, None) => h.at_quota_since = Some(now.max(warmup)),
            (false, Some(since)) => {
                h.at_quota_total += now.max(warmup) - since;
                h.at_quota_since = None;
            }
            _ => {}
        }
    }

    pub fn established(&mut self, now: Nanos, host: u32, ip: u16, port: u16, udp: bool, _first_syn: Nanos) {
        if self.counting(now) {
            self.established += 1;
        }
        self.accumulate(now);
        self.entries += 1;
        self.peak_entries = self.peak_entries.max(self.entries);
        let s = Self::slot(ip, port, udp);
        if self.slot_refs[s] == 0 {
            let (t_ms, by) = self.released_at[s];
            if by != 0 && by != host + 1 {
                let gap = now.saturating_sub((t_ms - 1) * 1_000_000);
                if gap < REQ8_HOLD && self.counting(now) {
                    self.req8 += 1;
                    self.req8_min = Some(self.req8_min.map_or(gap, |m| m.min(gap)));
                }
            }
            let ipi = usize::from(ip);
            self.in_use[ipi] += 1;
            self.peak_in_use[ipi] = self.peak_in_use[ipi].max(self.in_use[ipi]);
        }
        self.slot_refs[s] += 1;
        let h = &mut self.hosts[host as usize];
        *h.ports.entry(s as u32).or_insert(0) += 1;
        Self::set_quota_state(h, now, self.warmup);
    }

    pub fn closed(&mut self, _now: Nanos, _host: u32) {}

    pub fn released(&mut self, now: Nanos, host: u32, ip: u16, port: u16, udp: bool) {
        self.accumulate(now);
        self.entries -= 1;
        let s = Self::slot(ip, port, udp);
        self.slot_refs[s] -= 1;
        if self.slot_refs[s] == 0 {
            self.in_use[usize::from(ip)] -= 1;
            self.released_at[s] = (now / 1_000_000 + 1, host + 1);
        }
        let h = &mut self.hosts[host as usize];
        if let Some(n) = h.ports.get_mut(&(s as u32)) {
            *n -= 1;
            if *n == 0 {
                h.ports.remove(&(s as u32));
            }
        }
        Self::set_quota_state(h, now, self.warmup);
    }

    pub fn finish(mut self, end: Nanos, label: &str, allocator: &str, wall: f64, events: u64) -> NatRun {
        self.advance(end);
        self.accumulate(end);
        let span = secs(end.saturating_sub(self.warmup)).max(f64::MIN_POSITIVE);
        let hosts: Vec<HostStats> = self
            .hosts
            .iter_mut()
            .enumerate()
            .map(|(i, h)| {
                if let Some(since) = h.at_quota_since.take() {
                    h.at_quota_total += end.saturating_sub(since);
                }
                HostStats {
                    host: i as u32,
                    group: h.group,
                    peak_ports: h.peak,
                    quota: h.quota,
                    time_at_quota_s: secs(h.at_quota_total),
                    failed: h.failed,
                }
            })
            .collect();
        let at_quota: Vec<f64> = hosts
            .iter()
            .filter(|h| h.time_at_quota_s > 0.0 || h.quota.is_some_and(|q| h.peak_ports >= q))
            .map(|h| h.time_at_quota_s)
            .collect();
        let frac = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        NatRun {
            label: label.to_string(),
            allocator: allocator.to_string(),
            attempted: self.attempted,
            established: self.established,
            failed: self.failed,
            failed_fraction: frac(self.failed + self.inside_failed, self.attempted),
            inside_failed: self.inside_failed,
            allocations: self.allocations,
            alloc_failures: self.alloc_failures,
            clashes: self.clashes,
            clash_fraction: frac(self.clashes, self.allocations),
            syn_retransmits: self.retransmits,
            candidates: Candidates {
                mean: self.candidates.mean(),
                p99: self.candidates.percentile(0.99),
                max: self.candidates.max(),
            },
            preserved_fraction: frac(self.preserved, self.found),
            mapping_reused: self.mapping_reused,
            reopened: self.reopened,
            peak_entries: self.peak_entries,
            peak_ports_per_ip: self.peak_in_use.iter().copied().max().unwrap_or(0),
            per_ip: self
                .addrs
                .iter()
                .enumerate()
                .map(|(i, a)| IpStats {
                    addr: a.clone(),
                    peak_ports: self.peak_in_use[i],
                    mean_ports: self.area[i] / span,
                })
                .collect(),
            hosts_at_quota: at_quota.len() as u32,
            max_time_at_quota_s: at_quota.iter().copied().fold(0.0, f64::max),
            mean_time_at_quota_s: if hosts.is_empty() {
                0.0
            } else {
                hosts.iter().map(|h| h.time_at_quota_s).sum::<f64>() / hosts.len() as f64
            },
            req8_reuses: self.req8,
            req8_min_gap_s: self.req8_min.map(secs),
            wall_s: wall,
            events,
            samples: self.samples,
            hosts,
        }
    }
}
