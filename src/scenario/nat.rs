//! `[nat]`: a translator between many inside hosts and the destinations. Parsed here into
//! [`NatSettings`]; `crate::nat` simulates it. Every allocator entry resolves to one
//! [`NatAllocatorSpec`]: its allocator with every parameter, its mapping type and its timers,
//! a provider preset's published numbers where the entry names one.

use super::workload::{Lifetime, parse_lifetime};
use crate::nat::alloc::{AllocatorConfig, CloudPoolConfig, NfFlags, Pooling, PortBlockConfig, PortBlockPick};
use crate::params::{ParamError, Params};
use crate::stack::PortRange;
use crate::time::{NANOS_PER_SEC, Nanos};
use std::net::Ipv4Addr;

/// RFC 4787 §4.1 mapping behaviour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mapping {
    /// One external (address, port) per inside (address, port), whatever the destination (GCP).
    EndpointIndependent,
    /// Unique per 5-tuple: one external port reused toward different destinations (Linux
    /// conntrack, AWS, Azure).
    PerTuple,
}

/// How long a gateway keeps an entry after its connection ends, per state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Timeouts {
    /// After a FIN close (conntrack `TIME_WAIT`; Azure's "reuse cool-down after FIN").
    #[serde(serialize_with = "ser_secs")]
    pub time_wait: Nanos,
    /// After an RST (conntrack `CLOSE`).
    #[serde(serialize_with = "ser_secs")]
    pub close: Nanos,
    /// UDP after the last packet of a flow that lasted at most 2 s (conntrack `UDP_CT_UNREPLIED`).
    #[serde(serialize_with = "ser_secs")]
    pub udp: Nanos,
    /// UDP after the last packet of a longer flow (`UDP_CT_REPLIED`, the "stream" timeout).
    #[serde(serialize_with = "ser_secs")]
    pub udp_stream: Nanos,
}

fn ser_secs<S: serde::Serializer>(t: &Nanos, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(crate::time::secs(*t))
}

/// Linux conntrack's defaults: net/netfilter/nf_conntrack_proto_tcp.c `tcp_timeouts[]`
/// (`TIME_WAIT` 2 min, `CLOSE` 10 s) and nf_conntrack_proto_udp.c `udp_timeouts[]`
/// (`UDP_CT_UNREPLIED` 30 s, `UDP_CT_REPLIED` 120 s).
pub const LINUX_TIMEOUTS: Timeouts = Timeouts {
    time_wait: 120 * NANOS_PER_SEC,
    close: 10 * NANOS_PER_SEC,
    udp: 30 * NANOS_PER_SEC,
    udp_stream: 120 * NANOS_PER_SEC,
};

/// One `[[nat.allocators]]` entry, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct NatAllocatorSpec {
    pub label: String,
    /// The name as written (`netfilter`, `gcp-cloud-nat`, ...).
    pub name: String,
    pub config: AllocatorConfig,
    pub mapping: Mapping,
    pub timeouts: Timeouts,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// `[[nat.hosts]]`: identical inside hosts.
#[derive(Clone, Debug, PartialEq)]
pub struct HostGroup {
    pub count: u32,
    /// A `[[strategies]]` label: how these hosts pick their inside ports.
    pub strategy: String,
    pub protocol: Protocol,
    /// New connections per second per host (replaces `[workload] arrivals`' rate).
    pub rate: Option<f64>,
    pub lifetime: Option<Lifetime>,
    /// The fraction of TCP connections that end with an RST instead of a FIN.
    pub rst_fraction: f64,
}

/// One `[nat.expect]` assertion.
#[derive(Clone, Debug, PartialEq)]
pub struct NatExpectation {
    pub allocator: Option<String>,
    pub metric: String,
    pub bound: super::Bound,
    pub value: f64,
    pub key: String,
}

/// `[nat]`.
#[derive(Clone, Debug, PartialEq)]
pub struct NatSettings {
    pub addrs: Vec<Ipv4Addr>,
    pub hosts: Vec<HostGroup>,
    pub allocators: Vec<NatAllocatorSpec>,
    /// How long a new entry stays unconfirmed (invisible to other allocations).
    pub confirm_window: Nanos,
    /// The first SYN retransmission after a drop (`TCP_TIMEOUT_INIT`, 1 s), doubling after.
    pub syn_timeout: Nanos,
    /// `net.ipv4.tcp_syn_retries` (6).
    pub syn_retries: u32,
    pub expect: Vec<NatExpectation>,
}

