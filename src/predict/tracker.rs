//! Item 2: the device-tracking attack of Kol, Klein and Gilad ("Device Tracking via Linux's New
//! TCP Source Port Selection Algorithm", USENIX Security 2023; CVE-2022-32296), played against a
//! simulated device the way their proof of concept (github.com/0xkol/rfc6056-device-tracker,
//! `tracker.go` v1.3 and `www/poc.js` v1.1, MIT) plays it against a browser. Re-derived here
//! from that code; its constants are kept.
//!
//! The idea: Linux 5.12-5.17 picks a port as `table[G(saddr, daddr, dport)] + F(...)`, with
//! `G` one of 256 entries keyed by a per-boot secret. Connections from 127.0.0.1 to 127.0.0.1
//! hash the same on every network, so which loopback ports share an entry is a device ID that
//! survives network changes until reboot. The page makes the browser connect; the tracker only
//! reads the SYNs' source ports.
//!
//! - Phase 1 (`do-double-batch`): 255 fresh tracker ports, then the ports already kept, then the
//!   255 again. A fresh port whose two source ports differ by exactly 2 shared its entry with
//!   no other connection of the batch: it is kept as that entry's witness. Done at 256
//!   witnesses, one per entry.
//! - Phase 2 (`do-loopback-sandwich`): the witnesses, then for each group of 4 loopback ports
//!   `50·2^j` connections to the j-th, then the witnesses again, 16 times (64 loopback ports).
//!   A witness whose source port advanced by `2 + 100·mask` saw the loopback ports of `mask`
//!   in its entry; the ID is the set of loopback ports that share entries.
//!
//! The sanity checks of the proof of concept are kept as its failure modes: the range and
//! parity test, three non-empty range segments, an initial increment in `[20, 200)`, more than
//! 256 witnesses, and the phase-2 decoding errors. A batch the tracker cannot complete (a
//! source port it already saw on that destination port is dropped as a duplicate, as its
//! `sports_seen` does) is the proof of concept's batch timeout.

use super::device::{Device, Hold};
use crate::time::{NANOS_PER_SEC, Nanos};
use rand::{RngExt, SeedableRng};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// `TABLE_PERTURB_SIZE`: the attacker assumes Linux 5.12's 256 entries.
pub const TABLE_SIZE: usize = 256;
const POOL_START: u16 = 11000;
const POOL_SIZE: u16 = 16384;
const LOOPBACK_PORT_START: u16 = 1024;
/// `LOOPBACK_PORT_INITIAL_BATCH_SIZE` = 8 x 8 loopback ports.
const LOOPBACK_BATCH: usize = 64;
/// Chrome's `LOOPBACK_DEFAULT_SANDWICH_SIZE` and `LOOPBACK_DEFAULT_NTRIES`.
const SANDWICH: usize = 4;
const NTRIES: u32 = 50;
const MIN_WRAPAROUND_THRESHOLD: i64 = 1024;
const SANITY_SEGMENTS: usize = 3;
const INITIAL_INC: std::ops::Range<usize> = 20..200;
const LOOPBACK: u32 = 0x7f00_0001;

/// How a visit failed, as the proof of concept reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Failure {
    /// A batch never completed (a duplicate source port, or no port at all).
    BatchTimeout,
    /// A source port outside the range or of the wrong parity.
    RangeOrParity,
    /// A third of the range saw no source port.
    EmptySegment,
    /// The first batch found a number of witnesses outside `[20, 200)`.
    InitialIncrement(usize),
    /// More witnesses than table entries.
    TooManyWitnesses(usize),
    /// Phase 1 had not found 256 witnesses after `max_batches` batches.
    Phase1Unfinished(usize),
    /// Phase 2: two witnesses decoded as the top half, or as the same loopback port.
    Noise,
    /// Phase 2: no witness decoded as the top half.
    LoopbackMissing,
}

impl Failure {
    pub fn name(&self) -> &'static str {
        match self {
            Failure::BatchTimeout => "batch timeout",
            Failure::RangeOrParity => "range or parity test failed",
            Failure::EmptySegment => "empty range segment",
            Failure::InitialIncrement(_) => "initial increment outside [20, 200)",
            Failure::TooManyWitnesses(_) => "more than 256 witnesses",
            Failure::Phase1Unfinished(_) => "phase 1 unfinished",
            Failure::Noise => "phase 2 noise",
            Failure::LoopbackMissing => "loopback destinations missing",
        }
    }
}

/// What one visit of the page achieved.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Visit {
    /// The canonical fingerprint, `(1025,1040):(1030,1077,1080)`; `None` when the visit failed.
    pub fingerprint: Option<String>,
    pub failure: Option<Failure>,
    /// Connections the page made the device open.
    pub connections: u64,
    pub phase1_batches: u32,
    /// Simulated time from the first command to the verdict.
    pub duration: Nanos,
}

