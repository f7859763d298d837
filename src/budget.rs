//! What a run will cost, known before anything is built: the memory it needs and the work it
//! does. A scenario that would exhaust memory is refused with an error naming the key behind the
//! largest part (it used to abort allocating); one whose work is beyond [`WORK_BUDGET_S`] is
//! refused unless `--allow-long` says otherwise (it used to look hung).
//!
//! The figures are estimates from the scenario alone (the same on every machine and thread
//! count, so `check` and `run` agree): every strategy is counted as if all ran at once, and the
//! per-item sizes are measured ones, rounded up (`run` of 2,000,000 live connections peaked at
//! 262 MB resident: about 130 bytes a connection).

use crate::scenario::{ActiveClose, AddrChoice, Arrivals, Scenario, ScenarioError};
use crate::stack::Scope;
use crate::time::{Nanos, secs};

/// The most memory a run may be estimated to need: 8 GiB, a third of the project's 24 GiB
/// machines and what a laptop can spare.
pub const MAX_MEMORY_BYTES: u64 = 8 << 30;

/// The most work a run may be estimated to take without `--allow-long`: one hour of CPU.
pub const WORK_BUDGET_S: f64 = 3600.0;

/// Seconds of CPU per event (an arrival, a close, a TIME_WAIT expiry), rounded up from about
/// 0.6 us measured on a loaded 2-core machine.
pub const EVENT_COST_S: f64 = 1e-6;

/// Seconds of CPU per candidate port examined, rounded up from about 80 ns measured on
/// `scenarios/burst-exhaustion.toml` (four-tuple lookups near exhaustion) on the same machine.
pub const CANDIDATE_COST_S: f64 = 1e-7;

/// Bytes per destination shared by every strategy (address, port, socket index).
const DEST_SHARED_BYTES: u64 = 7;
/// Bytes per destination in each strategy's stack (the held-per-destination counter).
const DEST_PER_STRATEGY_BYTES: u64 = 4;
/// Bytes per 4-tuple held open or in TIME_WAIT: the table entry, the close or expiry event.
const HELD_BYTES: u64 = 136;
/// Bytes per remembered closed 4-tuple (for reuse counts); at most [`REMEMBERED`] before the
/// engine starts forgetting.
const REMEMBERED_BYTES: u64 = 40;
const REMEMBERED: u64 = 1 << 20;
/// Bytes per time-series row and strategy: the sample, then its line of `timeseries.csv`.
const ROW_BYTES: u64 = 240;
/// Bytes per strategy whatever the scenario: port-usage counts, pool counters, buckets.
const STRATEGY_FIXED_BYTES: u64 = 4 << 20;
/// Bytes per local address and strategy: the per-port state of 65,536 ports.
const ADDR_BYTES: u64 = 16 << 16;
/// Bytes per trace row held in memory.
const TRACE_ROW_BYTES: u64 = 32;

/// One part of a memory estimate: the keys that set it, what it is, and its size.
#[derive(Clone, Debug, PartialEq)]
pub struct Part {
    pub keys: &'static str,
    pub what: String,
    pub bytes: u64,
}

/// A run's estimated memory, part by part.
#[derive(Clone, Debug, PartialEq)]
pub struct Memory {
    pub parts: Vec<Part>,
}

impl Memory {
    pub fn total(&self) -> u64 {
        self.parts.iter().fold(0u64, |a, p| a.saturating_add(p.bytes))
    }

    /// The largest part.
    pub fn largest(&self) -> &Part {
        self.parts.iter().max_by_key(|p| p.bytes).expect("an estimate has parts")
    }
}

/// Bytes for people: `3.2 GB`, `512 KB`.
pub fn format_bytes(b: u64) -> String {
    let b = b as f64;
    match b {
        x if x >= 1e12 => format!("{:.1} TB", x / 1e12),
        x if x >= 1e9 => format!("{:.1} GB", x / 1e9),
        x if x >= 1e6 => format!("{:.1} MB", x / 1e6),
        x => format!("{:.0} KB", (x / 1e3).ceil()),
    }
}

fn sat(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        x.min(u64::MAX as f64) as u64
    } else if x > 0.0 {
        u64::MAX
    } else {
        0
    }
}

/// How many connection attempts the arrival process makes over `duration`, on average.
pub fn expected_attempts(arrivals: &Arrivals, duration: Nanos) -> f64 {
    let d = secs(duration);
    match arrivals {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } => rate * d,
        Arrivals::OnOff { rate, on, off, off_rate } => {
            // Whole periods, then the part of one the run ends in (it starts in an on phase).
            let (on, off) = (secs(*on), secs(*off));
            let periods = (d / (on + off)).floor();
            let rest = d - periods * (on + off);
            periods * (rate * on + off_rate * off) + rate * rest.min(on) + off_rate * (rest - on).max(0.0)
        }
        Arrivals::Ramp { from, to } => (from + to) / 2.0 * d,
        Arrivals::Trace { trace, .. } => trace.rows.iter().filter(|r| r.start < duration).count() as f64,
    }
}

