//! Figures around the summary that a user reads off the outputs: the time series' peak, the
//! exhaustion episodes, the warm-up block, transients, number formats.

use portsim::scenario;
use portsim::sim::{self, RunOptions};

/// 100 ports, 30 s of TIME_WAIT: a 2 s burst at 500/s fills the range at once, then a trickle
/// of 1/s fails until the first TIME_WAITs end at about 30 s.
pub const BURST: &str = r#"
name = "burst"
seed = 2
duration = "60s"
[ports]
range = "20000-20099"
[tcp]
time_wait = "30s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "on-off", rate = 500.0, on = "2s", off = "58s", off_rate = 1.0 }
lifetime = { dist = "constant", value = "1ms" }
[metrics]
sample_interval = "1s"
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-pick"
"#;

fn parse(text: &str) -> scenario::Scenario {
    scenario::parse(text, "test.toml", std::path::Path::new(".")).expect("valid scenario")
}

#[test]
fn the_time_series_peak_stays_up_while_the_range_is_exhausted() {
    let s = parse(BURST);
    for run in sim::run_all(&s, s.seed, RunOptions::default()) {
        let mut exhausted_rows = 0;
        for r in &run.samples {
            // One destination: everything held at the row's end was held toward it.
            assert!(
                u64::from(r.peak_held_toward_one_destination) >= r.live + r.time_wait,
                "{} t={}: peak {} < live {} + TIME_WAIT {}",
                run.summary.name,
                r.t_s,
                r.peak_held_toward_one_destination,
                r.live,
                r.time_wait
            );
            if r.failed > 0 {
                exhausted_rows += 1;
                assert_eq!(r.peak_held_toward_one_destination, 100, "{} t={}", run.summary.name, r.t_s);
            }
        }
        assert!(exhausted_rows >= 15, "{}: {exhausted_rows} rows with failures", run.summary.name);
    }
}
