//! Test vectors for people writing network stacks (`portsim vectors`, schema in
//! `docs/vectors.md`): for each strategy, seeded cases giving the range, the reserved and busy
//! ports, every random word the strategy drew (its keys and tables at construction, then per
//! request), each request, and the exact ports it examined and picked. A stack that implements
//! the same algorithm and feeds its RNG those words must examine and pick the same ports.
//!
//! [`replay`] checks a vector file against the strategies; the shipped file
//! (`tests/vectors/strategies.json`) is replayed by a test, so vectors and code cannot drift.

use super::registry::{Registry, StrategyConfig};
use super::{PortCheck, Request, SocketMode, TapeRng};
use crate::params::Params;
use crate::stack::{Flow, PortRange};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;

/// The schema's name and version, the file's first field.
pub const SCHEMA: &str = "portsim-vectors/1";

/// A whole vector file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VectorFile {
    /// [`SCHEMA`].
    pub schema: String,
    /// The portsim version that wrote it.
    pub portsim_version: String,
    /// One entry per strategy configuration.
    pub strategies: Vec<StrategyVectors>,
}

/// The cases of one strategy configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrategyVectors {
    /// A name for this configuration (`linux`, `linux-step-width-8`, ...).
    pub label: String,
    /// The registry name.
    pub strategy: String,
    /// The parameters set, as in a scenario's `[[strategies]]` entry; others are defaults.
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Every effective parameter, as `summary.json` records them.
    pub settings: serde_json::Value,
    /// The cases.
    pub cases: Vec<Case>,
}

/// One strategy instance, built fresh, then asked for ports in order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// What the case exercises.
    pub name: String,
    /// Seeds portsim's ChaCha8 stream the draws came from (the draws themselves are listed).
    pub seed: u64,
    /// The ephemeral range, `lo-hi` inclusive.
    pub range: String,
    /// Reserved ports (`ip_local_reserved_ports`): never suitable.
    pub reserved: Vec<u16>,
    /// Ports in use when the case starts: never suitable.
    pub busy: Vec<u16>,
    /// The words the strategy drew when it was built (keys, tables, initial counters).
    pub setup_draws: Vec<u32>,
    /// The requests, in order. A port picked stays in use for the rest of the case.
    pub requests: Vec<RequestVector>,
}

/// One `connect()` (or `bind(0)`) and what the strategy must answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RequestVector {
    /// The simulated time, in nanoseconds (re-keying strategies hash its window).
    pub time_ns: u64,
    /// The source address.
    pub local_addr: Ipv4Addr,
    /// The destination address.
    pub remote_addr: Ipv4Addr,
    /// The destination port.
    pub remote_port: u16,
    /// `connect`, `bind-then-connect` or `bind-no-port`.
    pub mode: String,
    /// The range was set on the socket (`IP_LOCAL_PORT_RANGE`).
    pub per_socket_range: bool,
    /// The words drawn during this request, in order.
    pub draws: Vec<u32>,
    /// Every port examined (passed to `check_suitable_port`), in order.
    pub probes: Vec<u16>,
    /// The port picked, or `null` for `EADDRNOTAVAIL`.
    pub port: Option<u16>,
    /// How many ports were examined (`probes.len()`).
    pub candidates: u32,
    /// The allocator gave up and handed out `port` unchecked (NetBSD's `portalgo_randport()`
    /// returns `lastport - 1` after a non-`bsd` algorithm fails): it need not be the last probe,
    /// nor suitable.
    #[serde(default)]
    pub forced: bool,
}

/// A case before it is run: everything but the answers.
struct Template {
    name: &'static str,
    seed: u64,
    range: (u16, u16),
    /// Reserved ranges, inclusive.
    reserved: &'static [(u16, u16)],
    busy: &'static [u16],
    /// (time in seconds, remote address's last octet, mode)
    requests: &'static [(u64, u8, SocketMode)],
}

const CONNECT: SocketMode = SocketMode::Connect;
const BIND: SocketMode = SocketMode::BindThenConnect;

