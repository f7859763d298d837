//! The workload a scenario describes: arrivals, lifetimes, destinations. These are validated
//! descriptions; `sim::workload` turns them into draws.

use crate::params::{ParamError, Params};
use crate::strategy::SocketMode;
use crate::time::{Nanos, from_secs_f64};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::sync::Arc;

/// How new connections arrive (rates are connections per second, for the whole host).
#[derive(Clone, Debug, PartialEq)]
pub enum Arrivals {
    Poisson {
        rate: f64,
    },
    /// Evenly spaced, `1/rate` apart.
    Constant {
        rate: f64,
    },
    /// Poisson at `rate` for `on`, then at `off_rate` (default 0) for `off`, repeating.
    OnOff {
        rate: f64,
        on: Nanos,
        off: Nanos,
        off_rate: f64,
    },
    /// Poisson with the rate rising linearly from `from` at time 0 to `to` at the end.
    Ramp {
        from: f64,
        to: f64,
    },
    /// Replays a CSV of start times and destinations (see [`Trace`]).
    Trace {
        path: PathBuf,
        trace: Arc<Trace>,
    },
}

impl Arrivals {
    pub const PROCESSES: &'static [&'static str] = &["poisson", "constant", "on-off", "ramp", "trace"];

    pub fn name(&self) -> &'static str {
        match self {
            Arrivals::Poisson { .. } => "poisson",
            Arrivals::Constant { .. } => "constant",
            Arrivals::OnOff { .. } => "on-off",
            Arrivals::Ramp { .. } => "ramp",
            Arrivals::Trace { .. } => "trace",
        }
    }
}

/// A recorded workload: its connections in start order and the destinations they go to.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub rows: Vec<TraceRow>,
    pub destinations: Vec<(Ipv4Addr, u16)>,
}

/// One connection of a trace: when it starts, where to, and optionally how long it lives.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRow {
    pub start: Nanos,
    /// Index into the trace's destination list.
    pub dest: u32,
    pub lifetime: Option<Nanos>,
}

/// How long a connection stays open before one side closes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lifetime {
    Constant {
        value: Nanos,
    },
    Exponential {
        mean: Nanos,
    },
    /// ln(lifetime) ~ Normal(ln(median), sigma).
    Lognormal {
        median: Nanos,
        sigma: f64,
    },
    /// Pareto with minimum `scale` and tail index `shape`.
    Pareto {
        scale: Nanos,
        shape: f64,
    },
    Uniform {
        min: Nanos,
        max: Nanos,
    },
}

impl Lifetime {
    pub const DISTS: &'static [&'static str] = &["constant", "exponential", "lognormal", "pareto", "uniform"];

    /// The mean lifetime in seconds (infinite for a Pareto with shape <= 1).
    /// The 99th percentile, in seconds: "the longest lifetimes" a run must outlast.
    pub fn p99_s(&self) -> f64 {
        let s = |t: Nanos| crate::time::secs(t);
        match *self {
            Lifetime::Constant { value } => s(value),
            Lifetime::Exponential { mean } => s(mean) * 100f64.ln(),
            // The standard normal's 99th percentile is 2.3263.
            Lifetime::Lognormal { median, sigma } => s(median) * (sigma * 2.3263).exp(),
            Lifetime::Pareto { scale, shape } => s(scale) * 100f64.powf(1.0 / shape),
            Lifetime::Uniform { min, max } => s(min) + 0.99 * (s(max) - s(min)),
        }
    }

    pub fn mean_s(&self) -> f64 {
        let s = |t: Nanos| crate::time::secs(t);
        match *self {
            Lifetime::Constant { value } => s(value),
            Lifetime::Exponential { mean } => s(mean),
            Lifetime::Lognormal { median, sigma } => s(median) * (sigma * sigma / 2.0).exp(),
            Lifetime::Pareto { scale, shape } if shape > 1.0 => s(scale) * shape / (shape - 1.0),
            Lifetime::Pareto { .. } => f64::INFINITY,
            Lifetime::Uniform { min, max } => (s(min) + s(max)) / 2.0,
        }
    }
}

/// How a generated group's destinations are chosen among themselves.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Popularity {
    Uniform,
    /// Rank k (1-based) is chosen with probability proportional to 1/k^s.
    Zipf(f64),
}

/// How connections toward a destination ask for their port: the socket mode and, with Linux's
/// `IP_LOCAL_PORT_RANGE`, a range of the socket's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SocketSpec {
    pub mode: SocketMode,
    pub local_range: Option<crate::stack::PortRange>,
}

/// One `[[destinations]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub enum DestGroup {
    One {
        addr: Ipv4Addr,
        port: u16,
        weight: f64,
        socket: Option<SocketSpec>,
    },
    /// `count` consecutive addresses from the start of `prefix`, all on `port`.
    Generated {
        base: Ipv4Addr,
        count: u32,
        port: u16,
        weight: f64,
        popularity: Popularity,
        socket: Option<SocketSpec>,
    },
}