/// The mean connection lifetime in seconds (a trace's own where it gives them).
fn mean_lifetime_s(s: &Scenario) -> f64 {
    if let Arrivals::Trace { trace, .. } = &s.arrivals {
        let given: Vec<f64> = trace.rows.iter().filter_map(|r| r.lifetime.map(secs)).collect();
        if given.len() == trace.rows.len() && !given.is_empty() {
            return given.iter().sum::<f64>() / given.len() as f64;
        }
    }
    s.lifetime.map_or(0.0, |l| l.mean_s())
}

/// The probability that the client closes first (and so holds TIME_WAIT).
fn client_close_probability(s: &Scenario) -> f64 {
    match s.tcp.active_close {
        ActiveClose::Client => 1.0,
        ActiveClose::Server => 0.0,
        ActiveClose::ClientProbability(p) => p,
    }
}

/// What one strategy's run looks like before it runs: how many 4-tuples it holds at once and
/// how loaded its port pools are.
struct Shape {
    /// Mean 4-tuples held at once (Little's law), at most what the pools can hold.
    held: f64,
    /// Offered load over what the pools sustain (1 and above: exhausted).
    utilisation: f64,
    /// Ports of the effective range less the reserved ones.
    usable: u64,
    /// The most candidates one attempt can examine: the range, times the addresses `fallback`
    /// tries in turn.
    max_candidates: u64,
}

fn shape(s: &Scenario, spec: &crate::strategy::StrategySpec, attempts: f64) -> Shape {
    let eff = s.effective(spec);
    let usable = u64::from(eff.range.len() - eff.reserved.count_in(eff.range)).max(1);
    let addrs = s.addrs.len().max(1) as f64;
    let dests = s.destination_count().max(1) as f64;
    let pools = match eff.scope {
        Scope::FourTuple => addrs * dests,
        Scope::LocalPort => addrs,
        Scope::HostWide => 1.0,
    };
    let duration = secs(s.duration).max(1e-9);
    let hold = (mean_lifetime_s(s) + client_close_probability(s) * secs(eff.time_wait)).min(duration);
    let rate = attempts / duration;
    let capacity = usable as f64 * pools;
    let held = (rate * hold).min(capacity);
    // A hold of 0 (instant close, no TIME_WAIT) sustains any rate.
    let utilisation = if hold > 0.0 { rate * hold / capacity } else { 0.0 };
    let tries = if s.addr_choice == AddrChoice::Fallback { s.addrs.len().max(1) as u64 } else { 1 };
    Shape { held, utilisation, usable, max_candidates: usable * tries }
}

/// The time-series rows one run keeps.
fn rows(s: &Scenario) -> u64 {
    let interval = s.metrics.sample_interval.unwrap_or_else(|| crate::sim::default_interval(s.duration));
    s.duration / interval.max(1) + 2
}

/// The memory a run of every strategy of `s` needs, `seeds` times over (`run --seeds K` keeps
/// every seed's time series).
pub fn memory(s: &Scenario, seeds: u32) -> Memory {
    let strategies = s.strategies.len().max(1) as u64;
    let attempts = expected_attempts(&s.arrivals, s.duration);
    let dests = s.destination_count();
    let mut parts = Vec::new();
    let trace = matches!(s.arrivals, Arrivals::Trace { .. });
    parts.push(Part {
        keys: if trace { "workload.arrivals.file" } else { "destinations" },
        what: format!("{dests} destinations x {strategies} strategies"),
        bytes: dests.saturating_mul(DEST_SHARED_BYTES + DEST_PER_STRATEGY_BYTES * strategies),
    });
    let held: f64 = s.strategies.iter().map(|spec| shape(s, spec, attempts).held).sum();
    let remembered =
        sat(attempts).min(REMEMBERED).saturating_mul(REMEMBERED_BYTES).saturating_mul(strategies);
    parts.push(Part {
        keys: "workload.arrivals, workload.lifetime",
        what: format!(
            "about {held:.0} connections open or in TIME_WAIT at once over {strategies} strategies"
        ),
        bytes: sat(held * HELD_BYTES as f64).saturating_add(remembered),
    });
    let rows = rows(s);
    parts.push(Part {
        keys: if s.metrics.sample_interval.is_some() {
            "metrics.sample_interval, strategies"
        } else {
            "strategies"
        },
        what: format!(
            "{rows} time-series rows x {strategies} strategies{}",
            if seeds > 1 { format!(" x {seeds} seeds") } else { String::new() }
        ),
        bytes: rows
            .saturating_mul(strategies)
            .saturating_mul(u64::from(seeds.max(1)))
            .saturating_mul(ROW_BYTES),
    });
    parts.push(Part {
        keys: "strategies, host.addrs",
        what: format!("{strategies} strategies x {} local addresses of per-port state", s.addrs.len()),
        bytes: strategies.saturating_mul(STRATEGY_FIXED_BYTES + ADDR_BYTES * s.addrs.len() as u64),
    });
    if let Arrivals::Trace { trace, .. } = &s.arrivals {
        parts.push(Part {
            keys: "workload.arrivals.file",
            what: format!("{} trace rows", trace.rows.len()),
            bytes: (trace.rows.len() as u64).saturating_mul(TRACE_ROW_BYTES),
        });
    }
    Memory { parts }
}

