//! What `portsim check` says about a scenario besides "ok": the settings that have no kernel
//! counterpart, so a reader does not mistake a model of an application (or of a tuned host) for
//! what a stock kernel does.

use super::{AddrChoice, Scenario};
use crate::stack::{TimeWaitTimer, TwReuse};
use crate::strategy::SocketMode;

/// One line per setting that no kernel does by itself.
pub fn kernel_notes(s: &Scenario) -> Vec<String> {
    let mut out = Vec::new();
    let connect_sockets = s.socket.mode == SocketMode::Connect
        || s.destinations.iter().any(|d| d.socket().is_some_and(|k| k.mode == SocketMode::Connect));
    if s.addrs.len() > 1 && connect_sockets {
        match s.addr_choice {
            AddrChoice::Route => {}
            AddrChoice::RoundRobin | AddrChoice::Random => out.push(format!(
                "host.addr_choice = \"{}\": no kernel spreads a plain connect() over source addresses (it takes the route's, one per destination); this models an application that binds each socket to an address itself",
                if s.addr_choice == AddrChoice::Random { "random" } else { "round-robin" }
            )),
            AddrChoice::Fallback => out.push(
                "host.addr_choice = \"fallback\": no kernel retries from another address; this models an application or a SNAT gateway that does".into(),
            ),
        }
    }
    for spec in &s.strategies {
        let os = spec.config.os_defaults();
        if os.range.is_none() {
            continue;
        }
        let eff = s.effective(spec);
        let linux = os.hz.is_some();
        let label = &spec.label;
        if let Some(scope) = os.scope
            && eff.scope != scope
        {
            out.push(format!(
                "strategy `{label}` runs with scope {} where its kernel's is {}",
                eff.scope.name(),
                scope.name()
            ));
        }
        match (linux, eff.timer) {
            (true, TimeWaitTimer::Exact) => out.push(format!(
                "strategy `{label}`: an exact TIME_WAIT is not Linux's, whose TIME_WAIT ends on the timer wheel's grid"
            )),
            (false, TimeWaitTimer::Wheel { .. }) => out.push(format!(
                "strategy `{label}`: the Linux timer wheel is not {}'s TIME_WAIT timer",
                spec.config.name()
            )),
            _ => {}
        }
        if !linux && eff.tw_reuse != TwReuse::Off {
            out.push(format!(
                "strategy `{label}`: tw_reuse is Linux's; {} has no such setting",
                spec.config.name()
            ));
        }
    }
    out
}