/// The cases every strategy gets.
const TEMPLATES: &[Template] = &[
    Template {
        name: "fresh: ten free ports, six connections to one destination a second apart",
        seed: 1,
        range: (1000, 1009),
        reserved: &[],
        busy: &[],
        requests: &[
            (0, 1, CONNECT),
            (1, 1, CONNECT),
            (2, 1, CONNECT),
            (3, 1, CONNECT),
            (4, 1, CONNECT),
            (5, 1, CONNECT),
        ],
    },
    Template {
        name: "busy and reserved ports, two destinations, across 10-second windows",
        seed: 2,
        range: (1000, 1019),
        reserved: &[(1003, 1005)],
        busy: &[1000, 1001, 1010, 1011, 1012],
        requests: &[
            (0, 1, CONNECT),
            (3, 2, CONNECT),
            (9, 1, CONNECT),
            (11, 2, CONNECT),
            (25, 1, CONNECT),
            (31, 2, CONNECT),
        ],
    },
    Template {
        name: "exhaustion: four ports, one busy, five connections",
        seed: 3,
        range: (2000, 2003),
        reserved: &[],
        busy: &[2001],
        requests: &[(0, 1, CONNECT), (0, 1, CONNECT), (0, 2, CONNECT), (0, 2, CONNECT), (0, 1, CONNECT)],
    },
    Template {
        name: "bind(0) then connect, mixed with plain connect",
        seed: 4,
        range: (1000, 1009),
        reserved: &[],
        busy: &[1002],
        requests: &[(0, 1, BIND), (0, 1, CONNECT), (1, 1, BIND), (1, 2, CONNECT)],
    },
    Template {
        name: "Linux's default range with a 100-port reserved block",
        seed: 5,
        range: (32768, 60999),
        reserved: &[(40000, 40099)],
        busy: &[],
        requests: &[(0, 1, CONNECT), (0, 1, CONNECT), (0, 2, CONNECT)],
    },
];

/// Parameters the default vectors of a strategy set anyway: Linux's tables shortened to 16
/// entries, so the listed setup draws stay short.
const DEFAULT_OVERRIDES: &[(&str, &str)] =
    &[("linux", "table_length = 16"), ("linux-5.12", "table_length = 16")];

/// The variants, beyond each strategy's defaults, whose code paths the defaults do not reach:
/// (label, strategy, parameters).
const VARIANTS: &[(&str, &str, &str)] = &[
    ("bsd-down-random", "bsd", "start = \"random\"\ndirection = \"down\""),
    ("hash-random-init-rekey", "hash", "next_ephemeral_init = \"random\"\nrekey_period = \"10s\""),
    (
        "double-hash-linux-like",
        "double-hash",
        "table_length = 16\nentry_width = \"32\"\nincrement = \"linux\"\nindex = \"same-hash\"",
    ),
    ("random-increments-one-pass", "random-increments", "n = 3\ntermination = \"one-pass\""),
    ("linux-step-width-8", "linux", "table_length = 16\nstep_width = 8"),
    ("linux-legacy-3.x", "linux-legacy", "era = \"3.x\""),
    ("freebsd-12-randomcps-2", "freebsd-12", "randomcps = 2\nrandomtime = 3"),
    ("netbsd-random_start", "netbsd", "algorithm = \"random_start\""),
    ("netbsd-random_pick", "netbsd", "algorithm = \"random_pick\""),
    ("netbsd-hash", "netbsd", "algorithm = \"hash\""),
    ("netbsd-doublehash", "netbsd", "algorithm = \"doublehash\""),
    ("netbsd-randinc", "netbsd", "algorithm = \"randinc\""),
    ("macos-randomized", "macos", "randomize_ports = true"),
];

/// Every configuration vectors are made for, in `portsim strategies` order: each built-in
/// strategy with its defaults (so a new strategy has vectors without further ado), then its
/// variants.
fn configurations() -> Vec<(&'static str, &'static str, &'static str)> {
    let mut out = Vec::new();
    for info in super::registry::STRATEGIES {
        let params = DEFAULT_OVERRIDES.iter().find(|(n, _)| *n == info.name).map_or("", |(_, p)| *p);
        out.push((info.name, info.name, params));
        out.extend(VARIANTS.iter().filter(|(_, n, _)| *n == info.name));
    }
    out
}

