//! The `freebsd-12` profile: FreeBSD <= 12 `in_pcb_lport()` (`operating-systems.md` §3): the
//! [`PcbScan`] loop, sequential while [`RateFallback`] (`ipport_tick()`) sees a burst, checked
//! with `in_pcblookup_local(..., INPLOOKUP_WILDCARD)`: local-port scope.

use super::in_pcb::{PcbScan, StartDraw};
use super::registry::{
    ConfiguredStrategy, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, flag, serialized,
};
use super::{PortSelector, StrategyRng, TapeRng};
use serde::Serialize;

#[cfg(doc)]
use super::in_pcb::RateFallback;

/// `freebsd-12`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "freebsd-12",
    aliases: &[],
    summary: "FreeBSD <= 12 in_pcb_lport(): as freebsd, but sequential while ipport_tick() sees more than randomcps allocations a second, until randomtime quiet seconds; host-wide scope (the port is picked while the local address is the wildcard)",
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
        Ok(StrategyConfig::new(FreeBsd12Config {
            randomized: flag(p, "randomized", true)?,
            randomcps: p.u64_in("randomcps", 10, 0, u64::from(u32::MAX))? as u32,
            randomtime: p.u64_in("randomtime", 45, 0, u64::from(u32::MAX))? as u32,
        }))
    },
};

/// `freebsd-12` (`in_pcb_lport()` with `ipport_tick()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FreeBsd12Config {
    /// `net.inet.ip.portrange.randomized` (1).
    pub randomized: bool,
    /// `net.inet.ip.portrange.randomcps` (10): more allocations than this in one tick's second
    /// switch to sequential allocation.
    pub randomcps: u32,
    /// `net.inet.ip.portrange.randomtime` (45): quiet ticks before randomisation comes back.
    pub randomtime: u32,
}

impl Default for FreeBsd12Config {
    fn default() -> Self {
        FreeBsd12Config { randomized: true, randomcps: 10, randomtime: 45 }
    }
}

impl ConfiguredStrategy for FreeBsd12Config {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// As `freebsd`, but FreeBSD <= 12 checked local ports only.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{Scope, TwReuse};
        // in_pcbconnect_setup() binds through in_pcbbind_setup() while the local address is
        // still INADDR_ANY; in_pcblookup_local(..., INPLOOKUP_WILDCARD) then matches the port on
        // every address: host-wide.
        OsDefaults::profile(10000, 65535, Scope::HostWide, 60, TwReuse::Off)
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        let draw = if self.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
        Box::new(PcbScan::with_fallback(draw, self.randomcps, self.randomtime, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some({
            let draw = if self.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
            Box::new(PcbScan::with_fallback(draw, self.randomcps, self.randomtime, rng))
        })
    }
}
