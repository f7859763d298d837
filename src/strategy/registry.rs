//! Strategies by name: what each is, its aliases and parameters, and how a scenario's table of
//! parameters becomes a validated [`StrategyConfig`].

use super::*;
use crate::params::{ParamError, Params};
use rand::SeedableRng;
use std::hash::Hasher;

/// One parameter of a strategy, as `portsim strategies` lists it.
#[derive(Clone, Copy, Debug)]
pub struct ParamInfo {
    pub name: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// A strategy as the registry knows it.
#[derive(Debug)]
pub struct StrategyInfo {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
    pub summary: &'static str,
    pub params: &'static [ParamInfo],
    parse: fn(&mut Params) -> Result<StrategyConfig, ParamError>,
}

/// A strategy with every parameter validated and defaulted: what a run is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyConfig {
    Bsd(BsdConfig),
    RandomStart,
    RandomPick,
    Hash(HashConfig),
    DoubleHash(DoubleHashConfig),
    RandomIncrements(RandomIncrementsConfig),
    Linux(LinuxConfig),
    Linux512(Linux512Config),
    LinuxLegacy(LinuxLegacyConfig),
    FreeBsd(FreeBsdConfig),
    FreeBsd12(FreeBsd12Config),
    OpenBsd,
    NetBsd(NetBsdConfig),
    MacOs(MacOsConfig),
    Windows,
}

/// What an OS profile brings: the system's defaults for the settings a scenario may also set.
/// `None` leaves the scenario's value, or portsim's default, in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsDefaults {
    pub range: Option<crate::stack::PortRange>,
    pub scope: Option<crate::stack::Scope>,
    pub time_wait: Option<Nanos>,
    pub tw_reuse: Option<crate::stack::TwReuse>,
    /// TIME_WAIT toward on-link destinations and from 127.0.0.1, when the system shortens it
    /// there (NetBSD); `time_wait` applies to both otherwise.
    pub time_wait_classes: Option<(Nanos, Nanos)>,
    /// The TIME_WAIT timer runs on a Linux timer wheel with this `CONFIG_HZ`.
    pub hz: Option<u32>,
    pub bind_conflict: Option<crate::stack::BindConflict>,
}

/// A strategy as a scenario lists it: the label it is reported under and its configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategySpec {
    pub label: String,
    pub config: StrategyConfig,
}

