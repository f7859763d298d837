//! Dense and hashed 4-tuple layouts, side by side: the same operations give the same answers to
//! every query the engine, the strategies, predict and nat make.

use super::*;
use proptest::prelude::*;

const S: Nanos = crate::time::NANOS_PER_SEC;
/// Ports 1000-1007 are the range; 1008 lies outside it (a port a NetBSD allocator may force).
const PORTS: std::ops::RangeInclusive<u16> = 1000..=1008;

fn config(shape: (u8, u8, u8, u8, u8), addrs: usize, dests: usize) -> StackConfig {
    let (scope, reuse, bind, clock, reserved) = shape;
    let mut cfg = StackConfig::simple(PortRange::new(1000, 1007).unwrap());
    cfg.scope = [Scope::FourTuple, Scope::LocalPort, Scope::HostWide][usize::from(scope % 3)];
    cfg.tw_reuse = [TwReuse::Off, TwReuse::On, TwReuse::Loopback][usize::from(reuse % 3)];
    cfg.tw_reuse_delay = S;
    cfg.tw_reuse_ms_clock = clock & 1 == 1;
    cfg.timestamps = clock & 2 == 0;
    cfg.bind_conflict =
        [BindConflict::Port, BindConflict::AddressPort, BindConflict::FourTuple][usize::from(bind % 3)];
    if reserved & 1 == 1 {
        cfg.reserved.insert(1003);
    }
    cfg.local_addrs = addrs;
    cfg.destinations = dests;
    cfg
}

fn flow(local: u16, dest: u32) -> Flow {
    Flow {
        local_index: local,
        local_addr: 0x0a00_0001 + u32::from(local),
        dest_index: dest,
        // Destination 1 is a loopback address (tw_reuse = loopback recycles only there).
        remote_addr: if dest == 1 { 0x7f00_0001 } else { 0xc000_0200 + dest },
        remote_port: 443,
    }
}

/// Every answer a stack gives about `flows` at `now`, as one comparable value (but
/// `no_free_port` when `with_no_free` is false).
fn answers(s: &Stack, flows: &[Flow], now: Nanos, with_no_free: bool) -> Vec<String> {
    let range = s.range();
    let mut out = vec![format!(
        "live {} tw {} max {} remembered {}",
        s.live(),
        s.time_wait(),
        s.max_held(),
        s.remembered()
    )];
    for f in flows {
        out.push(format!(
            "{f:?}: no_free {} no_free_bind {} pool {:?} toward {}",
            with_no_free && s.no_free_port(f, range),
            s.no_free_port_for_bind(f.local_index, range),
            s.held_in_pool(f.local_index, f.dest_index),
            s.held_toward(f.dest_index),
        ));
        for p in PORTS {
            out.push(format!(
                "{p}: suitable {} bind {} holders {} host {} in_use {} entry {:?}",
                s.is_suitable(f, p, now),
                s.is_free_for_bind(f.local_index, p),
                s.holders(f.local_index, p),
                s.holders_on_host(p),
                s.tuple_in_use(f, p),
                // A live 4-tuple's last close is not kept on the fast path (nothing reads it
                // before the next close overwrites it).
                s.entry(f.key(p)).map(|e| if e.state == TupleState::Live {
                    Entry { closed_at: 0, ..e }
                } else {
                    e
                }),
            ));
        }
    }
    out
}

