//! Scenario files: TOML in, a validated [`Scenario`] out. Nothing unvalidated reaches the
//! simulator: every key is read through [`Params`], so a typo, a wrong type or an impossible
//! value is an error naming the file, the line, the column and the key.

mod check;
mod error;
pub mod expect;
pub mod nat;
mod notes;
pub mod predict;
mod trace;
pub mod workload;

pub use check::load_all_errors;
pub use error::{ScenarioError, line_col};
pub use expect::{Bound, Expectation};
pub use notes::kernel_notes;
pub use workload::{Arrivals, DestGroup, Lifetime, Popularity, SocketSpec, Trace, TraceRow};

use crate::params::{ParamError, Params};
use crate::stack::{BindConflict, PortRange, ReservedPorts, Scope, TimeWaitTimer, TwReuse};
use crate::strategy::registry::Registry;
use crate::strategy::{StrategyConfig, StrategySpec};
use crate::time::{NANOS_PER_SEC, Nanos};
use std::net::Ipv4Addr;
use std::path::Path;

/// Defaults where neither the scenario nor an OS profile says otherwise: Linux's.
pub const DEFAULT_RANGE: PortRange = PortRange::LINUX;
pub const DEFAULT_TIME_WAIT: Nanos = 60 * NANOS_PER_SEC;
pub const DEFAULT_TW_REUSE_DELAY: Nanos = NANOS_PER_SEC;
pub const DEFAULT_REUSE_THRESHOLD: Nanos = 240 * NANOS_PER_SEC;
/// `CONFIG_HZ` where a scenario asks for the timer wheel without saying: the common distribution
/// kernels' (Debian, Ubuntu, Fedora; the 6.18 kernel portsim was checked on).
pub const DEFAULT_HZ: u32 = 250;

/// Which side closes first.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActiveClose {
    Client,
    Server,
    /// The client closes first with this probability, the server otherwise.
    ClientProbability(f64),
}

/// How a connection's local address is chosen when the host has several.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrChoice {
    /// The default: `connect()` sockets take the source address the route gives, one per
    /// destination (address `dest mod addrs`, as if the destinations were spread over one
    /// route per address); bind-then-connect and bind-no-port sockets, which name an address
    /// themselves, take them in turn.
    Route,
    /// In turn, one connection each.
    RoundRobin,
    /// Uniformly at random (from the workload's stream).
    Random,
    /// The first address; the next only when every port of the previous one is exhausted
    /// (how Azure's SNAT uses a second frontend IP).
    Fallback,
}

/// `[ports]`: unset values come from the strategy's OS profile, then from [`DEFAULT_RANGE`].
#[derive(Clone, Debug, PartialEq)]
pub struct PortSettings {
    pub range: Option<PortRange>,
    pub reserved: ReservedPorts,
    pub scope: Option<Scope>,
    pub bind_conflict: Option<BindConflict>,
}

/// `[tcp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct TcpSettings {
    pub time_wait: Option<Nanos>,
    pub active_close: ActiveClose,
    pub tw_reuse: Option<TwReuse>,
    pub tw_reuse_delay: Option<Nanos>,
    /// `"exact"` or `"wheel"` (None: the profile's).
    pub time_wait_timer: Option<TimerKind>,
    /// `CONFIG_HZ` of the wheel.
    pub hz: Option<u32>,
    pub timestamps: Option<bool>,
}

/// `time_wait_timer`: how TIME_WAIT ends, before `hz` is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    Exact,
    Wheel,
}

/// `[metrics]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricSettings {
    pub reuse_threshold: Nanos,
    /// The time-series bucket; by default the run is cut into about 200 samples.
    pub sample_interval: Option<Nanos>,
}

/// A validated scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from, for messages.
    pub origin: String,
    pub seed: u64,
    pub duration: Nanos,
    pub warmup: Nanos,
    /// What is valid but probably not meant (trace rows past `duration`): `run` and `check`
    /// print each as a warning.
    pub warnings: Vec<String>,
    pub ports: PortSettings,
    pub tcp: TcpSettings,
    pub addrs: Vec<Ipv4Addr>,
    /// Each address's interface prefix length (`"10.0.0.1/24"`), if given: what NetBSD's
    /// `in_localaddr()` calls on-link.
    pub prefixes: Vec<Option<u8>>,
    pub addr_choice: AddrChoice,
    pub destinations: Vec<DestGroup>,
    pub arrivals: Arrivals,
    pub lifetime: Option<Lifetime>,
    /// How sockets ask for ports where a destination does not say (`[workload] socket`).
    pub socket: SocketSpec,
    pub strategies: Vec<StrategySpec>,
    /// Per strategy label: the stack settings its `[[strategies]]` entry overrides.
    pub stack_overrides: std::collections::BTreeMap<String, StackOverrides>,
    pub metrics: MetricSettings,
    pub expect: Vec<Expectation>,
    /// `[predict]`: what `portsim predict` measures (defaults when the table is absent).
    pub predict: predict::PredictSettings,
    /// `[nat]`: a gateway in front of many inside hosts (`crate::nat` runs it).
    pub nat: Option<nat::NatSettings>,
}

