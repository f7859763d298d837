//! Every strategy's exact port sequence on a hand-built occupancy, with a scripted RNG. Each
//! expected value is derived from RFC 6056's pseudo-code in the comment beside it; the keyed
//! hashes are the one thing taken from the code (`KeyedHash::hash`), since SipHash is not worked
//! by hand.
//!
//! Range 1000-1009 throughout: min_ephemeral = 1000, max_ephemeral = 1009, num_ephemeral = 10.
//! A port a strategy returns becomes busy, as a live connection would make it.

use portsim::stack::{Flow, PortRange};
use portsim::strategy::*;
use std::net::Ipv4Addr;

fn range() -> PortRange {
    PortRange::new(1000, 1009).unwrap()
}

fn flow(last_octet: u8) -> Flow {
    Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, last_octet), 443)
}

/// Runs `calls` selections toward `f`, marking each chosen port busy.
fn run(s: &mut dyn PortSelector, f: &Flow, busy: &mut BusyPorts, calls: usize) -> Vec<(Option<u16>, u32)> {
    (0..calls)
        .map(|_| {
            let req = Request::connect(f, 0, range());
            let sel = s.select(&req, busy);
            if let Some(p) = sel.port {
                busy.0.insert(p);
            }
            (sel.port, sel.candidates)
        })
        .collect()
}

#[test]
fn bsd_counts_up_from_min_and_wraps() {
    // next = 1000. Busy {1000, 1001, 1004}.
    // 1: 1000 busy, 1001 busy, 1002 free -> 1002 after 3; next = 1003
    // 2: 1003 -> 1 candidate; next = 1004
    // 3: 1004 busy, 1005 -> 2; next 1006.  4-7: 1006, 1007, 1008, 1009 -> 1 each; next wraps to 1000
    // 8: every port is now busy: count runs 10 -> 0, ERROR after 10 candidates
    let mut s = Bsd::new(BsdConfig::default(), ScriptedRng::new([]));
    let mut busy = BusyPorts::new([1000, 1001, 1004]);
    let got = run(&mut s, &flow(1), &mut busy, 8);
    assert_eq!(
        got,
        vec![
            (Some(1002), 3),
            (Some(1003), 1),
            (Some(1005), 2),
            (Some(1006), 1),
            (Some(1007), 1),
            (Some(1008), 1),
            (Some(1009), 1),
            (None, 10),
        ]
    );
}

#[test]
fn bsd_counts_down_from_max_like_netbsd() {
    // next = max = 1009. Busy {1009, 1005}.
    // 1: 1009 busy, 1008 -> 2; next 1007.  2: 1007 -> 1.  3: 1006 -> 1.  4: 1005 busy, 1004 -> 2.
    let cfg = BsdConfig { start: Start::First, direction: Direction::Down };
    let mut s = Bsd::new(cfg, ScriptedRng::new([]));
    let mut busy = BusyPorts::new([1009, 1005]);
    let got = run(&mut s, &flow(1), &mut busy, 4);
    assert_eq!(got, vec![(Some(1008), 2), (Some(1007), 1), (Some(1006), 1), (Some(1004), 2)]);
}

#[test]
fn bsd_random_start_draws_once_at_boot() {
    // next = 1000 + 23 % 10 = 1003 (one draw, at the first selection). Busy {1003}.
    // 1: 1003 busy, 1004 -> 2.  2: 1005 -> 1 (no further draw: the script has none left).
    let cfg = BsdConfig { start: Start::Random, direction: Direction::Up };
    let mut s = Bsd::new(cfg, ScriptedRng::new([23]));
    let mut busy = BusyPorts::new([1003]);
    let got = run(&mut s, &flow(1), &mut busy, 2);
    assert_eq!(got, vec![(Some(1004), 2), (Some(1005), 1)]);
}

#[test]
fn random_start_scans_up_from_a_random_point() {
    // Busy {1000, 1007, 1008}. Draws 7, 19, 4, 12.
    // 1: next = 1000 + 7 % 10 = 1007 busy, 1008 busy, 1009 free -> 1009 after 3
    // 2: next = 1000 + 19 % 10 = 1009 (busy now), wraps to 1000 busy, 1001 -> 3
    // 3: next = 1000 + 4 = 1004 -> 1.   4: next = 1000 + 12 % 10 = 1002 -> 1
    let mut s = RandomStart::new(ScriptedRng::new([7, 19, 4, 12]));
    let mut busy = BusyPorts::new([1000, 1007, 1008]);
    let got = run(&mut s, &flow(1), &mut busy, 4);
    assert_eq!(got, vec![(Some(1009), 3), (Some(1001), 3), (Some(1004), 1), (Some(1002), 1)]);
}

