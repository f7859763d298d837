//! The OS profiles: exact sequences derived by hand from the kernels' algorithms
//! (`operating-systems.md`) with a scripted RNG, invariants over random occupancies, then whole
//! simulations of the behaviour those algorithms imply (issue 4).
//!
//! In the exact tests the range is 1000-1009 (n = 10; for Linux `[low, high)` = [1000, 1010),
//! `remaining` = 10, step 2). As in `exact_sequences.rs`, the keyed hashes are the one thing
//! taken from the code (`KeyedHash::hash`): SipHash is not worked by hand.

use crate::support::{Counting, check_selection, occupancy};
use portsim::params::Params;
use portsim::scenario::{Scenario, parse};
use portsim::sim::{ConnRecord, RunOptions, RunOutput, run_all};
use portsim::stack::{Flow, PortRange, TwReuse};
use portsim::strategy::registry::{configure, strategy_rng};
use portsim::strategy::*;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashSet};
use std::net::Ipv4Addr;
use std::path::Path;

const S: u64 = 1_000_000_000;

fn range() -> PortRange {
    PortRange::new(1000, 1009).unwrap()
}

fn flow(last_octet: u8) -> Flow {
    Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, last_octet), 443)
}

fn request(f: &Flow, now: u64, mode: SocketMode) -> Request<'_> {
    Request { flow: f, now, range: range(), mode, per_socket_range: false }
}

/// One selection toward `f` at `now` in `mode`; the chosen port becomes busy, as a live
/// connection would make it.
fn pick(
    s: &mut dyn PortSelector,
    f: &Flow,
    busy: &mut BusyPorts,
    now: u64,
    mode: SocketMode,
) -> (Option<u16>, u32) {
    let sel = s.select(&request(f, now, mode), busy);
    if let Some(p) = sel.port {
        busy.0.insert(p);
    }
    (sel.port, sel.candidates)
}

fn connect(s: &mut dyn PortSelector, f: &Flow, busy: &mut BusyPorts) -> (Option<u16>, u32) {
    pick(s, f, busy, 0, SocketMode::Connect)
}

/// Script for a keyed strategy's secret: k0 = 1, k1 = 2 (each u64 is two draws, low half first),
/// then `rest`.
fn keyed(rest: impl IntoIterator<Item = u32>) -> ScriptedRng {
    let mut rng = ScriptedRng::new([1, 0, 2, 0]);
    rng.push(rest);
    rng
}

fn siphash(f: &Flow, window: u64) -> u64 {
    KeyedHash { k0: 1, k1: 2, function: HashFn::Siphash24 }.hash(f, window)
}

/// Draws whose `get_random_u32_below(8)` = (d * 8) >> 32 is 1, 2 and 7.
const R1: u32 = 0x2000_0000;
const R2: u32 = 0x4000_0000;
const R7: u32 = 0xE000_0000;

/// `linux` with a one-entry table (index = hash & 0 = 0): script = key, window phase (a u64),
/// table[0], then the draws of the selections.
fn linux_one_entry(cfg: LinuxConfig, phase: u32, entry: u32, draws: &[u32]) -> Linux<ScriptedRng> {
    let mut rng = keyed([phase, 0, entry]);
    rng.push(draws.iter().copied());
    Linux::new(LinuxConfig { table_length: 1, ..cfg }, rng)
}

// ---------------------------------------------------------------------------------------------
// Linux >= 5.18
// ---------------------------------------------------------------------------------------------

#[test]
fn linux_scans_its_parity_first_and_advances_by_max_i_2r_plus_2() {
    // offset = (table[0] + high 32 bits of the hash) % 10 = x, forced even: e.
    let a = flow(1);
    let x = 100u32.wrapping_add((siphash(&a, 0) >> 32) as u32) % 10;
    let e = x & !1;
    let port = |k: u32| 1000 + ((e + k) % 10) as u16;
    let mut s = linux_one_entry(LinuxConfig::default(), 0, 100, &[R1, R7, 0, R2]);
    let mut busy = BusyPorts::new([port(0)]);
    // 1: port(0) busy at i = 0, port(2) free at i = 2: 2 candidates. r = 1: entry +=
    //    max(2, 2) + 2 = 4 -> 104.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(2)), 2));
    assert_eq!(s.table(), &[104]);
    // 2: (104 + hi) % 10 = x + 4 (mod 10), so the start is e + 4: free at i = 0. r = 7: entry +=
    //    max(0, 14) + 2 = 16 -> 120.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(4)), 1));
    assert_eq!(s.table(), &[120]);
    // 3: (120 + hi) % 10 = x: e, e + 2, e + 4 busy, e + 6 free at i = 6. r = 0: += 6 + 2 -> 128.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(6)), 4));
    assert_eq!(s.table(), &[128]);
    // 4: every even port busy: the first pass fails after 5 candidates; the second starts at
    //    ((128 + hi) % 10 & !1) + 1 = e + 8 + 1, an odd port, free at i = 0 (i restarts with the
    //    pass). r = 2: += max(0, 4) + 2 = 6 -> 134.
    busy.0.extend((1000..1010).step_by(2));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(9)), 6));
    assert_eq!(s.table(), &[134]);
    // 5: everything busy: both passes, 10 candidates, EADDRNOTAVAIL; no draw, no advance.
    busy.0.extend(1000..1010);
    assert_eq!(connect(&mut s, &a, &mut busy), (None, 10));
    assert_eq!(s.table(), &[134]);
}