impl NatSettings {
    pub fn host_count(&self) -> u32 {
        self.hosts.iter().map(|g| g.count).sum()
    }
}

/// The most inside hosts: each runs its own stack (about 512 KiB).
pub const MAX_HOSTS: u64 = 1024;
/// The most external addresses (per address the gateway keeps two 65,536-port tables).
pub const MAX_NAT_ADDRS: usize = 64;

/// The metrics `[nat.expect]` may name (keys of an allocator's `nat` block in summary.json).
pub const METRICS: &[&str] = &[
    "attempted",
    "established",
    "failed",
    "failed_fraction",
    "inside_failed",
    "allocations",
    "alloc_failures",
    "clashes",
    "clash_fraction",
    "syn_retransmits",
    "mean_candidates",
    "p99_candidates",
    "max_candidates",
    "preserved_fraction",
    "peak_ports_per_ip",
    "peak_entries",
    "hosts_at_quota",
    "max_time_at_quota_s",
    "req8_reuses",
];

const NAMES: &[&str] = &[
    "netfilter",
    "netfilter-legacy",
    "random",
    "random-fully",
    "port-block",
    "aws-nat-gateway",
    "azure-nat-gateway",
    "azure-lb",
    "gcp-cloud-nat",
];

const ALL_PORTS: (u16, u16) = (1024, 65535);

/// Azure Load Balancer's default outbound SNAT ports per instance by backend pool size
/// (learn.microsoft.com, "Source Network Address Translation (SNAT) for outbound connections",
/// default port allocation table).
pub fn azure_lb_default_ports(pool_size: u32) -> Option<u32> {
    match pool_size {
        1..=50 => Some(1024),
        51..=100 => Some(512),
        101..=200 => Some(256),
        201..=400 => Some(128),
        401..=800 => Some(64),
        801..=1000 => Some(32),
        _ => None,
    }
}

pub(super) fn parse(
    mut p: Params,
    labels: &[String],
    has_top_expect: bool,
) -> Result<NatSettings, ParamError> {
    if has_top_expect {
        return Err(p.table_error(
            "a [nat] scenario's assertions go in [nat.expect] (top-level [expect] checks the single-host run)",
        ));
    }
    let addrs = parse_addrs(&mut p)?;
    let confirm_window = p.duration("confirm_window")?.unwrap_or(0);
    if confirm_window > NANOS_PER_SEC {
        return Err(p.error("confirm_window", "is at most 1s (the kernel confirms within microseconds)"));
    }
    let syn_timeout = p.duration("syn_timeout")?.unwrap_or(NANOS_PER_SEC);
    if syn_timeout == 0 {
        return Err(p.error("syn_timeout", "must be longer than 0"));
    }
    let syn_retries = p.u64_in("syn_retries", 6, 0, 20)? as u32;
    let pooling = parse_pooling(&mut p)?.unwrap_or(Pooling::Arbitrary);
    let mapping = parse_mapping(&mut p)?;
    let base = match p.table("timeouts")? {
        Some(t) => parse_timeouts(t, LINUX_TIMEOUTS)?,
        None => LINUX_TIMEOUTS,
    };
    let hosts = parse_hosts(&mut p, labels)?;
    let total: u64 = hosts.iter().map(|g| u64::from(g.count)).sum();
    if total > MAX_HOSTS {
        return Err(p.error(
            "hosts",
            format!("{total} inside hosts: at most {MAX_HOSTS} (each simulates its own TCP stack)"),
        ));
    }
    let defaults = Defaults { addrs: &addrs, hosts: total as u32, pooling, mapping, base };
    let allocators = match p.tables("allocators")? {
        Some(list) if !list.is_empty() => {
            let mut out: Vec<NatAllocatorSpec> = Vec::new();
            for a in list {
                let spec = parse_allocator(a, &defaults)?;
                if out.iter().any(|o| o.label == spec.label) {
                    return Err(ParamError {
                        key: format!("nat.allocators[{}].label", out.len()),
                        span: None,
                        message: format!(
                            "two allocators are labelled `{}`: give one a different `label`",
                            spec.label
                        ),
                    });
                }
                out.push(spec);
            }
            out
        }
        _ => {
            return Err(p.error(
                "allocators",
                format!("at least one [[nat.allocators]] entry is required, e.g. name = \"netfilter\" (one of {})", NAMES.join(", ")),
            ));
        }
    };
    let alloc_labels: Vec<String> = allocators.iter().map(|a| a.label.clone()).collect();
    let expect = match p.table("expect")? {
        Some(e) => parse_expect(e, &alloc_labels)?,
        None => Vec::new(),
    };
    p.finish(&[
        "addrs",
        "hosts",
        "allocators",
        "pooling",
        "mapping",
        "timeouts",
        "confirm_window",
        "syn_timeout",
        "syn_retries",
        "expect",
    ])?;
    Ok(NatSettings { addrs, hosts, allocators, confirm_window, syn_timeout, syn_retries, expect })
}

