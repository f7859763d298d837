//! Strategies by name. Each strategy's file describes it completely in one [`StrategyInfo`]
//! (name, aliases, summary, parameters, how its parameter table becomes a validated config) and
//! one [`ConfiguredStrategy`] impl (OS defaults, `summary.json` settings, how it is built); this
//! file holds only the types they share and the lookups over [`STRATEGIES`]. Adding a strategy
//! is its file plus one line in the `strategies!` list of `strategy/mod.rs`.

use super::{PortSelector, StrategyRng, TapeRng};
use crate::params::{ParamError, Params};
use crate::time::Nanos;
use rand::SeedableRng;
use std::any::Any;
use std::fmt;
use std::hash::Hasher;
use std::sync::Arc;

/// One parameter of a strategy, as `portsim strategies` lists it.
#[derive(Clone, Copy, Debug)]
pub struct ParamInfo {
    /// The key in the scenario's `[[strategies]]` entry.
    pub name: &'static str,
    /// The default, written as a scenario would write it.
    pub default: &'static str,
    /// One line: what it does and which values it takes.
    pub help: &'static str,
}

/// A strategy's descriptor: everything the registry, the scenario parser and `portsim
/// strategies` need to know about it. Each strategy's file defines one as a `static`.
#[derive(Debug)]
pub struct StrategyInfo {
    /// The canonical name (`name = "..."` in a scenario, `strategy` in `summary.json`).
    pub name: &'static str,
    /// Other names a scenario may use.
    pub aliases: &'static [&'static str],
    /// One line for `portsim strategies`.
    pub summary: &'static str,
    /// Every parameter, with its default and help. A key not listed here is an error.
    pub params: &'static [ParamInfo],
    /// Reads the parameters from the table (every one optional, defaulting to
    /// [`ParamInfo::default`]) and validates them. Keys it does not read are the caller's.
    pub parse: fn(&mut Params) -> Result<StrategyConfig, ParamError>,
}

/// What an OS profile brings: the system's defaults for the settings a scenario may also set.
/// `None` leaves the scenario's value, or portsim's default, in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsDefaults {
    /// The ephemeral range (Linux `ip_local_port_range`, BSD `portrange.first/last`, ...).
    pub range: Option<crate::stack::PortRange>,
    /// What makes a port unusable: the four-tuple or the local (address, port).
    pub scope: Option<crate::stack::Scope>,
    /// How long an actively closed connection holds its 4-tuple.
    pub time_wait: Option<Nanos>,
    /// Whether `connect()` may take over a 4-tuple in TIME_WAIT.
    pub tw_reuse: Option<crate::stack::TwReuse>,
    /// TIME_WAIT toward on-link destinations and from 127.0.0.1, when the system shortens it
    /// there (NetBSD's MSL classes); `time_wait` applies to both otherwise.
    pub time_wait_classes: Option<(Nanos, Nanos)>,
    /// No TIME_WAIT toward the host's own addresses (FreeBSD's `nolocaltimewait`).
    pub no_local_time_wait: bool,
    /// The TIME_WAIT timer runs on a Linux timer wheel with this `CONFIG_HZ`.
    pub hz: Option<u32>,
    /// How far a `bind()` keeps `connect()` away from its port; `None`: per (address, port).
    pub bind_conflict: Option<crate::stack::BindConflict>,
    /// Ports inside the range the kernel never hands out, besides the scenario's `reserved`.
    pub reserved: &'static [u16],
}

impl OsDefaults {
    /// An OS profile's defaults: range `lo..=hi`, scope, TIME_WAIT in seconds and tw_reuse.
    /// Panics on an invalid range: the profiles' ranges are constants.
    pub fn profile(
        lo: u16,
        hi: u16,
        scope: crate::stack::Scope,
        time_wait_s: u64,
        tw_reuse: crate::stack::TwReuse,
    ) -> OsDefaults {
        OsDefaults {
            range: Some(crate::stack::PortRange::new(lo, hi).expect("a valid built-in range")),
            scope: Some(scope),
            time_wait: Some(time_wait_s * crate::time::NANOS_PER_SEC),
            tw_reuse: Some(tw_reuse),
            ..OsDefaults::default()
        }
    }
}

