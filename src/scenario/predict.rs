//! `[predict]`: what `portsim predict` measures and how hard it tries. Every key is optional;
//! the defaults are the ones the shipped `scenarios/predictability.toml` documents.

use crate::params::{Node, ParamError, Params, Value};
use crate::stack::{PortRange, ReservedPorts};
use crate::time::{NANOS_PER_SEC, Nanos};
use std::net::Ipv4Addr;

/// The validated `[predict]` table.
#[derive(Clone, Debug, PartialEq)]
pub struct PredictSettings {
    /// How many ports the observer sees before it guesses, one point of the curve each.
    pub k: Vec<u32>,
    /// How many guesses the observer may make (the "one of w guesses" column).
    pub guesses: u32,
    /// Independent hosts (fresh secrets and tables) per strategy.
    pub trials: u32,
    /// Time between two of the observer's connections.
    pub interval: Nanos,
    /// The observer's server: the host connects to it, the observer sees those ports.
    pub server: (Ipv4Addr, u16),
    pub attack: AttackSettings,
    pub dns: DnsSettings,
}

/// `[predict.attack]`: the 2022 tracking attack (Kol, Klein, Gilad).
#[derive(Clone, Debug, PartialEq)]
pub struct AttackSettings {
    /// Strategy labels to attack; empty: every strategy of a Linux profile in the scenario.
    pub strategies: Vec<String>,
    /// Devices attacked per strategy (each visited twice).
    pub seeds: u32,
    /// Connections per second the attacker's page makes the browser open.
    pub rate: f64,
    /// Round trip between the browser and the tracking server (one per batch).
    pub rtt: Nanos,
    /// Time between the two visits whose device IDs must match.
    pub revisit: Nanos,
    /// Phase 1 gives up after this many batches.
    pub max_batches: u32,
    /// The tracking server's address.
    pub tracker: Ipv4Addr,
    /// Extra runs with the host's own traffic replaced by Poisson arrivals at these rates
    /// (connections per second, over the scenario's destinations and lifetimes).
    pub background_rates: Vec<f64>,
}

/// `[predict.dns]`: a resolver's UDP socket pool and a spoofer who has seen `k` of its ports.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsSettings {
    pub range: PortRange,
    /// Ports the pool avoids besides the IANA list (Unbound: 49152-49407).
    pub avoid: ReservedPorts,
    /// Leave out every IANA-assigned port, as Unbound does by default.
    pub avoid_iana: bool,
    pub k: u32,
    /// Spoofed answers per query.
    pub guesses: u32,
    /// Resolver hosts simulated per strategy.
    pub trials: u32,
}

const MS: Nanos = NANOS_PER_SEC / 1000;

impl Default for PredictSettings {
    fn default() -> Self {
        PredictSettings {
            k: vec![1, 2, 4, 8, 16, 32, 64],
            guesses: 10,
            trials: 2000,
            interval: 50 * MS,
            server: (Ipv4Addr::new(203, 0, 113, 7), 443),
            attack: AttackSettings::default(),
            dns: DnsSettings::default(),
        }
    }
}

impl Default for AttackSettings {
    fn default() -> Self {
        AttackSettings {
            strategies: Vec::new(),
            seeds: 10,
            rate: 5000.0,
            rtt: 50 * MS,
            revisit: 60 * NANOS_PER_SEC,
            max_batches: 60,
            tracker: Ipv4Addr::new(198, 51, 100, 77),
            background_rates: Vec::new(),
        }
    }
}

impl Default for DnsSettings {
    fn default() -> Self {
        let mut avoid = ReservedPorts::new();
        avoid.insert_range(PortRange::new(49152, 49407).expect("a valid range"));
        DnsSettings {
            range: PortRange::new(1024, 65535).expect("a valid range"),
            avoid,
            avoid_iana: true,
            k: 8,
            guesses: 1024,
            trials: 10_000,
        }
    }
}

