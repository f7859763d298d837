//! The close queue alone, in the speed scenario's pattern (benches/scenarios/speed.toml):
//! Poisson arrivals at 300/s, Exp(2 s) lifetimes, so about 600 closes pending; before each
//! arrival every close due by then is popped, then the arrival's close is pushed. The calendar
//! queue of `portsim::sim::close_queue` against the binary heap it replaced, on the same
//! schedule of 24-byte events.
//!
//! `cargo bench --bench close_queue`; instruction counts of whole runs are in BENCHMARKS.md.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portsim::sim::close_queue::{CloseQueue, Timed};
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Duration;

/// The engine's close event: time, tagged sequence number, 4-tuple key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Close(u64, u64, u64);

impl Timed for Close {
    fn time(&self) -> u64 {
        self.0
    }
}

const CONNECTIONS: usize = 100_000;
const SPACING_NS: f64 = 1e9 / 300.0;
const LIFETIME_NS: f64 = 2e9;

/// (arrival time, close time) per connection.
fn schedule() -> Vec<(u64, u64)> {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(1);
    let mut now = 0.0;
    (0..CONNECTIONS)
        .map(|_| {
            let gap: f64 = Exp1.sample(&mut rng);
            let life: f64 = Exp1.sample(&mut rng);
            now += gap * SPACING_NS;
            (now as u64, (now + life * LIFETIME_NS) as u64)
        })
        .collect()
}

fn close_queue(c: &mut Criterion) {
    let plan = schedule();
    let mut group = c.benchmark_group("close_queue/speed-pattern");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(CONNECTIONS as u64));
    group.bench_function("calendar", |b| {
        b.iter(|| {
            let mut q: CloseQueue<Close> = CloseQueue::sized_for(SPACING_NS as u64, LIFETIME_NS as u64);
            let mut popped = 0u64;
            for (seq, &(arrival, close)) in plan.iter().enumerate() {
                while let Some(e) = q.pop_at_or_before(arrival) {
                    popped = popped.wrapping_add(e.2);
                }
                q.push(Close(close, seq as u64, seq as u64));
            }
            black_box(popped)
        })
    });
    group.bench_function("binary-heap", |b| {
        b.iter(|| {
            let mut q = BinaryHeap::new();
            let mut popped = 0u64;
            for (seq, &(arrival, close)) in plan.iter().enumerate() {
                while q.peek().is_some_and(|Reverse(e): &Reverse<Close>| e.0 <= arrival) {
                    popped = popped.wrapping_add(q.pop().expect("peeked").0.2);
                }
                q.push(Reverse(Close(close, seq as u64, seq as u64)));
            }
            black_box(popped)
        })
    });
    group.finish();
}

criterion_group!(benches, close_queue);
criterion_main!(benches);