/// The parts of a profile's stack the one-line defaults leave out, for `portsim strategies`.
pub fn stack_notes(os: &OsDefaults) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(hz) = os.hz {
        let grid = crate::stack::TimerWheel::new(hz, 0).grid(os.time_wait.unwrap_or(0));
        out.push(format!(
            "TIME_WAIT on the HZ {hz} timer wheel: it ends on a {} s grid, up to one step late",
            crate::time::secs(grid)
        ));
    }
    if let Some((on_link, loopback)) = os.time_wait_classes {
        out.push(format!(
            "TIME_WAIT {} s from 127.0.0.1, {} s toward on-link destinations",
            crate::time::secs(loopback),
            crate::time::secs(on_link)
        ));
    }
    if os.no_local_time_wait {
        out.push("no TIME_WAIT toward the host's own addresses".into());
    }
    match os.bind_conflict {
        Some(crate::stack::BindConflict::Port) => out.push(
            "a bound port is skipped by connect() on every address until its last socket is gone".into(),
        ),
        Some(crate::stack::BindConflict::FourTuple) => {
            out.push("a connected bound socket blocks only its own 4-tuple".into())
        }
        _ => {}
    }
    if !os.reserved.is_empty() {
        let list: Vec<String> = os.reserved.iter().map(u16::to_string).collect();
        out.push(format!("never hands out {}", list.join(", ")));
    }
    out
}

/// Compares configurations of possibly different types: equal when both are the same type
/// and equal as that type. Implemented for every `PartialEq` type.
pub trait DynEq {
    /// `self == other` when `other` is a `Self`; false otherwise.
    fn dyn_eq(&self, other: &dyn Any) -> bool;
    /// `self` as [`Any`], to downcast.
    fn as_any(&self) -> &dyn Any;
}

impl<T: PartialEq + Any> DynEq for T {
    fn dyn_eq(&self, other: &dyn Any) -> bool {
        other.downcast_ref::<T>() == Some(self)
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A strategy with every parameter validated and defaulted: what a run is built from. Each
/// strategy's config type implements it (derive `Debug` and `PartialEq`, and the three methods).
pub trait ConfiguredStrategy: DynEq + fmt::Debug + Send + Sync + 'static {
    /// The canonical registry name (the descriptor's [`StrategyInfo::name`]).
    fn name(&self) -> &'static str;

    /// The OS profile's defaults (`operating-systems.md` §0); the RFC algorithms bring none.
    fn os_defaults(&self) -> OsDefaults {
        OsDefaults::default()
    }

    /// The effective parameters, as `summary.json` records them: a JSON object.
    fn settings(&self) -> serde_json::Value;

    /// A fresh selector, drawing from `rng` (its own stream, from [`strategy_rng`]).
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector>;

    /// The same selector drawing from a [`TapeRng`], which logs every draw: what `portsim
    /// vectors` records and replays. `None`, the default, means no vectors; every built-in
    /// strategy must implement it (`portsim vectors` fails on one that does not).
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        let _ = rng;
        None
    }
}

/// A validated strategy configuration of any type, cheap to clone.
#[derive(Clone)]
pub struct StrategyConfig(Arc<dyn ConfiguredStrategy>);

impl StrategyConfig {
    /// Wraps a strategy's own configuration.
    pub fn new(config: impl ConfiguredStrategy) -> StrategyConfig {
        StrategyConfig(Arc::new(config))
    }

    /// The canonical registry name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The OS profile's defaults; none for the RFC algorithms.
    pub fn os_defaults(&self) -> OsDefaults {
        self.0.os_defaults()
    }

    /// The effective parameters, as `summary.json` records them.
    pub fn settings(&self) -> serde_json::Value {
        self.0.settings()
    }

    /// Builds the strategy with its own RNG.
    pub fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        self.0.build(rng)
    }

    /// Builds the strategy drawing from a [`TapeRng`], if it supports that (every built-in one
    /// does).
    pub fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        self.0.build_taped(rng)
    }

    /// The configuration as its own type, if it is a `T`.
    pub fn get<T: ConfiguredStrategy>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref::<T>()
    }
}

impl PartialEq for StrategyConfig {
    fn eq(&self, other: &StrategyConfig) -> bool {
        self.0.dyn_eq(other.0.as_any())
    }
}

