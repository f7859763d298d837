//! The closed forms of `shared/reference/rfc6056.md` §5, shared by `portsim capacity`, the
//! sweep charts and the tests.
//!
//! The model: connections toward one *key* (a destination and a source address in four-tuple
//! scope; a source address in local-port scope) hold one of `n` usable ports for a hold time
//! `H` (the connection's lifetime, plus TIME_WAIT when the client closes first). With Poisson
//! arrivals at `λ` per key, the pool is an Erlang loss system with offered load `a = λ·H`
//! (Little's law) and `n` servers:
//!
//! - the sustainable rate is `n / H` (470.5 conn/s for Linux's 28,232 ports and 60 s);
//! - the fraction of attempts that find every port busy is Erlang-B `B(n, a)`, whatever the
//!   holding-time distribution, for every strategy that finds a free port whenever there is one;
//! - `random-pick` (RFC 6056 Algorithm 2) examines `1/(1-ρ)` candidates on average when a
//!   fraction `ρ` of the range is unsuitable.
//!
//! ```
//! use portsim::closed_form::{erlang_b, sustainable_rate};
//! assert!((sustainable_rate(28_232, 60.0) - 470.53).abs() < 0.01);
//! assert!((erlang_b(28_232, 28_232.0) - 4.7e-3).abs() < 1e-4);
//! ```

/// `n / H`: the connection rate one key sustains when each connection holds its port for
/// `hold_s` seconds (infinite when nothing is held).
pub fn sustainable_rate(usable_ports: u64, hold_s: f64) -> f64 {
    if hold_s <= 0.0 { f64::INFINITY } else { usable_ports as f64 / hold_s }
}

/// Erlang-B blocking `B(n, a)`: the probability that an arrival finds all `servers` busy, with
/// offered load `load` (in Erlangs). The stable recurrence `B₀ = 1`,
/// `Bₖ = a·Bₖ₋₁ / (k + a·Bₖ₋₁)` never overflows, whatever `n` and `a`.
pub fn erlang_b(servers: u64, load: f64) -> f64 {
    if load.is_nan() || load <= 0.0 {
        return if servers == 0 { 1.0 } else { 0.0 };
    }
    if load.is_infinite() {
        return 1.0;
    }
    let mut b = 1.0f64;
    for k in 1..=servers {
        b = load * b / (k as f64 + load * b);
        if b == 0.0 {
            // Underflow: every further step stays at zero.
            break;
        }
    }
    b
}

/// Expected candidates `random-pick` examines when a fraction `rho` of the candidate space is
/// unsuitable, stopping after `n` draws as RFC 6056's loop does: `E[min(T, n)]` with
/// `T ~ Geometric(1-ρ)`, that is `(1-ρⁿ)/(1-ρ)` (→ `1/(1-ρ)` for large `n`, `n` at `ρ = 1`).
pub fn random_pick_candidates(rho: f64, n: u64) -> f64 {
    let rho = rho.clamp(0.0, 1.0);
    if rho >= 1.0 {
        return n as f64;
    }
    (1.0 - rho.powf(n as f64)) / (1.0 - rho)
}

/// The stationary distribution of ports held in an Erlang loss system (`n` servers, offered
/// load `a`): `P(m = j) ∝ aʲ/j!`, `j = 0..=n`, computed in log space. An arrival sees it too
/// (PASTA).
pub fn erlang_occupancy(servers: u64, load: f64) -> Vec<f64> {
    let n = servers as usize;
    if load.is_nan() || load <= 0.0 {
        let mut p = vec![0.0; n + 1];
        p[0] = 1.0;
        return p;
    }
    let mut logw = Vec::with_capacity(n + 1);
    let mut lw = 0.0f64;
    logw.push(0.0);
    for j in 1..=n {
        lw += (load / j as f64).ln();
        logw.push(lw);
    }
    let max = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut p: Vec<f64> = logw.iter().map(|w| (w - max).exp()).collect();
    let sum: f64 = p.iter().sum();
    for x in &mut p {
        *x /= sum;
    }
    p
}

/// Mean candidates of `random-pick` for one key in steady state: `(1-ρⁿ)/(1-ρ)` averaged over
/// the Erlang occupancy an arrival sees, with `ρ = (reserved + held) / range_len`. Far from
/// exhaustion this is `1/(1-ρ)` at the mean occupancy; near it, it stays finite.
pub fn random_pick_mean_candidates(range_len: u64, reserved: u64, load: f64) -> f64 {
    let usable = range_len.saturating_sub(reserved);
    let occupancy = erlang_occupancy(usable, load);
    occupancy
        .iter()
        .enumerate()
        .filter(|(_, p)| **p > 0.0)
        .map(|(held, p)| {
            p * random_pick_candidates((reserved + held as u64) as f64 / range_len as f64, range_len)
        })
        .sum()
}