#[test]
fn random_start_reports_error_after_num_ephemeral_candidates() {
    // Every port busy: count = 10 candidates from 1000 + 5, then ERROR.
    let mut s = RandomStart::new(ScriptedRng::new([5]));
    let mut busy = BusyPorts::new(1000..=1009);
    assert_eq!(run(&mut s, &flow(1), &mut busy, 1), vec![(None, 10)]);
}

#[test]
fn random_pick_draws_again_for_every_candidate() {
    // Busy {1003, 1007, 1008}. Draws 7, 8, 3, 13, 5 | 25, 1.
    // 1: 1007 busy, 1008 busy, 1003 busy, 1000 + 13 % 10 = 1003 busy again (with replacement),
    //    1005 free -> 1005 after 5
    // 2: 1000 + 25 % 10 = 1005 (busy now), 1001 -> 2
    let mut s = RandomPick::new(ScriptedRng::new([7, 8, 3, 13, 5, 25, 1]));
    let mut busy = BusyPorts::new([1003, 1007, 1008]);
    let got = run(&mut s, &flow(1), &mut busy, 2);
    assert_eq!(got, vec![(Some(1005), 5), (Some(1001), 2)]);
}

#[test]
fn random_pick_gives_up_after_num_ephemeral_draws_even_with_a_port_free() {
    // Only 1009 is free, and the ten draws 0..9 hit 1000..1008 and then 1000 again: ERROR
    // after 10 candidates although a port was free (the RFC's caveat for Algorithm 2).
    let mut s = RandomPick::new(ScriptedRng::new([0, 1, 2, 3, 4, 5, 6, 7, 8, 10]));
    let mut busy = BusyPorts::new(1000..=1008);
    assert_eq!(run(&mut s, &flow(1), &mut busy, 1), vec![(None, 10)]);
}

/// F()'s output for `f` under the key the script gave (k0 = 1, k1 = 2), as a u32 offset.
fn offset(f: &Flow, k0: u64, k1: u64) -> u32 {
    KeyedHash { k0, k1, function: HashFn::Siphash24 }.hash(f, 0) as u32
}

#[test]
fn hash_based_shares_one_counter_across_destinations() {
    // Key draws: k0 = (1, 0) -> 1, k1 = (2, 0) -> 2. next_ephemeral = 0.
    // port = 1000 + (next_ephemeral + offset) % 10; next_ephemeral++ after every candidate.
    let port = |r: u32, k: u32| 1000 + ((r + k) % 10) as u16;
    let a = flow(1);
    let ra = offset(&a, 1, 2) % 10;
    // B: a destination whose offset + 3 is none of A's ports below (the test picks the case).
    let b = (2..=255)
        .map(flow)
        .find(|b| ![0, 1, 2, 4].map(|k| port(ra, k)).contains(&port(offset(b, 1, 2) % 10, 3)))
        .unwrap();
    let rb = offset(&b, 1, 2) % 10;
    assert!(offset(&a, 1, 2) < u32::MAX - 100 && offset(&b, 1, 2) < u32::MAX - 100, "no 2^32 wrap here");
    let mut s = HashBased::new(HashConfig::default(), &mut ScriptedRng::new([1, 0, 2, 0]));
    // 1, toward A, its first two candidates busy: next 0 busy, 1 busy, 2 free -> after 3; next = 3.
    let mut busy = BusyPorts::new([port(ra, 0), port(ra, 1)]);
    assert_eq!(run(&mut s, &a, &mut busy, 1), vec![(Some(port(ra, 2)), 3)]);
    // 2, toward B: the shared counter is 3, so B starts at its offset + 3; next = 4.
    assert_eq!(run(&mut s, &b, &mut busy, 1), vec![(Some(port(rb, 3)), 1)]);
    // 3, toward A again: offset + 4, not offset + 3: B's connection moved A's sequence on.
    assert_eq!(run(&mut s, &a, &mut busy, 1), vec![(Some(port(ra, 4)), 1)]);
}