/// Records every port a strategy examines.
struct Recording<'a> {
    unsuitable: &'a BTreeSet<u16>,
    probes: RefCell<Vec<u16>>,
}

impl PortCheck for Recording<'_> {
    fn is_suitable(&self, port: u16) -> bool {
        self.probes.borrow_mut().push(port);
        !self.unsuitable.contains(&port)
    }
}

fn config_of(registry: &Registry, strategy: &str, params: &str) -> Result<StrategyConfig, String> {
    let p = Params::from_toml(strategy, params).map_err(|e| e.to_string())?;
    registry.configure(strategy, p).map_err(|e| e.to_string())
}

/// The params of a variant as a JSON object (`params` in the file).
fn params_json(text: &str) -> serde_json::Map<String, serde_json::Value> {
    let table: toml::Table = toml::from_str(text).expect("built-in variants are valid TOML");
    match serde_json::to_value(table).expect("TOML scalars convert") {
        serde_json::Value::Object(m) => m,
        _ => unreachable!("a table is an object"),
    }
}

/// The TOML a JSON `params` object stands for (strings, integers and booleans only).
fn params_toml(params: &serde_json::Map<String, serde_json::Value>) -> String {
    params.iter().map(|(k, v)| format!("{k} = {v}\n")).collect()
}

fn run_template(config: &StrategyConfig, t: &Template) -> Result<Case, String> {
    let (rng, tape) = TapeRng::seeded(t.seed);
    let name = config.name();
    let mut selector = config.build_taped(rng).ok_or_else(|| format!("{name} cannot draw from a tape"))?;
    let setup_draws = tape.since(0);
    let range = PortRange::new(t.range.0, t.range.1).map_err(|e| e.to_string())?;
    let reserved: Vec<u16> = t.reserved.iter().flat_map(|&(lo, hi)| lo..=hi).collect();
    let mut unsuitable: BTreeSet<u16> = reserved.iter().chain(t.busy).copied().collect();
    let mut requests = Vec::new();
    for &(secs, octet, mode) in t.requests {
        let (local, remote) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, octet));
        let flow = Flow::new(local, remote, 443);
        let time_ns = secs * crate::time::NANOS_PER_SEC;
        let req = Request { flow: &flow, now: time_ns, range, mode, per_socket_range: false };
        let check = Recording { unsuitable: &unsuitable, probes: RefCell::new(Vec::new()) };
        let before = tape.len();
        let sel = selector.select(&req, &check);
        let probes = check.probes.into_inner();
        if probes.len() != sel.candidates as usize {
            return Err(format!(
                "{name}: reported {} candidates but examined {}",
                sel.candidates,
                probes.len()
            ));
        }
        if let Some(p) = sel.port {
            unsuitable.insert(p);
        }
        requests.push(RequestVector {
            time_ns,
            local_addr: local,
            remote_addr: remote,
            remote_port: 443,
            mode: mode.name().to_string(),
            per_socket_range: false,
            draws: tape.since(before),
            probes,
            port: sel.port,
            candidates: sel.candidates,
            forced: sel.forced,
        });
    }
    Ok(Case {
        name: t.name.to_string(),
        seed: t.seed,
        range: range.to_string(),
        reserved,
        busy: t.busy.to_vec(),
        setup_draws,
        requests,
    })
}

/// Makes the vectors of every built-in configuration whose strategy is `only` (a name or
/// alias), or of all of them.
pub fn generate(only: Option<&str>) -> Result<VectorFile, String> {
    let registry = Registry::builtin();
    let only = match only {
        Some(n) => Some(
            registry
                .lookup(n)
                .ok_or_else(|| {
                    format!("unknown strategy `{n}`; valid strategies: {}", registry.valid_names())
                })?
                .name,
        ),
        None => None,
    };
    let mut strategies = Vec::new();
    for (label, strategy, params) in configurations() {
        if only.is_some_and(|o| o != strategy) {
            continue;
        }
        let config = config_of(&registry, strategy, params)?;
        let cases = TEMPLATES.iter().map(|t| run_template(&config, t)).collect::<Result<_, _>>()?;
        strategies.push(StrategyVectors {
            label: label.to_string(),
            strategy: strategy.to_string(),
            params: params_json(params),
            settings: config.settings(),
            cases,
        });
    }
    Ok(VectorFile {
        schema: SCHEMA.to_string(),
        portsim_version: env!("CARGO_PKG_VERSION").to_string(),
        strategies,
    })
}