/// The hold time `H` in seconds: the lifetime, plus the TIME_WAIT the client keeps when it
/// closes first (with probability `client_close`); `tw_hold_s` is TIME_WAIT, or the
/// `tw_reuse` delay when a TIME_WAIT 4-tuple may be taken over sooner.
pub fn hold_time_s(lifetime_s: f64, client_close: f64, tw_hold_s: f64) -> f64 {
    lifetime_s + client_close.clamp(0.0, 1.0) * tw_hold_s
}

/// One class of keys: how many there are, each key's share of the host's connections, and the
/// ports it may use (`n` of a pool; several pools when addresses are used as a fallback).
#[derive(Clone, Debug, PartialEq)]
pub struct KeyClass {
    pub count: u64,
    pub share: f64,
    pub servers: u64,
}

/// A host's ports seen as independent Erlang loss systems, one per key.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolModel {
    /// Length of the port range (the candidate space of the random algorithms).
    pub range_len: u64,
    /// Reserved ports inside the range.
    pub reserved: u64,
    /// `H`, seconds.
    pub hold_s: f64,
    /// Key classes, the busiest first.
    pub keys: Vec<KeyClass>,
}

/// What the model predicts at a host connection rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Offered load of the busiest key over its ports: `λ_key·H / n` (above 1, it cannot last).
    pub load_ratio: f64,
    /// Expected fraction of attempts that fail (Erlang-B, weighted over the keys).
    pub blocking: f64,
    /// Expected `random-pick` candidates per attempt, weighted over the keys.
    pub random_pick_candidates: f64,
}

impl PoolModel {
    /// Usable ports of one address: the range less its reserved ports.
    pub fn usable(&self) -> u64 {
        self.range_len.saturating_sub(self.reserved)
    }

    /// The host rate at which the busiest key reaches its `n/H` ceiling.
    pub fn ceiling_rate(&self) -> f64 {
        self.keys
            .iter()
            .map(|k| sustainable_rate(k.servers, self.hold_s) / k.share)
            .fold(f64::INFINITY, f64::min)
    }

    /// The busiest key's load over its ports, and the expected fraction of attempts that fail,
    /// at a host rate of `rate` connections per second (cheaper than [`PoolModel::predict`]).
    pub fn blocking(&self, rate: f64) -> (f64, f64) {
        let mut blocking = 0.0;
        let mut load_ratio = 0.0f64;
        for (i, k) in self.keys.iter().enumerate() {
            let a = rate * k.share * self.hold_s;
            let ratio = a / k.servers.max(1) as f64;
            load_ratio = load_ratio.max(ratio);
            if i < 64 || ratio > 0.5 {
                blocking += k.share * k.count as f64 * erlang_b(k.servers, a);
            }
        }
        (load_ratio, blocking)
    }

    /// Blocking and `random-pick` candidates at a host rate of `rate` connections per second.
    /// The busiest 64 key classes are computed exactly; lighter ones (a zipf tail) with the mean
    /// occupancy, which is exact enough far from exhaustion.
    pub fn predict(&self, rate: f64) -> Prediction {
        let mut blocking = 0.0;
        let mut candidates = 0.0;
        let mut load_ratio = 0.0f64;
        let usable = self.usable().max(1);
        for (i, k) in self.keys.iter().enumerate() {
            let a = rate * k.share * self.hold_s;
            let ratio = a / k.servers.max(1) as f64;
            load_ratio = load_ratio.max(ratio);
            let weight = k.share * k.count as f64;
            // Fallback addresses pool several ranges: each carries its part of the load.
            let pools = (k.servers / usable).max(1) as f64;
            if i < 64 || ratio > 0.5 {
                blocking += weight * erlang_b(k.servers, a);
                candidates += weight * random_pick_mean_candidates(self.range_len, self.reserved, a / pools);
            } else {
                let rho = (self.reserved as f64 + a / pools) / self.range_len.max(1) as f64;
                candidates += weight * random_pick_candidates(rho, self.range_len);
            }
        }
        Prediction { load_ratio, blocking, random_pick_candidates: candidates }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erlang_b_small_cases() {
        // B(1, a) = a / (1 + a); B(2, 1) = 0.2.
        assert!((erlang_b(1, 1.0) - 0.5).abs() < 1e-12);
        assert!((erlang_b(2, 1.0) - 0.2).abs() < 1e-12);
        assert_eq!(erlang_b(5, 0.0), 0.0);
        assert_eq!(erlang_b(0, 3.0), 1.0);
    }

    #[test]
    fn random_pick_candidates_limits() {
        assert!((random_pick_candidates(0.5, 28_232) - 2.0).abs() < 1e-12);
        assert_eq!(random_pick_candidates(1.0, 10), 10.0);
        assert_eq!(random_pick_candidates(0.0, 10), 1.0);
    }

    #[test]
    fn occupancy_sums_to_one_and_has_mean_near_a() {
        let p = erlang_occupancy(1000, 500.0);
        let sum: f64 = p.iter().sum();
        let mean: f64 = p.iter().enumerate().map(|(j, x)| j as f64 * x).sum();
        assert!((sum - 1.0).abs() < 1e-9);
        assert!((mean - 500.0).abs() < 1e-6, "{mean}");
    }
}
