//! `portsim capacity`: the closed-form calculator users otherwise do on paper
//! (`shared/reference/rfc6056.md` §5). From the port range, the reserved ports, the hold time
//! (lifetime plus TIME_WAIT, or the `tw_reuse` delay) and how the load is spread over
//! destinations and source addresses, it gives the sustainable connection rate per key, per
//! destination and for the host (`n/H` per key), and the Erlang-B blocking at given rates.
//!
//! A *key* is what owns a pool of `n` usable ports: a (destination, source address) pair in
//! four-tuple scope, a source address in local-port scope (there every destination shares it).

use crate::cli::CapacityArgs;
use crate::closed_form::{self, erlang_b, random_pick_mean_candidates, sustainable_rate};
use crate::commands::Status;
use crate::stack::{PortRange, ReservedPorts, Scope};
use crate::time::{Nanos, parse_duration, secs};
use anyhow::{Result, bail};
use serde::Serialize;

/// The validated inputs of the calculator.
#[derive(Clone, Debug, PartialEq)]
pub struct Inputs {
    pub range: PortRange,
    pub reserved: u32,
    pub time_wait: Nanos,
    pub tw_reuse_delay: Option<Nanos>,
    pub lifetime: Nanos,
    /// Probability that the client closes first (and so keeps TIME_WAIT).
    pub client_close: f64,
    pub destinations: u64,
    pub addrs: u64,
    pub scope: Scope,
    pub rates: Vec<f64>,
}

/// Everything the calculator says, as `--json` prints it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Capacity {
    pub range: String,
    pub ports: u64,
    pub reserved: u64,
    /// `n`: ports one key may use.
    pub usable: u64,
    /// `H`, seconds.
    pub hold_s: f64,
    pub scope: &'static str,
    pub destinations: u64,
    pub addrs: u64,
    /// Independent pools of `n` ports.
    pub keys: u64,
    /// `n/H`.
    pub rate_per_key: f64,
    /// The host rate spread evenly over the destinations, per destination.
    pub rate_per_destination: f64,
    pub rate_host: f64,
    pub at_rate: Vec<AtRate>,
}

/// The Erlang-B view at one host rate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct AtRate {
    /// Host connections per second.
    pub rate: f64,
    pub rate_per_key: f64,
    /// `a = λ_key·H`, Erlangs.
    pub offered_load: f64,
    /// `a / n`.
    pub rho: f64,
    /// `B(n, a)`: the fraction of attempts that find no free port.
    pub blocking: f64,
    pub failed_per_s: f64,
    /// `random-pick`'s mean candidates per attempt at this load.
    pub random_pick_candidates: f64,
}

/// Checks the command line, naming the flag at fault.
pub fn inputs(args: &CapacityArgs) -> Result<Inputs> {
    let range = PortRange::parse(&args.range).map_err(|e| anyhow::anyhow!("--range {}: {e}", args.range))?;
    let mut reserved = ReservedPorts::new();
    for r in &args.reserved {
        let p = PortRange::parse(r).map_err(|e| anyhow::anyhow!("--reserved {r}: {e}"))?;
        if !(range.contains(p.lo()) && range.contains(p.hi())) {
            bail!(
                "--reserved {r}: outside the range {range}: reserving it does nothing (remove it, or widen --range)"
            );
        }
        reserved.insert_range(p);
    }
    let reserved = reserved.count_in(range);
    if reserved >= range.len() {
        bail!("--reserved reserves every port of the range {range}: nothing is left to allocate");
    }
    let duration = |flag: &str, text: &str| -> Result<Nanos> {
        parse_duration(text).map_err(|e| anyhow::anyhow!("--{flag} {text}: {e}"))
    };
    let time_wait = duration("time-wait", &args.time_wait)?;
    let tw_reuse_delay = args.tw_reuse_delay.as_deref().map(|t| duration("tw-reuse-delay", t)).transpose()?;
    let lifetime = duration("lifetime", &args.lifetime)?;
    let client_close = match args.active_close.as_str() {
        "client" => 1.0,
        "server" => 0.0,
        other => match other.parse::<f64>() {
            Ok(p) if (0.0..=1.0).contains(&p) => p,
            _ => bail!(
                "--active-close {other}: use \"client\", \"server\", or the probability (0 to 1) that the client closes first"
            ),
        },
    };
    if args.destinations == 0 {
        bail!("--destinations 0: there must be at least one destination");
    }
    if args.addrs == 0 || args.addrs > 65535 {
        bail!("--addrs {}: give 1 to 65535 source addresses", args.addrs);
    }
    let scope = Scope::parse(&args.scope).map_err(|e| anyhow::anyhow!("--scope: {e}"))?;
    for &r in &args.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate {r}: a rate is a positive number of connections per second");
        }
    }
    let inputs = Inputs {
        range,
        reserved,
        time_wait,
        tw_reuse_delay,
        lifetime,
        client_close,
        destinations: args.destinations,
        addrs: args.addrs,
        scope,
        rates: args.rate.clone(),
    };
    if inputs.hold_s() <= 0.0 {
        bail!(
            "the hold time is 0 s (lifetime {} plus {} of TIME_WAIT): no port is ever held, so every rate is sustainable; give --lifetime or --time-wait",
            args.lifetime,
            if client_close > 0.0 { "0 s" } else { "none, the server closing first," }
        );
    }
    Ok(inputs)
}

