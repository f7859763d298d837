//! Nanoseconds per port selection for each of the six strategies, at 0, 50, 90 and 99 %
//! occupancy of the Linux default range toward one destination.
//!
//! The occupancy is a real [`Stack`] with a seeded, uniformly scattered subset of the range open
//! toward the destination, and every candidate goes through [`StackCheck`], so the figures
//! include the real `check_suitable_port()` (an array load, plus one hash lookup when the port is
//! held). A selection never opens the port it returns: every iteration is one selection at the
//! same occupancy. Strategies with a counter (bsd, hash, double-hash, random-increments) keep
//! advancing it from one iteration to the next, as they would between real `connect()`s.
//!
//! Before each group the mean number of candidates examined per selection is printed (on
//! stderr), measured outside the timed loop on a twin selector built from the same seed.
//! The `parts` group times the pieces a candidate costs: one ChaCha8 `u32`, one keyed hash of
//! the flow, and the suitability check on a free and on a held port.
//!
//! Run with `cargo bench --bench select`.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use portsim::params::Params;
use portsim::stack::{Flow, PortRange, Stack, StackConfig};
use portsim::strategy::keyed_hash::{HashFn, KeyedHash};
use portsim::strategy::registry::{configure, strategy_rng};
use portsim::strategy::{PortSelector, Request, StackCheck, StrategyRng};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Duration;

const STRATEGIES: [&str; 6] =
    ["bsd", "random-start", "random-pick", "hash", "double-hash", "random-increments"];
const OCCUPANCY_PCT: [u32; 4] = [0, 50, 90, 99];
const RANGE: PortRange = PortRange::LINUX;
/// Seeds the occupancy layout (per percentage) and the strategies' RNGs.
const SEED: u64 = 0x5e1ec7;
/// Selections run outside the timed loop to measure the mean candidates per selection.
const CANDIDATE_SAMPLE: u32 = 200_000;
const NOW: u64 = 1;

fn flow() -> Flow {
    Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 1), 443)
}

/// A stack with `pct` % of the range (rounded to the nearest port) held toward `flow`'s
/// destination, the held ports drawn uniformly without replacement with a seeded RNG.
fn occupied_stack(flow: &Flow, pct: u32) -> Stack {
    let n = RANGE.len() as usize;
    let busy = (n * pct as usize + 50) / 100;
    let mut rng = StrategyRng::seed_from_u64(SEED ^ u64::from(pct));
    let mut stack = Stack::new(StackConfig::simple(RANGE));
    for i in rand::seq::index::sample(&mut rng, n, busy) {
        stack.open(flow, RANGE.lo() + i as u16, 0, false);
    }
    assert_eq!(stack.held_toward(flow.dest_index), busy as u32);
    stack
}

fn selector(name: &str) -> Box<dyn PortSelector> {
    configure(name, Params::empty("s"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .build(strategy_rng(SEED, name))
}

/// Mean candidates examined per selection over `CANDIDATE_SAMPLE` selections from a fresh
/// selector (the same seed as the timed one), and how many of them found no port.
fn mean_candidates(name: &str, req: &Request<'_>, check: &StackCheck<'_>) -> (f64, u32) {
    let mut sel = selector(name);
    let mut total = 0u64;
    let mut exhausted = 0;
    for _ in 0..CANDIDATE_SAMPLE {
        let s = sel.select_stack(req, check);
        total += u64::from(s.candidates);
        exhausted += u32::from(s.port.is_none());
    }
    (total as f64 / f64::from(CANDIDATE_SAMPLE), exhausted)
}

fn configure_group(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_secs(1)).sample_size(30);
}

fn bench_select(c: &mut Criterion) {
    let flow = flow();
    let stacks: Vec<(u32, Stack)> =
        OCCUPANCY_PCT.iter().map(|&pct| (pct, occupied_stack(&flow, pct))).collect();
    let req = Request::connect(&flow, NOW, RANGE);
    for name in STRATEGIES {
        let mut g = c.benchmark_group(format!("select/{name}"));
        configure_group(&mut g);
        for (pct, stack) in &stacks {
            let check = StackCheck { stack, flow: &flow, now: NOW };
            let (mean, exhausted) = mean_candidates(name, &req, &check);
            eprintln!(
                "candidates select/{name}/{pct}%: mean {mean:.3} per selection \
                 ({CANDIDATE_SAMPLE} selections, {exhausted} exhausted)"
            );
            let mut sel = selector(name);
            g.bench_function(BenchmarkId::from_parameter(format!("{pct}%")), |b| {
                b.iter(|| sel.select_stack(black_box(&req), black_box(&check)))
            });
        }
        g.finish();
    }
}

/// What one candidate is made of, timed alone.
fn bench_parts(c: &mut Criterion) {
    let flow = flow();
    let mut g = c.benchmark_group("parts");
    configure_group(&mut g);

    let mut rng = strategy_rng(SEED, "parts");
    g.bench_function("chacha8-u32", |b| b.iter(|| rng.next_u32()));

    let key = KeyedHash::from_rng(&mut strategy_rng(SEED, "key"), HashFn::Siphash24);
    g.bench_function("siphash24-flow", |b| b.iter(|| key.hash(black_box(&flow), black_box(0))));

    // The check on a port nobody holds (one array load) and on a held one (the array load plus
    // one hash-table lookup that finds a live 4-tuple), at 50 % occupancy.
    let stack = occupied_stack(&flow, 50);
    let free: Vec<u16> = RANGE.iter().filter(|&p| stack.holders(0, p) == 0).collect();
    let held: Vec<u16> = RANGE.iter().filter(|&p| stack.holders(0, p) > 0).collect();
    for (label, ports) in [("is-suitable-free", free), ("is-suitable-held", held)] {
        let mut i = 0usize;
        g.bench_function(label, |b| {
            b.iter(|| {
                i = if i + 1 == ports.len() { 0 } else { i + 1 };
                stack.is_suitable(black_box(&flow), ports[i], NOW)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_select, bench_parts);
criterion_main!(benches);