#[test]
fn linux_counts_reserved_and_bound_ports_as_candidates_and_in_i() {
    // The kernel `continue`s past a reserved or bind()-owned port but `i` still advances: here
    // the first two even candidates are unsuitable (whatever the reason), so i = 4 and with r = 0
    // the entry advances by 4 + 2.
    let a = flow(1);
    let e = (100u32.wrapping_add((siphash(&a, 0) >> 32) as u32) % 10) & !1;
    let port = |k: u32| 1000 + ((e + k) % 10) as u16;
    let mut s = linux_one_entry(LinuxConfig::default(), 0, 100, &[0]);
    let mut busy = BusyPorts::new([port(0), port(2)]);
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(4)), 3));
    assert_eq!(s.table(), &[106]);
}

#[test]
fn linux_re_keys_at_each_10_second_window_with_a_random_phase() {
    // Phase draw: the u64 3_000_000_000 -> phase 3 s, so window = (now + 3 s) / 10 s.
    // Table [0]; r = 0 each time, so the entry advances by 2 per connection.
    let a = flow(1);
    let port = |window: u64, entry: u32| {
        1000 + ((entry.wrapping_add((siphash(&a, window) >> 32) as u32) % 10) & !1) as u16
    };
    let mut s = linux_one_entry(LinuxConfig::default(), 3_000_000_000, 0, &[0, 0, 0]);
    let free = BusyPorts::default();
    // 6.9 s: window 0 (6.9 + 3 < 10).
    assert_eq!(s.select(&request(&a, 6_900_000_000, SocketMode::Connect), &free).port, Some(port(0, 0)));
    // 7 s: window 1, a new offset (from the same entry, now 2).
    assert_eq!(s.select(&request(&a, 7 * S, SocketMode::Connect), &free).port, Some(port(1, 2)));
    // 16.9 s is still window 1; 17 s is window 2.
    assert_eq!(s.select(&request(&a, 17 * S, SocketMode::Connect), &free).port, Some(port(2, 4)));
    assert_ne!(siphash(&a, 0) >> 32, siphash(&a, 1) >> 32);
}

#[test]
fn linux_per_socket_range_steps_by_one_with_no_parity_split() {
    // IP_LOCAL_PORT_RANGE (6.8+): offset = (100 + hi32) % 10 = o, not forced even; step 1.
    let a = flow(1);
    let o = 100u32.wrapping_add((siphash(&a, 0) >> 32) as u32) % 10;
    let port = |k: u32| 1000 + ((o + k) % 10) as u16;
    let mut s = linux_one_entry(LinuxConfig::default(), 0, 100, &[R1]);
    let mut busy = BusyPorts::new([port(0), port(1)]);
    let req = Request { per_socket_range: true, ..request(&a, 0, SocketMode::Connect) };
    // port(0), port(1) busy, port(2) free at i = 2 (positions x step 1). r = 1: entry +=
    // max(2, 1 x 1) + 1 = 3 -> 103.
    assert_eq!(s.select(&req, &busy), Selection::found(port(2), 3));
    assert_eq!(s.table(), &[103]);
    // One pass over all ten ports, odd and even alike, when everything is busy.
    busy.0.extend(1000..1010);
    assert_eq!(s.select(&req, &busy), Selection::exhausted(10));
}

#[test]
fn linux_bind_takes_an_odd_offset_and_never_touches_the_table() {
    // bind(0): offset = get_random_u32_below(10) | 1. Draw 0x9A00_0000: x 10 = 0x6_0400_0000,
    // so 6 (its low half is not below 10: no redraw), | 1 = 7.
    // Odd pass from 7: 1007, 1009, 1011 - 10 = 1001, 1003, 1005; then the even pass from 6.
    let a = flow(1);
    let mut s = linux_one_entry(LinuxConfig::default(), 0, 100, &[0x9A00_0000, 0x9A00_0000]);
    let mut busy = BusyPorts::new([1007, 1009]);
    assert_eq!(pick(&mut s, &a, &mut busy, 0, SocketMode::BindThenConnect), (Some(1001), 3));
    // Every odd port busy: 5 odd candidates, then 1006 first on the even pass.
    busy.0.extend([1003, 1005]);
    assert_eq!(pick(&mut s, &a, &mut busy, 0, SocketMode::BindThenConnect), (Some(1006), 6));
    assert_eq!(s.table(), &[100], "bind(0) neither reads nor advances table_perturb");
}

#[test]
fn linux_bind_no_port_is_connect() {
    // IP_BIND_ADDRESS_NO_PORT: the port is chosen by the connect() algorithm (even first).
    let a = flow(1);
    let e = (100u32.wrapping_add((siphash(&a, 0) >> 32) as u32) % 10) & !1;
    let mut s = linux_one_entry(LinuxConfig::default(), 0, 100, &[0]);
    let mut busy = BusyPorts::default();
    assert_eq!(pick(&mut s, &a, &mut busy, 0, SocketMode::BindNoPort), (Some(1000 + e as u16), 1));
    assert_eq!(s.table(), &[102]);
}

#[test]
fn linux_bind_with_so_reuseaddr_tries_the_lower_half_first() {
    // half = 1000 + ((10 >> 2) << 1) = 1004. Attempt 1: [1000, 1004), remaining 4; draw 0 ->
    // offset 1: 1001, 1003, then 1000, 1002, all busy. Attempt 2: [1004, 1010), remaining 6;
    // draw 0x8000_0001 x 6 = 0x3_0000_0006 -> 3 (the low half 6 is not below 6), | 1 = 3: port
    // 1007, the 5th candidate.
    let a = flow(1);
    let cfg = LinuxConfig { so_reuseaddr: true, ..LinuxConfig::default() };
    let mut s = linux_one_entry(cfg, 0, 100, &[0, 0x8000_0001]);
    let mut busy = BusyPorts::new(1000..1004);
    assert_eq!(pick(&mut s, &a, &mut busy, 0, SocketMode::BindThenConnect), (Some(1007), 5));
}

// ---------------------------------------------------------------------------------------------
// Linux 5.12-5.17 and <= 5.11
// ---------------------------------------------------------------------------------------------