impl Inputs {
    /// `H`: lifetime plus, when the client closes first, TIME_WAIT (or the `tw_reuse` delay,
    /// when shorter).
    pub fn hold_s(&self) -> f64 {
        let tw = match self.tw_reuse_delay {
            Some(d) => secs(d.min(self.time_wait)),
            None => secs(self.time_wait),
        };
        closed_form::hold_time_s(secs(self.lifetime), self.client_close, tw)
    }

    /// Independent pools: destinations x addresses in four-tuple scope, addresses otherwise.
    pub fn keys(&self) -> u64 {
        match self.scope {
            Scope::FourTuple => self.destinations.saturating_mul(self.addrs),
            Scope::LocalPort => self.addrs,
            Scope::HostWide => 1,
        }
    }

    /// The whole calculation.
    pub fn capacity(&self) -> Capacity {
        let ports = u64::from(self.range.len());
        let reserved = u64::from(self.reserved);
        let usable = ports - reserved;
        let hold = self.hold_s();
        let keys = self.keys();
        let per_key = sustainable_rate(usable, hold);
        let host = per_key * keys as f64;
        let at_rate = self
            .rates
            .iter()
            .map(|&rate| {
                let rate_per_key = rate / keys as f64;
                let a = rate_per_key * hold;
                let blocking = erlang_b(usable, a);
                AtRate {
                    rate,
                    rate_per_key,
                    offered_load: a,
                    rho: a / usable as f64,
                    blocking,
                    failed_per_s: rate * blocking,
                    random_pick_candidates: random_pick_mean_candidates(ports, reserved, a),
                }
            })
            .collect();
        Capacity {
            range: self.range.to_string(),
            ports,
            reserved,
            usable,
            hold_s: hold,
            scope: self.scope.name(),
            destinations: self.destinations,
            addrs: self.addrs,
            keys,
            rate_per_key: per_key,
            rate_per_destination: host / self.destinations as f64,
            rate_host: host,
            at_rate,
        }
    }
}