impl Eq for StrategyConfig {}

impl fmt::Debug for StrategyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A strategy as a scenario lists it: the label it is reported under and its configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StrategySpec {
    /// The name it is reported under (`label`, or the strategy's name).
    pub label: String,
    /// Its validated parameters.
    pub config: StrategyConfig,
}

/// Every built-in strategy, in the order `portsim strategies` lists them (the list is the
/// `strategies!` invocation in `strategy/mod.rs`).
pub static STRATEGIES: &[&StrategyInfo] = super::BUILTIN;

/// Finds a built-in strategy by its name or one of its aliases.
pub fn lookup(name: &str) -> Option<&'static StrategyInfo> {
    STRATEGIES.iter().copied().find(|s| s.answers_to(name))
}

/// Every built-in name, with aliases, for error messages.
pub fn valid_names() -> String {
    names_of(STRATEGIES.iter().copied())
}

fn names_of<'a>(list: impl Iterator<Item = &'a StrategyInfo>) -> String {
    list.map(|s| {
        if s.aliases.is_empty() {
            s.name.to_string()
        } else {
            format!("{} ({})", s.name, s.aliases.join(", "))
        }
    })
    .collect::<Vec<_>>()
    .join(", ")
}

/// The strategies a scenario may name: the built-in ones, plus any a library user adds. Parse a
/// scenario with [`crate::scenario::parse_with`] or [`crate::scenario::load_with`] to let it
/// name `[[strategies]]` of your own.
#[derive(Clone, Debug)]
pub struct Registry {
    strategies: Vec<&'static StrategyInfo>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::builtin()
    }
}

impl Registry {
    /// Every built-in strategy, in [`STRATEGIES`] order.
    pub fn builtin() -> Registry {
        Registry { strategies: STRATEGIES.to_vec() }
    }

    /// Adds a strategy after the others. Its name and aliases must be new, so that no scenario
    /// changes meaning.
    pub fn add(&mut self, info: &'static StrategyInfo) -> Result<(), String> {
        for name in std::iter::once(&info.name).chain(info.aliases) {
            if let Some(have) = self.lookup(name) {
                return Err(format!("strategy name `{name}` is taken by `{}`", have.name));
            }
        }
        self.strategies.push(info);
        Ok(())
    }

    /// Finds a strategy by its name or one of its aliases.
    pub fn lookup(&self, name: &str) -> Option<&'static StrategyInfo> {
        self.strategies.iter().copied().find(|s| s.answers_to(name))
    }

    /// Every strategy, in order.
    pub fn iter(&self) -> impl Iterator<Item = &'static StrategyInfo> + '_ {
        self.strategies.iter().copied()
    }

    /// Every accepted name, with aliases, for error messages.
    pub fn valid_names(&self) -> String {
        names_of(self.iter())
    }

    /// Resolves `name` and reads its parameters; any key left over is an error.
    pub fn configure(&self, name: &str, params: Params) -> Result<StrategyConfig, ParamError> {
        match self.lookup(name) {
            Some(info) => info.configure(params),
            None => Err(ParamError {
                key: params.path("name"),
                span: None,
                message: format!("unknown strategy `{name}`; valid strategies: {}", self.valid_names()),
            }),
        }
    }
}