impl StrategyConfig {
    /// The canonical registry name.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyConfig::Bsd(_) => "bsd",
            StrategyConfig::RandomStart => "random-start",
            StrategyConfig::RandomPick => "random-pick",
            StrategyConfig::Hash(_) => "hash",
            StrategyConfig::DoubleHash(_) => "double-hash",
            StrategyConfig::RandomIncrements(_) => "random-increments",
            StrategyConfig::Linux(_) => "linux",
            StrategyConfig::Linux512(_) => "linux-5.12",
            StrategyConfig::LinuxLegacy(_) => "linux-legacy",
            StrategyConfig::FreeBsd(_) => "freebsd",
            StrategyConfig::FreeBsd12(_) => "freebsd-12",
            StrategyConfig::OpenBsd => "openbsd",
            StrategyConfig::NetBsd(_) => "netbsd",
            StrategyConfig::MacOs(_) => "macos",
            StrategyConfig::Windows => "windows",
        }
    }

    /// The OS profile's defaults (`operating-systems.md` §0); the RFC algorithms bring none.
    pub fn os_defaults(&self) -> OsDefaults {
        use crate::stack::BindConflict;
        use crate::stack::{PortRange, Scope, TwReuse};
        let os = |range: PortRange, scope, time_wait_s: u64, tw_reuse| OsDefaults {
            range: Some(range),
            scope: Some(scope),
            time_wait: Some(time_wait_s * crate::time::NANOS_PER_SEC),
            tw_reuse: Some(tw_reuse),
            time_wait_classes: None,
            hz: None,
            // Local-port and host-wide scopes hold a bound port for everyone anyway.
            bind_conflict: Some(BindConflict::AddressPort),
        };
        let linux = |range, tw_reuse| OsDefaults {
            hz: Some(crate::scenario::DEFAULT_HZ),
            bind_conflict: Some(BindConflict::Port),
            ..os(range, Scope::FourTuple, 60, tw_reuse)
        };
        let range = |lo, hi| PortRange::new(lo, hi).expect("a valid built-in range");
        match self {
            StrategyConfig::Bsd(_)
            | StrategyConfig::RandomStart
            | StrategyConfig::RandomPick
            | StrategyConfig::Hash(_)
            | StrategyConfig::DoubleHash(_)
            | StrategyConfig::RandomIncrements(_) => OsDefaults::default(),
            // ip_local_port_range 32768-60999, TCP_TIMEWAIT_LEN 60 s, tcp_tw_reuse 2.
            StrategyConfig::Linux(_) | StrategyConfig::Linux512(_) => {
                linux(PortRange::LINUX, TwReuse::Loopback)
            }
            StrategyConfig::LinuxLegacy(c) => match c.era {
                // tcp_tw_reuse = 2 became the default in 2018, within this era (operating-systems.md
                // §1.6): the defaults are those of its later kernels, up to 5.11.
                LegacyEra::V4_6 => linux(PortRange::LINUX, TwReuse::Loopback),
                // Before 4.6 the range was 32768-61000, and tcp_tw_reuse defaulted to 0.
                LegacyEra::V3 => linux(range(32768, 61000), TwReuse::Off),
            },
            // portrange.first/last 10000-65535, 2 x msl 30 s, no tw_reuse; in_pcb_lport_dest()
            // checks the whole 4-tuple without wildcards, bound sockets included.
            StrategyConfig::FreeBsd(_) => OsDefaults {
                bind_conflict: Some(BindConflict::FourTuple),
                ..os(range(10000, 65535), Scope::FourTuple, 60, TwReuse::Off)
            },
            // FreeBSD <= 12: in_pcbconnect_setup() binds through in_pcbbind_setup() while the
            // local address is still INADDR_ANY, and in_pcblookup_local(..., INPLOOKUP_WILDCARD)
            // then matches the port on every address: host-wide.
            StrategyConfig::FreeBsd12(_) => os(range(10000, 65535), Scope::HostWide, 60, TwReuse::Off),
            // ipport_firstauto/lastauto 1024-49151, TCPTV_MSL 30 s.
            StrategyConfig::OpenBsd => os(range(1024, 49151), Scope::LocalPort, 60, TwReuse::Off),
            // anonportmin/max 49152-65535; TIME_WAIT = 2 x t_msl, which tcp_established()
            // (sys/netinet/tcp_subr.c) sets by destination while tcp_msl_enable: tcp_msl_loop 1 s
            // from 127.0.0.1, tcp_msl_local 5 s toward an in_localaddr() destination,
            // tcp_msl_remote = TCPTV_MSL 30 s otherwise. The scope depends on the algorithm.
            StrategyConfig::NetBsd(c) => OsDefaults {
                time_wait_classes: Some((10 * crate::time::NANOS_PER_SEC, 2 * crate::time::NANOS_PER_SEC)),
                ..os(PortRange::IANA, super::netbsd::scope_of(c.algorithm), 60, TwReuse::Off)
            },
            // XNU: TCPTV_MSL = 15 s (bsd/netinet/tcp_timer.h, net.inet.tcp.msl = 15000), so
            // TIME_WAIT is 2 x 15 = 30 s. in_pcbconnect() calls in_pcbbind() with the local
            // address still INADDR_ANY: host-wide.
            StrategyConfig::MacOs(_) => os(PortRange::IANA, Scope::HostWide, 30, TwReuse::Off),
            // Vista+: dynamic range 49152-65535, TcpTimedWaitDelay 120 s.
            StrategyConfig::Windows => os(PortRange::IANA, Scope::LocalPort, 120, TwReuse::Off),
        }
    }

    /// Builds the strategy with its own RNG.
    pub fn build(&self, mut rng: StrategyRng) -> Box<dyn PortSelector> {
        match *self {
            StrategyConfig::Bsd(c) => Box::new(Bsd::new(c, rng)),
            StrategyConfig::RandomStart => Box::new(RandomStart::new(rng)),
            StrategyConfig::RandomPick => Box::new(RandomPick::new(rng)),
            StrategyConfig::Hash(c) => Box::new(HashBased::new(c, &mut rng)),
            StrategyConfig::DoubleHash(c) => Box::new(DoubleHash::new(c, rng)),
            StrategyConfig::RandomIncrements(c) => Box::new(RandomIncrements::new(c, rng)),
            StrategyConfig::Linux(c) => Box::new(Linux::new(c, rng)),
            StrategyConfig::Linux512(c) => Box::new(Linux512::new(c, rng)),
            StrategyConfig::LinuxLegacy(c) => Box::new(LinuxLegacy::new(c, rng)),
            StrategyConfig::FreeBsd(c) => {
                let draw = if c.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
                Box::new(PcbScan::new(draw, rng))
            }
            StrategyConfig::FreeBsd12(c) => {
                let draw = if c.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
                Box::new(PcbScan::with_fallback(draw, c.randomcps, c.randomtime, rng))
            }
            StrategyConfig::OpenBsd => Box::new(PcbScan::new(StartDraw::Uniform, rng)),
            StrategyConfig::NetBsd(c) => Box::new(NetBsd::new(c, rng)),
            // XNU's sequential `++lastport` from a zeroed global is exactly the traditional BSD
            // counter counting up from `first`.
            StrategyConfig::MacOs(c) if !c.randomize_ports => Box::new(Bsd::new(BsdConfig::default(), rng)),
            StrategyConfig::MacOs(_) => Box::new(PcbScan::new(StartDraw::Modulo16, rng)),
            StrategyConfig::Windows => Box::new(Bsd::new(BsdConfig::default(), rng)),
        }
    }

    /// The effective parameters, as `summary.json` records them.
    pub fn settings(&self) -> serde_json::Value {
        let v = match self {
            StrategyConfig::Bsd(c) => serde_json::to_value(c),
            StrategyConfig::RandomStart | StrategyConfig::RandomPick => Ok(serde_json::json!({})),
            StrategyConfig::Hash(c) => serde_json::to_value(HashSettings::from(c)),
            StrategyConfig::DoubleHash(c) => serde_json::to_value(DoubleHashSettings::from(c)),
            StrategyConfig::RandomIncrements(c) => serde_json::to_value(c),
            StrategyConfig::Linux(c) => Ok(serde_json::json!({
                "table_length": c.table_length,
                "rekey_period": period_text(c.rekey_period),
                "hash": c.hash,
                "so_reuseaddr": c.so_reuseaddr,
            })),
            StrategyConfig::Linux512(c) => serde_json::to_value(c),
            StrategyConfig::LinuxLegacy(c) => serde_json::to_value(c),
            StrategyConfig::FreeBsd(c) => serde_json::to_value(c),
            StrategyConfig::FreeBsd12(c) => serde_json::to_value(c),
            StrategyConfig::OpenBsd => Ok(serde_json::json!({})),
            StrategyConfig::NetBsd(c) => serde_json::to_value(c),
            StrategyConfig::MacOs(c) => serde_json::to_value(c),
            StrategyConfig::Windows => Ok(serde_json::json!({ "assumption": WINDOWS_ASSUMPTION })),
        };
        v.unwrap_or(serde_json::Value::Null)
    }
}

