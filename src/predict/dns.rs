//! Item 4: what a DNS spoofer faces when the resolver's UDP source ports come from each
//! strategy. The pool is Unbound's default (`init_outgoing_availports()` in
//! `util/config_file.c`): 1024-65535 without the IANA-assigned ports of `util/iana_ports.inc`
//! and without 49152-49407, kept free for other programs. Each query is a fresh socket that is
//! closed once answered (no TIME_WAIT; a bound UDP port is the socket's alone).
//!
//! The spoofer has made the resolver query its own name server `k` times (so it knows those
//! ports) and then races the answer to a query toward another name server with `guesses` forged
//! replies. The bits it faces are `16` (the query ID) plus `-log2 max(P1, Pw/w)`, measured: P1
//! is the rate at which its first guess is the port, Pw the rate at which one of its w guesses
//! is. For a flat distribution Pw/w is the per-port probability, for a peaked one P1 is.

use super::adapter;
use super::device::{Device, Hold, StackSettings};
use super::observer::rank_guesses;
use crate::scenario::Scenario;
use crate::stack::{ReservedPorts, Scope};
use crate::strategy::StrategySpec;
use rayon::prelude::*;
use serde::Serialize;

/// The IANA list Unbound compiles in (one port a line).
const IANA: &str = include_str!("iana_ports.txt");

/// The ports the pool leaves out.
pub fn avoided(s: &Scenario) -> ReservedPorts {
    let d = &s.predict.dns;
    let mut r = d.avoid.clone();
    if d.avoid_iana {
        for line in IANA.lines().filter(|l| !l.starts_with('#')) {
            if let Ok(p) = line.trim().parse::<u16>() {
                r.insert(p);
            }
        }
    }
    r
}

#[derive(Clone, Debug, Serialize)]
pub struct DnsRow {
    pub label: String,
    pub name: &'static str,
    pub pool_ports: u32,
    pub k: u32,
    pub guesses: u32,
    pub trials: u64,
    pub first_hits: u64,
    pub within_hits: u64,
    /// `-log2` of the peak probability estimated from the hit ranks; `None` when no guess ever
    /// hit (then it is above `bound_bits`).
    pub port_bits: Option<f64>,
    /// `log2(w · trials)`: what no hit at all shows.
    pub bound_bits: f64,
    /// `port_bits + 16`.
    pub total_bits: Option<f64>,
    /// The closed form: 0 for one global +1 counter, log2 N for Algorithm 5 (one global
    /// counter), log2 of the pool for everything keyed by destination or random, and log2 of
    /// the pool's ports of one parity for Linux's connect() (even ports first). An upper bound
    /// where reserved ports make some ports likelier than others (Algorithm 1, Linux).
    pub formula_bits: Option<f64>,
}

const NAMESERVER: (u32, u16) = (0xc000_0235, 53); // 192.0.2.53:53

pub fn measure(s: &Scenario, spec: &StrategySpec, seed: u64) -> DnsRow {
    let d = &s.predict.dns;
    let avoid = avoided(s);
    let pool = d.range.len() - avoid.count_in(d.range);
    let server = (u32::from(s.predict.server.0), s.predict.server.1);
    let trials = u64::from(d.trials);
    let step = adapter::scan_step(&spec.config);
    let ranks: Vec<Option<u32>> = (0..trials)
        .into_par_iter()
        .map(|t| {
            let id = 1_000_000 + t;
            let sel = adapter::selector(&spec.config, seed, &spec.label, id);
            let settings = StackSettings {
                range: d.range,
                reserved: avoid.clone(),
                scope: Scope::LocalPort,
                time_wait: 0,
            };
            let mut dev = Device::new(s, spec, sel, false, 0, Some(settings), 2);
            let (lo, n) = (u32::from(d.range.lo()), d.range.len());
            let mut ports = Vec::new();
            for j in 0..d.k {
                let at = s.predict.interval * (u64::from(j) + 1);
                ports.push(dev.connect(at, server.0, server.1, Hold::Reset).map(|p| u32::from(p) - lo));
            }
            let at = s.predict.interval * (u64::from(d.k) + 1);
            let target = dev.connect(at, NAMESERVER.0, NAMESERVER.1, Hold::Reset).map(|p| u32::from(p) - lo);
            let (Some(last), Some(target)) = (ports.last().copied().flatten(), target) else { return None };
            let diffs: Vec<u32> = ports.windows(2).filter_map(|w| Some((w[1]? + n - w[0]?) % n)).collect();
            let want = (target + n - last) % n;
            rank_guesses(&diffs, n, d.guesses, step).iter().position(|g| *g == want).map(|r| r as u32)
        })
        .collect();
    let first = ranks.iter().filter(|r| **r == Some(0)).count() as u64;
    let within = ranks.iter().filter(|r| r.is_some()).count() as u64;
    // The peak probability: for r = 1, 2, 4, ..., w, the rate at which one of the first r
    // guesses hit, over r, is an average of the r likeliest ports' probabilities, so no larger
    // than the likeliest one's. Of these the one whose lower 2-sigma bound is highest is taken
    // (taking the largest estimate instead would pick whichever r was luckiest).
    let mut best = (f64::NEG_INFINITY, 0.0f64);
    let mut r = 1u32;
    loop {
        let r_eff = r.min(d.guesses);
        let hits = ranks.iter().filter(|x| x.is_some_and(|x| x < r_eff)).count() as f64;
        let scale = trials as f64 * f64::from(r_eff);
        let lower = (hits - 2.0 * hits.sqrt()) / scale;
        if hits > 0.0 && lower > best.0 {
            best = (lower, hits / scale);
        }
        if r_eff == d.guesses {
            break;
        }
        r *= 2;
    }
    let best = best.1;
    let port_bits = (best > 0.0).then(|| if best >= 1.0 { 0.0 } else { -best.log2() });
    // Linux's connect() takes ports of `lo`'s parity first: on a quiet pool only those.
    let same_parity =
        d.range.iter().filter(|p| (p - d.range.lo()).is_multiple_of(2) && !avoid.contains(*p)).count();
    let formula_bits = adapter::dns_formula(&spec.config, pool, same_parity as u32);
    DnsRow {
        label: spec.label.clone(),
        name: spec.config.name(),
        pool_ports: pool,
        k: d.k,
        guesses: d.guesses,
        trials,
        first_hits: first,
        within_hits: within,
        port_bits,
        bound_bits: (f64::from(d.guesses) * trials as f64).log2(),
        total_bits: port_bits.map(|b| b + 16.0),
        formula_bits,
    }
}