#[test]
fn linux_5_12_indexes_by_hash_32_and_skips_a_candidate_1_time_in_16() {
    // port_offset = the low 32 bits of the SipHash (po); index = hash_32(po, 8) =
    // (po x 0x61C88647) >> 24; table[k] = 1000 k; offset = (table[index] + po) % 10, forced even.
    let a = flow(1);
    let po = siphash(&a, 0) as u32;
    let index = (po.wrapping_mul(0x61C8_8647) >> 24) as usize;
    let t0 = 1000 * index as u32;
    let port = |entry: u32| 1000 + ((entry.wrapping_add(po) % 10) & !1) as u16;
    let mut rng = keyed((0..256).map(|k| 1000 * k));
    rng.push([32, 5]); // noise draws: 32 % 16 == 0 (skip), 5 % 16 != 0 (no skip)
    let mut s = Linux512::new(Linux512Config::default(), rng);
    let mut busy = BusyPorts::default();
    // 1: free at i = 0; the noise draw says skip: i = 2, entry += 2 + 2.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(t0)), 1));
    assert_eq!(s.table()[index], t0 + 4);
    // 2: start port(t0 + 4), free at i = 0, no skip: += 2.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(t0 + 4)), 1));
    assert_eq!(s.table()[index], t0 + 6);
    // 3: the first candidate busy, found at i = 2: no noise draw (the script has none left),
    //    += 2 + 2.
    busy.0.insert(port(t0 + 6));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(t0 + 8)), 2));
    assert_eq!(s.table()[index], t0 + 10);
    assert!(s.table().iter().enumerate().all(|(k, v)| k == index || *v == 1000 * k as u32));
}

#[test]
fn linux_legacy_shares_one_hint_across_destinations() {
    // 4.6-5.11: offset = (hint + po) % 10, forced even; hint += i + 2 after a success.
    let port = |hint: u32, po: u32, k: u32| 1000 + ((((hint.wrapping_add(po) % 10) & !1) + k) % 10) as u16;
    let a = flow(1);
    let pa = siphash(&a, 0) as u32;
    let mut busy = BusyPorts::new([port(0, pa, 0)]);
    // B: a destination whose start after hint = 4 is not one of A's ports (the test picks one).
    let b = (2..=255)
        .map(flow)
        .find(|b| ![port(0, pa, 0), port(0, pa, 2)].contains(&port(4, siphash(b, 0) as u32, 0)))
        .unwrap();
    let pb = siphash(&b, 0) as u32;
    let mut s = LinuxLegacy::new(LinuxLegacyConfig::default(), keyed([]));
    // A: first candidate busy, found at i = 2: hint = 0 + 2 + 2 = 4.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(port(0, pa, 2)), 2));
    assert_eq!(s.hint(), 4);
    // B starts from hint 4, not 0: A's connection moved B's sequence on. hint = 4 + 0 + 2.
    assert_eq!(connect(&mut s, &b, &mut busy), (Some(port(4, pb, 0)), 1));
    assert_eq!(s.hint(), 6);
}

#[test]
fn linux_legacy_3x_scans_one_pass_from_hint_plus_hash_plus_one() {
    // 3.x: port = 1000 + (i + hint + po) % 10 for i = 1..10; hint += i.
    let a = flow(1);
    let pa = siphash(&a, 0) as u32;
    let q = |k: u32| 1000 + (k.wrapping_add(pa) % 10) as u16;
    let cfg = LinuxLegacyConfig { era: LegacyEra::V3, ..LinuxLegacyConfig::default() };
    let mut s = LinuxLegacy::new(cfg, keyed([13]));
    let mut busy = BusyPorts::new([q(1)]);
    // i = 1 busy, i = 2 free: hint = 2. Then i = 1 -> q(2 + 1) = q(3): hint = 3.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(q(2)), 2));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(q(3)), 1));
    assert_eq!(s.hint(), 3);
    // bind(0) in 3.x: rover = 1000 + 13 % 10 = 1003, then +1.
    busy.0.remove(&1003);
    busy.0.remove(&1004);
    assert_eq!(pick(&mut s, &a, &mut busy, 0, SocketMode::BindThenConnect).0, Some(1003));
}

#[test]
fn linux_legacy_4_2_starts_even_scans_by_1_and_advances_the_hint_by_an_even_step() {
    // 4.2 (07f4c90062f8): offset = (hint + po) & ~1; port = 1000 + (i + offset) % 10 for
    // i = 0..10; after a success at i, hint += (i + 2) & ~1.
    let a = flow(1);
    let pa = siphash(&a, 0) as u32;
    let q = |hint: u32, i: u32| 1000 + (i.wrapping_add(hint.wrapping_add(pa) & !1) % 10) as u16;
    let cfg = LinuxLegacyConfig { era: LegacyEra::V4_2, ..LinuxLegacyConfig::default() };
    let mut s = LinuxLegacy::new(cfg, keyed([]));
    let mut busy = BusyPorts::new([q(0, 0)]);
    assert_eq!(q(0, 0) % 2, 0, "the first candidate is even");
    // i = 0 busy, i = 1 free (an odd port: step 1): hint = (1 + 2) & ~1 = 2.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(q(0, 1)), 2));
    assert_eq!(s.hint(), 2);
    // From hint 2: i = 0 is free: hint = 2 + (0 + 2) & ~1 = 4.
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(q(2, 0)), 1));
    assert_eq!(s.hint(), 4);
    // The era's defaults: the pre-4.6 range and tw_reuse off.
    let d =
        configure("linux-legacy", Params::from_toml("s", "era = \"4.2\"").unwrap()).unwrap().os_defaults();
    assert_eq!((d.range.unwrap().to_string(), d.tw_reuse), ("32768-61000".to_string(), Some(TwReuse::Off)));
}

// ---------------------------------------------------------------------------------------------
// FreeBSD, OpenBSD, macOS, Windows
// ---------------------------------------------------------------------------------------------