/// Refuses a scenario whose run would need more than [`MAX_MEMORY_BYTES`], naming the keys
/// behind the largest part.
pub fn check_memory(s: &Scenario, seeds: u32) -> Result<Memory, ScenarioError> {
    let m = memory(s, seeds);
    let total = m.total();
    if total > MAX_MEMORY_BYTES {
        let big = m.largest();
        return Err(ScenarioError {
            origin: s.origin.clone(),
            position: None,
            key: big.keys.to_string(),
            message: format!(
                "the run would need about {} of memory, more than the limit of {} GiB; the largest part is {} ({})",
                format_bytes(total),
                MAX_MEMORY_BYTES >> 30,
                big.what,
                format_bytes(big.bytes),
            ),
        });
    }
    Ok(m)
}

/// A run's estimated work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    /// Connection attempts, over every strategy and seed.
    pub attempts: f64,
    /// Events (arrivals, closes, expiries, time-series rows), over every strategy and seed.
    pub events: f64,
    /// Candidate ports examined, over every strategy and seed.
    pub candidates: f64,
    /// The most candidates any one attempt can examine.
    pub max_candidates_per_attempt: u64,
}

impl Work {
    /// Estimated CPU seconds.
    pub fn cpu_s(&self) -> f64 {
        self.events * EVENT_COST_S + self.candidates * CANDIDATE_COST_S
    }
}

/// Human time: `40 s`, `12 min`, `3.5 h`, `9 days`.
pub fn format_secs(t: f64) -> String {
    match t {
        x if x < 120.0 => format!("{x:.0} s"),
        x if x < 7200.0 => format!("{:.0} min", x / 60.0),
        x if x < 172_800.0 => format!("{:.1} h", x / 3600.0),
        x => format!("{:.0} days", x / 86_400.0),
    }
}

/// The work of running every strategy of `s`, `seeds` times. An attempt costs one candidate per
/// port it examines: about 1/(1-u) on pools loaded to u below 1 (a random search), and over
/// capacity the failing share 1 - 1/u examines the whole range, times the addresses
/// `fallback` moves through.
pub fn work(s: &Scenario, seeds: u32) -> Work {
    let attempts = expected_attempts(&s.arrivals, s.duration);
    let seeds = f64::from(seeds.max(1));
    let mut w = Work { attempts: 0.0, events: 0.0, candidates: 0.0, max_candidates_per_attempt: 0 };
    for spec in &s.strategies {
        let sh = shape(s, spec, attempts);
        let u = sh.utilisation;
        let per_attempt = if u < 1.0 {
            (1.0 / (1.0 - u)).min(sh.usable as f64)
        } else {
            // Over capacity: the share 1 - 1/u fails after examining every candidate, the
            // rest search a nearly full range.
            (1.0 - 1.0 / u) * sh.max_candidates as f64 + (sh.usable as f64) / (2.0 * u)
        };
        w.attempts += attempts * seeds;
        w.events += (3.0 * attempts + rows(s) as f64) * seeds;
        w.candidates += attempts * per_attempt * seeds;
        w.max_candidates_per_attempt = w.max_candidates_per_attempt.max(sh.max_candidates);
    }
    w
}

/// Refuses a run estimated beyond [`WORK_BUDGET_S`] unless `allow_long`.
pub fn check_work(s: &Scenario, seeds: u32, allow_long: bool) -> Result<Work, ScenarioError> {
    let w = work(s, seeds);
    if !allow_long && w.cpu_s() > WORK_BUDGET_S {
        return Err(ScenarioError {
            origin: s.origin.clone(),
            position: None,
            key: "workload.arrivals, duration".into(),
            message: over_budget(&w),
        });
    }
    Ok(w)
}

/// Why a run is over the work budget, and what to do.
pub fn over_budget(w: &Work) -> String {
    format!(
        "the run would take about {} of CPU ({:.2e} events, {:.2e} candidate ports examined, up to {} per \
         attempt), more than the budget of {}: lower the rate or the duration, or pass --allow-long",
        format_secs(w.cpu_s()),
        w.events,
        w.candidates,
        w.max_candidates_per_attempt,
        format_secs(WORK_BUDGET_S),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_as_people_write_them() {
        assert_eq!(format_bytes(8 << 30), "8.6 GB");
        assert_eq!(format_bytes(1500), "2 KB");
        assert_eq!(format_secs(3600.0), "60 min");
        assert_eq!(format_secs(9000.0), "2.5 h");
        assert_eq!(sat(f64::INFINITY), u64::MAX);
        assert_eq!(sat(f64::NAN), 0);
    }
}