/// Applies `ops` to a dense and a hashed stack of `cfg` and compares every answer after every
/// step. `bind_one_in`: an open binds when `pick % bind_one_in == 0` (and the op asks for it).
/// `tuple_rule`: the hashed stack checks ports by their 4-tuple (`Rule::Tuple`) even where one
/// pool without tw_reuse lets [`Stack::new`] check by holder alone (`Rule::Free`); then
/// `no_free_port` may know more on the dense stack, and must be right when it does.
/// Returns whether the dense stack was still on the single-pool fast path at the end (it
/// leaves at the first `bind()`) and whether its slots were still the fast path's 8-byte ones
/// (until the first `bind()`, `close()` or ticketed expiry).
fn check_alike(
    cfg: StackConfig,
    ops: Vec<(u8, u16, u64)>,
    bind_one_in: u16,
    tuple_rule: bool,
) -> Result<(bool, bool), TestCaseError> {
    let (addrs, dests) = (cfg.local_addrs, cfg.destinations);
    let mut dense = Stack::new(cfg.clone()).with_tuple_layout(Some(true));
    let mut hashed = Stack::new(cfg).with_tuple_layout(Some(false));
    if tuple_rule && hashed.cfg.scope == Scope::FourTuple {
        (hashed.rule, hashed.free_only) = (Rule::Tuple, false);
    }
    prop_assert!(dense.table.is_dense() && !hashed.table.is_dense());
    prop_assert_eq!(dense.fast(), addrs * dests == 1);
    prop_assert!(!hashed.fast());
    let flows: Vec<Flow> =
        (0..addrs as u16).flat_map(|a| (0..dests as u32).map(move |d| flow(a, d))).collect();
    let mut live: Vec<TupleKey> = Vec::new();
    let mut tickets: Vec<TimeWaitTicket> = Vec::new();
    let mut now: Nanos = 0;
    let (mut bound, mut slim) = (false, true);
    for (op, pick, step) in ops {
        now += step * S / 1000;
        let f = flows[usize::from(pick) % flows.len()];
        let port = 1000 + (pick >> 4) % 9;
        match op {
            0 | 1 => {
                let bind = op == 1 && pick % bind_one_in == 0;
                let ok = if bind {
                    dense.is_free_for_bind(f.local_index, port)
                } else {
                    dense.is_suitable(&f, port, now) || (pick & 4 != 0 && !dense.tuple_in_use(&f, port))
                };
                if ok {
                    prop_assert_eq!(dense.open(&f, port, now, bind), hashed.open(&f, port, now, bind));
                    bound |= bind;
                    slim &= !bind;
                    live.retain(|&k| k != f.key(port));
                    live.push(f.key(port));
                }
            }
            2 | 3 if !live.is_empty() => {
                let key = live.swap_remove(usize::from(pick) % live.len());
                let closer = if op == 2 { Closer::Client } else { Closer::Server };
                let tw = u64::from(pick % 3) * 20 * S;
                let t = dense.close(key, now, closer, tw);
                slim = false;
                prop_assert_eq!(t, hashed.close(key, now, closer, tw));
                tickets.extend(t);
            }
            4 if !tickets.is_empty() => {
                let t = tickets.swap_remove(usize::from(pick) % tickets.len());
                prop_assert_eq!(dense.expire_time_wait(t), hashed.expire_time_wait(t));
                slim = false;
            }
            4 if !live.is_empty() => {
                let key = live.swap_remove(usize::from(pick) % live.len());
                dense.end_time_wait_unseen(key, now);
                hashed.end_time_wait_unseen(key, now);
            }
            5 => {
                let cutoff = now.saturating_sub(u64::from(pick % 4) * 10 * S);
                prop_assert_eq!(dense.forget_closed(now, cutoff), hashed.forget_closed(now, cutoff));
            }
            _ => {}
        }
        // The fast path lasts exactly until the first bind(), its 8-byte slots until the first
        // bind(), close() or ticketed expiry.
        prop_assert_eq!(dense.fast(), addrs * dests == 1 && !bound);
        prop_assert_eq!(matches!(dense.table, TupleTable::One { .. }), addrs * dests == 1 && slim);
        prop_assert_eq!(dense.take_peak_held(), hashed.take_peak_held());
        prop_assert_eq!(
            answers(&dense, &flows, now, !tuple_rule),
            answers(&hashed, &flows, now, !tuple_rule)
        );
        if tuple_rule {
            let range = dense.range();
            for f in &flows {
                let (known, known_by_tuple) = (dense.no_free_port(f, range), hashed.no_free_port(f, range));
                prop_assert!(known || !known_by_tuple, "{:?}: the 4-tuple rule knew more", f);
                if known {
                    prop_assert!(
                        range.iter().all(|p| !dense.is_suitable(f, p, now) && !hashed.is_suitable(f, p, now))
                    );
                }
            }
        }
        // The cached bind bit matches the counters it caches.
        for (a, table) in dense.ports.iter().enumerate() {
            for p in PORTS {
                let u = table[usize::from(p)];
                let blocks = (dense.bind_port & u.bucket_bound) | (dense.bind_addr & (u.exclusive > 0));
                prop_assert_eq!(u.flags & BIND_BLOCKS != 0, blocks, "address {} port {}", a, p);
            }
        }
    }
    Ok((dense.fast(), matches!(dense.table, TupleTable::One { .. })))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Random opens (suitable ports, bind or connect, now and then a forced one), closes by
    /// either side, TIME_WAIT ends by ticket or unseen, and forgetting, on every scope, bind
    /// rule and tw_reuse setting: both layouts answer every query alike after every step.
    #[test]
    fn dense_and_hashed_stacks_answer_alike(
        shape in (0u8..3, 0u8..3, 0u8..3, 0u8..4, 0u8..2),
        addrs in 1usize..3,
        dests in 1usize..4,
        ops in proptest::collection::vec((0u8..6, any::<u16>(), 0u64..3_000), 1..120),
    ) {
        check_alike(config(shape, addrs, dests), ops, 2, false)?;
    }

    /// One pool: the dense stack runs the single-pool fast path (its own counts, no per-pool,
    /// per-address or per-destination ones; 8-byte slots until a close() or an expiry) until
    /// a rare bind() moves it to the general path;
    /// the hashed stack is on the general path throughout, and checks four-tuple scope by
    /// the 4-tuple. Every answer agrees, before the switch and after it; where the holder
    /// test lets `no_free_port` know that no port is free, none is.
    #[test]
    fn the_single_pool_fast_path_answers_as_the_general_path(
        shape in (0u8..3, 0u8..3, 0u8..3, 0u8..4, 0u8..2),
        ops in proptest::collection::vec((0u8..6, any::<u16>(), 0u64..3_000), 1..300),
        tuple_rule in any::<bool>(),
    ) {
        check_alike(config(shape, 1, 1), ops, 97, tuple_rule)?;
    }
}

