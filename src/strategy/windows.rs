//! The `windows` profile: Windows Vista and later. Microsoft documents the dynamic range and
//! `TcpTimedWaitDelay` but not the order in which ports are tried, so the selection is an
//! ASSUMPTION: the traditional BSD counter, +1 per candidate from one global counter.

use super::bsd::{Bsd, BsdConfig};
use super::registry::{ConfiguredStrategy, OsDefaults, StrategyConfig, StrategyInfo};
use super::{PortSelector, StrategyRng};

/// What the `windows` profile assumes, in its summary and in `summary.json`.
pub const WINDOWS_ASSUMPTION: &str =
    "selection order not documented by Microsoft: modelled as one global counter, +1 per candidate";

/// `windows`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "windows",
    aliases: &[],
    summary: "Windows Vista+ (ASSUMPTION: the selection order is not documented; modelled as one global counter, +1 per candidate): range 49152-65535, local-port scope, TIME_WAIT 120 s",
    params: &[],
    parse: |_| Ok(StrategyConfig::new(WindowsConfig)),
};

/// The profile has no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WindowsConfig;

impl ConfiguredStrategy for WindowsConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// Vista+: dynamic range 49152-65535, TcpTimedWaitDelay 120 s.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{Scope, TwReuse};
        OsDefaults::profile(49152, 65535, Scope::LocalPort, 120, TwReuse::Off)
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "assumption": WINDOWS_ASSUMPTION })
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(Bsd::new(BsdConfig::default(), rng))
    }
}