/// `stack = { ... }` of one `[[strategies]]` entry: what it changes for that strategy alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackOverrides {
    pub range: Option<PortRange>,
    pub scope: Option<Scope>,
    pub time_wait: Option<Nanos>,
    pub tw_reuse: Option<TwReuse>,
    pub tw_reuse_delay: Option<Nanos>,
    pub time_wait_timer: Option<TimerKind>,
    pub hz: Option<u32>,
    pub bind_conflict: Option<BindConflict>,
}

/// The settings one strategy runs with, after profile defaults and scenario overrides.
#[derive(Clone, Debug, PartialEq)]
pub struct Effective {
    pub range: PortRange,
    pub scope: Scope,
    /// TIME_WAIT toward an ordinary (remote) destination.
    pub time_wait: Nanos,
    /// TIME_WAIT toward an on-link destination and from 127.0.0.1 (NetBSD's MSL classes; the
    /// same as `time_wait` on every other system).
    pub time_wait_on_link: Nanos,
    pub time_wait_loopback: Nanos,
    /// TIME_WAIT toward one of the host's own addresses (0 under FreeBSD's `nolocaltimewait`).
    pub time_wait_to_self: Nanos,
    pub timer: TimeWaitTimer,
    pub tw_reuse: TwReuse,
    pub tw_reuse_delay: Nanos,
    pub timestamps: bool,
    pub bind_conflict: BindConflict,
    /// The scenario's reserved ports and the ones the profile's kernel always skips.
    pub reserved: ReservedPorts,
}

impl Scenario {
    /// The settings `spec` runs with: what the scenario sets explicitly, else the strategy's OS
    /// profile, else Linux's defaults.
    pub fn effective(&self, spec: &StrategySpec) -> Effective {
        let os = spec.config.os_defaults();
        let own = self.stack_overrides.get(&spec.label).copied().unwrap_or_default();
        let set_time_wait = own.time_wait.or(self.tcp.time_wait);
        let time_wait = set_time_wait.or(os.time_wait).unwrap_or(DEFAULT_TIME_WAIT);
        // A TIME_WAIT the scenario sets applies to every destination class.
        let (on_link, loopback) = match (set_time_wait, os.time_wait_classes) {
            (None, Some((on_link, loopback))) => (on_link, loopback),
            _ => (time_wait, time_wait),
        };
        let hz = own.hz.or(self.tcp.hz).or(os.hz).unwrap_or(DEFAULT_HZ);
        let timer = match own.time_wait_timer.or(self.tcp.time_wait_timer) {
            Some(TimerKind::Exact) => TimeWaitTimer::Exact,
            Some(TimerKind::Wheel) => TimeWaitTimer::Wheel { hz },
            None if os.hz.is_some() => TimeWaitTimer::Wheel { hz },
            None => TimeWaitTimer::Exact,
        };
        Effective {
            range: own.range.or(self.ports.range).or(os.range).unwrap_or(DEFAULT_RANGE),
            scope: own.scope.or(self.ports.scope).or(os.scope).unwrap_or(Scope::FourTuple),
            time_wait,
            time_wait_on_link: on_link,
            time_wait_loopback: loopback,
            time_wait_to_self: if os.no_local_time_wait { 0 } else { time_wait },
            timer,
            tw_reuse: own.tw_reuse.or(self.tcp.tw_reuse).or(os.tw_reuse).unwrap_or(TwReuse::Off),
            tw_reuse_delay: own.tw_reuse_delay.or(self.tcp.tw_reuse_delay).unwrap_or(DEFAULT_TW_REUSE_DELAY),
            timestamps: self.tcp.timestamps.unwrap_or(true),
            bind_conflict: own
                .bind_conflict
                .or(self.ports.bind_conflict)
                .or(os.bind_conflict)
                .unwrap_or(BindConflict::AddressPort),
            reserved: {
                let mut r = self.ports.reserved.clone();
                os.reserved.iter().for_each(|&p| r.insert(p));
                r
            },
        }
    }

    /// Every destination, in index order.
    pub fn destination_count(&self) -> u64 {
        match &self.arrivals {
            Arrivals::Trace { trace, .. } => trace.destinations.len() as u64,
            _ => self.destinations.iter().map(|d| u64::from(d.len())).sum(),
        }
    }