/// What an allocator entry inherits from `[nat]`.
struct Defaults<'a> {
    addrs: &'a [Ipv4Addr],
    hosts: u32,
    pooling: Pooling,
    mapping: Option<Mapping>,
    base: Timeouts,
}

/// `hosts = 200` (that many hosts running the first strategy over `[workload]`), or
/// `[[nat.hosts]]` groups.
fn parse_hosts(p: &mut Params, labels: &[String]) -> Result<Vec<HostGroup>, ParamError> {
    use crate::params::Value;
    let first = labels.first().cloned().unwrap_or_default();
    let node = p.take("hosts").ok_or_else(|| {
        p.error("hosts", "is required: `hosts = 100`, or [[nat.hosts]] groups with `count`")
    })?;
    let one = |count: u32| HostGroup {
        count,
        strategy: first.clone(),
        protocol: Protocol::Tcp,
        rate: None,
        lifetime: None,
        rst_fraction: 0.0,
    };
    match node.value {
        Value::Integer(n) if (1..=MAX_HOSTS as i64).contains(&n) => Ok(vec![one(n as u32)]),
        Value::Integer(n) => Err(p.error("hosts", format!("{n} is out of range: use 1 to {MAX_HOSTS}"))),
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, n) in items.into_iter().enumerate() {
                let Value::Table(t) = n.value else {
                    return Err(p.error("hosts", "expected a number of hosts or [[nat.hosts]] tables"));
                };
                let mut g = Params::new(format!("{}[{i}]", p.path("hosts")), t, Some(n.span));
                let count = g.u64_in("count", 1, 1, MAX_HOSTS)? as u32;
                let strategy = g.string("strategy")?.unwrap_or_else(|| first.clone());
                if !labels.contains(&strategy) {
                    return Err(g.error(
                        "strategy",
                        format!(
                            "no [[strategies]] entry is labelled `{strategy}` (there are {})",
                            labels.join(", ")
                        ),
                    ));
                }
                let protocol = match g.choice("protocol", &["tcp", "udp"])? {
                    "udp" => Protocol::Udp,
                    _ => Protocol::Tcp,
                };
                let rate = g.positive_f64("rate")?;
                let lifetime = g.table("lifetime")?.map(parse_lifetime).transpose()?;
                let rst_fraction = g.f64_in("rst_fraction", 0.0, 1.0)?.unwrap_or(0.0);
                g.finish(&["count", "strategy", "protocol", "rate", "lifetime", "rst_fraction"])?;
                out.push(HostGroup { count, strategy, protocol, rate, lifetime, rst_fraction });
            }
            if out.is_empty() {
                return Err(p.error("hosts", "needs at least one [[nat.hosts]] group"));
            }
            Ok(out)
        }
        other => Err(p.error(
            "hosts",
            format!("expected a number of hosts or [[nat.hosts]] tables, found {}", other.type_str()),
        )),
    }
}