#[test]
fn freebsd_draws_a_start_then_scans_from_the_port_after_it() {
    // lastport = 1000 + arc4random() % (1009 - 1000); the first candidate is ++lastport.
    // 1: 13 % 9 = 4 -> 1004; 1005 busy, 1006: 2 candidates.
    // 2: 8 -> 1008; 1009.   3: 17 % 9 = 8 -> 1008; 1009 busy, 1010 > last -> 1000: 2 candidates
    //    (1000 is reachable only by that wrap: the draw never lands on 1009).
    // 4: all busy: count runs from 9 down to -1, 10 candidates.
    let mut s = PcbScan::new(StartDraw::Modulo, ScriptedRng::new([13, 8, 17, 0]));
    let mut busy = BusyPorts::new([1005]);
    let a = flow(1);
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1006), 2));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1009), 1));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1000), 2));
    busy.0.extend(1000..1010);
    assert_eq!(connect(&mut s, &a, &mut busy), (None, 10));
}

#[test]
fn freebsd_unrandomized_and_macos_count_up_from_first() {
    // ipi_lastport starts at 0: ++ -> 1 < first -> first. Then +1 per candidate.
    let a = flow(1);
    let mut fb = PcbScan::new(StartDraw::Sequential, ScriptedRng::new([]));
    let mut busy = BusyPorts::new([1002]);
    let got: Vec<_> = (0..3).map(|_| connect(&mut fb, &a, &mut busy)).collect();
    assert_eq!(got, vec![(Some(1000), 1), (Some(1001), 1), (Some(1003), 2)]);
    // macOS and Windows (the traditional BSD counter): the same sequence, from the registry.
    for name in ["macos", "windows"] {
        let mut s = configure(name, Params::empty("s")).unwrap().build(strategy_rng(1, name));
        let mut busy = BusyPorts::new([1002]);
        let got: Vec<_> = (0..3).map(|_| connect(s.as_mut(), &a, &mut busy)).collect();
        assert_eq!(got, vec![(Some(1000), 1), (Some(1001), 1), (Some(1003), 2)], "{name}");
    }
    // macOS with randomize_ports: a 16-bit draw, 0x0001_000D -> 13, % 9 = 4 -> 1004; first 1005.
    let mut mac = PcbScan::new(StartDraw::Modulo16, ScriptedRng::new([0x0001_000D]));
    assert_eq!(connect(&mut mac, &a, &mut BusyPorts::default()), (Some(1005), 1));
}

#[test]
fn freebsd_12_goes_sequential_after_a_busy_second_and_back_after_quiet_ones() {
    // randomcps = 2, randomtime = 3; tick phase 0 (draws 0, 0): ticks at whole seconds.
    let mut s = PcbScan::with_fallback(StartDraw::Modulo, 2, 3, ScriptedRng::new([0, 0, 4, 6, 2, 7]));
    let a = flow(1);
    let mut busy = BusyPorts::default();
    let mut at = |s: &mut PcbScan<ScriptedRng>, t: u64| pick(s, &a, &mut busy, t, SocketMode::Connect).0;
    // Second 0: random: 4 -> 1004, first 1005; 6 -> 1007; 2 -> 1003.
    assert_eq!(
        [at(&mut s, 0), at(&mut s, S / 3), at(&mut s, 2 * S / 3)],
        [Some(1005), Some(1007), Some(1003)]
    );
    // Tick at 1 s: 3 allocations > 0 + 2 -> stoprandom = 3: sequential, ++lastport = 1004.
    assert_eq!(at(&mut s, S), Some(1004));
    assert_eq!(s.fallback().unwrap().stoprandom(), 3);
    // Tick at 2 s saw 1 allocation: 2 left; still sequential: 1005 is busy, 1006.
    assert_eq!(at(&mut s, 2 * S), Some(1006));
    assert_eq!(s.fallback().unwrap().stoprandom(), 2);
    // Ticks at 3 s and 4 s are quiet: 0. Random again: 7 -> 1007 (busy), 1008.
    assert_eq!(at(&mut s, 4 * S + S / 2), Some(1008));
    assert_eq!(s.fallback().unwrap().stoprandom(), 0);
}

#[test]
fn openbsd_draws_uniformly_with_rejection_every_time() {
    // arc4random_uniform(9): draws below 2^32 mod 9 = 4 are rejected. 2 rejected, 22 % 9 = 4 ->
    // candidate 1004, ++ -> 1005. Then 5 % 9 = 5 -> 1006. No state: every call draws afresh.
    let mut s = PcbScan::new(StartDraw::Uniform, ScriptedRng::new([2, 22, 5]));
    let a = flow(1);
    let mut busy = BusyPorts::default();
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1005), 1));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1006), 1));
}

// ---------------------------------------------------------------------------------------------
// NetBSD
// ---------------------------------------------------------------------------------------------

fn netbsd(algorithm: NetBsdAlgorithm, per_call_secret: bool, rng: ScriptedRng) -> NetBsd<ScriptedRng> {
    NetBsd::new(NetBsdConfig { algorithm, per_call_secret, ..NetBsdConfig::default() }, rng)
}

/// NetBSD's `Fhash()` under key (k0, k1): the SipHash folded to 16 bits by XOR.
fn fhash(f: &Flow, k0: u64, k1: u64) -> u32 {
    let h = KeyedHash { k0, k1, function: HashFn::Siphash24 }.hash(f, 0);
    u32::from((h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48)) as u16)
}

