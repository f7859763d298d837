//! Helpers the test modules share.

use portsim::stack::PortRange;
use portsim::strategy::{BusyPorts, PortCheck, Selection};
use proptest::prelude::*;
use std::cell::Cell;

/// Counts the calls a strategy makes to `check_suitable_port`.
pub struct Counting<'a> {
    inner: &'a BusyPorts,
    pub calls: Cell<u32>,
}

impl<'a> Counting<'a> {
    pub fn new(inner: &'a BusyPorts) -> Counting<'a> {
        Counting { inner, calls: Cell::new(0) }
    }
}

impl PortCheck for Counting<'_> {
    fn is_suitable(&self, port: u16) -> bool {
        self.calls.set(self.calls.get() + 1);
        self.inner.is_suitable(port)
    }
}

/// A random range of up to `max_len` ports (`lo`, `len`), each port busy with probability
/// 0.7 (`busy_mask`), and a seed.
pub fn occupancy(max_len: u16) -> impl Strategy<Value = (u16, u16, Vec<bool>, u64)> {
    (1u16..60_000, 1u16..max_len).prop_flat_map(|(lo, len)| {
        let len = len.min(65535 - lo + 1);
        (Just(lo), Just(len), prop::collection::vec(prop::bool::weighted(0.7), len as usize), any::<u64>())
    })
}

/// The invariants of one selection from `range` against the occupancy `held` it saw: a port
/// returned is in the range and was free (it is then marked taken); a strategy whose scan is
/// `complete` reports exhaustion only when no port is free.
pub fn check_selection(
    what: &str,
    sel: Selection,
    held: &mut BusyPorts,
    range: PortRange,
    complete: bool,
) -> Result<(), TestCaseError> {
    match sel.port {
        Some(p) => {
            prop_assert!(range.contains(p), "{} returned {} outside {}", what, p, range);
            prop_assert!(!held.0.contains(&p), "{} returned busy port {}", what, p);
            held.0.insert(p);
        }
        None => {
            let free = range.iter().any(|p| !held.0.contains(&p));
            prop_assert!(!(complete && free), "{} reported exhaustion with a free port", what);
        }
    }
    Ok(())
}

/// Two strategies (bsd, random-pick) on 100 ports with 10 s of TIME_WAIT at 5 conn/s: cheap to
/// run and to sweep, and its n/H ceiling (100 / 10.1 s = 9.9 conn/s) is near enough that the
/// upper rates of a sweep fail. `duration` and `warmup` are TOML durations ("2m", "20s").
pub fn tiny_scenario(duration: &str, warmup: &str) -> String {
    format!(
        r#"
name = "tiny"
seed = 5
duration = "{duration}"
warmup = "{warmup}"

[ports]
range = "1024-1123"

[tcp]
time_wait = "10s"

[[destinations]]
addr = "192.0.2.10:443"

[workload]
arrivals = {{ process = "poisson", rate = 5.0 }}
lifetime = {{ dist = "exponential", mean = "100ms" }}

[[strategies]]
name = "bsd"

[[strategies]]
name = "random-pick"
"#
    )
}
