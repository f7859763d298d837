//! The `macos` profile: XNU `in_pcbbind()` (`operating-systems.md` §6). By default
//! (`net.inet.tcp.randomize_ports = 0`) a sequential `++lastport` from a zeroed global, which is
//! exactly the traditional BSD counter counting up from `first`; randomised, the [`PcbScan`]
//! loop from `first + random16 % (last - first)`.

use super::bsd::{Bsd, BsdConfig};
use super::in_pcb::{PcbScan, StartDraw};
use super::registry::{
    ConfiguredStrategy, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, flag, serialized,
};
use super::{PortSelector, StrategyRng, TapeRng};
use serde::Serialize;

/// `macos`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "macos",
    aliases: &[],
    summary: "macOS / XNU in_pcbbind(): sequential ++lastport from one global counter, wrapping to first (randomize_ports = 0), skipping 55555, 61314-61315, 62742-62743; host-wide scope, TIME_WAIT 2 x 15 s",
    params: &[ParamInfo {
        name: "randomize_ports",
        default: "false",
        help: "net.inet.tcp.randomize_ports: start at first + random16 % (last - first)",
    }],
    parse: |p| Ok(StrategyConfig::new(MacOsConfig { randomize_ports: flag(p, "randomize_ports", false)? })),
};

/// `macos` (XNU `in_pcbbind()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MacOsConfig {
    /// `net.inet.tcp.randomize_ports` (0: sequential).
    pub randomize_ports: bool,
}

/// The restricted ports of XNU's `IS_RESTRICTED_IN_PORT()` inside 49152-65535.
pub const MACOS_RESTRICTED: &[u16] = &[55555, 61314, 61315, 62742, 62743];

impl ConfiguredStrategy for MacOsConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// IANA's 49152-65535; TCPTV_MSL = 15 s (bsd/netinet/tcp_timer.h, net.inet.tcp.msl =
    /// 15000), so TIME_WAIT is 2 x 15 = 30 s.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{Scope, TwReuse};
        // in_pcbconnect() calls in_pcbbind() with the local address still INADDR_ANY:
        // host-wide. IS_RESTRICTED_IN_PORT() (bsd/netinet/in_pcb.c) skips five ports of the range.
        OsDefaults {
            reserved: MACOS_RESTRICTED,
            ..OsDefaults::profile(49152, 65535, Scope::HostWide, 30, TwReuse::Off)
        }
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        if self.randomize_ports {
            Box::new(PcbScan::new(StartDraw::Modulo16, rng))
        } else {
            Box::new(Bsd::new(BsdConfig::default(), rng))
        }
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some({
            if self.randomize_ports {
                Box::new(PcbScan::new(StartDraw::Modulo16, rng))
            } else {
                Box::new(Bsd::new(BsdConfig::default(), rng))
            }
        })
    }
}