fn parse_allocator(mut p: Params, d: &Defaults<'_>) -> Result<NatAllocatorSpec, ParamError> {
    let name = p.required_string("name")?;
    if !NAMES.contains(&name.as_str()) {
        return Err(p.error("name", format!("unknown NAT allocator `{name}`; valid: {}", NAMES.join(", "))));
    }
    let label = p.string("label")?.unwrap_or_else(|| name.clone());
    let pooling = parse_pooling(&mut p)?.unwrap_or(d.pooling);
    let own_mapping = parse_mapping(&mut p)?;
    let n_addrs = d.addrs.len() as u32;
    let all = PortRange::new(ALL_PORTS.0, ALL_PORTS.1).expect("valid");
    let mut valid: Vec<&str> = vec!["name", "label", "pooling", "mapping", "timeouts"];
    let (config, preset_mapping, preset_timeouts) = match name.as_str() {
        "netfilter" | "netfilter-legacy" | "random" | "random-fully" => {
            let range = parse_range(&mut p, "range")?;
            let flags = NfFlags {
                random: crate::strategy::registry::flag(&mut p, "random", name == "random")?,
                random_fully: crate::strategy::registry::flag(
                    &mut p,
                    "random_fully",
                    name == "random-fully",
                )?,
                persistent: pooling == Pooling::Paired,
            };
            valid.extend(["range", "random", "random_fully"]);
            let contiguous = d.addrs.windows(2).all(|w| u32::from(w[1]) == u32::from(w[0]).wrapping_add(1));
            if !contiguous {
                return Err(p.error(
                    "name",
                    "netfilter maps onto one contiguous address range (SNAT --to-source a.b.c.d-a.b.c.e): list nat.addrs in order without gaps",
                ));
            }
            if own_mapping.or(d.mapping) == Some(Mapping::EndpointIndependent) {
                return Err(p.error(
                    if own_mapping.is_some() { "mapping" } else { "name" },
                    "Linux conntrack maps per connection tuple: netfilter allocators take mapping = \"per-tuple\"",
                ));
            }
            let config = if name == "netfilter" {
                AllocatorConfig::Netfilter { flags, range }
            } else {
                AllocatorConfig::NetfilterLegacy { flags, range }
            };
            (config, Mapping::PerTuple, d.base)
        }
        "aws-nat-gateway" => {
            let range = parse_range(&mut p, "range")?.unwrap_or(all);
            let limit = p.u64_in("per_destination_limit", 55_000, 1, 65_536)? as u32;
            let max_tries = p.u64_in("max_tries", u64::from(range.len()), 1, 65_536)? as u32;
            valid.extend(["range", "per_destination_limit", "max_tries"]);
            let cfg = CloudPoolConfig { range, per_destination_limit: Some(limit), max_tries, pooling };
            (AllocatorConfig::Cloud(cfg), Mapping::PerTuple, LINUX_TIMEOUTS)
        }
        "azure-nat-gateway" => {
            if n_addrs > 16 {
                return Err(p.error(
                    "name",
                    format!("an Azure NAT gateway takes at most 16 addresses; nat.addrs has {n_addrs}"),
                ));
            }
            let range = parse_range(&mut p, "range")?.unwrap_or(all);
            // "up to 50,000 concurrent connections per public IP address to the same destination
            // endpoint" (Microsoft Learn's NAT gateway resource page, MicrosoftDocs/azure-docs
            // commit c44e40920f70).
            let limit = p.u64_in("per_destination_limit", 50_000, 1, 65_536)? as u32;
            let max_tries = p.u64_in("max_tries", u64::from(range.len()), 1, 65_536)? as u32;
            valid.extend(["range", "per_destination_limit", "max_tries"]);
            let cfg = CloudPoolConfig { range, per_destination_limit: Some(limit), max_tries, pooling };
            let t = Timeouts {
                time_wait: 65 * NANOS_PER_SEC,
                close: 16 * NANOS_PER_SEC,
                udp: 240 * NANOS_PER_SEC,
                udp_stream: 240 * NANOS_PER_SEC,
            };
            (AllocatorConfig::Cloud(cfg), Mapping::PerTuple, t)
        }
        "azure-lb" | "gcp-cloud-nat" | "port-block" => {
            let range = parse_range(&mut p, "range")?.unwrap_or(all);
            valid.push("range");
            let (block_size, max_ports, pick, mapping, timeouts) = match name.as_str() {
                "azure-lb" => {
                    let pool = p.u64_in("pool_size", u64::from(d.hosts), 1, 1000)? as u32;
                    let default = azure_lb_default_ports(pool).expect("1 to 1000");
                    let block = p.u64_in("block_size", u64::from(default), 1, 65_536)? as u32;
                    valid.extend(["pool_size", "block_size"]);
                    (block, None, PortBlockPick::Random, Mapping::PerTuple, LINUX_TIMEOUTS)
                }
                "gcp-cloud-nat" => {
                    let dynamic = crate::strategy::registry::flag(&mut p, "dynamic", false)?;
                    let min = p.u64_in("min_ports_per_vm", if dynamic { 32 } else { 64 }, 2, 65_536)? as u32;
                    let max = if dynamic {
                        let m = p.u64_in("max_ports_per_vm", 65_536, 64, 65_536)? as u32;
                        if !min.is_power_of_two() || !m.is_power_of_two() || m < min {
                            return Err(p.error(
                                "max_ports_per_vm",
                                format!("dynamic port allocation takes powers of two with min <= max (min {min}, max {m})"),
                            ));
                        }
                        Some(m.min(range.len()))
                    } else {
                        None
                    };
                    valid.extend(["dynamic", "min_ports_per_vm", "max_ports_per_vm"]);
                    let t = Timeouts {
                        time_wait: 120 * NANOS_PER_SEC,
                        close: 30 * NANOS_PER_SEC,
                        udp: 30 * NANOS_PER_SEC,
                        udp_stream: 30 * NANOS_PER_SEC,
                    };
                    (min, max, PortBlockPick::Random, Mapping::EndpointIndependent, t)
                }
                _ => {
                    let block = p.opt_u64_in("block_size", 1, 65_536)?.ok_or_else(|| {
                        p.error("block_size", "is required: the ports each inside host owns (RFC 7422)")
                    })? as u32;
                    let pick = match p.choice("pick", &["sequential", "random"])? {
                        "random" => PortBlockPick::Random,
                        _ => PortBlockPick::Sequential,
                    };
                    valid.extend(["block_size", "pick"]);
                    (block, None, pick, Mapping::PerTuple, d.base)
                }
            };
            let cfg = PortBlockConfig { range, block_size, max_ports, pick };
            let blocks = u64::from(cfg.blocks_per_ip()) * u64::from(n_addrs);
            let key = if p.has("block_size") {
                "block_size"
            } else if p.has("min_ports_per_vm") {
                "min_ports_per_vm"
            } else {
                "name"
            };
            if blocks == 0 || (max_ports.is_none() && u64::from(d.hosts) > blocks) {
                return Err(p.error(
                    key,
                    format!(
                        "{} hosts need {} blocks of {block_size} ports, but {n_addrs} address{} of {} ports hold{} {blocks}",
                        d.hosts,
                        d.hosts,
                        if n_addrs == 1 { "" } else { "es" },
                        range.len(),
                        if n_addrs == 1 { "s" } else { "" }
                    ),
                ));
            }
            (AllocatorConfig::PortBlock(cfg), mapping, timeouts)
        }
        _ => unreachable!("checked against NAMES"),
    };
    let timeouts = match p.table("timeouts")? {
        Some(t) => parse_timeouts(t, preset_timeouts)?,
        None => preset_timeouts,
    };
    let mapping = own_mapping.unwrap_or(match name.as_str() {
        "netfilter" | "netfilter-legacy" | "random" | "random-fully" => Mapping::PerTuple,
        _ => d.mapping.filter(|_| name == "port-block").unwrap_or(preset_mapping),
    });
    p.finish(&valid)?;
    Ok(NatAllocatorSpec { label, name, config, mapping, timeouts })
}