    /// Adds a strategy, reported as `label`, after the scenario's own: the way a library user runs
    /// a configuration of their own next to the built-in ones.
    pub fn add_strategy(&mut self, label: &str, config: StrategyConfig) -> Result<(), String> {
        if self.strategies.iter().any(|s| s.label == label) {
            return Err(format!("two strategies are labelled `{label}`: give one a different label"));
        }
        self.strategies.push(StrategySpec { label: label.to_string(), config });
        Ok(())
    }

    /// Keeps only the strategies whose label or name is in `names`.
    pub fn retain_strategies(&mut self, names: &[String]) -> Result<(), String> {
        // A name is a label, a registry name or one of its aliases (`alg2` is random-pick).
        let matches = |n: &str, s: &StrategySpec| {
            s.label == n
                || s.config.name() == n
                || crate::strategy::registry::lookup(n).is_some_and(|info| info.name == s.config.name())
        };
        for n in names {
            if !self.strategies.iter().any(|s| matches(n, s)) {
                let have: Vec<&str> = self.strategies.iter().map(|s| s.label.as_str()).collect();
                return Err(format!(
                    "--only {n}: the scenario has no strategy `{n}` (it has {})",
                    have.join(", ")
                ));
            }
        }
        self.strategies.retain(|s| names.iter().any(|n| matches(n, s)));
        Ok(())
    }
}

/// The largest scenario file portsim reads: the biggest shipped one is a few KB.
pub const MAX_SCENARIO_BYTES: u64 = 1 << 20;