/// Parses `[predict]`; `labels` are the scenario's strategy labels (and names), which
/// `attack.strategies` must name.
pub fn parse(mut p: Params, labels: &[(String, &'static str)]) -> Result<PredictSettings, ParamError> {
    let d = PredictSettings::default();
    let k = match p.take("k") {
        None => d.k.clone(),
        Some(Node { value: Value::Array(items), .. }) if !items.is_empty() => {
            let mut out = Vec::new();
            for n in items {
                match n.value {
                    Value::Integer(i) if (1..=4096).contains(&i) => out.push(i as u32),
                    _ => {
                        return Err(ParamError {
                            key: p.path("k"),
                            span: Some(n.span),
                            message: "every k must be a whole number of ports from 1 to 4096".into(),
                        });
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
        Some(n) => {
            return Err(ParamError {
                key: p.path("k"),
                span: Some(n.span),
                message: "must be a non-empty list of port counts, e.g. [1, 2, 4, 8]".into(),
            });
        }
    };
    let guesses = p.u64_in("guesses", u64::from(d.guesses), 1, 65535)? as u32;
    let trials = p.u64_in("trials", u64::from(d.trials), 1, 1_000_000)? as u32;
    let interval = match p.duration("interval")? {
        Some(0) => return Err(p.error("interval", "must be longer than 0")),
        Some(i) => i,
        None => d.interval,
    };
    let server = match p.string("server")? {
        Some(text) => crate::scenario::workload::parse_endpoint(&text).map_err(|e| p.error("server", e))?,
        None => d.server,
    };
    let attack = match p.table("attack")? {
        Some(a) => parse_attack(a, labels)?,
        None => d.attack.clone(),
    };
    let dns = match p.table("dns")? {
        Some(t) => parse_dns(t)?,
        None => d.dns.clone(),
    };
    p.finish(&["k", "guesses", "trials", "interval", "server", "attack", "dns"])?;
    Ok(PredictSettings { k, guesses, trials, interval, server, attack, dns })
}

fn parse_attack(mut p: Params, labels: &[(String, &'static str)]) -> Result<AttackSettings, ParamError> {
    let d = AttackSettings::default();
    let mut strategies = Vec::new();
    for (name, span) in p.strings("strategies")?.unwrap_or_default() {
        if !labels.iter().any(|(l, n)| *l == name || *n == name) {
            let have: Vec<&str> = labels.iter().map(|(l, _)| l.as_str()).collect();
            return Err(ParamError {
                key: p.path("strategies"),
                span: Some(span),
                message: format!("the scenario has no strategy `{name}` (it has {})", have.join(", ")),
            });
        }
        strategies.push(name);
    }
    let seeds = p.u64_in("seeds", u64::from(d.seeds), 1, 10_000)? as u32;
    let rate = match p.positive_f64("rate")? {
        Some(r) if r > 1e7 => {
            return Err(p.error(
                "rate",
                format!("{r} connections a second is more than a browser makes (at most 1e7)"),
            ));
        }
        Some(r) => r,
        None => d.rate,
    };
    let rtt = p.duration("rtt")?.unwrap_or(d.rtt);
    let revisit = p.duration("revisit")?.unwrap_or(d.revisit);
    let max_batches = p.u64_in("max_batches", u64::from(d.max_batches), 1, 10_000)? as u32;
    let tracker = match p.string("tracker")? {
        Some(t) => {
            t.parse::<Ipv4Addr>().map_err(|_| p.error("tracker", format!("`{t}` is not an IPv4 address")))?
        }
        None => d.tracker,
    };
    let background_rates = match p.take("background_rates") {
        None => Vec::new(),
        Some(Node { value: Value::Array(items), .. }) => {
            let mut out = Vec::new();
            for n in items {
                let v = match n.value {
                    Value::Integer(i) => i as f64,
                    Value::Float(f) => f,
                    _ => f64::NAN,
                };
                if !(v > 0.0 && v <= 1e6) {
                    return Err(ParamError {
                        key: p.path("background_rates"),
                        span: Some(n.span),
                        message:
                            "every rate must be a number of connections per second above 0 and at most 1e6"
                                .into(),
                    });
                }
                out.push(v);
            }
            out
        }
        Some(n) => {
            return Err(ParamError {
                key: p.path("background_rates"),
                span: Some(n.span),
                message: "must be a list of rates, e.g. [100.0, 1000.0]".into(),
            });
        }
    };
    p.finish(&[
        "strategies",
        "seeds",
        "rate",
        "rtt",
        "revisit",
        "max_batches",
        "tracker",
        "background_rates",
    ])?;
    Ok(AttackSettings { strategies, seeds, rate, rtt, revisit, max_batches, tracker, background_rates })
}

fn parse_dns(mut p: Params) -> Result<DnsSettings, ParamError> {
    let d = DnsSettings::default();
    let range = match p.string("range")? {
        Some(text) => PortRange::parse(&text).map_err(|e| p.error("range", e))?,
        None => d.range,
    };
    let avoid = match p.strings("avoid")? {
        Some(list) => {
            let mut r = ReservedPorts::new();
            for (text, span) in list {
                let pr = PortRange::parse(&text).map_err(|e| ParamError {
                    key: p.path("avoid"),
                    span: Some(span),
                    message: e,
                })?;
                r.insert_range(pr);
            }
            r
        }
        None => d.avoid.clone(),
    };
    let avoid_iana = match p.take("avoid_iana") {
        None => d.avoid_iana,
        Some(Node { value: Value::Boolean(b), .. }) => b,
        Some(_) => return Err(p.error("avoid_iana", "must be true or false")),
    };
    let k = p.u64_in("k", u64::from(d.k), 1, 4096)? as u32;
    let guesses = p.u64_in("guesses", u64::from(d.guesses), 1, 65535)? as u32;
    let trials = p.u64_in("trials", u64::from(d.trials), 1, 1_000_000)? as u32;
    p.finish(&["range", "avoid", "avoid_iana", "k", "guesses", "trials"])?;
    Ok(DnsSettings { range, avoid, avoid_iana, k, guesses, trials })
}