impl StrategyInfo {
    /// Whether `name` is this strategy's name or one of its aliases.
    pub fn answers_to(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

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

/// Resolves a built-in `name` and reads its parameters (see [`Registry::configure`]).
pub fn configure(name: &str, params: Params) -> Result<StrategyConfig, ParamError> {
    Registry::builtin().configure(name, params)
}

/// The RNG of the strategy reported as `label` in a run seeded with `seed`. Derived from the
/// label, not the strategy's position, so `--only` and reordering leave every stream unchanged.
pub fn strategy_rng(seed: u64, label: &str) -> StrategyRng {
    let mut h = siphasher::sip::SipHasher24::new_with_keys(0x706f_7274_7369_6d00, seed);
    h.write(b"strategy:");
    h.write(label.as_bytes());
    StrategyRng::seed_from_u64(h.finish())
}

// Parameter readers the strategies' `parse` functions share.

/// A boolean parameter (`true` / `false`).
pub fn flag(p: &mut Params, key: &str, default: bool) -> Result<bool, ParamError> {
    match p.take(key) {
        None => Ok(default),
        Some(crate::params::Node { value: crate::params::Value::Boolean(b), .. }) => Ok(b),
        Some(n) => Err(p.error(key, format!("must be true or false, not a {}", n.value.type_str()))),
    }
}

/// A table length that must be a power of two in `1..=max`.
pub fn power_of_two(p: &mut Params, key: &str, default: u64, max: u64) -> Result<u32, ParamError> {
    let v = p.u64_in(key, default, 1, max)?;
    if !v.is_power_of_two() {
        return Err(
            p.error(key, format!("{v} is not a power of two (the kernel masks the hash with length - 1)"))
        );
    }
    Ok(v as u32)
}

/// Periods are written as the scenario writes them ("10s", "none").
pub fn period_text(p: Option<Nanos>) -> String {
    p.map_or_else(|| "none".to_string(), crate::time::format_duration)
}

/// The keyed-hash parameter of every hash-based strategy.
pub const HASH_PARAM: ParamInfo = ParamInfo {
    name: "hash",
    default: "siphash24",
    help: "keyed hash for F() and G(): siphash24 or siphash13 (128-bit key from the strategy's RNG)",
};

/// The re-keying parameter of the RFC's hash-based algorithms.
pub const REKEY_PARAM: ParamInfo = ParamInfo {
    name: "rekey_period",
    default: "none",
    help: "re-key the hash every period (\"10s\" is Linux's), or \"none\"",
};

/// A config that serialises to the settings object as it stands.
pub fn serialized<T: serde::Serialize>(config: &T) -> serde_json::Value {
    serde_json::to_value(config).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::{DoubleHashConfig, LinuxConfig, WINDOWS_ASSUMPTION};

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
        assert_eq!(cfg, StrategyConfig::new(DoubleHashConfig::default()));
        assert_eq!(cfg.get::<DoubleHashConfig>(), Some(&DoubleHashConfig::default()));
        assert_ne!(
            cfg,
            StrategyConfig::new(DoubleHashConfig { table_length: 11, ..DoubleHashConfig::default() })
        );
        assert_ne!(
            configure("alg1", Params::empty("s")).unwrap(),
            configure("alg2", Params::empty("s")).unwrap()
        );
        assert_eq!(DoubleHashConfig::default().table_length, 10);
        let cfg = configure("alg5", Params::empty("s")).unwrap();
        assert_eq!(cfg.settings(), serde_json::json!({"n": 500, "termination": "rfc6056"}));
    }

    #[test]
    fn every_listed_parameter_is_accepted() {
        for info in STRATEGIES {
            assert_eq!(info.configure(Params::empty("s")).unwrap().name(), info.name);
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
        // The stack around the allocator (issue 9).
        use crate::stack::BindConflict;
        let d = |name: &str| configure(name, Params::empty("s")).unwrap().os_defaults();
        for name in ["linux", "linux-5.12", "linux-legacy"] {
            assert_eq!((d(name).hz, d(name).bind_conflict), (Some(250), Some(BindConflict::Port)), "{name}");
        }
        assert_eq!(d("freebsd").bind_conflict, Some(BindConflict::FourTuple));
        assert!(d("freebsd").no_local_time_wait);
        assert_eq!(d("netbsd").time_wait_classes, Some((10 * s, 2 * s)));
        assert_eq!(
            d("openbsd").reserved,
            &[2049, 6000, 6001, 6002, 6003, 6004, 6005, 6006, 6007, 6008, 6009, 6010]
        );
        assert_eq!(d("macos").reserved, &[55555, 61314, 61315, 62742, 62743]);
        let hash = configure("netbsd", Params::from_toml("s", "algorithm = \"hash\"").unwrap()).unwrap();
        assert_eq!(hash.os_defaults().scope, Some(Scope::LocalPort));
        let unique =
            configure("freebsd", Params::from_toml("s", "require_unique_port = true").unwrap()).unwrap();
        assert_eq!(unique.os_defaults().scope, Some(Scope::HostWide));
        assert!(stack_notes(&d("linux"))[0].contains("2.048 s grid"));
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
        assert_eq!(cfg, StrategyConfig::new(LinuxConfig { rekey_period: None, ..LinuxConfig::default() }));
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
