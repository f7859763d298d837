//! Item 1: an off-path observer who has seen `k` ports of a host's connections and guesses the
//! next one. Everything is measured: each trial is a fresh simulated host running the real
//! strategy, the observer's guesses are checked against the port the strategy then returns.
//!
//! The observer knows the algorithm (Kerckhoffs) but not its secrets, and has three attacks;
//! each strategy is reported with the one that worked best for it:
//!
//! - `difference`: sees only its own connections' ports; guesses the last port plus the most
//!   frequent differences seen so far, then the scan step's multiples (1, 2, 3, ...; 2, 4, 6,
//!   ... for Linux, which walks even ports) for guesses not yet backed by data.
//!   Best against per-destination counters: Algorithm 4 and its Linux forms, whose entry moves
//!   by a fixed (5.12: 2, 1/16 of the time 4) or random (>= 5.18: 2..16) step, and Algorithm 5.
//! - `count-1`, `count-2`: also sees how many connections the host made to anyone in between
//!   (every port, as a NAT or a shared network sees them) and subtracts that count times 1 or 2
//!   before taking differences: the counter of Algorithm 3 and of the sequential strategies
//!   advances by one per candidate, Linux <= 5.11's `hint` by two.
//!
//! Whether port differences leak the host's connection count is the correlation, over every
//! interval of every trial, between the difference of two consecutive own ports and the number
//! of connections the host made in between.

use super::adapter;
use super::device::{Device, Hold};
use crate::scenario::Scenario;
use crate::strategy::StrategySpec;
use crate::time::Nanos;
use rayon::prelude::*;
use serde::Serialize;

/// The attacks, in the order they are reported.
pub const ATTACKS: [&str; 3] = ["difference", "count-1", "count-2"];

/// The host's own traffic during the observation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Traffic {
    /// Nothing but the observer's connections: the reference case.
    Idle,
    /// The scenario's workload runs in the background.
    Busy,
}

impl Traffic {
    pub fn name(self) -> &'static str {
        match self {
            Traffic::Idle => "idle",
            Traffic::Busy => "busy",
        }
    }
}

/// One point of a guess curve.
#[derive(Clone, Debug, Serialize)]
pub struct GuessPoint {
    pub k: u32,
    pub attack: &'static str,
    pub trials: u64,
    pub first_hits: u64,
    pub within_hits: u64,
    /// P(the first guess is right).
    pub first: f64,
    /// P(one of `guesses` guesses is right).
    pub within: f64,
    /// 95 % half-width of `first` (normal approximation, at least one hit's worth).
    pub first_ci95: f64,
}

/// A strategy's measurements under one traffic setting.
#[derive(Clone, Debug, Serialize)]
pub struct StrategyGuess {
    pub label: String,
    pub name: &'static str,
    pub traffic: Traffic,
    pub guesses: u32,
    /// Every attack at every k.
    pub points: Vec<GuessPoint>,
    /// The attack with the most first-guess hits over all k.
    pub best_attack: &'static str,
    /// -log2 P(first guess right) of the best attack at the largest k; `None` when it never hit.
    pub min_entropy_bits: Option<f64>,
    /// Correlation of own-port differences with the host's connections in between (busy only).
    pub count_correlation: Option<f64>,
    pub leaks_count: Option<bool>,
    /// The closed forms for an idle host, as checks.
    pub formula_first: Option<f64>,
    pub formula_within: Option<f64>,
    pub formula_bits: Option<f64>,
}

impl StrategyGuess {
    /// The best attack's curve.
    pub fn best(&self) -> impl Iterator<Item = &GuessPoint> {
        self.points.iter().filter(move |p| p.attack == self.best_attack)
    }

    /// The best attack's point at `k`.
    pub fn at(&self, k: u32) -> Option<&GuessPoint> {
        self.best().find(|p| p.k == k)
    }
}

/// What one trial produced: hits per (k, attack), and the integer sums of the leak statistic.
#[derive(Clone, Default)]
struct TrialTally {
    first: Vec<u64>,
    within: Vec<u64>,
    sums: [i128; 6],
}