fn parse_expect(mut p: Params, labels: &[String]) -> Result<Vec<NatExpectation>, ParamError> {
    use crate::params::Value;
    let mut out = Vec::new();
    for key in p.keys() {
        let node = p.take(&key).expect("listed");
        match node.value {
            Value::Table(t) => {
                if !labels.contains(&key) {
                    return Err(p.error(
                        &key,
                        format!("`{key}` is neither a metric nor an allocator label ({})", labels.join(", ")),
                    ));
                }
                let mut sub = Params::new(p.path(&key), t, Some(node.span));
                for k in sub.keys() {
                    let n = sub.take(&k).expect("listed");
                    out.push(one_expectation(&sub, &k, n, Some(key.clone()))?);
                }
            }
            _ => out.push(one_expectation(&p, &key, node, None)?),
        }
    }
    Ok(out)
}

fn one_expectation(
    p: &Params,
    key: &str,
    node: crate::params::Node,
    allocator: Option<String>,
) -> Result<NatExpectation, ParamError> {
    use crate::params::Value;
    let (bound, metric) = if let Some(m) = key.strip_prefix("max_") {
        (super::Bound::AtMost, m)
    } else if let Some(m) = key.strip_prefix("min_") {
        (super::Bound::AtLeast, m)
    } else {
        (super::Bound::Exactly, key)
    };
    if !METRICS.contains(&metric) {
        return Err(p.error(
            key,
            format!(
                "`{metric}` is not a NAT metric: use one of {}, optionally with max_ or min_ in front",
                METRICS.join(", ")
            ),
        ));
    }
    let value = match node.value {
        Value::Integer(i) => i as f64,
        Value::Float(f) if f.is_finite() => f,
        other => return Err(p.error(key, format!("expected a number, found {}", other.type_str()))),
    };
    Ok(NatExpectation { allocator, metric: metric.to_string(), bound, value, key: p.path(key) })
}