impl DestGroup {
    pub fn len(&self) -> u32 {
        match self {
            DestGroup::One { .. } => 1,
            DestGroup::Generated { count, .. } => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The socket settings this group overrides, if any.
    pub fn socket(&self) -> Option<SocketSpec> {
        match self {
            DestGroup::One { socket, .. } | DestGroup::Generated { socket, .. } => *socket,
        }
    }

    pub fn weight(&self) -> f64 {
        match self {
            DestGroup::One { weight, .. } | DestGroup::Generated { weight, .. } => *weight,
        }
    }

    /// The `i`-th destination of the group.
    pub fn get(&self, i: u32) -> (Ipv4Addr, u16) {
        match *self {
            DestGroup::One { addr, port, .. } => (addr, port),
            DestGroup::Generated { base, port, .. } => (Ipv4Addr::from(u32::from(base) + i), port),
        }
    }
}

/// Parses `"192.0.2.10:443"`.
pub fn parse_endpoint(text: &str) -> Result<(Ipv4Addr, u16), String> {
    let (a, p) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("`{text}` is not an address:port such as \"192.0.2.10:443\""))?;
    let addr: Ipv4Addr = a.parse().map_err(|_| format!("`{a}` is not an IPv4 address"))?;
    let port: u64 = Some(p)
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("`{p}` is not a port number (1-65535)"))?;
    if port == 0 || port > 65535 {
        return Err(format!("port {port} is out of range (ports are 1-65535)"));
    }
    Ok((addr, port as u16))
}

pub(super) fn parse_arrivals(mut p: Params, base_dir: &std::path::Path) -> Result<Arrivals, ParamError> {
    let process = p.string("process")?.ok_or_else(|| {
        p.table_error(format!("needs `process`, one of: {}", Arrivals::PROCESSES.join(", ")))
    })?;
    let arrivals = match process.as_str() {
        "poisson" => Arrivals::Poisson { rate: p.required_positive_f64("rate")? },
        "constant" => Arrivals::Constant { rate: p.required_positive_f64("rate")? },
        "on-off" => Arrivals::OnOff {
            rate: p.required_positive_f64("rate")?,
            on: p.required_positive_duration("on")?,
            off: p.required_positive_duration("off")?,
            off_rate: p.f64_in("off_rate", 0.0, f64::MAX)?.unwrap_or(0.0),
        },
        "ramp" => {
            let from = p.f64_in("from", 0.0, f64::MAX)?.unwrap_or(0.0);
            let to = p.required_positive_f64("to")?;
            Arrivals::Ramp { from, to }
        }
        "trace" => {
            let file = p.required_string("file")?;
            let path = base_dir.join(&file);
            let trace = super::trace::load(&path).map_err(|e| p.error("file", e))?;
            Arrivals::Trace { path, trace: Arc::new(trace) }
        }
        other => {
            return Err(p.error(
                "process",
                format!("`{other}` is not an arrival process: use one of {}", Arrivals::PROCESSES.join(", ")),
            ));
        }
    };
    let valid: &[&str] = match arrivals {
        Arrivals::Poisson { .. } | Arrivals::Constant { .. } => &["process", "rate"],
        Arrivals::OnOff { .. } => &["process", "rate", "on", "off", "off_rate"],
        Arrivals::Ramp { .. } => &["process", "from", "to"],
        Arrivals::Trace { .. } => &["process", "file"],
    };
    finish(p, valid, arrivals)
}

fn finish<T>(p: Params, valid: &[&str], value: T) -> Result<T, ParamError> {
    p.finish(valid)?;
    Ok(value)
}

pub(super) fn parse_lifetime(mut p: Params) -> Result<Lifetime, ParamError> {
    let dist = p
        .string("dist")?
        .ok_or_else(|| p.table_error(format!("needs `dist`, one of: {}", Lifetime::DISTS.join(", "))))?;
    let need = |p: &mut Params, k: &str| -> Result<Nanos, ParamError> {
        p.duration(k)?.ok_or_else(|| p.error(k, "is required but missing"))
    };
    let (lifetime, valid): (Lifetime, &[&str]) = match dist.as_str() {
        "constant" => (Lifetime::Constant { value: need(&mut p, "value")? }, &["dist", "value"]),
        "exponential" => (Lifetime::Exponential { mean: need(&mut p, "mean")? }, &["dist", "mean"]),
        "lognormal" => {
            let median = p.required_positive_duration("median")?;
            let sigma =
                p.f64_in("sigma", 0.0, 20.0)?.ok_or_else(|| p.error("sigma", "is required but missing"))?;
            (Lifetime::Lognormal { median, sigma }, &["dist", "median", "sigma"])
        }
        "pareto" => {
            let scale = p.required_positive_duration("scale")?;
            let shape = p.required_positive_f64("shape")?;
            (Lifetime::Pareto { scale, shape }, &["dist", "scale", "shape"])
        }
        "uniform" => {
            let min = need(&mut p, "min")?;
            let max = need(&mut p, "max")?;
            if min > max {
                return Err(p.error("min", "min is greater than max"));
            }
            (Lifetime::Uniform { min, max }, &["dist", "min", "max"])
        }
        other => {
            return Err(p.error(
                "dist",
                format!(
                    "`{other}` is not a lifetime distribution: use one of {}",
                    Lifetime::DISTS.join(", ")
                ),
            ));
        }
    };
    finish(p, valid, lifetime)
}

