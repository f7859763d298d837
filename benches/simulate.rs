//! Whole-run throughput: simulated connections per second of wall time, one run (scenario,
//! strategy, seed) on one core, for scenarios/busy-backend.toml.
//!
//! `cargo bench --bench simulate`; the figures are in BENCHMARKS.md.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use portsim::sim::{self, DestinationTable, RunOptions};
use std::path::Path;
use std::time::Duration;

fn busy_backend(c: &mut Criterion) {
    let scenario =
        portsim::scenario::load(Path::new("scenarios/busy-backend.toml")).expect("shipped scenario");
    let dests = DestinationTable::of(&scenario);
    let mut group = c.benchmark_group("simulate/busy-backend");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(8));
    for label in ["bsd", "random-pick", "double-hash"] {
        let spec = scenario.strategies.iter().find(|s| s.label == label).expect("in the scenario").clone();
        // The number of attempts is the same for every strategy (common random numbers).
        let attempts = sim::run(&scenario, &dests, &spec, scenario.seed, RunOptions::default())
            .summary
            .run
            .simulated_connections;
        group.throughput(Throughput::Elements(attempts));
        group.bench_function(label, |b| {
            b.iter_batched(
                || spec.clone(),
                |spec| sim::run(&scenario, &dests, &spec, scenario.seed, RunOptions::default()),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, busy_backend);
criterion_main!(benches);
