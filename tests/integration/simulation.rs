//! The simulator against the closed forms of shared/reference/rfc6056.md §5. Each test is a
//! real simulation with a fixed seed; each tolerance is justified beside it.

use portsim::scenario::{self, Scenario};
use portsim::sim::{self, DestinationTable, RunOptions, RunOutput};
use std::path::Path;

fn scenario(text: &str) -> Scenario {
    scenario::parse(text, "test", Path::new(".")).unwrap_or_else(|e| panic!("{e}"))
}

fn run(s: &Scenario) -> Vec<RunOutput> {
    sim::run_all(s, s.seed, RunOptions::default())
}

fn run_logged(s: &Scenario) -> Vec<RunOutput> {
    sim::run_all(s, s.seed, RunOptions { log_connections: true, ..Default::default() })
}

/// One destination, n = 1000 ports (10000-10999), 10 s TIME_WAIT held by the client, lifetime
/// 1 µs: every connection holds its 4-tuple for H = 10.000001 s.
fn churn(arrivals: &str, strategies: &[&str], duration: &str, warmup: &str, seed: u64) -> Scenario {
    let list: String = strategies.iter().map(|s| format!("[[strategies]]\nname = \"{s}\"\n")).collect();
    scenario(&format!(
        r#"
name = "churn"
seed = {seed}
duration = "{duration}"
warmup = "{warmup}"
[ports]
range = "10000-10999"
[tcp]
time_wait = "10s"
active_close = "client"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = {arrivals}
lifetime = {{ dist = "constant", value = "1us" }}
[metrics]
sample_interval = "10m"
{list}"#
    ))
}

/// P(N = k) for N ~ Poisson(a) truncated to 0..=n: the Erlang loss system's occupancy, which a
/// Poisson arrival sees (PASTA).
fn truncated_poisson(a: f64, n: usize) -> Vec<f64> {
    let mut log_p: Vec<f64> = Vec::with_capacity(n + 1);
    let mut acc = 0.0;
    for k in 0..=n {
        if k > 0 {
            acc += (a / k as f64).ln();
        }
        log_p.push(acc);
    }
    let max = log_p.iter().cloned().fold(f64::MIN, f64::max);
    let w: Vec<f64> = log_p.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = w.iter().sum();
    w.iter().map(|x| x / total).collect()
}

/// Candidates `random-pick` examines with `busy` of `n` ports unsuitable: a geometric number
/// of draws, cut off at n draws.
fn random_pick_expected(busy: usize, n: usize) -> f64 {
    if busy >= n {
        return n as f64;
    }
    let r = busy as f64 / n as f64;
    (1.0 - r.powi(n as i32)) / (1.0 - r)
}

#[test]
fn random_pick_mean_candidates_is_the_truncated_poisson_expectation() {
    // Offered occupancy rho = lambda*H/n. The naive 1/(1-rho) is only the first-order term:
    // N fluctuates around rho*n, and E[n/(n-N)] > n/(n-E[N]) (Jensen), most at rho = 0.9.
    for (rho, naive) in [(0.5, 2.0), (0.9, 10.0)] {
        let lambda = rho * 1000.0 / 10.000001;
        let s =
            churn(&format!("{{ process = \"poisson\", rate = {lambda} }}"), &["random-pick"], "6h", "1m", 11);
        let got = run(&s)[0].summary.probes.mean;
        let p = truncated_poisson(lambda * 10.000001, 1000);
        let expected: f64 = p.iter().enumerate().map(|(k, pk)| pk * random_pick_expected(k, 1000)).sum();
        eprintln!("random-pick rho {rho}: simulated {got:.4}, expected {expected:.4}, naive {naive}");
        // 6 h at 50 or 90 conn/s is 1.1 or 1.9 million attempts. Occupancy decorrelates over
        // about H = 10 s (~900 attempts), leaving ~2,000 independent batches; the per-batch
        // mean varies by ~25 % at rho = 0.9 (N's sd of 30 ports moves n/(n-N) from 7.7 to
        // 14), so the standard error is ~0.6 %: 3 % is five standard errors.
        assert!(
            (got - expected).abs() / expected < 0.03,
            "rho {rho}: simulated {got:.3}, expected {expected:.3} (naive {naive})"
        );
        if rho == 0.9 {
            assert!(expected > 11.0 && got > 10.5, "the first-order 1/(1-rho) = 10 is not the answer");
        }
    }
}