/// A number with thousands separators (`28,232`), or with a few significant digits.
fn num(x: f64) -> String {
    if !x.is_finite() {
        return "unlimited".into();
    }
    if x >= 1000.0 || (x.fract() == 0.0 && x.abs() < 1e15) {
        let r = x.round() as u64;
        let digits = r.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        return out;
    }
    if x >= 100.0 {
        format!("{x:.1}")
    } else if x >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// A probability, readable at any size (`0.167`, `4.7e-3`, `3.3e-19`, `0`). Below the smallest
/// normal `f64` the Erlang-B recursion has underflowed (4.94e-324 is one denormal step from 0,
/// not a figure): it reads as 0.
fn prob(p: f64) -> String {
    if p < f64::MIN_POSITIVE {
        "0 (below 1e-308)".into()
    } else if p >= 0.01 {
        format!("{p:.3}")
    } else {
        format!("{p:.2e}")
    }
}

/// The report `portsim capacity` prints.
pub fn render(c: &Capacity, i: &Inputs) -> String {
    let mut out = String::new();
    let line = |out: &mut String, k: &str, v: String| out.push_str(&format!("{k:<22}{v}\n"));
    line(
        &mut out,
        "port range",
        format!(
            "{} ({} ports, {} reserved): n = {} usable per pool",
            c.range,
            num(c.ports as f64),
            num(c.reserved as f64),
            num(c.usable as f64)
        ),
    );
    let tw = match i.tw_reuse_delay {
        Some(d) => format!("tw_reuse delay {}", crate::time::format_duration(d.min(i.time_wait))),
        None => format!("TIME_WAIT {}", crate::time::format_duration(i.time_wait)),
    };
    let closer = if i.client_close >= 1.0 {
        format!("lifetime {} + {tw} (the client closes first)", crate::time::format_duration(i.lifetime))
    } else if i.client_close <= 0.0 {
        format!(
            "lifetime {} (the server closes first and keeps TIME_WAIT)",
            crate::time::format_duration(i.lifetime)
        )
    } else {
        format!(
            "lifetime {} + {} x {tw} (the client closes first with probability {})",
            crate::time::format_duration(i.lifetime),
            i.client_close,
            i.client_close
        )
    };
    line(&mut out, "hold time H", format!("{} s = {closer}", num(c.hold_s)));
    let keys = match i.scope {
        Scope::FourTuple => format!(
            "four-tuple: one pool of n ports per destination and source address ({} x {} = {} pool{})",
            num(c.destinations as f64),
            num(c.addrs as f64),
            num(c.keys as f64),
            if c.keys == 1 { "" } else { "s" }
        ),
        Scope::LocalPort => format!(
            "local-port: one pool of n ports per source address, shared by every destination ({} pool{})",
            num(c.keys as f64),
            if c.keys == 1 { "" } else { "s" }
        ),
        Scope::HostWide => {
            "host-wide: one pool of n ports for the whole host, shared by every address and destination"
                .to_string()
        }
    };
    line(&mut out, "scope", keys);
    out.push('\n');
    out.push_str("sustainable rate (n/H per pool; beyond it connections fail with EADDRNOTAVAIL)\n");
    line(&mut out, "  per pool", format!("{} conn/s", num(c.rate_per_key)));
    line(
        &mut out,
        "  per destination",
        format!(
            "{} conn/s{}",
            num(c.rate_per_destination),
            if c.destinations > 1 { " (the host's load spread evenly over the destinations)" } else { "" }
        ),
    );
    line(&mut out, "  for the host", format!("{} conn/s", num(c.rate_host)));
    for r in &c.at_rate {
        out.push('\n');
        out.push_str(&format!(
            "at {} conn/s for the host ({} conn/s per pool, Poisson arrivals)\n",
            num(r.rate),
            num(r.rate_per_key)
        ));
        line(
            &mut out,
            "  offered load a",
            format!(
                "{} Erlangs (a/n = {:.3}{})",
                num(r.offered_load),
                r.rho,
                if r.rho > 1.0 { ": over the ceiling" } else { "" }
            ),
        );
        line(
            &mut out,
            "  Erlang-B blocking",
            format!("{} of attempts fail ({} conn/s)", prob(r.blocking), num(r.failed_per_s)),
        );
        line(
            &mut out,
            "  random-pick",
            format!("{:.3} candidates per attempt on average", r.random_pick_candidates),
        );
    }
    out
}

/// `portsim capacity`.
pub fn execute(args: CapacityArgs) -> Result<Status> {
    if args.nat {
        return crate::nat::capacity::execute(&args);
    }
    let i = inputs(&args)?;
    let c = i.capacity();
    if args.json {
        crate::report::stdout::print(&format!("{}\n", serde_json::to_string_pretty(&c)?));
    } else {
        crate::report::stdout::print(&render(&c, &i));
    }
    Ok(Status::Ok)
}