/// Reads `socket` and `local_port_range` from a table (`[workload]` or a destination); `None`
/// when the table sets neither.
pub(super) fn parse_socket(p: &mut Params, default: SocketSpec) -> Result<Option<SocketSpec>, ParamError> {
    if !p.has("socket") && !p.has("local_port_range") {
        return Ok(None);
    }
    let mut spec = default;
    if let Some(text) = p.string("socket")? {
        spec.mode = SocketMode::parse(&text).ok_or_else(|| {
            p.error(
                "socket",
                format!("`{text}` is not a socket mode: use one of {}", SocketMode::NAMES.join(", ")),
            )
        })?;
    }
    if let Some(text) = p.string("local_port_range")? {
        let r = crate::stack::PortRange::parse(&text).map_err(|e| p.error("local_port_range", e))?;
        spec.local_range = Some(r);
    }
    Ok(Some(spec))
}

pub(super) fn parse_destination(mut p: Params, default_socket: SocketSpec) -> Result<DestGroup, ParamError> {
    let weight = p.positive_f64("weight")?.unwrap_or(1.0);
    let socket = parse_socket(&mut p, default_socket)?;
    if p.has("addr") {
        let text = p.required_string("addr")?;
        let (addr, port) = parse_endpoint(&text).map_err(|e| p.error("addr", e))?;
        let valid = ["addr", "weight", "socket", "local_port_range"];
        return finish(p, &valid, DestGroup::One { addr, port, weight, socket });
    }
    if !p.has("count") {
        return Err(p.table_error(
            "a destination needs `addr = \"192.0.2.10:443\"`, or `count`, `prefix` and `port` to generate many",
        ));
    }
    let count = p.u64_in("count", 1, 1, 16_777_216)? as u32;
    let prefix = p.required_string("prefix")?;
    let (base, len) = parse_prefix(&prefix).map_err(|e| p.error("prefix", e))?;
    let room = 1u64 << (32 - len);
    if u64::from(count) > room {
        return Err(p.error("count", format!("{count} addresses do not fit in {prefix} ({room} addresses)")));
    }
    let port = p.u64_in("port", 443, 1, 65535)? as u16;
    let popularity = match p.table("popularity")? {
        None => Popularity::Uniform,
        Some(mut t) => {
            let pop = match t.positive_f64("zipf")? {
                Some(s) => Popularity::Zipf(s),
                None => Popularity::Uniform,
            };
            t.finish(&["zipf"])?;
            pop
        }
    };
    finish(
        p,
        &["count", "prefix", "port", "popularity", "weight", "socket", "local_port_range"],
        DestGroup::Generated { base, count, port, weight, popularity, socket },
    )
}

/// Parses `"198.51.100.0/20"` into its first address and prefix length.
fn parse_prefix(text: &str) -> Result<(Ipv4Addr, u32), String> {
    let (a, l) = text
        .split_once('/')
        .ok_or_else(|| format!("`{text}` is not a prefix such as \"198.51.100.0/20\""))?;
    let addr: Ipv4Addr = a.parse().map_err(|_| format!("`{a}` is not an IPv4 address"))?;
    let len: u32 = Some(l)
        .filter(|t| t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse().ok())
        .filter(|l| *l <= 32)
        .ok_or_else(|| format!("`/{l}` is not a prefix length (0-32)"))?;
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    Ok((Ipv4Addr::from(u32::from(addr) & mask), len))
}

/// Seconds as written in a trace, to nanoseconds.
pub(super) fn trace_secs(text: &str) -> Result<Nanos, String> {
    let x: f64 = text.trim().parse().map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if !x.is_finite() || x < 0.0 {
        return Err(format!("`{text}` is not a time (seconds, 0 or more)"));
    }
    if x > crate::time::secs(crate::time::MAX_DURATION) {
        return Err(format!("`{text}` is longer than portsim's maximum duration (100 years)"));
    }
    Ok(from_secs_f64(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_prefixes() {
        assert_eq!(parse_endpoint("192.0.2.10:443").unwrap(), (Ipv4Addr::new(192, 0, 2, 10), 443));
        assert!(parse_endpoint("192.0.2.10").is_err());
        assert_eq!(parse_endpoint("192.0.2.10:0").unwrap_err(), "port 0 is out of range (ports are 1-65535)");
        assert_eq!(parse_prefix("198.51.100.7/20").unwrap(), (Ipv4Addr::new(198, 51, 96, 0), 20));
        assert!(parse_prefix("198.51.100.0/33").is_err());
    }

    #[test]
    fn lifetime_means() {
        let s = crate::time::NANOS_PER_SEC;
        assert_eq!(Lifetime::Uniform { min: s, max: 3 * s }.mean_s(), 2.0);
        assert_eq!(Lifetime::Pareto { scale: s, shape: 2.0 }.mean_s(), 2.0);
        assert!(Lifetime::Pareto { scale: s, shape: 1.0 }.mean_s().is_infinite());
    }
}