#[test]
fn random_pick_candidates_at_each_occupancy_average_the_truncated_geometric_mean() {
    // Per allocation: N = 4-tuples held when it happens, counted from the log (a connection
    // holds its 4-tuple for exactly H after it starts). Attempts are grouped by N; each group's
    // mean is compared with (1 - (N/n)^n)/(1 - N/n) within 4.5 standard errors of that
    // geometric law (sd = sqrt(r)/(1-r)), over the groups with at least 500 attempts.
    let lambda = 0.85 * 1000.0 / 10.000001;
    let s = churn(&format!("{{ process = \"poisson\", rate = {lambda} }}"), &["random-pick"], "2h", "0s", 5);
    let out = &run_logged(&s)[0];
    let hold: u64 = 10_000_001_000;
    let mut starts: std::collections::VecDeque<u64> = Default::default();
    let mut groups: std::collections::BTreeMap<usize, (f64, u64)> = Default::default();
    let mut total_seen = 0.0;
    let mut total_expected = 0.0;
    for r in &out.log {
        while starts.front().is_some_and(|&t| t + hold <= r.time) {
            starts.pop_front();
        }
        let held = starts.len();
        let g = groups.entry(held).or_default();
        g.0 += f64::from(r.candidates);
        g.1 += 1;
        total_seen += f64::from(r.candidates);
        total_expected += random_pick_expected(held, 1000);
        if r.port.is_some() {
            starts.push_back(r.time);
        }
    }
    let mut checked = 0;
    for (&held, &(sum, count)) in &groups {
        if count < 500 || held >= 1000 {
            continue;
        }
        let r = held as f64 / 1000.0;
        let mean = sum / count as f64;
        let expected = random_pick_expected(held, 1000);
        let se = r.sqrt() / (1.0 - r) / (count as f64).sqrt();
        assert!(
            (mean - expected).abs() < 4.5 * se,
            "N = {held}: mean {mean:.3}, expected {expected:.3} +- {se:.3}"
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} occupancy levels had enough attempts");
    // All attempts together: 1 % (the sum of ~700,000 geometric draws).
    assert!((total_seen / total_expected - 1.0).abs() < 0.01, "{total_seen} vs {total_expected}");
}

#[test]
fn the_n_over_time_wait_ceiling() {
    // Constant arrivals and a constant hold: at 0.9 n/H at most 900 of 1000 ports are ever held,
    // so nothing fails; at 1.2 n/H exactly n/H = 100 connections a second succeed once the
    // range is full, so the failure fraction is 1 - 1/1.2 (within 0.01: the run's edges).
    let strategies = ["bsd", "random-start", "hash", "double-hash"];
    let at = |factor: f64| {
        churn(
            &format!("{{ process = \"constant\", rate = {} }}", factor * 100.0),
            &strategies,
            "10m",
            "30s",
            1,
        )
    };
    for o in run(&at(0.9)) {
        assert_eq!(o.summary.connections.failed, 0, "{}", o.summary.name);
    }
    for o in run(&at(1.2)) {
        let f = o.summary.connections.failed_fraction;
        eprintln!("{} at 1.2 n/H: failure fraction {f:.5}", o.summary.name);
        assert!((f - (1.0 - 1.0 / 1.2)).abs() < 0.01, "{}: failure fraction {f}", o.summary.name);
    }
}

/// Erlang's B(n, a) by the stable recurrence B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1}).
fn erlang_b(n: u32, a: f64) -> f64 {
    (1..=n).fold(1.0, |b, k| a * b / (f64::from(k) + a * b))
}

#[test]
fn blocking_is_erlang_b_at_offered_load_n() {
    // n = 100 ports (10000-10099), Poisson arrivals at 10/s, H = 10 s: a = n = 100 and
    // B(100, 100) = 0.0757. Any strategy that finds a free port whenever one exists blocks
    // exactly like an Erlang loss system. 40 h split into 240 ten-minute samples (60 H each,
    // nearly independent): the samples' mean must lie within 4 standard errors of B.
    let b = erlang_b(100, 100.0);
    assert!((b - 0.0757).abs() < 0.0005, "{b}");
    for strategy in ["bsd", "random-start"] {
        let text = format!(
            r#"
name = "erlang"
seed = 21
duration = "40h"
[ports]
range = "10000-10099"
[tcp]
time_wait = "10s"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = {{ process = "poisson", rate = 10.0 }}
lifetime = {{ dist = "constant", value = "1us" }}
[metrics]
sample_interval = "10m"
[[strategies]]
name = "{strategy}"
"#
        );
        let out = &run(&scenario(&text))[0];
        let fractions: Vec<f64> = out
            .samples
            .iter()
            .filter(|s| s.attempts > 0)
            .map(|s| s.failed as f64 / s.attempts as f64)
            .collect();
        let k = fractions.len() as f64;
        let mean = fractions.iter().sum::<f64>() / k;
        let var = fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (k - 1.0);
        let se = (var / k).sqrt();
        eprintln!("{strategy}: blocking {mean:.5} +- {se:.5}, Erlang-B {b:.5}");
        assert!(se < 0.003, "{strategy}: standard error {se} too large to test anything");
        assert!((mean - b).abs() < 4.0 * se, "{strategy}: blocking {mean:.4} +- {se:.4}, Erlang-B {b:.4}");
    }
}

#[test]
fn bsd_never_collides_while_rate_times_hold_is_below_n() {
    // Three destinations, 90 conn/s in all, evenly spaced, H = 10 s: 900 < n = 1000. The global
    // counter comes back to a port every 1000/90 = 11.1 s > H, so no candidate is ever busy.
    // random-pick on the same workload does collide (the test can tell the difference).
    let s = scenario(
        r#"
name = "bsd"
seed = 2
duration = "30m"
[ports]
range = "10000-10999"
[tcp]
time_wait = "10s"
[[destinations]]
addr = "192.0.2.1:443"
[[destinations]]
addr = "192.0.2.2:443"
[[destinations]]
addr = "192.0.2.3:80"
[workload]
arrivals = { process = "constant", rate = 90.0 }
lifetime = { dist = "constant", value = "1us" }
[[strategies]]
name = "bsd"
[[strategies]]
name = "random-pick"
"#,
    );
    let out = run(&s);
    assert_eq!(out[0].summary.collisions.local, 0);
    assert_eq!(out[0].summary.probes.max, 1);
    assert!(out[1].summary.collisions.local > 1000);
}

#[test]
fn random_increments_never_reuses_a_port_within_n_over_big_n_allocations() {
    // Between two uses of a port the counter advances by at least n, at most N per candidate;
    // with one candidate per allocation (the server closes first and connections last 1 µs,
    // so no candidate is ever busy) that is at least ceil(n/N) allocations: 57 for n = 28,232
    // and N = 500, and 15 for N = 2000.
    for (big_n, bound) in [(500u64, 57usize), (2000, 15)] {
        let s = scenario(&format!(
            r#"
name = "alg5"
seed = 9
duration = "2h"
[tcp]
time_wait = "60s"
active_close = "server"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = {{ process = "poisson", rate = 20.0 }}
lifetime = {{ dist = "constant", value = "1us" }}
[[strategies]]
name = "random-increments"
n = {big_n}
"#
        ));
        let out = &run_logged(&s)[0];
        assert_eq!(out.summary.collisions.local, 0, "precondition: one candidate per allocation");
        let mut last_use: std::collections::HashMap<u16, usize> = Default::default();
        let mut min_gap = usize::MAX;
        for (i, r) in out.log.iter().enumerate() {
            let port = r.port.expect("nothing fails");
            if let Some(prev) = last_use.insert(port, i) {
                min_gap = min_gap.min(i - prev);
            }
        }
        eprintln!("alg5 N = {big_n}: minimum reuse gap {min_gap} allocations (bound {bound})");
        assert!(min_gap != usize::MAX, "some port must come back in 144,000 allocations");
        assert!(min_gap >= bound, "N = {big_n}: a port came back after {min_gap} allocations");
        // The bound is nearly tight: the sum of ~57 draws of U{1..500} can barely reach n.
        assert!(min_gap < 3 * bound, "N = {big_n}: min gap {min_gap}");
    }
}

#[test]
fn same_seed_same_numbers_on_any_number_of_threads() {
    let s = portsim::scenario::load(Path::new("scenarios/rfc-compare.toml")).unwrap();
    let json = |outputs: &[RunOutput]| {
        let mut v = portsim::report::summary_json(&s, s.seed, outputs);
        for st in v["strategies"].as_array_mut().unwrap() {
            st.as_object_mut().unwrap().remove("run");
        }
        v.to_string()
    };
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let a = one.install(|| sim::run_all(&s, s.seed, RunOptions::default()));
    let b = two.install(|| sim::run_all(&s, s.seed, RunOptions::default()));
    let c = two.install(|| sim::run_all(&s, s.seed, RunOptions::default()));
    assert_eq!(json(&a), json(&b));
    assert_eq!(json(&b), json(&c));
    assert_eq!(portsim::report::timeseries_csv(&a).unwrap(), portsim::report::timeseries_csv(&b).unwrap());
    assert_eq!(
        portsim::report::summary_csv(&s, 1, &a).unwrap(),
        portsim::report::summary_csv(&s, 1, &b).unwrap()
    );
    assert_eq!(portsim::report::port_usage_csv(&a).unwrap(), portsim::report::port_usage_csv(&c).unwrap());
    let d = DestinationTable::of(&s);
    assert_eq!(d.len(), 8);
    // A different seed gives different numbers: the comparison above can fail.
    let e = sim::run_all(&s, s.seed + 1, RunOptions::default());
    assert_ne!(json(&a), json(&e));
}

#[test]
fn a_second_source_address_doubles_the_ceiling() {
    // 100 ports, H = 10 s: 10 conn/s per local address. At 18 conn/s one address fails
    // 1 - 10/18 = 44 % in steady state; two addresses (round robin: 9/s each, or fallback: the
    // second only when the first is exhausted) fail none.
    let text = |addrs: &str, choice: &str| {
        format!(
            r#"
name = "addrs"
duration = "10m"
warmup = "1m"
[ports]
range = "10000-10099"
[tcp]
time_wait = "10s"
[host]
addrs = [{addrs}]
addr_choice = "{choice}"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = {{ process = "constant", rate = 18.0 }}
lifetime = {{ dist = "constant", value = "1us" }}
[[strategies]]
name = "random-start"
"#
        )
    };
    let one = &run(&scenario(&text("\"10.0.0.1\"", "round-robin")))[0].summary;
    assert!(
        (one.connections.failed_fraction - (1.0 - 10.0 / 18.0)).abs() < 0.01,
        "{}",
        one.connections.failed_fraction
    );
    for choice in ["round-robin", "fallback"] {
        let two = &run(&scenario(&text("\"10.0.0.1\", \"10.0.0.2\"", choice)))[0].summary;
        assert_eq!(two.connections.failed, 0, "{choice}");
    }
    // Fallback tries the first address in full before the second: the first carries its 10/s,
    // and the other 8/s examine all its 100 ports before moving on (over 100 candidates).
    let fb = &run(&scenario(&text("\"10.0.0.1\", \"10.0.0.2\"", "fallback")))[0].summary;
    let over: u64 = fb.probes.histogram.iter().filter(|(c, _)| *c > 100).map(|(_, n)| n).sum();
    let share = over as f64 / fb.connections.attempted as f64;
    assert!((share - 8.0 / 18.0).abs() < 0.01, "{share}");
}

/// The longest TIME-WAIT portsim accepts holds ports at least as long as 60 s does: before the
/// clock sums saturated, `time_wait = "18446744073709551615ns"` wrapped `now + time_wait` into
/// the past and freed every port at once (0 failures where 60 s gives most of 200).
#[test]
fn the_longest_time_wait_never_wraps_the_clock() {
    let failed = |tw: &str| {
        let s = scenario(&format!(
            r#"
name = "tw"
duration = "20s"
[ports]
range = "10000-10009"
[tcp]
time_wait = "{tw}"
active_close = "client"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = {{ process = "constant", rate = 10 }}
lifetime = {{ dist = "constant", value = "1ms" }}
[[strategies]]
name = "bsd"
"#
        ));
        run(&s)[0].summary.connections.failed
    };
    let sixty = failed("60s");
    let longest = failed("100y");
    // 10 ports, 200 attempts: the first 10 succeed and hold their ports past the run's end.
    assert_eq!(sixty, 190);
    assert_eq!(longest, 190);
}

/// The longest run portsim accepts samples its time series forward and ends.
#[test]
fn the_longest_duration_samples_forward() {
    let s = scenario(
        r#"
name = "long"
duration = "100y"
[[destinations]]
addr = "192.0.2.1:443"
[workload]
arrivals = { process = "poisson", rate = 1e-8 }
lifetime = { dist = "constant", value = "1s" }
[[strategies]]
name = "bsd"
"#,
    );
    let out = &run(&s)[0];
    let t: Vec<f64> = out.samples.iter().map(|r| r.t_s).collect();
    assert!((100..=201).contains(&t.len()), "{}", t.len());
    assert!(t.windows(2).all(|w| w[1] > w[0]), "time runs forward");
    assert!(*t.last().unwrap() <= portsim::time::secs(portsim::time::MAX_DURATION));
}