/// Ranked guesses for the next port: `last + shift + d` for the `w` best differences `d`.
/// `diffs` are the residual differences seen so far; guesses not backed by them are `step`,
/// `2·step`, ... (the algorithm's scan step: Linux's connect() walks one parity, step 2).
/// Pure: exposed for the exact tests.
pub fn rank_guesses(diffs: &[u32], n: u32, w: u32, step: u32) -> Vec<u32> {
    let mut counts: Vec<(u32, u32)> = Vec::new();
    for &d in diffs {
        match counts.iter_mut().find(|(x, _)| *x == d) {
            Some((_, c)) => *c += 1,
            None => counts.push((d, 1)),
        }
    }
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let w = w.min(n) as usize;
    let mut out: Vec<u32> = counts.iter().map(|c| c.0).take(w).collect();
    let step = step.max(1);
    let mut d = step;
    let mut wrapped = false;
    while out.len() < w {
        if d >= n && !wrapped {
            // Every multiple of the step is taken: the other residues, in order.
            wrapped = true;
            d = 1;
        }
        let cand = d % n;
        if !out.contains(&cand) && (wrapped || cand.is_multiple_of(step)) {
            out.push(cand);
        }
        d += if wrapped { 1 } else { step };
    }
    out
}

/// Observes `spec` over `trials` fresh hosts.
pub fn measure(s: &Scenario, spec: &StrategySpec, seed: u64, traffic: Traffic) -> StrategyGuess {
    let p = &s.predict;
    let kmax = *p.k.iter().max().unwrap_or(&1) as usize;
    let w = p.guesses;
    let salt = if traffic == Traffic::Busy { 1 } else { 0 };
    let server = (u32::from(p.server.0), p.server.1);
    let step = adapter::scan_step(&spec.config);
    let tallies: Vec<TrialTally> = (0..u64::from(p.trials))
        .into_par_iter()
        .map(|t| {
            let device_id = t * 2 + salt;
            let sel = adapter::selector(&spec.config, seed, &spec.label, device_id);
            let mut dev = Device::new(
                s,
                spec,
                sel,
                traffic == Traffic::Busy,
                adapter::device_seed(seed ^ 0x5eed, device_id),
                None,
                1,
            );
            let range = dev.range();
            let (lo, n) = (u32::from(range.lo()), range.len());
            let mut ports: Vec<Option<u32>> = Vec::with_capacity(kmax + 1);
            let mut between: Vec<u64> = Vec::with_capacity(kmax + 1);
            let mut seen = 0u64;
            for j in 0..=kmax {
                let at: Nanos = p.interval * (j as u64 + 1);
                let port = dev.connect(at, server.0, server.1, Hold::ClientCloses(p.interval / 2));
                ports.push(port.map(|x| u32::from(x) - lo));
                between.push(dev.background_made - seen);
                seen = dev.background_made;
            }
            tally(&ports, &between, &p.k, n, w, step)
        })
        .collect();
    let na = ATTACKS.len();
    let mut first = vec![0u64; p.k.len() * na];
    let mut within = vec![0u64; p.k.len() * na];
    let mut sums = [0i128; 6];
    for t in &tallies {
        first.iter_mut().zip(&t.first).for_each(|(a, b)| *a += b);
        within.iter_mut().zip(&t.within).for_each(|(a, b)| *a += b);
        sums.iter_mut().zip(&t.sums).for_each(|(a, b)| *a += b);
    }
    let trials = u64::from(p.trials);
    let mut points = Vec::new();
    for (ki, &k) in p.k.iter().enumerate() {
        for (ai, &attack) in ATTACKS.iter().enumerate() {
            let (f, wi) = (first[ki * na + ai], within[ki * na + ai]);
            let pf = f as f64 / trials as f64;
            let ci = 1.96
                * (pf.max(1.0 / trials as f64) * (1.0 - pf).max(1.0 / trials as f64) / trials as f64).sqrt();
            points.push(GuessPoint {
                k,
                attack,
                trials,
                first_hits: f,
                within_hits: wi,
                first: pf,
                within: wi as f64 / trials as f64,
                first_ci95: ci,
            });
        }
    }
    let best_attack = ATTACKS
        .iter()
        .enumerate()
        .max_by_key(|(ai, _)| {
            (p.k.iter().enumerate().map(|(ki, _)| first[ki * na + ai]).sum::<u64>(), usize::MAX - ai)
        })
        .map(|(_, a)| *a)
        .unwrap_or("difference");
    let last = points.iter().rev().find(|q| q.attack == best_attack).map(|q| q.first).unwrap_or(0.0);
    let count_correlation = (traffic == Traffic::Busy).then(|| correlation(&sums)).flatten();
    let n = s.effective(spec).range.len();
    let (ff, fw) = adapter::idle_formula(&spec.config, n, w);
    StrategyGuess {
        label: spec.label.clone(),
        name: spec.config.name(),
        traffic,
        guesses: w,
        points,
        best_attack,
        min_entropy_bits: (last > 0.0).then(|| if last >= 1.0 { 0.0 } else { -last.log2() }),
        leaks_count: count_correlation.map(|c| c >= 0.9),
        count_correlation,
        formula_first: ff,
        formula_within: fw,
        formula_bits: ff.map(|f| if f >= 1.0 { 0.0 } else { -f.log2() }),
    }
}

