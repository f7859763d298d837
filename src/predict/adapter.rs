//! The one place `predict` turns a strategy's name and parameters into a running selector, so a
//! change to how the registry builds strategies touches this file alone.

use crate::params::Params;
use crate::strategy::registry::{self, strategy_rng};
use crate::strategy::{PortSelector, StrategyConfig};

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