#[test]
fn netbsd_bsd_counts_down_and_random_start_is_algorithm_1() {
    let a = flow(1);
    let mut s = netbsd(NetBsdAlgorithm::Bsd, false, ScriptedRng::new([]));
    let mut busy = BusyPorts::new([1007]);
    let got: Vec<_> = (0..3).map(|_| connect(&mut s, &a, &mut busy)).collect();
    assert_eq!(got, vec![(Some(1009), 1), (Some(1008), 1), (Some(1006), 2)]);
    // random_start: next = 1000 + 23 % 10 = 1003, tested first (unlike FreeBSD's ++ first).
    let mut s = netbsd(NetBsdAlgorithm::RandomStart, false, ScriptedRng::new([23]));
    assert_eq!(connect(&mut s, &a, &mut BusyPorts::default()), (Some(1003), 1));
}

#[test]
fn netbsd_hash_shares_a_16_bit_counter_that_wraps_at_65536() {
    // port = 1000 + (next + Fhash) % 10; next++ per candidate; next is a uint16_t.
    let a = flow(1);
    let oa = fhash(&a, 1, 2);
    let q = |o: u32, next: u32| 1000 + ((next + o) % 10) as u16;
    let b = (2..=255).map(flow).find(|b| ![q(oa, 0), q(oa, 1)].contains(&q(fhash(b, 1, 2), 2))).unwrap();
    let mut s = netbsd(NetBsdAlgorithm::Hash, false, keyed([]));
    let mut busy = BusyPorts::new([q(oa, 0)]);
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(q(oa, 1)), 2));
    assert_eq!(connect(&mut s, &b, &mut busy), (Some(q(fhash(&b, 1, 2), 2)), 1));
    assert_eq!(s.next_ephemeral(), Some(3));
    // Run next up to 65535; the next candidate is (65535 + o) % 10, and after it next wraps to
    // 0: o % 10, where a 32-bit counter would give (65536 + o) % 10 = (o + 6) % 10.
    let free = BusyPorts::default();
    for _ in 3..65535 {
        s.select(&request(&a, 0, SocketMode::Connect), &free);
    }
    assert_eq!(s.next_ephemeral(), Some(65535));
    assert_eq!(s.select(&request(&a, 0, SocketMode::Connect), &free).port, Some(q(oa, 65535)));
    assert_eq!(s.next_ephemeral(), Some(0));
    assert_eq!(s.select(&request(&a, 0, SocketMode::Connect), &free).port, Some(q(oa, 0)));
}

#[test]
fn netbsd_per_call_secret_redraws_the_offset_every_time() {
    // Fhash() draws a fresh 128-bit secret per call: the first call hashes under (1, 2), the
    // second under (3, 4), so one destination gets unrelated offsets.
    let a = flow(1);
    let mut s = netbsd(NetBsdAlgorithm::Hash, true, ScriptedRng::new([1, 0, 2, 0, 3, 0, 4, 0]));
    let free = BusyPorts::default();
    let p1 = s.select(&request(&a, 0, SocketMode::Connect), &free).port;
    let p2 = s.select(&request(&a, 0, SocketMode::Connect), &free).port;
    assert_eq!(p1, Some(1000 + (fhash(&a, 1, 2) % 10) as u16));
    assert_eq!(p2, Some(1000 + ((1 + fhash(&a, 3, 4)) % 10) as u16));
}

#[test]
fn netbsd_doublehash_draws_its_table_lazily_and_again_while_entry_0_is_0() {
    // Fixed secret: offset = Fhash, idx = Fhash % 8 (the same value twice). The table is drawn
    // (& 0xffff) at the first call, and redrawn at any call that finds table[0] == 0.
    let a = (1..=255).map(flow).find(|f| !fhash(f, 1, 2).is_multiple_of(8)).unwrap();
    let o = fhash(&a, 1, 2);
    let idx = (o % 8) as usize;
    let mut rng = keyed(0..8); // table [0, 1, .., 7]: entry 0 is 0
    rng.push((0..8).map(|k| 0x0001_0000 + 100 + k)); // second table: [100, .., 107]
    let mut s = netbsd(NetBsdAlgorithm::DoubleHash, false, rng);
    let free = BusyPorts::default();
    // 1: port = 1000 + (o + idx) % 10; table[idx]++.
    let p1 = s.select(&request(&a, 0, SocketMode::Connect), &free).port;
    assert_eq!(p1, Some(1000 + ((o + idx as u32) % 10) as u16));
    // 2: table[0] is still 0: redrawn (100 + k), then port = 1000 + (o + 100 + idx) % 10.
    let p2 = s.select(&request(&a, 0, SocketMode::Connect), &free).port;
    assert_eq!(p2, Some(1000 + ((o + 100 + idx as u32) % 10) as u16));
    let mut expected: Vec<u16> = (100..108).collect();
    expected[idx] += 1;
    assert_eq!(s.table(), &expected[..]);
}

#[test]
fn netbsd_randinc_adds_1_to_500_to_a_16_bit_counter() {
    // next = 0 -> drawn: 65530. +(9 % 500 + 1) = 65540 -> wraps to 4: port 1004 (a 32-bit counter
    // would give 65540 % 10 = 0). Then +(499 % 500 + 1) = 504 -> 1004 busy; +(0 + 1) = 505 -> 1005.
    let a = flow(1);
    let mut s = netbsd(NetBsdAlgorithm::RandInc, false, ScriptedRng::new([65530, 9, 499, 0]));
    let mut busy = BusyPorts::default();
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1004), 1));
    assert_eq!(connect(&mut s, &a, &mut busy), (Some(1005), 2));
    assert_eq!(s.next_ephemeral(), Some(505));
}

// ---------------------------------------------------------------------------------------------
// Invariants of every OS profile
// ---------------------------------------------------------------------------------------------

