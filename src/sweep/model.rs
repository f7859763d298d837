//! A scenario seen through the closed forms: which pools of ports it has, how the load is
//! spread over them, and how long a connection holds its port ([`crate::closed_form`]).

use crate::closed_form::{KeyClass, PoolModel, hold_time_s};
use crate::scenario::{ActiveClose, AddrChoice, Arrivals, DestGroup, Popularity, Scenario};
use crate::stack::{Scope, TwReuse};
use crate::strategy::{SocketMode, StrategySpec};
use crate::time::secs;

/// Ranks of a zipf group computed one by one; the rest are lumped into one class.
const ZIPF_RANKS: u64 = 4096;

/// The host's mean connection rate, when the arrivals have one the closed forms apply to.
pub fn host_rate(s: &Scenario) -> Result<f64, String> {
    match &s.arrivals {
        Arrivals::Poisson { rate } => Ok(*rate),
        Arrivals::Constant { rate } => Ok(*rate),
        other => Err(format!("no closed form for {} arrivals (poisson or constant only)", other.name())),
    }
}

/// The pools of ports `spec` allocates from in scenario `s`, and the hold time.
pub fn pool_model(s: &Scenario, spec: &StrategySpec) -> Result<PoolModel, String> {
    let lifetime = match s.lifetime {
        Some(l) => l.mean_s(),
        None => return Err("no closed form without a lifetime distribution".into()),
    };
    if !lifetime.is_finite() {
        return Err("no closed form: the mean lifetime is infinite".into());
    }
    let eff = s.effective(spec);
    let client_close = match s.tcp.active_close {
        ActiveClose::Client => 1.0,
        ActiveClose::Server => 0.0,
        ActiveClose::ClientProbability(p) => p,
    };
    let all_loopback = s.destinations.iter().all(|d| d.get(0).0.is_loopback());
    let tw = match eff.tw_reuse {
        TwReuse::On => eff.tw_reuse_delay.min(eff.time_wait),
        TwReuse::Loopback if all_loopback => eff.tw_reuse_delay.min(eff.time_wait),
        _ => eff.time_wait,
    };
    let hold_s = hold_time_s(lifetime, client_close, secs(tw));
    let range_len = u64::from(eff.range.len());
    let reserved = u64::from(eff.reserved.count_in(eff.range));
    let n = range_len - reserved;
    let scope = if s.socket.mode == SocketMode::BindThenConnect { Scope::LocalPort } else { eff.scope };
    let addrs = s.addrs.len() as u64;
    let fallback = s.addr_choice == AddrChoice::Fallback;
    let keys = match (scope, fallback) {
        (Scope::HostWide, _) => vec![KeyClass { count: 1, share: 1.0, servers: n }],
        (Scope::LocalPort, true) => vec![KeyClass { count: 1, share: 1.0, servers: n * addrs }],
        (Scope::LocalPort, false) => vec![KeyClass { count: addrs, share: 1.0 / addrs as f64, servers: n }],
        (Scope::FourTuple, _) => {
            let mut classes = destination_classes(s);
            for c in &mut classes {
                if fallback {
                    c.servers = n * addrs;
                } else {
                    c.count *= addrs;
                    c.share /= addrs as f64;
                    c.servers = n;
                }
            }
            classes
        }
    };
    Ok(PoolModel { range_len, reserved, hold_s, keys })
}

/// Each destination's share of the connections, grouped into classes of equal shares, the
/// busiest first.
fn destination_classes(s: &Scenario) -> Vec<KeyClass> {
    let total: f64 = s.destinations.iter().map(|d| d.weight()).sum();
    let mut out = Vec::new();
    for d in &s.destinations {
        let w = if total > 0.0 { d.weight() / total } else { 0.0 };
        match *d {
            DestGroup::One { .. } => out.push(KeyClass { count: 1, share: w, servers: 0 }),
            DestGroup::Generated { count, popularity: Popularity::Uniform, .. } => {
                out.push(KeyClass { count: u64::from(count), share: w / f64::from(count.max(1)), servers: 0 })
            }
            DestGroup::Generated { count, popularity: Popularity::Zipf(e), .. } => {
                let count = u64::from(count);
                let head = count.min(ZIPF_RANKS);
                let weights: Vec<f64> = (1..=head).map(|k| (k as f64).powf(-e)).collect();
                let head_sum: f64 = weights.iter().sum();
                // The tail's weight: the integral of x^-e from head + 1/2 to count + 1/2.
                let tail_sum = if count > head {
                    let (a, b) = (head as f64 + 0.5, count as f64 + 0.5);
                    if (e - 1.0).abs() < 1e-12 {
                        (b / a).ln()
                    } else {
                        (b.powf(1.0 - e) - a.powf(1.0 - e)) / (1.0 - e)
                    }
                } else {
                    0.0
                };
                let norm = head_sum + tail_sum;
                for x in weights {
                    out.push(KeyClass { count: 1, share: w * x / norm, servers: 0 });
                }
                if count > head {
                    let rest = count - head;
                    out.push(KeyClass { count: rest, share: w * tail_sum / norm / rest as f64, servers: 0 });
                }
            }
        }
    }
    out.retain(|c| c.share > 0.0 && c.count > 0);
    out.sort_by(|a, b| b.share.total_cmp(&a.share));
    // Merge neighbours with the same share (several single destinations of equal weight).
    let mut merged: Vec<KeyClass> = Vec::new();
    for c in out {
        match merged.last_mut() {
            Some(m) if m.share == c.share => m.count += c.count,
            _ => merged.push(c),
        }
    }
    merged
}