/// Scores every attack at every k on one trial's ports (offsets from `lo`, `None` when the
/// host found no port) and the host's connection counts between them.
fn tally(ports: &[Option<u32>], between: &[u64], ks: &[u32], n: u32, w: u32, step: u32) -> TrialTally {
    let na = ATTACKS.len();
    let mut t = TrialTally { first: vec![0; ks.len() * na], within: vec![0; ks.len() * na], sums: [0; 6] };
    let diff = |a: u32, b: u32| (b + n - a) % n;
    for (ki, &k) in ks.iter().enumerate() {
        let k = k as usize;
        let (Some(last), Some(target)) = (ports[k - 1], ports[k]) else { continue };
        for (ai, per_conn) in [0u64, 1, 2].into_iter().enumerate() {
            let residual = |j: usize| -> Option<u32> {
                let (a, b) = (ports[j - 1]?, ports[j]?);
                let shift = ((per_conn * between[j]) % u64::from(n)) as u32;
                Some((diff(a, b) + n - shift) % n)
            };
            let diffs: Vec<u32> = (1..k).filter_map(residual).collect();
            let shift = ((per_conn * between[k]) % u64::from(n)) as u32;
            let guesses = rank_guesses(&diffs, n, w, step);
            let want = (diff(last, target) + n - shift) % n;
            if let Some(r) = guesses.iter().position(|g| *g == want) {
                if r == 0 {
                    t.first[ki * na + ai] += 1;
                }
                t.within[ki * na + ai] += 1;
            }
        }
    }
    for j in 1..ports.len() {
        if let (Some(a), Some(b)) = (ports[j - 1], ports[j]) {
            let d = i128::from(diff(a, b));
            let m = i128::from(between[j]);
            t.sums[0] += 1;
            t.sums[1] += d;
            t.sums[2] += m;
            t.sums[3] += d * d;
            t.sums[4] += m * m;
            t.sums[5] += d * m;
        }
    }
    t
}

/// Pearson's r from exact integer sums (count, Σd, Σm, Σd², Σm², Σdm).
fn correlation(s: &[i128; 6]) -> Option<f64> {
    let n = s[0];
    let var_d = n * s[3] - s[1] * s[1];
    let var_m = n * s[4] - s[2] * s[2];
    if n < 2 || var_d <= 0 || var_m <= 0 {
        return None;
    }
    let cov = n * s[5] - s[1] * s[2];
    Some(cov as f64 / ((var_d as f64).sqrt() * (var_m as f64).sqrt()))
}
