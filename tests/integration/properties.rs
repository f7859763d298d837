//! Invariants of every strategy over random ranges, occupancies, parameters and seeds.

use crate::support::{Counting, check_selection, occupancy};
use portsim::params::Params;
use portsim::stack::{Flow, PortRange};
use portsim::strategy::registry::{configure, strategy_rng};
use portsim::strategy::*;
use proptest::prelude::*;
use std::collections::HashSet;
use std::net::Ipv4Addr;

/// The strategies with the parameter sets the properties run over. `double-hash` uses 32-bit
/// entries where the scan must be complete: with the RFC's 16-bit entries a counter that wraps
/// mid-scan jumps by 65536 mod n and may skip ports (see exact_sequences.rs).
const CONFIGS: &[(&str, &str, bool)] = &[
    // (name, parameters, scans the whole range)
    ("bsd", "", true),
    ("bsd", "direction = \"down\"\nstart = \"random\"", true),
    ("random-start", "", true),
    ("random-pick", "", false),
    ("hash", "", true),
    ("hash", "next_ephemeral_init = \"random\"\nrekey_period = \"1s\"", true),
    ("double-hash", "entry_width = 32", true),
    ("double-hash", "entry_width = 32\ntable_length = 1\nincrement = \"linux\"\nindex = \"same-hash\"", true),
    ("double-hash", "entry_width = 32\nincrement = \"linux-5.12\"\nindex = \"xor-offset\"", true),
    ("double-hash", "table_length = 256", false),
    ("random-increments", "", false),
    ("random-increments", "n = 3\ntermination = \"one-pass\"", false),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_port_is_in_range_suitable_and_counted((lo, len, busy_mask, seed) in occupancy(200), dests in 1u8..4) {
        let range = PortRange::new(lo, lo + len - 1).unwrap();
        let busy: HashSet<u16> = range.iter().zip(&busy_mask).filter(|(_, b)| **b).map(|(p, _)| p).collect();
        for (name, params, complete) in CONFIGS {
            let cfg = configure(name, Params::from_toml("s", params).unwrap()).unwrap();
            let mut s = cfg.build(strategy_rng(seed, name));
            let mut held = BusyPorts(busy.clone());
            for call in 0..(len as u32 + 3) {
                let f = Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, (call % dests as u32) as u8), 443);
                let check = Counting::new(&held);
                let sel = s.select(&Request::connect(&f, u64::from(call) * 400_000_000, range), &check);
                prop_assert_eq!(sel.candidates, check.calls.get(), "{} {}: candidates must be the calls made", name, params);
                prop_assert!(sel.candidates <= range.len() || !complete);
                check_selection(&format!("{name} {params}"), sel, &mut held, range, *complete)?;
            }
        }
    }
}
