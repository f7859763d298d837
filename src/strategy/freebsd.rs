//! The `freebsd` profile: current FreeBSD (13.x on, believed) `in_pcb_lport_dest()`
//! (`operating-systems.md` §3), the [`PcbScan`] loop with a modulo-drawn start, checked against
//! the whole four-tuple.

use super::in_pcb::{PcbScan, StartDraw};
use super::registry::{
    ConfiguredStrategy, OsDefaults, ParamInfo, StrategyConfig, StrategyInfo, flag, serialized,
};
use super::{PortSelector, StrategyRng, TapeRng};
use serde::Serialize;

/// `freebsd`.
pub static INFO: StrategyInfo = StrategyInfo {
    name: "freebsd",
    aliases: &[],
    summary: "current FreeBSD (13.x on, believed) in_pcb_lport_dest(): start = first + arc4random() % (last - first), then ++lastport with wrap; four-tuple scope, a bound port blocks only its own 4-tuple",
    params: &[
        ParamInfo {
            name: "randomized",
            default: "true",
            help: "net.inet.ip.portrange.randomized; false = sequential ++lastport",
        },
        ParamInfo {
            name: "require_unique_port",
            default: "false",
            help: "net.inet.tcp.require_unique_port: connect() binds the port first, host-wide (no sharing across destinations)",
        },
        ParamInfo {
            name: "nolocaltimewait",
            default: "true",
            help: "net.inet.tcp.nolocaltimewait (1 since 14.0): no TIME_WAIT toward the host's own addresses",
        },
    ],
    parse: |p| {
        Ok(StrategyConfig::new(FreeBsdConfig {
            randomized: flag(p, "randomized", true)?,
            require_unique_port: flag(p, "require_unique_port", false)?,
            nolocaltimewait: flag(p, "nolocaltimewait", true)?,
        }))
    },
};

/// `freebsd` (current FreeBSD, `in_pcb_lport_dest()`; believed since 13.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FreeBsdConfig {
    /// `net.inet.ip.portrange.randomized` (1).
    pub randomized: bool,
    /// `net.inet.tcp.require_unique_port` (0): when set, `tcp_connect()` binds through
    /// `in_pcbbind()` with the wildcard address before connecting, so the port must be free on
    /// every address (host-wide scope) instead of only for its 4-tuple.
    pub require_unique_port: bool,
    /// `net.inet.tcp.nolocaltimewait` (1 since 14.0): `tcp_twstart()` closes at once instead of
    /// entering TIME_WAIT when `in_localip(faddr)`, the destination being one of the host's own
    /// addresses (127/8 included).
    pub nolocaltimewait: bool,
}

impl Default for FreeBsdConfig {
    fn default() -> Self {
        FreeBsdConfig { randomized: true, require_unique_port: false, nolocaltimewait: true }
    }
}

impl ConfiguredStrategy for FreeBsdConfig {
    fn name(&self) -> &'static str {
        INFO.name
    }
    /// portrange.first/last 10000-65535, 2 x MSL 30 s, no tw_reuse; in_pcb_lport_dest() checks
    /// the whole 4-tuple.
    fn os_defaults(&self) -> OsDefaults {
        use crate::stack::{BindConflict, Scope, TwReuse};
        let scope = if self.require_unique_port { Scope::HostWide } else { Scope::FourTuple };
        OsDefaults {
            // in_pcb_lport_dest() looks the connection hash up without wildcards: a connected
            // bind-then-connect socket blocks only its own 4-tuple.
            bind_conflict: Some(BindConflict::FourTuple),
            no_local_time_wait: self.nolocaltimewait,
            ..OsDefaults::profile(10000, 65535, scope, 60, TwReuse::Off)
        }
    }
    fn settings(&self) -> serde_json::Value {
        serialized(self)
    }
    fn build(&self, rng: StrategyRng) -> Box<dyn PortSelector> {
        let draw = if self.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
        Box::new(PcbScan::new(draw, rng))
    }
    fn build_taped(&self, rng: TapeRng) -> Option<Box<dyn PortSelector>> {
        Some({
            let draw = if self.randomized { StartDraw::Modulo } else { StartDraw::Sequential };
            Box::new(PcbScan::new(draw, rng))
        })
    }
}