/// What the `windows` profile assumes, in its summary and in `summary.json`.
pub const WINDOWS_ASSUMPTION: &str =
    "selection order not documented by Microsoft: modelled as one global counter, +1 per candidate";

/// A boolean parameter (`true` / `false`).
fn flag(p: &mut Params, key: &str, default: bool) -> Result<bool, ParamError> {
    match p.take(key) {
        None => Ok(default),
        Some(crate::params::Node { value: crate::params::Value::Boolean(b), .. }) => Ok(b),
        Some(n) => Err(p.error(key, format!("must be true or false, not a {}", n.value.type_str()))),
    }
}

/// A table length that must be a power of two in `1..=max`.
fn power_of_two(p: &mut Params, key: &str, default: u64, max: u64) -> Result<u32, ParamError> {
    let v = p.u64_in(key, default, 1, max)?;
    if !v.is_power_of_two() {
        return Err(
            p.error(key, format!("{v} is not a power of two (the kernel masks the hash with length - 1)"))
        );
    }
    Ok(v as u32)
}

/// Periods are written as the scenario writes them ("10s", "none").
fn period_text(p: Option<Nanos>) -> String {
    p.map_or_else(|| "none".to_string(), crate::time::format_duration)
}

#[derive(serde::Serialize)]
struct HashSettings {
    next_ephemeral_init: &'static str,
    hash: HashFn,
    rekey_period: String,
}

impl From<&HashConfig> for HashSettings {
    fn from(c: &HashConfig) -> Self {
        HashSettings {
            next_ephemeral_init: if c.random_init { "random" } else { "zero" },
            hash: c.hash,
            rekey_period: period_text(c.rekey_period),
        }
    }
}