/// Reads a scenario file as a bounded stream: a regular file (not `/dev/zero`, a FIFO or a
/// folder) of at most [`MAX_SCENARIO_BYTES`], in UTF-8. Errors name the file, and the line and
/// column of the first invalid byte.
pub fn read_scenario_text(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let origin = path.display().to_string();
    let whole = |m: String| ScenarioError::whole(&origin, m);
    let meta = std::fs::metadata(path).map_err(|e| whole(format!("cannot read the scenario: {e}")))?;
    if !meta.is_file() {
        return Err(whole("cannot read the scenario: not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| whole(format!("cannot read the scenario: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| whole(format!("cannot read the scenario: {e}")))?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(whole(format!(
            "the scenario is larger than {MAX_SCENARIO_BYTES} bytes: is it the right file?"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let valid = String::from_utf8_lossy(&e.as_bytes()[..at]).into_owned();
        ScenarioError {
            origin: origin.clone(),
            position: Some(error::line_col(&valid, at)),
            key: String::new(),
            message: "the scenario is not UTF-8 text (TOML files are)".into(),
        }
    })
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with(path, &Registry::builtin())
}

/// [`load`], with the strategies of `registry` (yours added to the built-in ones).
pub fn load_with(path: &Path, registry: &Registry) -> Result<Scenario, ScenarioError> {
    let origin = path.display().to_string();
    let text = read_scenario_text(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_with(&text, &origin, base, registry)
}

/// Validates scenario text. `origin` names it in errors; relative paths in it (a trace file)
/// are taken from `base_dir`.
pub fn parse(text: &str, origin: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
    parse_with(text, origin, base_dir, &Registry::builtin())
}

/// [`parse`], with the strategies of `registry` (yours added to the built-in ones).
pub fn parse_with(
    text: &str,
    origin: &str,
    base_dir: &Path,
    registry: &Registry,
) -> Result<Scenario, ScenarioError> {
    let doc = Params::parse_document(text).map_err(|e| ScenarioError::from_param(origin, text, e))?;
    parse_params(doc, origin, base_dir, registry).map_err(|e| ScenarioError::from_param(origin, text, e))
}

/// Validates scenario text after setting each `(dotted key, value)` of `overrides` in it: the
/// way `portsim sweep` makes one scenario per point. An override that does not fit the schema
/// fails exactly as the same value written in the file would.
pub fn parse_with_overrides(
    text: &str,
    origin: &str,
    base_dir: &Path,
    overrides: &[(String, crate::params::Value)],
) -> Result<Scenario, ScenarioError> {
    let doc = Params::parse_document(text).map_err(|e| ScenarioError::from_param(origin, text, e))?;
    let span = doc.span();
    let mut table = doc.into_table();
    for (key, value) in overrides {
        crate::params::set_path(&mut table, key, value.clone()).map_err(|message| ScenarioError {
            origin: origin.to_string(),
            position: None,
            key: key.clone(),
            message,
        })?;
    }
    parse_params(Params::new("", table, span), origin, base_dir, &Registry::builtin())
        .map_err(|e| ScenarioError::from_param(origin, text, e))
}

/// Limits that keep an absurd scenario from exhausting memory or running for days.
const MAX_LOCAL_ADDRS: usize = 256;
const MAX_SAMPLES: u64 = 1_000_000;
const MAX_CONNECTIONS: f64 = 1e10;

/// How many connection attempts the arrival process makes over `duration`, on average.
fn expected_connections(arrivals: &Arrivals, duration: Nanos) -> f64 {
    let d = crate::time::secs(duration);
    match arrivals {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } => rate * d,
        Arrivals::OnOff { rate, on, off, off_rate } => {
            let (on, off) = (crate::time::secs(*on), crate::time::secs(*off));
            (rate * on + off_rate * off) / (on + off) * d
        }
        Arrivals::Ramp { from, to } => (from + to) / 2.0 * d,
        Arrivals::Trace { trace, .. } => trace.rows.len() as f64,
    }
}

/// The top-level keys, in the order DESIGN.md lists them.
const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "seed",
    "duration",
    "warmup",
    "ports",
    "tcp",
    "host",
    "destinations",
    "workload",
    "strategies",
    "metrics",
    "expect",
    "predict",
    "nat",
];

/// The longest scenario name: file systems take 255 bytes a name, and the staging folder and the
/// sweep's point folders add to it.
pub const MAX_NAME_BYTES: usize = 200;

fn parse_params(
    mut doc: Params,
    origin: &str,
    base_dir: &Path,
    registry: &Registry,
) -> Result<Scenario, ParamError> {
    let name = doc.required_string("name")?;
    if name.trim().is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(
            doc.error("name", "must be a non-empty name without slashes (it names the output folder)")
        );
    }
    // It names a folder and its files: past 200 bytes or with a control character (a NUL)
    // creating them fails, and that must be found here, not after simulating.
    if name.len() > MAX_NAME_BYTES || name.chars().any(char::is_control) {
        return Err(doc.error(
            "name",
            format!("must be at most {MAX_NAME_BYTES} bytes without control characters (it names the output folder)"),
        ));
    }
    let description = doc.string("description")?.unwrap_or_default();
    let seed = doc.u64_in("seed", 1, 0, u64::MAX >> 1)?;
    let duration = doc.required_positive_duration("duration")?;
    let warmup = doc.duration("warmup")?.unwrap_or(0);
    if warmup >= duration {
        return Err(doc.error("warmup", "must be shorter than `duration`"));
    }

    let (ports, reserved_spans) = match doc.table("ports")? {
        Some(p) => parse_ports(p)?,
        None => (
            PortSettings { range: None, reserved: ReservedPorts::new(), scope: None, bind_conflict: None },
            ReservedSpans { key: "ports.reserved".into(), spans: Vec::new() },
        ),
    };
    let tcp = match doc.table("tcp")? {
        Some(p) => parse_tcp(p)?,
        None => TcpSettings {
            time_wait: None,
            active_close: ActiveClose::Client,
            tw_reuse: None,
            tw_reuse_delay: None,
            time_wait_timer: None,
            hz: None,
            timestamps: None,
        },
    };
    let (addrs, prefixes, addr_choice) = match doc.table("host")? {
        Some(p) => parse_host(p)?,
        None => (vec![Ipv4Addr::new(10, 0, 0, 1)], vec![None], AddrChoice::Route),
    };

    let mut workload = doc
        .table("workload")?
        .ok_or_else(|| doc.error("workload", "is required: `[workload]` with `arrivals` and `lifetime`"))?;
    let arrivals = match workload.table("arrivals")? {
        Some(a) => workload::parse_arrivals(a, base_dir)?,
        None => {
            return Err(
                workload.error("arrivals", "is required, e.g. { process = \"poisson\", rate = 300.0 }")
            );
        }
    };
    let lifetime = workload.table("lifetime")?.map(workload::parse_lifetime).transpose()?;
    // Where IP_LOCAL_PORT_RANGE is set, for the error if a non-Linux profile runs.
    let mut local_range_sites: Vec<ParamError> = Vec::new();
    if workload.has("local_port_range") {
        local_range_sites.push(workload.error("local_port_range", ""));
    }
    let socket = workload::parse_socket(&mut workload, SocketSpec::default())?.unwrap_or_default();
    let trace_has_all_lifetimes = match &arrivals {
        Arrivals::Trace { trace, .. } => trace.rows.iter().all(|r| r.lifetime.is_some()),
        _ => false,
    };
    if lifetime.is_none() && !trace_has_all_lifetimes {
        return Err(workload.error("lifetime", "is required, e.g. { dist = \"exponential\", mean = \"2s\" }"));
    }
    let expected = expected_connections(&arrivals, duration);
    if expected > MAX_CONNECTIONS {
        return Err(workload.error(
            "arrivals",
            format!(
                "about {expected:.2e} connections over {} s: at most {MAX_CONNECTIONS:.0e} per run (lower the rate or the duration)",
                duration / NANOS_PER_SEC
            ),
        ));
    }
    workload.finish(&["arrivals", "lifetime", "socket", "local_port_range"])?;

    let destinations = match doc.tables("destinations")? {
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for d in list {
                if d.has("local_port_range") {
                    local_range_sites.push(d.error("local_port_range", ""));
                }
                out.push(workload::parse_destination(d, socket)?);
            }
            out
        }
        None => Vec::new(),
    };
    match &arrivals {
        Arrivals::Trace { .. } if !destinations.is_empty() => {
            return Err(
                doc.error("destinations", "a trace brings its own destinations: remove [[destinations]]")
            );
        }
        Arrivals::Trace { .. } => {}
        _ if destinations.is_empty() => {
            return Err(doc.error(
                "destinations",
                "at least one [[destinations]] entry is required, e.g. addr = \"192.0.2.10:443\"",
            ));
        }
        _ => {}
    }
    let total: u64 = destinations.iter().map(|d| u64::from(d.len())).sum();
    if total > u64::from(u32::MAX) {
        return Err(doc.error(
            "destinations",
            format!("{total} destinations are more than portsim handles (2^32 - 1)"),
        ));
    }

    let (strategies, stack_overrides): (Vec<StrategySpec>, Vec<StackOverrides>) = match doc
        .tables("strategies")?
    {
        Some(list) if !list.is_empty() => parse_strategies(list, registry)?.into_iter().unzip(),
        _ => {
            return Err(doc.error(
                "strategies",
                "at least one [[strategies]] entry is required, e.g. name = \"random-start\" (see `portsim strategies`)",
            ));
        }
    };

    // IP_LOCAL_PORT_RANGE is a Linux socket option: a profile of another kernel has nothing to
    // apply it with. (A profile is Linux when it runs on the timer wheel of some CONFIG_HZ.)
    if let Some(site) = local_range_sites.into_iter().next()
        && let Some(other) = strategies.iter().find(|s| {
            let os = s.config.os_defaults();
            os.range.is_some() && os.hz.is_none()
        })
    {
        return Err(ParamError {
            message: format!(
                "is Linux's IP_LOCAL_PORT_RANGE, which the `{}` profile (strategy `{}`) does not have: remove it, or run only Linux profiles and RFC strategies",
                other.config.name(),
                other.label
            ),
            ..site
        });
    }

    let metrics = match doc.table("metrics")? {
        Some(mut m) => {
            let reuse_threshold = m.duration("reuse_threshold")?.unwrap_or(DEFAULT_REUSE_THRESHOLD);
            let sample_interval = match m.duration("sample_interval")? {
                Some(0) => return Err(m.error("sample_interval", "must be longer than 0")),
                Some(i) if duration / i > MAX_SAMPLES => {
                    return Err(m.error(
                        "sample_interval",
                        format!("cuts the run into {} rows: at most {MAX_SAMPLES}", duration / i),
                    ));
                }
                other => other,
            };
            m.finish(&["reuse_threshold", "sample_interval"])?;
            MetricSettings { reuse_threshold, sample_interval }
        }
        None => MetricSettings { reuse_threshold: DEFAULT_REUSE_THRESHOLD, sample_interval: None },
    };
    let labels: Vec<String> = strategies.iter().map(|s| s.label.clone()).collect();
    let has_expect = doc.has("expect");
    let expect = match doc.table("expect")? {
        Some(e) => expect::parse(e, &labels)?,
        None => Vec::new(),
    };
    let nat = doc.table("nat")?.map(|t| nat::parse(t, &labels, has_expect)).transpose()?;
    let predict = match doc.table("predict")? {
        Some(p) => {
            let names: Vec<(String, &'static str)> =
                strategies.iter().map(|s| (s.label.clone(), s.config.name())).collect();
            predict::parse(p, &names)?
        }
        None => predict::PredictSettings::default(),
    };
    doc.finish(TOP_KEYS)?;

    let mut warnings = Vec::new();
    if let Arrivals::Trace { path, trace } = &arrivals {
        let late = trace.rows.iter().filter(|r| r.start >= duration).count();
        if late > 0 {
            warnings.push(format!(
                "{}: {late} of {} trace row{} start at or after duration ({}) and are dropped",
                path.display(),
                trace.rows.len(),
                if trace.rows.len() == 1 { "" } else { "s" },
                crate::time::format_duration(duration)
            ));
        }
    }
    let s = Scenario {
        name,
        warnings,
        description,
        origin: origin.to_string(),
        seed,
        duration,
        warmup,
        ports,
        tcp,
        addrs,
        prefixes,
        addr_choice,
        destinations,
        arrivals,
        lifetime,
        socket,
        stack_overrides: strategies
            .iter()
            .zip(stack_overrides)
            .filter(|(_, o)| *o != StackOverrides::default())
            .map(|(s, o)| (s.label.clone(), o))
            .collect(),
        strategies,
        metrics,
        expect,
        predict,
        nat,
    };
    let mut ranges: Vec<PortRange> = s.strategies.iter().map(|x| s.effective(x).range).collect();
    ranges.extend(s.socket.local_range);
    check_reserved_in_range(&reserved_spans, &ranges)?;
    check_some_port_left(&s, &reserved_spans)?;
    // Refused here, not by an abort part-way through allocating.
    crate::budget::check_memory(&s, 1).map_err(|e| ParamError {
        key: e.key,
        span: None,
        message: e.message,
    })?;
    Ok(s)
}

/// `reserved` as users copy it: a list of ports and ranges (`[40000, "40100-40110"]`), or the
/// kernel's comma-separated string (`"40000-40010,40020"`), or a mix. Each with its span.
fn parse_reserved(p: &mut Params) -> Result<Vec<(PortRange, std::ops::Range<usize>)>, ParamError> {
    use crate::params::Value;
    let Some(node) = p.take("reserved") else { return Ok(Vec::new()) };
    let items = match node.value {
        Value::Array(items) => items,
        v @ (Value::String(_) | Value::Integer(_)) => vec![crate::params::Node { value: v, ..node }],
        other => {
            return Err(p.error(
                "reserved",
                format!(
                    "expected ports or ranges (\"40000-40010,40020\" or [40000, \"40100-40110\"]), found {}",
                    other.type_str()
                ),
            ));
        }
    };
    let mut out = Vec::new();
    for n in items {
        let at =
            |message: String| ParamError { key: p.path("reserved"), span: Some(n.span.clone()), message };
        match &n.value {
            Value::String(text) => {
                for r in ReservedPorts::parse_list(text).map_err(at)? {
                    out.push((r, n.span.clone()));
                }
            }
            Value::Integer(i) => {
                let r = u16::try_from(*i)
                    .ok()
                    .filter(|&v| v > 0)
                    .and_then(|v| PortRange::new(v, v).ok())
                    .ok_or_else(|| at(format!("port {i} is out of range (ports are 1-65535)")))?;
                out.push((r, n.span.clone()));
            }
            other => return Err(at(format!("expected a port or a range, found {}", other.type_str()))),
        }
    }
    Ok(out)
}

/// `tw_reuse` as a name or as the sysctl's integer (`net.ipv4.tcp_tw_reuse = 2`).
fn parse_tw_reuse(p: &mut Params) -> Result<Option<TwReuse>, ParamError> {
    use crate::params::Value;
    let Some(node) = p.take("tw_reuse") else { return Ok(None) };
    let text = match node.value {
        Value::String(s) => s,
        Value::Integer(i) => i.to_string(),
        other => {
            return Err(
                p.error("tw_reuse", format!("expected a string or 0, 1, 2, found {}", other.type_str()))
            );
        }
    };
    TwReuse::parse(&text).map(Some).map_err(|e| ParamError {
        key: p.path("tw_reuse"),
        span: Some(node.span),
        message: e,
    })
}

fn parse_ports(mut p: Params) -> Result<(PortSettings, ReservedSpans), ParamError> {
    let range = match p.string("range")? {
        Some(text) => Some(PortRange::parse(&text).map_err(|e| p.error("range", e))?),
        None => None,
    };
    let mut reserved = ReservedPorts::new();
    let spans = parse_reserved(&mut p)?;
    for (r, _) in &spans {
        reserved.insert_range(*r);
    }
    let scope = match p.string("scope")? {
        Some(text) => Some(Scope::parse(&text).map_err(|e| p.error("scope", e))?),
        None => None,
    };
    let bind_conflict = match p.string("bind_conflict")? {
        Some(text) => Some(BindConflict::parse(&text).map_err(|e| p.error("bind_conflict", e))?),
        None => None,
    };
    if let Some(r) = range
        && reserved.count_in(r) == r.len()
    {
        return Err(p.error(
            "reserved",
            format!("reserves every port of the range {r}: nothing is left to allocate"),
        ));
    }
    let spans = ReservedSpans { key: p.path("reserved"), spans };
    p.finish(&["range", "reserved", "scope", "bind_conflict"])?;
    Ok((PortSettings { range, reserved, scope, bind_conflict }, spans))
}

/// Where each reserved entry was written, to point at one outside every range.
struct ReservedSpans {
    key: String,
    spans: Vec<(PortRange, std::ops::Range<usize>)>,
}

/// A reserved port outside the range reserves nothing (the kernel accepts it silently): an
/// error, naming the entry, unless some strategy's range (its OS profile's, its own `stack`)
/// holds it.
fn check_reserved_in_range(spans: &ReservedSpans, ranges: &[PortRange]) -> Result<(), ParamError> {
    for (r, span) in &spans.spans {
        if let Some(port) = r.iter().find(|&p| !ranges.iter().any(|x| x.contains(p))) {
            let mut names: Vec<String> = ranges.iter().map(|x| x.to_string()).collect();
            names.dedup();
            return Err(ParamError {
                key: spans.key.clone(),
                span: Some(span.clone()),
                message: format!(
                    "port {port} is outside the port range {}: reserving it does nothing (remove it, or widen ports.range)",
                    names.join(", ")
                ),
            });
        }
    }
    Ok(())
}

/// Every strategy must keep a port to hand out in the range it runs with: its own `stack`
/// range, else `[ports] range`, else its OS profile's, so a reservation that covers a range no
/// one wrote down is caught too (without this every attempt failed).
fn check_some_port_left(s: &Scenario, spans: &ReservedSpans) -> Result<(), ParamError> {
    let Some(first) = spans.spans.first() else { return Ok(()) };
    let span = first.1.start..spans.spans.last().map_or(first.1.end, |l| l.1.end);
    // A `[workload] socket` local_range replaces the strategies' ranges for its sockets.
    let ranges: Vec<(&str, PortRange)> = match s.socket.local_range {
        Some(r) => vec![("the sockets' local_range", r)],
        None => s.strategies.iter().map(|x| (x.label.as_str(), s.effective(x).range)).collect(),
    };
    for (who, r) in ranges {
        if s.ports.reserved.count_in(r) == r.len() {
            let who = if who.starts_with("the ") { who.to_string() } else { format!("strategy `{who}`") };
            return Err(ParamError {
                key: spans.key.clone(),
                span: Some(span),
                message: format!(
                    "reserves every port of the range {r} that {who} uses: nothing is left to allocate"
                ),
            });
        }
    }
    Ok(())
}

fn parse_tcp(mut p: Params) -> Result<TcpSettings, ParamError> {
    let time_wait = p.duration("time_wait")?;
    let active_close = match p.take("active_close") {
        None => ActiveClose::Client,
        Some(node) => match node.value {
            crate::params::Value::String(s) if s == "client" => ActiveClose::Client,
            crate::params::Value::String(s) if s == "server" => ActiveClose::Server,
            crate::params::Value::Float(x) if (0.0..=1.0).contains(&x) => ActiveClose::ClientProbability(x),
            crate::params::Value::Integer(x) if x == 0 || x == 1 => ActiveClose::ClientProbability(x as f64),
            _ => {
                return Err(p.error(
                    "active_close",
                    "use \"client\", \"server\", or the probability (0 to 1) that the client closes first",
                ));
            }
        },
    };
    let tw_reuse = parse_tw_reuse(&mut p)?;
    let tw_reuse_delay = p.duration("tw_reuse_delay")?;
    let (time_wait_timer, hz) = parse_timer(&mut p)?;
    let timestamps = match p.take("timestamps") {
        None => None,
        Some(crate::params::Node { value: crate::params::Value::Boolean(b), .. }) => Some(b),
        Some(n) => {
            return Err(p.error("timestamps", format!("must be true or false, not a {}", n.value.type_str())));
        }
    };
    p.finish(&[
        "time_wait",
        "active_close",
        "tw_reuse",
        "tw_reuse_delay",
        "time_wait_timer",
        "hz",
        "timestamps",
    ])?;
    Ok(TcpSettings { time_wait, active_close, tw_reuse, tw_reuse_delay, time_wait_timer, hz, timestamps })
}

/// `time_wait_timer` and `hz`, in `[tcp]` or a strategy's `stack = { ... }`.
fn parse_timer(p: &mut Params) -> Result<(Option<TimerKind>, Option<u32>), ParamError> {
    let timer = if p.has("time_wait_timer") {
        Some(match p.choice("time_wait_timer", &["exact", "wheel"])? {
            "wheel" => TimerKind::Wheel,
            _ => TimerKind::Exact,
        })
    } else {
        None
    };
    let hz = if p.has("hz") {
        let v = p.u64_in("hz", u64::from(DEFAULT_HZ), 1, 100_000)? as u32;
        if !crate::stack::timer_wheel::HZ_CHOICES.contains(&v) {
            return Err(p.error("hz", format!("{v} is not a CONFIG_HZ choice: use 100, 250, 300 or 1000")));
        }
        Some(v)
    } else {
        None
    };
    Ok((timer, hz))
}

/// Type of `[host]`: the addresses, their prefix lengths and the choice among them.
type Host = (Vec<Ipv4Addr>, Vec<Option<u8>>, AddrChoice);

/// `"10.0.0.1"` or `"10.0.0.1/24"`.
fn parse_host_addr(text: &str) -> Result<(Ipv4Addr, Option<u8>), String> {
    let (a, len) = match text.split_once('/') {
        Some((a, l)) => {
            let len: u8 = l
                .parse()
                .ok()
                .filter(|v| *v <= 32)
                .ok_or_else(|| format!("`{text}`: the prefix length must be 0 to 32"))?;
            (a, Some(len))
        }
        None => (text, None),
    };
    let addr = a.parse::<Ipv4Addr>().map_err(|_| format!("`{text}` is not an IPv4 address"))?;
    Ok((addr, len))
}

fn parse_host(mut p: Params) -> Result<Host, ParamError> {
    let (addrs, prefixes): (Vec<Ipv4Addr>, Vec<Option<u8>>) = match p.strings("addrs")? {
        Some(list) if list.is_empty() => {
            return Err(p.error("addrs", "must list at least one address"));
        }
        Some(list) => list
            .into_iter()
            .map(|(text, span)| {
                parse_host_addr(&text).map_err(|message| ParamError {
                    key: p.path("addrs"),
                    span: Some(span),
                    message,
                })
            })
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip(),
        None => (vec![Ipv4Addr::new(10, 0, 0, 1)], vec![None]),
    };
    if addrs.len() > MAX_LOCAL_ADDRS {
        // Each local address costs the stack 512 KiB of per-port counters.
        return Err(p.error(
            "addrs",
            format!("{} addresses: at most {MAX_LOCAL_ADDRS} local addresses", addrs.len()),
        ));
    }
    let choice = match p.choice("addr_choice", &["route", "round-robin", "random", "fallback"])? {
        "random" => AddrChoice::Random,
        "fallback" => AddrChoice::Fallback,
        "round-robin" => AddrChoice::RoundRobin,
        _ => AddrChoice::Route,
    };
    p.finish(&["addrs", "addr_choice"])?;
    Ok((addrs, prefixes, choice))
}

fn parse_strategies(
    list: Vec<Params>,
    registry: &Registry,
) -> Result<Vec<(StrategySpec, StackOverrides)>, ParamError> {
    let mut out: Vec<(StrategySpec, StackOverrides)> = Vec::new();
    for mut p in list {
        let name = p.required_string("name")?;
        let label = p.string("label")?.unwrap_or_else(|| name.clone());
        if out.iter().any(|(s, _)| s.label == label) {
            return Err(p.error(
                if p.has("label") { "label" } else { "name" },
                format!("two strategies are labelled `{label}`: give one a different `label`"),
            ));
        }
        let info = registry.lookup(&name).ok_or_else(|| {
            p.error(
                "name",
                format!("unknown strategy `{name}`; valid strategies: {}", registry.valid_names()),
            )
        })?;
        let stack = match p.table("stack")? {
            Some(t) => parse_stack_overrides(t)?,
            None => StackOverrides::default(),
        };
        // `name`, `label` and `stack` are read; what is left are the strategy's own parameters.
        let config: StrategyConfig = info.configure_partial(&mut p)?;
        let mut valid: Vec<&str> = vec!["name", "label", "stack"];
        valid.extend(info.params.iter().map(|q| q.name));
        p.finish(&valid)?;
        out.push((StrategySpec { label, config }, stack));
    }
    Ok(out)
}

/// `stack = { ... }` in a `[[strategies]]` entry: settings of the stack this strategy alone
/// runs on, so one scenario can compare tw_reuse on against off, or two ranges.
fn parse_stack_overrides(mut p: Params) -> Result<StackOverrides, ParamError> {
    let range = match p.string("range")? {
        Some(text) => Some(PortRange::parse(&text).map_err(|e| p.error("range", e))?),
        None => None,
    };
    let scope = match p.string("scope")? {
        Some(text) => Some(Scope::parse(&text).map_err(|e| p.error("scope", e))?),
        None => None,
    };
    let time_wait = p.duration("time_wait")?;
    let tw_reuse = parse_tw_reuse(&mut p)?;
    let tw_reuse_delay = p.duration("tw_reuse_delay")?;
    let (time_wait_timer, hz) = parse_timer(&mut p)?;
    let bind_conflict = match p.string("bind_conflict")? {
        Some(text) => Some(BindConflict::parse(&text).map_err(|e| p.error("bind_conflict", e))?),
        None => None,
    };
    p.finish(&[
        "range",
        "scope",
        "time_wait",
        "tw_reuse",
        "tw_reuse_delay",
        "time_wait_timer",
        "hz",
        "bind_conflict",
    ])?;
    Ok(StackOverrides {
        range,
        scope,
        time_wait,
        tw_reuse,
        tw_reuse_delay,
        time_wait_timer,
        hz,
        bind_conflict,
    })
}