/// (name, parameters, scans the whole range when the range has an even number of ports,
/// whatever its size). The Linux family rounds an odd count down to even and so can miss a port.
const PROFILES: &[(&str, &str, bool, bool)] = &[
    // (name, parameters, complete for even sizes, complete for odd sizes)
    ("linux", "", true, false),
    ("linux", "table_length = 4\nrekey_period = \"1s\"\nso_reuseaddr = true", true, false),
    ("linux-5.12", "", true, false),
    ("linux-legacy", "", true, false),
    ("linux-legacy", "era = \"3.x\"", true, true),
    ("freebsd", "", true, true),
    ("freebsd", "randomized = false", true, true),
    ("freebsd-12", "randomcps = 1\nrandomtime = 2", true, true),
    ("openbsd", "", true, true),
    ("netbsd", "", true, true),
    ("netbsd", "algorithm = \"random_start\"", true, true),
    ("netbsd", "algorithm = \"random_pick\"", false, false),
    ("netbsd", "algorithm = \"hash\"", false, false),
    ("netbsd", "algorithm = \"doublehash\"\nper_call_secret = true", false, false),
    ("netbsd", "algorithm = \"randinc\"", false, false),
    ("macos", "", true, true),
    ("macos", "randomize_ports = true", true, true),
    ("windows", "", true, true),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    #[test]
    fn os_profiles_return_suitable_ports_in_range_and_count_every_check(
        (lo, len, busy_mask, seed) in occupancy(120),
        dests in 1u8..4,
        per_socket in any::<bool>(),
    ) {
        let range = PortRange::new(lo, lo + len - 1).unwrap();
        let busy: HashSet<u16> = range.iter().zip(&busy_mask).filter(|(_, b)| **b).map(|(p, _)| p).collect();
        for (name, params, even_complete, odd_complete) in PROFILES {
            let cfg = configure(name, Params::from_toml("s", params).unwrap()).unwrap();
            let mut s = cfg.build(strategy_rng(seed, name));
            let mut held = BusyPorts(busy.clone());
            for call in 0..(u32::from(len) + 3) {
                let f = flow((call % u32::from(dests)) as u8 + 1);
                let mode = [SocketMode::Connect, SocketMode::BindThenConnect, SocketMode::BindNoPort][(call % 3) as usize];
                let req = Request { flow: &f, now: u64::from(call) * 300_000_000, range, mode, per_socket_range: per_socket };
                let check = Counting::new(&held);
                let sel = s.select(&req, &check);
                prop_assert_eq!(sel.candidates, check.calls.get(), "{} {}: candidates must be the calls made", name, params);
                // linux with IP_LOCAL_PORT_RANGE scans every port in one step-1 pass.
                let complete = if len % 2 == 0 { *even_complete } else { *odd_complete }
                    || (*name == "linux" && per_socket && mode != SocketMode::BindThenConnect);
                // NetBSD's non-bsd algorithms hand out an unchecked port once they give up: as
                // far as the scan goes, that is exhaustion.
                prop_assert!(!sel.forced || *name == "netbsd", "{} forced a port", name);
                let sel = if sel.forced { Selection::exhausted(sel.candidates) } else { sel };
                check_selection(&format!("{name} {params}"), sel, &mut held, range, complete)?;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Simulations
// ---------------------------------------------------------------------------------------------

fn scenario(text: &str) -> Scenario {
    parse(text, "test", Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

/// A scenario replaying `rows` (start s, destination, lifetime s) as a trace.
fn traced(text: &str, rows: &[(f64, &str, f64)]) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("start_s,destination,lifetime_s\n");
    for (t, d, l) in rows {
        csv.push_str(&format!("{t:.3},{d},{l}\n"));
    }
    std::fs::write(dir.path().join("trace.csv"), csv).unwrap();
    parse(text, "test", dir.path()).unwrap_or_else(|e| panic!("{e}"))
}

fn logged(s: &Scenario) -> Vec<RunOutput> {
    run_all(s, s.seed, RunOptions { log_connections: true, ..Default::default() })
}

fn ports(log: &[ConnRecord]) -> Vec<u16> {
    log.iter().filter_map(|r| r.port).collect()
}

#[test]
fn linux_exhausts_a_100_port_range_per_destination_even_ports_first() {
    // 150 attempts to A every 10 ms, then 150 to B, 150 to C; every connection closes after
    // 1 ms and its 4-tuple sits 60 s in TIME_WAIT (tw_reuse off). At 70 s, 150 more to A.
    let (a, b, c) = ("192.0.2.1:443", "192.0.2.2:443", "192.0.2.3:443");
    let mut rows = Vec::new();
    for (start, dest) in [(0.0, a), (1.5, b), (3.0, c), (70.0, a)] {
        rows.extend((0..150).map(|k| (start + k as f64 * 0.01, dest, 0.001)));
    }
    let s = traced(
        r#"
name = "linux-100"
duration = "80s"
[ports]
range = "40000-40099"
[tcp]
tw_reuse = "off"
[workload]
arrivals = { process = "trace", file = "trace.csv" }
[[strategies]]
name = "linux"
"#,
        &rows,
    );
    let out = logged(&s);
    let log = &out[0].log;
    assert_eq!(log.len(), 600);
    let all: BTreeSet<u16> = (40000..40100).collect();
    for (phase, chunk) in log.chunks(150).enumerate() {
        let got = ports(&chunk[..100]);
        assert_eq!(got.len(), 100, "phase {phase}: the first 100 attempts all succeed");
        assert!(got[..50].iter().all(|p| p % 2 == 0), "phase {phase}: the first 50 on even ports");
        assert!(got[50..].iter().all(|p| p % 2 == 1), "phase {phase}: the next 50 on odd ones");
        assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), all, "phase {phase}: the same 100 ports");
        for r in &chunk[100..] {
            assert_eq!((r.port, r.candidates), (None, 100), "phase {phase}: then every attempt fails");
        }
    }
    let sum = &out[0].summary;
    assert_eq!((sum.connections.established, sum.connections.failed), (400, 200));
}

#[test]
fn linux_tw_reuse_caps_one_destination_at_range_over_tw_reuse_delay() {
    // 100 ports, 400 attempts/s, 1 ms connections closed by the client. With tw_reuse on, a port's
    // 4-tuple can be taken over once more than tw_reuse_delay has passed since it entered
    // TIME_WAIT, and Linux scans every port, so each port serves a connection every delay + 1 ms
    // + at most one 2.5 ms arrival gap: between 100 / (delay + 3.5 ms) and 100 / delay a second
    // (a port cannot serve 20 connections in 20 s with gaps above 1 s, so 100 / delay is a hard
    // cap on the measured rate, and 97 % of it leaves room for the gaps).
    let text = |reuse: &str, delay: &str, dest: &str| {
        format!(
            r#"
name = "tw-reuse"
duration = "25s"
warmup = "5s"
[ports]
range = "40000-40099"
[tcp]
{reuse}
tw_reuse_delay = "{delay}"
[[destinations]]
addr = "{dest}"
[workload]
arrivals = {{ process = "constant", rate = 400.0 }}
lifetime = {{ dist = "constant", value = "1ms" }}
[[strategies]]
name = "linux"
"#
        )
    };
    for (delay, secs) in [("1s", 1.0), ("2s", 2.0)] {
        let s = scenario(&text("tw_reuse = \"on\"", delay, "192.0.2.1:443"));
        let rate = run_all(&s, 1, Default::default())[0].summary.connections.established as f64 / 20.0;
        let cap = 100.0 / secs;
        assert!(rate <= cap && rate >= 0.97 * cap, "delay {delay}: {rate}/s, expected just under {cap}/s");
    }
    // The profile's default, tw_reuse = loopback (2): a non-loopback destination never reuses, so
    // the 100 ports give 100 connections and then nothing until TIME_WAIT ends (after the run).
    let s = scenario(&text("", "1s", "192.0.2.1:443"));
    let sum = &run_all(&s, 1, Default::default())[0].summary;
    assert_eq!(sum.connections.established, 0, "all 100 were used in the warm-up");
    let out = logged(&s);
    assert_eq!(ports(&out[0].log).len(), 100);
    // ... while a loopback destination does.
    let s = scenario(&text("", "1s", "127.0.0.1:8080"));
    let rate = run_all(&s, 1, Default::default())[0].summary.connections.established as f64 / 20.0;
    assert!((97.0..=100.0).contains(&rate), "loopback: {rate}/s");
}

#[test]
fn linux_steps_by_2_to_16_within_a_window_and_jumps_at_each_10_second_boundary() {
    // 50 connections/s to one destination for 100 s, each closed by the server after 1 ms, so
    // the client holds nothing and every pick is a first-candidate success (i = 0): within a
    // 10 s window the next port is the last plus 2 * (rand(0..7) + 1) (mod 28232), and at a
    // window boundary the hash, and so the start, is fresh.
    let s = scenario(
        r#"
name = "linux-steps"
seed = 11
duration = "100s"
[tcp]
active_close = "server"
[[destinations]]
addr = "192.0.2.10:443"
[workload]
arrivals = { process = "constant", rate = 50.0 }
lifetime = { dist = "constant", value = "1ms" }
[[strategies]]
name = "linux"
"#,
    );
    let out = logged(&s);
    let log = &out[0].log;
    assert!(log.iter().all(|r| r.candidates == 1 && r.port.is_some()));
    let mut counts = [0u32; 8];
    let mut jumps = Vec::new();
    for w in log.windows(2) {
        let (p, q) = (i64::from(w[0].port.unwrap()), i64::from(w[1].port.unwrap()));
        let d = (q - p).rem_euclid(28232);
        if d % 2 == 0 && (2..=16).contains(&d) {
            counts[(d / 2 - 1) as usize] += 1;
        } else {
            jumps.push(w[1].time);
        }
    }
    // Boundaries every 10 s, at a random phase: 9 or 10 in 100 s, exactly 10 s apart to within
    // one 20 ms arrival gap.
    assert!((9..=10).contains(&jumps.len()), "jumps at {jumps:?}");
    for pair in jumps.windows(2) {
        let gap = pair[1] - pair[0];
        assert!((10 * S - 20_000_000..=10 * S + 20_000_000).contains(&gap), "jumps at {jumps:?}");
    }
    // Uniform on {2, 4, .., 16}: chi-square with 7 degrees of freedom below 24.32 (p = 0.001;
    // the run is deterministic, so this is a fixed check that a non-uniform step would fail).
    let n: u32 = counts.iter().sum();
    let expected = f64::from(n) / 8.0;
    let chi2: f64 = counts.iter().map(|&c| (f64::from(c) - expected).powi(2) / expected).sum();
    assert!(n > 4900, "{n} in-window steps");
    assert!(chi2 < 24.32, "steps {counts:?}: chi-square {chi2}");
}

#[test]
fn linux_never_picks_reserved_ports() {
    // 100 ports with 11 reserved: 45 even and 44 odd left. Every one is used once, evens first,
    // and a failed attempt still looks at all 100 (reserved ones included) before giving up.
    let s = scenario(
        r#"
name = "reserved"
duration = "3s"
[ports]
range = "40000-40099"
reserved = ["40010-40019", "40051"]
[[destinations]]
addr = "192.0.2.10:443"
[workload]
arrivals = { process = "constant", rate = 100.0 }
lifetime = { dist = "constant", value = "1ms" }
[[strategies]]
name = "linux"
"#,
    );
    let out = logged(&s);
    let got = ports(&out[0].log);
    assert_eq!(got.len(), 89);
    assert!(got.iter().all(|p| !(40010..=40019).contains(p) && *p != 40051));
    assert!(got[..45].iter().all(|p| p % 2 == 0) && got[45..].iter().all(|p| p % 2 == 1));
    assert!(out[0].log.iter().filter(|r| r.port.is_none()).all(|r| r.candidates == 100));
}

#[test]
fn linux_bind_then_connect_ports_are_odd_and_never_shared() {
    // A binds first (bind(0): odd ports, held exclusively); B and C connect() (even first,
    // shareable between them). Nothing closes during the run.
    let s = scenario(
        r#"
name = "bind"
seed = 5
duration = "3s"
[ports]
range = "40000-40099"
[[destinations]]
addr = "192.0.2.1:443"
socket = "bind-then-connect"
[[destinations]]
addr = "192.0.2.2:443"
[[destinations]]
addr = "192.0.2.3:443"
[workload]
arrivals = { process = "constant", rate = 50.0 }
lifetime = { dist = "constant", value = "1000s" }
[[strategies]]
name = "linux"
"#,
    );
    let out = logged(&s);
    let by_dest =
        |d: u32| -> Vec<u16> { out[0].log.iter().filter(|r| r.dest == d).filter_map(|r| r.port).collect() };
    let (a, b, c) = (by_dest(0), by_dest(1), by_dest(2));
    assert!(a.len() >= 30 && b.len() >= 30 && c.len() >= 30, "{} {} {}", a.len(), b.len(), c.len());
    assert!(a[..25].iter().all(|p| p % 2 == 1), "bind(0) takes odd ports: {a:?}");
    assert!(b[..25].iter().all(|p| p % 2 == 0) && c[..25].iter().all(|p| p % 2 == 0));
    let bound: HashSet<u16> = a.iter().copied().collect();
    assert_eq!(bound.len(), a.len(), "a bound port is held by one socket");
    assert!(b.iter().chain(&c).all(|p| !bound.contains(p)), "connect() never shares a bound port");
    let shared = b.iter().filter(|p| c.contains(p)).count();
    assert!(shared >= 20, "connect()-owned ports are shared across destinations ({shared})");
}

#[test]
fn freebsd_12_goes_sequential_above_10_per_second_and_back_after_45_quiet_seconds() {
    // 20 connections/s for 10 s, then one every 5 s. The tick that sees more than 10 allocations
    // in its second switches to sequential allocation (by 1.5 s at any phase, never before
    // 0.5 s); the last busy tick falls in [9.5 s, 10.5 s), so random allocation resumes 45 quiet
    // ticks later, between 54.5 s and 55.5 s: the picks at 12..52 s are sequential, those from
    // 57 s random. Local-port scope and 60 s TIME_WAIT: every port used is still held, so a
    // sequential pick is the first unused port after the previous one.
    let d = "192.0.2.1:443";
    let mut rows: Vec<(f64, &str, f64)> = (0..200).map(|k| (k as f64 * 0.05, d, 0.001)).collect();
    rows.extend((0..18).map(|k| (12.0 + 5.0 * k as f64, d, 0.001)));
    let s = traced(
        r#"
name = "freebsd-12"
seed = 3
duration = "100s"
[workload]
arrivals = { process = "trace", file = "trace.csv" }
[[strategies]]
name = "freebsd-12"
"#,
        &rows,
    );
    let out = logged(&s);
    let log = &out[0].log;
    assert_eq!(ports(log).len(), 218);
    let mut used: HashSet<u16> = HashSet::new();
    let mut sequential = Vec::new();
    for w in log.windows(2) {
        let prev = w[0].port.unwrap();
        used.insert(prev);
        // The first port after prev that nothing holds (range 10000-65535, wrapping).
        let mut next = prev;
        loop {
            next = if next == 65535 { 10000 } else { next + 1 };
            if !used.contains(&next) {
                break;
            }
        }
        sequential.push((w[1].time, w[1].port.unwrap() == next));
    }
    for (t, seq) in sequential {
        let secs = t as f64 / S as f64;
        if !(0.5..57.0).contains(&secs) {
            assert!(!seq, "random allocation expected at {secs} s");
        } else if (1.5..=52.0).contains(&secs) {
            assert!(seq, "sequential allocation expected at {secs} s");
        }
    }
}

#[test]
fn local_port_scope_exhausts_per_address_and_four_tuple_scope_per_destination() {
    // 500 attempts, round-robin over 4 destinations, 100 ports, 60 s TIME_WAIT: Linux and
    // FreeBSD serve every destination from the whole range (4 x 100); OpenBSD, NetBSD, macOS,
    // Windows and FreeBSD 12 run out after the range once, all destinations together.
    let dests = ["192.0.2.1:443", "192.0.2.2:443", "192.0.2.3:443", "192.0.2.4:443"];
    let rows: Vec<(f64, &str, f64)> = (0..500).map(|k| (k as f64 * 0.005, dests[k % 4], 0.001)).collect();
    let mut text = String::from(
        r#"
name = "scope"
duration = "10s"
[ports]
range = "40000-40099"
[tcp]
time_wait = "60s"
[workload]
arrivals = { process = "trace", file = "trace.csv" }
"#,
    );
    let names = ["linux", "freebsd", "openbsd", "netbsd", "macos", "windows", "freebsd-12"];
    for n in names {
        text.push_str(&format!("[[strategies]]\nname = \"{n}\"\n"));
    }
    let s = traced(&text, &rows);
    let out = logged(&s);
    for (o, name) in out.iter().zip(names) {
        let per_dest: Vec<usize> =
            (0..4).map(|d| o.log.iter().filter(|r| r.dest == d && r.port.is_some()).count()).collect();
        let total: usize = per_dest.iter().sum();
        if name == "linux" || name == "freebsd" {
            assert_eq!(per_dest, vec![100; 4], "{name} exhausts per destination");
        } else {
            assert_eq!(total, 100, "{name} exhausts per local address: {per_dest:?}");
            assert_eq!(ports(&o.log).iter().collect::<HashSet<_>>().len(), 100);
        }
        assert_eq!(o.summary.connections.established as usize, total);
    }
}
