//! The selection loop's entry points agree: `select_stack` and `select_bind`, which the
//! simulator calls and which the built-in strategies specialise to the stack's check (issue 16,
//! item 4), return what `select` through a `&dyn PortCheck` returns and leave the same state.

use portsim::params::Params;
use portsim::stack::{Flow, PortRange, Stack, StackConfig};
use portsim::strategy::registry::{STRATEGIES, configure, strategy_rng};
use portsim::strategy::{BindCheck, PortCheck, PortSelector, Request, SocketMode, StackCheck};
use proptest::prelude::*;
use std::net::Ipv4Addr;

fn twins(name: &str, seed: u64) -> (Box<dyn PortSelector>, Box<dyn PortSelector>) {
    let cfg = configure(name, Params::empty("s")).unwrap_or_else(|e| panic!("{name}: {e}"));
    (cfg.build(strategy_rng(seed, name)), cfg.build(strategy_rng(seed, name)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every built-in strategy, over a 64-port range filled by its own picks (so exhaustion
    /// comes too) and emptied at random: each call through the specialised entry point gives
    /// the same selection as its twin's call through `select`, call after call.
    #[test]
    fn specialised_entry_points_select_as_the_dyn_one(
        seed in any::<u64>(),
        bind in any::<bool>(),
        per_socket_range in any::<bool>(),
        releases in proptest::collection::vec(any::<u16>(), 100),
    ) {
        let range = PortRange::new(40_000, 40_063).unwrap();
        let flow = Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 1), 443);
        let mode = if bind { SocketMode::BindThenConnect } else { SocketMode::Connect };
        for info in STRATEGIES {
            let (mut fast, mut slow) = twins(info.name, seed);
            let mut stack = Stack::new(StackConfig::simple(range));
            let mut held: Vec<u16> = Vec::new();
            for (i, r) in releases.iter().enumerate() {
                let now = 1_000_000 * i as u64;
                let req = Request { flow: &flow, now, range, mode, per_socket_range };
                let (a, b) = if bind {
                    let check = BindCheck { stack: &stack, local_index: 0 };
                    (fast.select_bind(&req, &check), slow.select(&req, &check as &dyn PortCheck))
                } else {
                    let check = StackCheck { stack: &stack, flow: &flow, now };
                    (fast.select_stack(&req, &check), slow.select(&req, &check as &dyn PortCheck))
                };
                prop_assert_eq!(a, b, "{} call {}", info.name, i);
                if let Some(port) = a.port.filter(|&p| !a.forced && range.contains(p)) {
                    stack.open(&flow, port, now, bind);
                    held.push(port);
                }
                // Now and then a connection closes (by the server: no TIME_WAIT).
                if r % 3 == 0 && !held.is_empty() {
                    let port = held.swap_remove(usize::from(*r) % held.len());
                    stack.close(flow.key(port), now, portsim::stack::Closer::Server, 0);
                }
            }
        }
    }
}
