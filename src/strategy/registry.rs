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
}

/// What an OS profile brings: the system's defaults for the settings a scenario may also set.
/// `None` leaves the scenario's value, or portsim's default, in force.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OsDefaults {
    pub range: Option<crate::stack::PortRange>,
    pub scope: Option<crate::stack::Scope>,
    pub time_wait: Option<Nanos>,
    pub tw_reuse: Option<crate::stack::TwReuse>,
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
        }
    }

    /// The OS profile's defaults; the RFC algorithms bring none.
    pub fn os_defaults(&self) -> OsDefaults {
        OsDefaults::default()
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
        };
        v.unwrap_or(serde_json::Value::Null)
    }
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

    fn toml_literal(default: &str) -> String {
        if default.parse::<i64>().is_ok() { default.to_string() } else { format!("\"{default}\"") }
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