/// The attacker's knobs (from `[predict.attack]`).
#[derive(Clone, Copy, Debug)]
pub struct AttackPace {
    pub rate: f64,
    pub rtt: Nanos,
    pub max_batches: u32,
    pub tracker: u32,
}

struct Session<'a> {
    dev: &'a mut Device,
    pace: AttackPace,
    now: Nanos,
    gap: Nanos,
    connections: u64,
    lo: i64,
    hi: i64,
    /// Per destination port: source ports seen in this batch, and ever.
    batch: HashMap<u16, Vec<u16>>,
    seen: HashMap<u16, HashSet<u16>>,
}

impl Session<'_> {
    /// One command fetched: a round trip before the page acts on it.
    fn round_trip(&mut self) {
        self.now += self.pace.rtt;
    }

    /// The device connects to `addr:dport`; the tracker records the SYN if it is its own.
    fn connect(&mut self, addr: u32, dport: u16) {
        self.now += self.gap;
        self.connections += 1;
        let sport = self.dev.connect(self.now, addr, dport, Hold::Reset);
        if addr == self.pace.tracker
            && let Some(sport) = sport
            && let Some(list) = self.batch.get_mut(&dport)
            && self.seen.entry(dport).or_default().insert(sport)
        {
            list.push(sport);
        }
    }

    /// `sourcePortDiff(p1, p0)` over the configured range `[lo, hi)`.
    fn diff(&self, p1: u16, p0: u16) -> i64 {
        let l = self.hi - self.lo;
        ((i64::from(p1) - i64::from(p0)) % l + l) % l
    }

    /// `prepareBatch()`: sort each port's source ports and rotate at the wrap-around gap.
    fn prepare(&mut self) {
        let threshold = (f64::from(NTRIES * (1 << SANDWICH)) * 1.0625 * 2.0) as i64;
        let threshold = threshold.max(MIN_WRAPAROUND_THRESHOLD);
        for sports in self.batch.values_mut() {
            sports.sort_unstable();
            if let Some(i) = (0..sports.len().saturating_sub(1))
                .find(|&i| i64::from(sports[i + 1]) - i64::from(sports[i]) >= threshold)
            {
                sports.rotate_left(i + 1);
            }
        }
    }

    fn start_batch(&mut self, ports: impl IntoIterator<Item = u16>) {
        self.batch = ports.into_iter().map(|p| (p, Vec::new())).collect();
    }
}

/// One visit of the tracking page at `start`: phase 1 then phase 2, or the first failure.
pub fn visit(dev: &mut Device, start: Nanos, pace: AttackPace, attacker_seed: u64) -> Visit {
    let range = dev.range();
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(attacker_seed);
    let mut s = Session {
        dev,
        pace,
        now: start,
        gap: (NANOS_PER_SEC as f64 / pace.rate).round().max(1.0) as Nanos,
        connections: 0,
        lo: i64::from(range.lo()),
        hi: i64::from(range.hi()) + 1,
        batch: HashMap::new(),
        seen: HashMap::new(),
    };
    let mut batches = 0u32;
    let result = run(&mut s, &mut rng, &mut batches);
    let (fingerprint, failure) = match result {
        Ok(f) => (Some(f), None),
        Err(e) => (None, Some(e)),
    };
    Visit {
        fingerprint,
        failure,
        connections: s.connections,
        phase1_batches: batches,
        duration: s.now - start,
    }
}