fn parse_addrs(p: &mut Params) -> Result<Vec<Ipv4Addr>, ParamError> {
    let list = p.strings("addrs")?.ok_or_else(|| {
        p.error("addrs", "is required: the gateway's external addresses, e.g. [\"203.0.113.1\"]")
    })?;
    if list.is_empty() {
        return Err(p.error("addrs", "must list at least one address"));
    }
    if list.len() > MAX_NAT_ADDRS {
        return Err(p.error("addrs", format!("{} addresses: at most {MAX_NAT_ADDRS}", list.len())));
    }
    let mut out: Vec<Ipv4Addr> = Vec::new();
    for (text, span) in list {
        let at = |message: String| ParamError { key: p.path("addrs"), span: Some(span.clone()), message };
        let a: Ipv4Addr = text.parse().map_err(|_| at(format!("`{text}` is not an IPv4 address")))?;
        if u32::from(a) >> 22 == u32::from(Ipv4Addr::new(100, 64, 0, 0)) >> 22 {
            return Err(at(format!(
                "`{text}` is in 100.64.0.0/10, where portsim numbers the inside hosts: use a public or documentation address"
            )));
        }
        if out.contains(&a) {
            return Err(at(format!("`{text}` is listed twice")));
        }
        out.push(a);
    }
    Ok(out)
}

fn parse_pooling(p: &mut Params) -> Result<Option<Pooling>, ParamError> {
    if !p.has("pooling") {
        return Ok(None);
    }
    Ok(Some(match p.choice("pooling", &["arbitrary", "paired"])? {
        "paired" => Pooling::Paired,
        _ => Pooling::Arbitrary,
    }))
}

fn parse_mapping(p: &mut Params) -> Result<Option<Mapping>, ParamError> {
    if !p.has("mapping") {
        return Ok(None);
    }
    Ok(Some(match p.choice("mapping", &["per-tuple", "endpoint-independent"])? {
        "endpoint-independent" => Mapping::EndpointIndependent,
        _ => Mapping::PerTuple,
    }))
}

fn parse_timeouts(mut p: Params, base: Timeouts) -> Result<Timeouts, ParamError> {
    let t = Timeouts {
        time_wait: p.duration("time_wait")?.unwrap_or(base.time_wait),
        close: p.duration("close")?.unwrap_or(base.close),
        udp: p.duration("udp")?.unwrap_or(base.udp),
        udp_stream: p.duration("udp_stream")?.unwrap_or(base.udp_stream),
    };
    p.finish(&["time_wait", "close", "udp", "udp_stream"])?;
    Ok(t)
}

fn parse_range(p: &mut Params, key: &str) -> Result<Option<PortRange>, ParamError> {
    match p.string(key)? {
        Some(text) => PortRange::parse(&text).map(Some).map_err(|e| p.error(key, e)),
        None => Ok(None),
    }
}
