//! The `openbsd` profile: OpenBSD `in_pcbpickport()` (`operating-systems.md` §4), the
//! [`PcbScan`] loop from an `arc4random_uniform()` start, local-port scope.

use super::in_pcb::{PcbScan, StartDraw};
use super::registry::{ConfiguredStrategy, OsDefaults, StrategyConfig, StrategyInfo};
use super::{PortSelector, StrategyRng, TapeRng};

/// `openbsd`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "openbsd",
    aliases: &[],
    summary: "OpenBSD in_pcbpickport(): start = lower + arc4random_uniform(higher - lower), then ++ with wrap, skipping the baddynamic ports 2049 and 6000-6010; local-port scope",
    params: &[],
    parse: |_| Ok(StrategyConfig::new(OpenBsdConfig)),
};

/// OpenBSD's allocator has no tunables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenBsdConfig;

/// OpenBSD's default bad-dynamic TCP ports inside 1024-49151.
pub const OPENBSD_BAD_DYNAMIC: &[u16] =
    &[2049, 6000, 6001, 6002, 6003, 6004, 6005, 6006, 6007, 6008, 6009, 6010];

impl ConfiguredStrategy for OpenBsdConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// ipport_firstauto/lastauto 1024-49151, TCPTV_MSL 30 s.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{Scope, TwReuse};
        // The default `baddynamic` list (netinet/in_pcb.c `baddynamicports`) inside the range:
        // NFS 2049 and X11 6000-6010, which in_pcbpickport() skips.
        OsDefaults {
            reserved: OPENBSD_BAD_DYNAMIC,
            ..OsDefaults::profile(1024, 49151, Scope::LocalPort, 60, TwReuse::Off)
        }
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(PcbScan::new(StartDraw::Uniform, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some(Box::new(PcbScan::new(StartDraw::Uniform, rng)))
    }
}
