//! The `freebsd` profile: current FreeBSD (13.x on, believed) `in_pcb_lport_dest()`
//! (`operating-systems.md` §3), the [`PcbScan`] loop with a modulo-drawn start, checked against
//! the whole four-tuple.

use super::in_pcb::{PcbScan, StartDraw};
use super::registry::{
    ConfiguredStrategy, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, flag, serialized,
};
use super::{PortSelector, StrategyRng};
use serde::Serialize;

/// `freebsd`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "freebsd",
    aliases: &[],
    summary: "current FreeBSD (13.x on, believed) in_pcb_lport_dest(): start = first + arc4random() % (last - first), then ++lastport with wrap; four-tuple scope",
    params: &[ParamInfo {
        name: "randomized",
        default: "true",
        help: "net.inet.ip.portrange.randomized; false = sequential ++lastport",
    }],
    parse: |p| Ok(StrategyConfig::new(FreeBsdConfig { randomized: flag(p, "randomized", true)? })),
};

/// `freebsd` (current FreeBSD, `in_pcb_lport_dest()`; believed since 13.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FreeBsdConfig {
    /// `net.inet.ip.portrange.randomized` (1).
    pub randomized: bool,
}

impl Default for FreeBsdConfig {
    fn default() -> Self {
        FreeBsdConfig { randomized: true }
    }
}

impl ConfiguredStrategy for FreeBsdConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// portrange.first/last 10000-65535, 2 x MSL 30 s, no tw_reuse; in_pcb_lport_dest() checks
    /// the whole 4-tuple.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{Scope, TwReuse};
        OsDefaults::profile(10000, 65535, Scope::FourTuple, 60, TwReuse::Off)
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        let draw = if self.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
        Box::new(PcbScan::new(draw, rng))
    }
}