#[test]
fn hash_based_random_init_starts_the_counter_at_the_draw() {
    // Key draws (1, 0, 2, 0), then next_ephemeral = 7: the first port is offset + 7.
    let a = flow(1);
    let r = offset(&a, 1, 2) % 10;
    let cfg = HashConfig { random_init: true, ..HashConfig::default() };
    let mut s = HashBased::new(cfg, &mut ScriptedRng::new([1, 0, 2, 0, 7]));
    let mut busy = BusyPorts::default();
    assert_eq!(run(&mut s, &a, &mut busy, 1), vec![(Some(1000 + ((r + 7) % 10) as u16), 1)]);
}

/// Scripted draws for a double-hash: F key (k0 = 1, k1 = 2), G key (k0 = 3, k1 = 4), table.
fn double_hash_script(table: &[u32]) -> ScriptedRng {
    let mut rng = ScriptedRng::new([1, 0, 2, 0, 3, 0, 4, 0]);
    rng.push(table.iter().copied());
    rng
}

fn index(f: &Flow, table_length: u64) -> usize {
    (KeyedHash { k0: 3, k1: 4, function: HashFn::Siphash24 }.hash(f, 0) % table_length) as usize
}

#[test]
fn double_hash_rfc_steps_the_chosen_counter_per_candidate() {
    // TABLE_LENGTH = 3, table = [100, 200, 300] (draws % 65536 leave them as they are).
    // port = 1000 + (offset + table[index]) % 10; table[index]++ after every candidate.
    let a = flow(1);
    let (o, i) = (offset(&a, 1, 2), index(&a, 3));
    assert!(o < u32::MAX - 1000);
    let t0 = [100u32, 200, 300][i];
    let port = |t: u32| 1000 + ((o + t) % 10) as u16;
    let cfg = DoubleHashConfig { table_length: 3, ..DoubleHashConfig::default() };
    let mut s = DoubleHash::new(cfg, double_hash_script(&[100, 200, 300]));
    // First candidate busy: found at table t0 + 1 after 2 candidates; counter is then t0 + 2.
    let mut busy = BusyPorts::new([port(t0)]);
    assert_eq!(run(&mut s, &a, &mut busy, 1), vec![(Some(port(t0 + 1)), 2)]);
    assert_eq!(s.table()[i], t0 + 2);
    assert_eq!(run(&mut s, &a, &mut busy, 1), vec![(Some(port(t0 + 2)), 1)]);
    // The other counters never moved.
    for j in (0..3).filter(|&j| j != i) {
        assert_eq!(s.table()[j], [100, 200, 300][j]);
    }
}

#[test]
fn double_hash_16_bit_entries_jump_when_they_wrap() {
    // Every entry starts at 65535. 16 bits: after one candidate the entry wraps to 0, so the
    // second port is 1000 + offset % 10, not 1000 + (offset + 65536) % 10 = offset + 6 (mod 10).
    let a = flow(1);
    let o = offset(&a, 1, 2);
    assert!(o < u32::MAX - (1 << 17));
    let cfg16 = DoubleHashConfig { table_length: 3, ..DoubleHashConfig::default() };
    let mut s16 = DoubleHash::new(cfg16, double_hash_script(&[65535; 3]));
    let mut busy = BusyPorts::default();
    let got16 = run(&mut s16, &a, &mut busy, 2);
    assert_eq!(got16[0].0, Some(1000 + ((o + 65535) % 10) as u16));
    assert_eq!(got16[1].0, Some(1000 + (o % 10) as u16));
    // 32 bits: the entry goes on to 65536.
    let cfg32 = DoubleHashConfig { entry_width: EntryWidth::Bits32, ..cfg16 };
    let mut s32 = DoubleHash::new(cfg32, double_hash_script(&[65535; 3]));
    let mut busy = BusyPorts::default();
    let got32 = run(&mut s32, &a, &mut busy, 2);
    assert_eq!(got32[1].0, Some(1000 + ((o + 65536) % 10) as u16));
    assert_ne!(got16[1].0, got32[1].0, "65536 mod 10 = 6: the two widths part ways");
}