fn run(s: &mut Session<'_>, rng: &mut rand::rngs::ChaCha8Rng, batches: &mut u32) -> Result<String, Failure> {
    let tracker = s.pace.tracker;
    // Witness port -> entry number, in the order found.
    let mut unique: Vec<u16> = Vec::new();
    let mut unique_set: HashSet<u16> = HashSet::new();
    loop {
        if *batches >= s.pace.max_batches {
            return Err(Failure::Phase1Unfinished(unique.len()));
        }
        // AllocatePorts(255): fresh random pool ports not held by this client.
        let mut fresh: Vec<u16> = Vec::with_capacity(TABLE_SIZE - 1);
        let mut taken: HashSet<u16> = unique_set.clone();
        while fresh.len() < TABLE_SIZE - 1 {
            let p = POOL_START + rng.random::<u16>() % POOL_SIZE;
            if taken.insert(p) {
                fresh.push(p);
            }
        }
        s.round_trip();
        s.start_batch(fresh.iter().copied().chain(unique.iter().copied()));
        let mut witnesses = unique.clone();
        shuffle(&mut witnesses, rng);
        for &p in fresh.iter().chain(witnesses.iter()).chain(fresh.iter()) {
            s.connect(tracker, p);
        }
        *batches += 1;
        let complete =
            s.batch.iter().all(|(p, sports)| sports.len() >= if unique_set.contains(p) { 1 } else { 2 });
        if !complete {
            return Err(Failure::BatchTimeout);
        }
        s.prepare();
        if *batches == 1 {
            sanity(s)?;
        }
        let before = unique.len();
        for &p in &fresh {
            let sports = &s.batch[&p];
            if sports.len() == 2 && s.diff(sports[1], sports[0]) == 2 {
                unique.push(p);
                unique_set.insert(p);
            }
        }
        let inc = unique.len() - before;
        if *batches == 1 && !INITIAL_INC.contains(&inc) {
            return Err(Failure::InitialIncrement(inc));
        }
        if unique.len() == TABLE_SIZE {
            break;
        }
        if unique.len() > TABLE_SIZE {
            return Err(Failure::TooManyWitnesses(unique.len()));
        }
    }
    // store-unique-ports, then one do-loopback-sandwich of 64 loopback ports.
    s.round_trip();
    s.round_trip();
    s.start_batch(unique.iter().copied());
    let groups = LOOPBACK_BATCH.div_ceil(SANDWICH);
    for &p in &unique {
        s.connect(tracker, p);
    }
    for g in 0..groups {
        for k in 0..SANDWICH {
            let lo_port = LOOPBACK_PORT_START + (g * SANDWICH + k) as u16;
            for _ in 0..(1u32 << k) * NTRIES {
                s.connect(LOOPBACK, lo_port);
            }
        }
        for &p in &unique {
            s.connect(tracker, p);
        }
    }
    if s.batch.values().any(|v| v.len() < groups + 1) {
        return Err(Failure::BatchTimeout);
    }
    s.prepare();
    let cutoff = |segment: i64| i64::from(NTRIES) * segment * 2 + 2;
    let top = 1i64 << (SANDWICH - 1);
    let mut buckets: Vec<Vec<u16>> = vec![Vec::new(); TABLE_SIZE];
    for g in 0..groups {
        let mut lo2entry: [Option<usize>; SANDWICH] = [None; SANDWICH];
        let mut top_entry: Option<usize> = None;
        let mut csum = 0i64;
        for (entry, &p) in unique.iter().enumerate() {
            let sports = &s.batch[&p];
            let diff = s.diff(sports[g + 1], sports[g]);
            if diff < cutoff(1) {
                continue;
            }
            if diff >= cutoff(top) {
                if top_entry.is_some() {
                    return Err(Failure::Noise);
                }
                top_entry = Some(entry);
                continue;
            }
            for segment in (1..top).rev() {
                if diff >= cutoff(segment) {
                    if csum & segment != 0 {
                        return Err(Failure::Noise);
                    }
                    csum |= segment;
                    for (k, slot) in lo2entry.iter_mut().enumerate() {
                        if segment & (1 << k) != 0 {
                            *slot = Some(entry);
                        }
                    }
                    break;
                }
            }
        }
        let Some(top_entry) = top_entry else { return Err(Failure::LoopbackMissing) };
        for (k, slot) in lo2entry.iter().enumerate() {
            let lo_port = LOOPBACK_PORT_START + (g * SANDWICH + k) as u16;
            buckets[slot.unwrap_or(top_entry)].push(lo_port);
        }
    }
    Ok(canonical(buckets))
}

/// `canonicalFingerprint()`: entries holding two or more loopback ports, each sorted, ordered
/// by their first port, written `(a,b):(c,d,e)`.
pub fn canonical(mut buckets: Vec<Vec<u16>>) -> String {
    buckets.retain(|b| b.len() >= 2);
    for b in &mut buckets {
        b.sort_unstable();
    }
    buckets.sort();
    buckets
        .iter()
        .map(|b| format!("({})", b.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")))
        .collect::<Vec<_>>()
        .join(":")
}

/// `phase1SanityTests()`: every source port in `[lo, hi)` and of `lo`'s parity (when the range
/// length is even), and each third of the range used at least once.
fn sanity(s: &Session<'_>) -> Result<(), Failure> {
    let len = s.hi - s.lo;
    let segment = (len + SANITY_SEGMENTS as i64 - 1) / SANITY_SEGMENTS as i64;
    let mut used = [0u32; SANITY_SEGMENTS];
    for sports in s.batch.values() {
        for &p in sports {
            let p = i64::from(p);
            if p < s.lo || p >= s.hi || (len & 1 == 0 && (p & 1) != (s.lo & 1)) {
                return Err(Failure::RangeOrParity);
            }
            used[((p - s.lo) / segment) as usize] += 1;
        }
    }
    if used.contains(&0) {
        return Err(Failure::EmptySegment);
    }
    Ok(())
}

/// Fisher-Yates: the proof of concept walks Go maps, whose order is random.
fn shuffle<T>(v: &mut [T], rng: &mut rand::rngs::ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.random_range(0..=i);
        v.swap(i, j);
    }
}