/// Replays every case of `file` against the strategies of `registry`: each must draw exactly
/// the listed words, examine exactly the listed ports and pick the listed port. Returns the
/// number of requests checked, or the first difference. Panics if a strategy draws more words
/// than its case lists.
pub fn replay(file: &VectorFile, registry: &Registry) -> Result<usize, String> {
    if file.schema != SCHEMA {
        return Err(format!("schema `{}`, expected `{SCHEMA}`", file.schema));
    }
    let mut checked = 0;
    for sv in &file.strategies {
        let config = config_of(registry, &sv.strategy, &params_toml(&sv.params))?;
        if config.settings() != sv.settings {
            return Err(format!(
                "{}: settings {} differ from the vector's {}",
                sv.label,
                config.settings(),
                sv.settings
            ));
        }
        for case in &sv.cases {
            let at = |what: String| format!("{} / {}: {what}", sv.label, case.name);
            let words = case.setup_draws.iter().chain(case.requests.iter().flat_map(|r| &r.draws)).copied();
            let (rng, tape) = TapeRng::scripted(words);
            let mut selector = config.build_taped(rng).ok_or_else(|| at("cannot draw from a tape".into()))?;
            if tape.len() != case.setup_draws.len() {
                return Err(at(format!(
                    "built with {} draws, the vector lists {}",
                    tape.len(),
                    case.setup_draws.len()
                )));
            }
            let range = PortRange::parse(&case.range).map_err(at)?;
            let mut unsuitable: BTreeSet<u16> = case.reserved.iter().chain(&case.busy).copied().collect();
            for (k, r) in case.requests.iter().enumerate() {
                let flow = Flow::new(r.local_addr, r.remote_addr, r.remote_port);
                let mode = SocketMode::parse(&r.mode).ok_or_else(|| at(format!("mode `{}`", r.mode)))?;
                let req = Request {
                    flow: &flow,
                    now: r.time_ns,
                    range,
                    mode,
                    per_socket_range: r.per_socket_range,
                };
                let check = Recording { unsuitable: &unsuitable, probes: RefCell::new(Vec::new()) };
                let before = tape.len();
                let sel = selector.select(&req, &check);
                let got =
                    (sel.port, sel.candidates, check.probes.into_inner(), tape.since(before), sel.forced);
                let want = (r.port, r.candidates, r.probes.clone(), r.draws.clone(), r.forced);
                if got != want {
                    return Err(at(format!(
                        "request {k}: got port {:?}, {} candidates, probes {:?}, draws {:?}, forced {}; the vector says {want:?}",
                        got.0, got.1, got.2, got.3, got.4
                    )));
                }
                if let Some(p) = sel.port {
                    unsuitable.insert(p);
                }
                checked += 1;
            }
        }
    }
    Ok(checked)
}

/// `portsim vectors`: the JSON to `--out` (written whole, or not at all) or stdout.
pub fn execute(args: crate::cli::VectorsArgs) -> anyhow::Result<crate::commands::Status> {
    let file = generate(args.strategy.as_deref()).map_err(anyhow::Error::msg)?;
    let mut json = serde_json::to_string_pretty(&file)?;
    json.push('\n');
    match &args.out {
        Some(path) => {
            crate::report::write_file_atomically(path, json.as_bytes())?;
            let requests: usize =
                file.strategies.iter().flat_map(|s| &s.cases).map(|c| c.requests.len()).sum();
            eprintln!(
                "wrote {} ({} configurations, {requests} requests)",
                path.display(),
                file.strategies.len()
            );
        }
        None => print!("{json}"),
    }
    Ok(crate::commands::Status::Ok)
}