#[test]
fn double_hash_linux_increment_is_max_i_2r_plus_2() {
    // TABLE_LENGTH = 1, 32-bit entry 100. start = (offset + 100) % 10 = s.
    // 1: port 1000 + s busy, 1000 + (s+1) % 10 free: i = 1. r = (0xE000_0000 * 8) >> 32 = 7,
    //    so the entry advances by max(1, 14) + 2 = 16, to 116.
    // 2: start = (offset + 116) % 10 = s + 6 (mod 10), free at i = 0. r = 0: advance
    //    max(0, 0) + 2 = 2, to 118.
    let a = flow(1);
    let o = offset(&a, 1, 2);
    assert!(o < u32::MAX - 1000);
    let s0 = (o + 100) % 10;
    let cfg = DoubleHashConfig {
        table_length: 1,
        entry_width: EntryWidth::Bits32,
        increment: Increment::Linux,
        ..DoubleHashConfig::default()
    };
    let mut rng = double_hash_script(&[100]);
    rng.push([0xE000_0000, 0]);
    let mut s = DoubleHash::new(cfg, rng);
    let mut busy = BusyPorts::new([1000 + s0 as u16]);
    let got = run(&mut s, &a, &mut busy, 2);
    assert_eq!(got[0], (Some(1000 + ((s0 + 1) % 10) as u16), 2));
    assert_eq!(got[1], (Some(1000 + ((s0 + 6) % 10) as u16), 1));
    assert_eq!(s.table(), &[118]);
}

#[test]
fn double_hash_linux_5_12_increment_is_i_plus_2() {
    // As above with increment i + 2: i = 1 -> entry 100 + 3 = 103; then i = 0 -> 105. No draws.
    let a = flow(1);
    let o = offset(&a, 1, 2);
    assert!(o < u32::MAX - 1000);
    let s0 = (o + 100) % 10;
    let cfg = DoubleHashConfig {
        table_length: 1,
        entry_width: EntryWidth::Bits32,
        increment: Increment::Linux512,
        ..DoubleHashConfig::default()
    };
    let mut s = DoubleHash::new(cfg, double_hash_script(&[100]));
    let mut busy = BusyPorts::new([1000 + s0 as u16]);
    let got = run(&mut s, &a, &mut busy, 2);
    assert_eq!(got[0], (Some(1000 + ((s0 + 1) % 10) as u16), 2));
    assert_eq!(got[1], (Some(1000 + ((s0 + 3) % 10) as u16), 1));
    assert_eq!(s.table(), &[105]);
}

#[test]
fn random_increments_adds_1_to_n_before_every_candidate() {
    // N = 4. next_ephemeral = 65540 % 65536 = 4.
    // 1: draw 2 -> inc 2 % 4 + 1 = 3, next 7 -> 1007 busy; draw 5 -> inc 2, next 9 -> 1009 after 2
    // 2: draw 3 -> inc 4, next 13 -> 1003 -> 1
    let cfg = RandomIncrementsConfig { n: 4, termination: Termination::Rfc6056 };
    let mut s = RandomIncrements::new(cfg, ScriptedRng::new([65540, 2, 5, 3]));
    let mut busy = BusyPorts::new([1007]);
    let got = run(&mut s, &flow(1), &mut busy, 2);
    assert_eq!(got, vec![(Some(1009), 2), (Some(1003), 1)]);
}

#[test]
fn random_increments_termination_rules() {
    // All ten ports busy, N = 4, increments 4, 4, 2, ...
    // RFC 6056: count = 10 candidates, then ERROR.
    // RFC 9415: retry = 10 - 4 - 4 - 2 = 0 after 3 candidates, then ERROR.
    let draws = [0, 3, 3, 1, 3, 3, 1, 3, 3, 1, 3];
    for (termination, expected) in [(Termination::Rfc6056, 10), (Termination::OnePass, 3)] {
        let cfg = RandomIncrementsConfig { n: 4, termination };
        let mut s = RandomIncrements::new(cfg, ScriptedRng::new(draws));
        let mut busy = BusyPorts::new(1000..=1009);
        assert_eq!(run(&mut s, &flow(1), &mut busy, 1), vec![(None, expected)], "{termination:?}");
    }
}