#[derive(serde::Serialize)]
struct DoubleHashSettings {
    table_length: u32,
    entry_width: EntryWidth,
    increment: Increment,
    index: IndexSource,
    hash: HashFn,
    rekey_period: String,
}

impl From<&DoubleHashConfig> for DoubleHashSettings {
    fn from(c: &DoubleHashConfig) -> Self {
        DoubleHashSettings {
            table_length: c.table_length,
            entry_width: c.entry_width,
            increment: c.increment,
            index: c.index,
            hash: c.hash,
            rekey_period: period_text(c.rekey_period),
        }
    }
}

const HASH_PARAM: ParamInfo = ParamInfo {
    name: "hash",
    default: "siphash24",
    help: "keyed hash for F() and G(): siphash24 or siphash13 (128-bit key from the strategy's RNG)",
};
const REKEY_PARAM: ParamInfo = ParamInfo {
    name: "rekey_period",
    default: "none",
    help: "re-key the hash every period (\"10s\" is Linux's), or \"none\"",
};

/// Every strategy, in the order `portsim strategies` lists them.
pub static STRATEGIES: &[StrategyInfo] = &[
    StrategyInfo {
        name: "bsd",
        aliases: &["sequential"],
        summary: "traditional BSD: one global counter, one port per candidate, wrapping (RFC 6056 §2.2)",
        params: &[
            ParamInfo {
                name: "start",
                default: "first",
                help: "initial next_ephemeral: first (min counting up, max counting down) or random",
            },
            ParamInfo { name: "direction", default: "up", help: "up (+1, macOS) or down (-1, NetBSD)" },
        ],
        parse: |p| {
            let start = match p.choice("start", &["first", "random"])? {
                "random" => Start::Random,
                _ => Start::First,
            };
            let direction = match p.choice("direction", &["up", "down"])? {
                "down" => Direction::Down,
                _ => Direction::Up,
            };
            Ok(StrategyConfig::Bsd(BsdConfig { start, direction }))
        },
    },
    StrategyInfo {
        name: "random-start",
        aliases: &["alg1", "simple-random"],
        summary: "RFC 6056 Algorithm 1: random start, then a +1 linear scan (biased after runs of busy ports)",
        params: &[],
        parse: |_| Ok(StrategyConfig::RandomStart),
    },
    StrategyInfo {
        name: "random-pick",
        aliases: &["alg2"],
        summary: "RFC 6056 Algorithm 2: a fresh random draw for every candidate, at most n draws",
        params: &[],
        parse: |_| Ok(StrategyConfig::RandomPick),
    },
    StrategyInfo {
        name: "hash",
        aliases: &["alg3"],
        summary: "RFC 6056 Algorithm 3: keyed-hash offset per destination plus one global counter",
        params: &[
            ParamInfo {
                name: "next_ephemeral_init",
                default: "zero",
                help: "initial global counter: zero or random",
            },
            HASH_PARAM,
            REKEY_PARAM,
        ],
        parse: |p| {
            Ok(StrategyConfig::Hash(HashConfig {
                random_init: p.choice("next_ephemeral_init", &["zero", "random"])? == "random",
                hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
                rekey_period: p.optional_period("rekey_period")?,
            }))
        },
    },
    StrategyInfo {
        name: "double-hash",
        aliases: &["alg4"],
        summary: "RFC 6056 Algorithm 4: hash offset plus a table of TABLE_LENGTH counters chosen by a second hash",
        params: &[
            ParamInfo {
                name: "table_length",
                default: "10",
                help: "number of counters, 1 to 16777216 (Linux: 256 in 5.12, 65536 since 5.18)",
            },
            ParamInfo {
                name: "entry_width",
                default: "16",
                help: "bits per counter: 16 (the RFC's short integers) or 32 (Linux)",
            },
            ParamInfo {
                name: "increment",
                default: "rfc",
                help: "rfc (+1 per candidate), linux-5.12 (i + 2 after a success at position i), linux (max(i, 2*rand(0..7)) + 2)",
            },
            ParamInfo {
                name: "index",
                default: "independent",
                help: "table index from: independent (G with its own key), same-hash (other bits of F, Linux), xor-offset (XOR of the offset's bytes)",
            },
            HASH_PARAM,
            REKEY_PARAM,
        ],
        parse: |p| {
            let table_length = p.u64_in("table_length", 10, 1, 1 << 24)? as u32;
            let entry_width = match p.choice("entry_width", &["16", "32"])? {
                "32" => EntryWidth::Bits32,
                _ => EntryWidth::Bits16,
            };
            let increment = match p.choice("increment", &["rfc", "linux-5.12", "linux"])? {
                "linux-5.12" => Increment::Linux512,
                "linux" => Increment::Linux,
                _ => Increment::Rfc,
            };
            let index = match p.choice("index", &["independent", "same-hash", "xor-offset"])? {
                "same-hash" => IndexSource::SameHash,
                "xor-offset" => IndexSource::XorOffset,
                _ => IndexSource::Independent,
            };
            Ok(StrategyConfig::DoubleHash(DoubleHashConfig {
                table_length,
                entry_width,
                increment,
                index,
                hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
                rekey_period: p.optional_period("rekey_period")?,
            }))
        },
    },
    StrategyInfo {
        name: "random-increments",
        aliases: &["alg5"],
        summary: "RFC 6056 Algorithm 5: one counter advanced by a random 1..N per candidate",
        params: &[
            ParamInfo {
                name: "n",
                default: "500",
                help: "the RFC's N: increments are uniform in 1..N (1 to 65535)",
            },
            ParamInfo {
                name: "termination",
                default: "rfc6056",
                help: "rfc6056 (give up after num_ephemeral candidates) or one-pass (RFC 9415: after the increments sum to num_ephemeral)",
            },
        ],
        parse: |p| {
            Ok(StrategyConfig::RandomIncrements(RandomIncrementsConfig {
                n: p.u64_in("n", 500, 1, 65535)? as u32,
                termination: match p.choice("termination", &["rfc6056", "one-pass"])? {
                    "one-pass" => Termination::OnePass,
                    _ => Termination::Rfc6056,
                },
            }))
        },
    },
    StrategyInfo {
        name: "linux",
        aliases: &[],
        summary: "Linux >= 5.18 connect(): Algorithm 4 with a 2^16 table of u32 counters, 64-bit SipHash of (saddr, daddr, dport, 10 s window), even/odd parity passes, counter += max(i, 2*rand(0..7)) + 2; bind(0) takes odd ports",
        params: &[
            ParamInfo {
                name: "table_length",
                default: "65536",
                help: "table_perturb[] entries, a power of two (1 << CONFIG_INET_TABLE_PERTURB_ORDER)",
            },
            ParamInfo {
                name: "rekey_period",
                default: "10s",
                help: "the hash-input window, EPHEMERAL_PORT_SHUFFLE_PERIOD (\"none\" for no re-keying)",
            },
            HASH_PARAM,
            ParamInfo {
                name: "so_reuseaddr",
                default: "false",
                help: "bind(0) sockets set SO_REUSEADDR: search the lower half of the range first",
            },
        ],
        parse: |p| {
            let table_length = power_of_two(p, "table_length", 1 << 16, 1 << 24)?;
            let rekey_period = if p.has("rekey_period") {
                p.optional_period("rekey_period")?
            } else {
                Some(super::linux::SHUFFLE_PERIOD)
            };
            Ok(StrategyConfig::Linux(LinuxConfig {
                table_length,
                rekey_period,
                hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
                so_reuseaddr: flag(p, "so_reuseaddr", false)?,
            }))
        },
    },
    StrategyInfo {
        name: "linux-5.12",
        aliases: &[],
        summary: "Linux 5.12-5.17 connect(): Algorithm 4 with 256 counters indexed by hash_32() of a 32-bit hash, counter += i + 2 (skip one candidate in 1/16 of first-try successes), no re-keying",
        params: &[
            ParamInfo {
                name: "table_length",
                default: "256",
                help: "table_perturb[] entries, a power of two",
            },
            HASH_PARAM,
            ParamInfo {
                name: "skip_one_in",
                default: "16",
                help: "after a first-try success skip the next candidate with probability 1/N (c579bd1b4021); 0 = never",
            },
        ],
        parse: |p| {
            Ok(StrategyConfig::Linux512(Linux512Config {
                table_length: power_of_two(p, "table_length", 256, 1 << 24)?,
                hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
                skip_one_in: p.u64_in("skip_one_in", 16, 0, 1 << 16)? as u32,
            }))
        },
    },
    StrategyInfo {
        name: "linux-legacy",
        aliases: &[],
        summary: "Linux <= 5.11 connect(): Algorithm 3 with one shared hint; era 4.6 (to 5.11): parity passes, hint += i + 2; era 3.x: one pass, hint += i, range 32768-61000",
        params: &[
            ParamInfo {
                name: "era",
                default: "4.6",
                help: "4.6 (4.6-5.11; defaults as after 2018: tw_reuse loopback) or 3.x (before 4.6: range 32768-61000, tw_reuse off)",
            },
            HASH_PARAM,
        ],
        parse: |p| {
            let era = match p.choice("era", &["4.6", "3.x"])? {
                "3.x" => LegacyEra::V3,
                _ => LegacyEra::V4_6,
            };
            Ok(StrategyConfig::LinuxLegacy(LinuxLegacyConfig {
                era,
                hash: HashFn::parse(p.choice("hash", HashFn::NAMES)?),
            }))
        },
    },
    StrategyInfo {
        name: "freebsd",
        aliases: &[],
        summary: "current FreeBSD (13.x on, believed) in_pcb_lport_dest(): start = first + arc4random() % (last - first), then ++lastport with wrap; four-tuple scope",
        params: &[ParamInfo {
            name: "randomized",
            default: "true",
            help: "net.inet.ip.portrange.randomized; false = sequential ++lastport",
        }],
        parse: |p| Ok(StrategyConfig::FreeBsd(FreeBsdConfig { randomized: flag(p, "randomized", true)? })),
    },
    StrategyInfo {
        name: "freebsd-12",
        aliases: &[],
        summary: "FreeBSD <= 12 in_pcb_lport(): as freebsd, but sequential while ipport_tick() sees more than randomcps allocations a second, until randomtime quiet seconds; local-port scope",
        params: &[
            ParamInfo { name: "randomized", default: "true", help: "net.inet.ip.portrange.randomized" },
            ParamInfo {
                name: "randomcps",
                default: "10",
                help: "more allocations than this in one second switch to sequential",
            },
            ParamInfo {
                name: "randomtime",
                default: "45",
                help: "quiet seconds (at most randomcps allocations each) before random allocation resumes",
            },
        ],
        parse: |p| {
            Ok(StrategyConfig::FreeBsd12(FreeBsd12Config {
                randomized: flag(p, "randomized", true)?,
                randomcps: p.u64_in("randomcps", 10, 0, u64::from(u32::MAX))? as u32,
                randomtime: p.u64_in("randomtime", 45, 0, u64::from(u32::MAX))? as u32,
            }))
        },
    },
    StrategyInfo {
        name: "openbsd",
        aliases: &[],
        summary: "OpenBSD in_pcbpickport(): start = lower + arc4random_uniform(higher - lower), then ++ with wrap; local-port scope",
        params: &[],
        parse: |_| Ok(StrategyConfig::OpenBsd),
    },
    StrategyInfo {
        name: "netbsd",
        aliases: &[],
        summary: "NetBSD portalgo.c: the six selectable RFC 6056 algorithms with NetBSD's 16-bit state (default bsd, counting down from the top); local-port scope",
        params: &[
            ParamInfo {
                name: "algorithm",
                default: "bsd",
                help: "bsd, random_start, random_pick, hash, doublehash or randinc (net.inet.ip.anonportalgo.selected)",
            },
            ParamInfo {
                name: "per_call_secret",
                default: "false",
                help: "Fhash() draws a fresh secret on every call, as NetBSD's code does (hash and doublehash lose their per-destination offset)",
            },
            ParamInfo {
                name: "n",
                default: "500",
                help: "randinc's N: increments are uniform in 1..N (1 to 65535)",
            },
            ParamInfo {
                name: "table_length",
                default: "8",
                help: "doublehash's dhtable[] entries (1 to 255)",
            },
        ],
        parse: |p| {
            let algorithm = NetBsdAlgorithm::parse(p.choice("algorithm", NetBsdAlgorithm::NAMES)?)
                .expect("choice() returns one of NAMES");
            Ok(StrategyConfig::NetBsd(NetBsdConfig {
                algorithm,
                per_call_secret: flag(p, "per_call_secret", false)?,
                n: p.u64_in("n", 500, 1, 65535)? as u16,
                table_length: p.u64_in("table_length", 8, 1, 255)? as u8,
            }))
        },
    },
    StrategyInfo {
        name: "macos",
        aliases: &[],
        summary: "macOS / XNU in_pcbbind(): sequential ++lastport from one global counter, wrapping to first (randomize_ports = 0); local-port scope, TIME_WAIT 2 x 15 s",
        params: &[ParamInfo {
            name: "randomize_ports",
            default: "false",
            help: "net.inet.tcp.randomize_ports: start at first + random16 % (last - first)",
        }],
        parse: |p| {
            Ok(StrategyConfig::MacOs(MacOsConfig { randomize_ports: flag(p, "randomize_ports", false)? }))
        },
    },
    StrategyInfo {
        name: "windows",
        aliases: &[],
        summary: "Windows Vista+ (ASSUMPTION: the selection order is not documented; modelled as one global counter, +1 per candidate): range 49152-65535, local-port scope, TIME_WAIT 120 s",
        params: &[],
        parse: |_| Ok(StrategyConfig::Windows),
    },
];

