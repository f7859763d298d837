//! The one place `predict` touches the strategies: it turns a strategy's name and parameters
//! into a running selector, and holds what the observer knows about each algorithm (its scan
//! step) and the closed forms the measurements are checked against. A change to how the
//! registry builds or describes strategies touches this file alone.

use crate::params::Params;
use crate::strategy::registry::{self, strategy_rng};
use crate::strategy::{
    BsdConfig, DoubleHashConfig, FreeBsdConfig, HashConfig, Increment, LegacyEra, Linux512Config,
    LinuxConfig, LinuxLegacyConfig, MacOsConfig, OpenBsdConfig, PortSelector, RandomIncrementsConfig,
    RandomPickConfig, RandomStartConfig, StrategyConfig, WindowsConfig,
};

/// A selector for `config`, with the RNG stream of (`seed`, `label`, `device`): every simulated
/// device gets its own secret, table and draws, the same ones on every run.
pub fn selector(config: &StrategyConfig, seed: u64, label: &str, device: u64) -> Box<dyn PortSelector> {
    config.build(strategy_rng(device_seed(seed, device), label))
}

/// A strategy by registry name with its defaults (tests and the classifier's examples).
pub fn config_by_name(name: &str) -> Option<StrategyConfig> {
    registry::configure(name, Params::empty(name)).ok()
}

/// The seed of device `device` of a run seeded with `seed`.
pub fn device_seed(seed: u64, device: u64) -> u64 {
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher24::new_with_keys(0x7072_6564_6963_7400, seed);
    h.write_u64(device);
    h.finish() >> 1
}

/// One of the three Linux profiles (the tracking attack's default targets).
pub fn is_linux_profile(cfg: &StrategyConfig) -> bool {
    cfg.get::<LinuxConfig>().is_some()
        || cfg.get::<Linux512Config>().is_some()
        || cfg.get::<LinuxLegacyConfig>().is_some()
}

/// The step the algorithm's scan takes from one candidate to the next: 2 for Linux's
/// `connect()` since 4.6 (even ports first), 1 otherwise. Part of what the observer knows.
pub fn scan_step(cfg: &StrategyConfig) -> u32 {
    let legacy_46 = cfg.get::<LinuxLegacyConfig>().is_some_and(|c| c.era == LegacyEra::V4_6);
    if cfg.get::<LinuxConfig>().is_some() || cfg.get::<Linux512Config>().is_some() || legacy_46 {
        2
    } else {
        1
    }
}

/// One global counter, one step per connection: the next port is the last plus one step.
fn global_counter(cfg: &StrategyConfig) -> bool {
    cfg.get::<BsdConfig>().is_some()
        || cfg.get::<WindowsConfig>().is_some()
        || cfg.get::<MacOsConfig>().is_some_and(|c| !c.randomize_ports)
        || cfg.get::<FreeBsdConfig>().is_some_and(|c| !c.randomized)
}

/// A fresh uniform draw (or a uniform start then a scan) per connection.
fn uniform(cfg: &StrategyConfig) -> bool {
    cfg.get::<RandomStartConfig>().is_some()
        || cfg.get::<RandomPickConfig>().is_some()
        || cfg.get::<OpenBsdConfig>().is_some()
        || cfg.get::<FreeBsdConfig>().is_some_and(|c| c.randomized)
}

/// The closed forms on an idle host, toward the observer's own server, with `w` guesses over
/// `n` ports: (P(first guess right), P(one of w right)); `None` where no simple one exists.
pub fn idle_formula(cfg: &StrategyConfig, n: u32, w: u32) -> (Option<f64>, Option<f64>) {
    let sure = (Some(1.0), Some(1.0));
    if global_counter(cfg) || cfg.get::<HashConfig>().is_some() || cfg.get::<LinuxLegacyConfig>().is_some() {
        // Algorithm 3 and Linux <= 5.11 add a per-destination offset to one counter: toward one
        // destination they step like the counter.
        return sure;
    }
    if uniform(cfg) {
        return (Some(1.0 / f64::from(n)), Some(f64::from(w.min(n)) / f64::from(n)));
    }
    // max(i, 2·rand(0..7)) + 2: eight equally likely even steps, within one key window.
    let linux = (Some(1.0 / 8.0), Some(f64::from(w.min(8)) / 8.0));
    if let Some(c) = cfg.get::<DoubleHashConfig>() {
        return if c.increment == Increment::Linux { linux } else { sure };
    }
    if let Some(c) = cfg.get::<Linux512Config>() {
        // The entry moves by 2, or by 4 when c579bd1b4021 skips (1 in skip_one_in).
        if c.skip_one_in == 0 {
            return sure;
        }
        let skip = 1.0 / f64::from(c.skip_one_in);
        return (Some(1.0 - skip), Some(if w >= 2 { 1.0 } else { 1.0 - skip }));
    }
    if cfg.get::<LinuxConfig>().is_some() {
        return linux;
    }
    if let Some(c) = cfg.get::<RandomIncrementsConfig>() {
        // A random 1..N step before the first candidate.
        return (Some(1.0 / f64::from(c.n)), Some(f64::from(w.min(c.n)) / f64::from(c.n)));
    }
    (None, None)
}

/// The DNS spoofer's closed form in bits, for a pool of `pool` ports of which `same_parity` share
/// the range start's parity: 0 for one global +1 counter, log2 N for Algorithm 5 (one global
/// counter), log2 of the same-parity ports for Linux's connect() (even ports first), log2 of
/// the pool for everything keyed by destination or random. An upper bound where reserved
/// ports make some ports likelier than others (Algorithm 1, Linux).
pub fn dns_formula(cfg: &StrategyConfig, pool: u32, same_parity: u32) -> Option<f64> {
    if scan_step(cfg) == 2 {
        return Some(f64::from(same_parity).log2());
    }
    if global_counter(cfg) {
        return Some(0.0);
    }
    if let Some(c) = cfg.get::<RandomIncrementsConfig>() {
        return Some(f64::from(c.n).log2());
    }
    let keyed = cfg.get::<HashConfig>().is_some() || cfg.get::<DoubleHashConfig>().is_some();
    (keyed || uniform(cfg)).then(|| f64::from(pool).log2())
}