#[test]
fn the_fast_path_survives_a_run_without_bind_and_ends_at_the_first() {
    // Only connect()s (op 0) and unseen releases (op 4 with no ticket, the one-event path's
    // run): the fast path with 8-byte slots throughout.
    let unseen: Vec<(u8, u16, u64)> =
        (0..200u16).map(|i| (if i % 3 == 2 { 4 } else { 0 }, i.wrapping_mul(40_503) | 1, 700)).collect();
    let config = || config((0, 0, 0, 0, 0), 1, 1);
    assert_eq!(check_alike(config(), unseen.clone(), 2, true).unwrap(), (true, true));
    // A close() by either side: full entries from then on, on the fast path still.
    for close in [(2, 7, 1), (3, 7, 1)] {
        let mut with = unseen.clone();
        with.insert(100, close);
        assert_eq!(check_alike(config(), with, 2, true).unwrap(), (true, false), "{close:?}");
    }
    // Every kind of op but bind(), then one bind() (first, while every port is free): the
    // fast path ends for good.
    let ops: Vec<(u8, u16, u64)> =
        (0..200u16).map(|i| ((i % 5) as u8, i.wrapping_mul(40_503), 700)).collect();
    let no_bind: Vec<_> = ops.iter().map(|&(op, pick, step)| (op, pick | 1, step)).collect();
    assert_eq!(check_alike(config(), no_bind, 2, true).unwrap(), (true, false));
    let mut with_bind = ops;
    with_bind.insert(0, (1, 0, 1));
    assert_eq!(check_alike(config(), with_bind, 2, true).unwrap(), (false, false));
}

#[test]
fn the_layout_follows_the_number_of_pools() {
    let shape = (0, 0, 0, 0, 0);
    assert!(Stack::new(config(shape, 1, 1)).table.is_dense());
    assert!(Stack::new(config(shape, 2, 8)).table.is_dense(), "16 pools");
    assert!(!Stack::new(config(shape, 1, 17)).table.is_dense(), "17 pools");
    assert!(!Stack::new(config(shape, 1, 1)).with_tuple_layout(Some(false)).table.is_dense());
}