/// Finds a strategy by its name or one of its aliases.
pub fn lookup(name: &str) -> Option<&'static StrategyInfo> {
    STRATEGIES.iter().find(|s| s.name == name || s.aliases.contains(&name))
}

/// Every accepted name, with aliases, for error messages.
pub fn valid_names() -> String {
    STRATEGIES
        .iter()
        .map(|s| {
            if s.aliases.is_empty() {
                s.name.to_string()
            } else {
                format!("{} ({})", s.name, s.aliases.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl StrategyInfo {
    /// Reads this strategy's parameters from `params`, leaving other keys for the caller.
    pub fn configure_partial(&self, params: &mut Params) -> Result<StrategyConfig, ParamError> {
        (self.parse)(params)
    }

    /// Reads this strategy's parameters from `params`; any key left over is an error.
    pub fn configure(&self, mut params: Params) -> Result<StrategyConfig, ParamError> {
        let cfg = (self.parse)(&mut params)?;
        let names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
        params.finish(&names)?;
        Ok(cfg)
    }
}

/// Resolves `name` and reads its parameters: the one way a strategy comes from configuration.
pub fn configure(name: &str, params: Params) -> Result<StrategyConfig, ParamError> {
    match lookup(name) {
        Some(info) => info.configure(params),
        None => Err(ParamError {
            key: params.path("name"),
            span: None,
            message: format!("unknown strategy `{name}`; valid strategies: {}", valid_names()),
        }),
    }
}

/// The RNG of the strategy reported as `label` in a run seeded with `seed`. Derived from the
/// label, not the strategy's position, so `--only` and reordering leave every stream unchanged.
pub fn strategy_rng(seed: u64, label: &str) -> StrategyRng {
    let mut h = siphasher::sip::SipHasher24::new_with_keys(0x706f_7274_7369_6d00, seed);
    h.write(b"strategy:");
    h.write(label.as_bytes());
    StrategyRng::seed_from_u64(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_resolve() {
        for (name, canonical) in [
            ("sequential", "bsd"),
            ("alg1", "random-start"),
            ("simple-random", "random-start"),
            ("alg2", "random-pick"),
            ("alg3", "hash"),
            ("alg4", "double-hash"),
            ("alg5", "random-increments"),
        ] {
            let cfg = configure(name, Params::empty("s")).unwrap();
            assert_eq!(cfg.name(), canonical);
        }
    }

    #[test]
    fn unknown_names_and_parameters_are_errors_that_list_the_valid_ones() {
        let e = configure("lunix", Params::empty("strategies[0]")).unwrap_err();
        assert_eq!(e.key, "strategies[0].name");
        assert!(e.message.starts_with("unknown strategy `lunix`; valid strategies: bsd (sequential), "));
        let p = Params::from_toml("strategies[1]", "table_lenght = 3").unwrap();
        let e = configure("double-hash", p).unwrap_err();
        assert_eq!(e.key, "strategies[1].table_lenght");
        assert!(
            e.message.contains("valid keys: table_length, entry_width, increment, index, hash, rekey_period")
        );
    }

    #[test]
    fn defaults_are_the_rfc_values() {
        let cfg = configure("double-hash", Params::empty("s")).unwrap();
        assert_eq!(cfg, StrategyConfig::DoubleHash(DoubleHashConfig::default()));
        assert_eq!(DoubleHashConfig::default().table_length, 10);
        let cfg = configure("alg5", Params::empty("s")).unwrap();
        assert_eq!(cfg.settings(), serde_json::json!({"n": 500, "termination": "rfc6056"}));
    }

    #[test]
    fn every_listed_parameter_is_accepted() {
        for info in STRATEGIES {
            for p in info.params {
                let text = format!("{} = {}", p.name, toml_literal(p.default));
                let params = Params::from_toml("s", &text).unwrap();
                info.configure(params)
                    .unwrap_or_else(|e| panic!("{}: default of {} rejected: {e}", info.name, p.name));
            }
        }
    }

    #[test]
    fn listed_defaults_are_the_defaults() {
        for info in STRATEGIES {
            let text: Vec<String> =
                info.params.iter().map(|p| format!("{} = {}", p.name, toml_literal(p.default))).collect();
            let explicit = info.configure(Params::from_toml("s", &text.join("\n")).unwrap()).unwrap();
            assert_eq!(explicit, info.configure(Params::empty("s")).unwrap(), "{}", info.name);
        }
    }

    #[test]
    fn os_profiles_default_to_the_kernels_values() {
        use crate::stack::{Scope, TwReuse};
        let s = crate::time::NANOS_PER_SEC;
        let expect = [
            ("linux", "32768-60999", Scope::FourTuple, 60, TwReuse::Loopback),
            ("linux-5.12", "32768-60999", Scope::FourTuple, 60, TwReuse::Loopback),
            ("linux-legacy", "32768-60999", Scope::FourTuple, 60, TwReuse::Loopback),
            ("freebsd", "10000-65535", Scope::FourTuple, 60, TwReuse::Off),
            ("freebsd-12", "10000-65535", Scope::HostWide, 60, TwReuse::Off),
            ("openbsd", "1024-49151", Scope::LocalPort, 60, TwReuse::Off),
            ("netbsd", "49152-65535", Scope::HostWide, 60, TwReuse::Off),
            ("macos", "49152-65535", Scope::HostWide, 30, TwReuse::Off),
            ("windows", "49152-65535", Scope::LocalPort, 120, TwReuse::Off),
        ];
        for (name, range, scope, tw, reuse) in expect {
            let d = configure(name, Params::empty("s")).unwrap().os_defaults();
            assert_eq!(d.range.unwrap().to_string(), range, "{name}");
            assert_eq!(
                (d.scope, d.time_wait, d.tw_reuse),
                (Some(scope), Some(tw * s), Some(reuse)),
                "{name}"
            );
        }
        let old = configure("linux-legacy", Params::from_toml("s", "era = \"3.x\"").unwrap()).unwrap();
        assert_eq!(old.os_defaults().range.unwrap().to_string(), "32768-61000");
        assert_eq!(old.os_defaults().tw_reuse, Some(TwReuse::Off));
        assert_eq!(configure("alg4", Params::empty("s")).unwrap().os_defaults(), OsDefaults::default());
    }

    #[test]
    fn os_profile_parameters_are_checked() {
        let bad =
            |name: &str, text: &str| configure(name, Params::from_toml("s", text).unwrap()).unwrap_err();
        let e = bad("linux", "table_length = 1000");
        assert!(e.message.contains("not a power of two"), "{e}");
        let e = bad("netbsd", "per_call_secret = \"yes\"");
        assert_eq!(e.key, "s.per_call_secret");
        assert!(e.message.contains("true or false"), "{e}");
        let e = bad("netbsd", "algorithm = \"random-start\"");
        assert!(e.message.contains("random_start"), "{e}");
        let cfg = configure("linux", Params::from_toml("s", "rekey_period = \"none\"").unwrap()).unwrap();
        assert_eq!(cfg, StrategyConfig::Linux(LinuxConfig { rekey_period: None, ..LinuxConfig::default() }));
        let w = configure("windows", Params::empty("s")).unwrap();
        assert_eq!(w.settings()["assumption"], WINDOWS_ASSUMPTION);
        assert!(lookup("windows").unwrap().summary.contains("ASSUMPTION"));
    }

    fn toml_literal(default: &str) -> String {
        if default.parse::<i64>().is_ok() || default == "true" || default == "false" {
            default.to_string()
        } else {
            format!("\"{default}\"")
        }
    }

    #[test]
    fn strategy_streams_depend_on_seed_and_label_only() {
        use rand::Rng;
        let a = strategy_rng(7, "bsd").next_u64();
        assert_eq!(a, strategy_rng(7, "bsd").next_u64());
        assert_ne!(a, strategy_rng(8, "bsd").next_u64());
        assert_ne!(a, strategy_rng(7, "hash").next_u64());
    }
}
