//! `portsim capacity` and the closed forms it shares with the sweep charts, against
//! shared/reference/rfc6056.md §5.

use assert_cmd::Command;
use portsim::closed_form::{erlang_b, random_pick_candidates, random_pick_mean_candidates, sustainable_rate};

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

fn capacity_json(args: &[&str]) -> serde_json::Value {
    let assert = portsim().arg("capacity").args(args).arg("--json").assert().success();
    serde_json::from_slice(&assert.get_output().stdout).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn n_over_h_matches_the_reference_table() {
    // §5.4: Linux 28,232 ports and 60 s of TIME_WAIT: 470.5 conn/s; the textbook 4096 / 60.
    assert!(close(sustainable_rate(28_232, 60.0), 470.5, 1e-3));
    assert!(close(sustainable_rate(4096, 60.0), 68.3, 1e-3));
    assert!(close(sustainable_rate(16_384, 120.0), 136.5, 1e-3));
    assert!(close(sustainable_rate(64_512, 240.0), 268.8, 1e-3));
    let c = capacity_json(&[]);
    assert_eq!(c["usable"], 28_232);
    assert!(close(c["rate_per_key"].as_f64().unwrap(), 470.53, 1e-4));
    assert!(close(c["rate_host"].as_f64().unwrap(), 470.53, 1e-4));
    let c = capacity_json(&["--range", "1024-5119"]);
    assert!(close(c["rate_per_key"].as_f64().unwrap(), 68.27, 1e-3));
}

#[test]
fn erlang_b_matches_the_reference_table() {
    // §5.5, n = 28,232.
    let n = 28_232u64;
    let b = |k: f64| erlang_b(n, k * n as f64);
    assert!(close(b(1.0), 4.7e-3, 0.02), "{}", b(1.0));
    assert!(close(b(1.0), (2.0 / (std::f64::consts::PI * n as f64)).sqrt(), 0.02));
    assert!(close(b(1.05), 4.8e-2, 0.03), "{}", b(1.05));
    assert!(close(b(1.2), 0.167, 0.01), "{}", b(1.2));
    assert!(close(b(0.95), 3.3e-19, 0.1), "{}", b(0.95));
    assert!(close(b(0.90), 4.5e-69, 0.1), "{}", b(0.90));
    // The CLI at a = n: a rate of n / 60 for 60 s.
    let c = capacity_json(&["--rate", &(28_232.0 / 60.0).to_string()]);
    let at = &c["at_rate"][0];
    assert!(close(at["offered_load"].as_f64().unwrap(), 28_232.0, 1e-9));
    assert!(close(at["blocking"].as_f64().unwrap(), 4.7e-3, 0.02));
    let c = capacity_json(&["--rate", &(1.2 * 28_232.0 / 60.0).to_string()]);
    assert!(close(c["at_rate"][0]["blocking"].as_f64().unwrap(), 0.167, 0.01));
}

#[test]
fn random_pick_needs_one_over_one_minus_rho() {
    // §5.2 and §5.4: rho = 0.5 -> 2, 0.9 -> 10; 200 conn/s for 60 s on 28,232 ports -> 1.74.
    assert!(close(random_pick_candidates(0.5, 28_232), 2.0, 1e-9));
    assert!(close(random_pick_candidates(0.9, 28_232), 10.0, 1e-9));
    assert!(close(random_pick_mean_candidates(28_232, 0, 200.0 * 60.0), 1.74, 0.01));
    assert!(close(random_pick_mean_candidates(28_232, 0, 100.0 * 60.0), 1.27, 0.01));
}

#[test]
fn keys_follow_the_scope_destinations_and_addresses() {
    // Four-tuple scope: every (destination, address) pair has its own n ports.
    let c = capacity_json(&["--destinations", "10", "--addrs", "2"]);
    assert_eq!(c["keys"], 20);
    assert!(close(c["rate_per_destination"].as_f64().unwrap(), 2.0 * 470.53, 1e-4));
    assert!(close(c["rate_host"].as_f64().unwrap(), 20.0 * 470.53, 1e-4));
    // Local-port scope: the destinations share each address's ports.
    let c = capacity_json(&["--destinations", "10", "--addrs", "2", "--scope", "local-port"]);
    assert_eq!(c["keys"], 2);
    assert!(close(c["rate_host"].as_f64().unwrap(), 2.0 * 470.53, 1e-4));
    assert!(close(c["rate_per_destination"].as_f64().unwrap(), 2.0 * 470.53 / 10.0, 1e-4));
    // Reserved ports, the lifetime and tw_reuse change n and H.
    let c = capacity_json(&["--reserved", "40000-40049,50000", "--lifetime", "100ms"]);
    assert_eq!(c["usable"], 28_232 - 51);
    assert!(close(c["hold_s"].as_f64().unwrap(), 60.1, 1e-9));
    let c = capacity_json(&["--tw-reuse-delay", "1s", "--lifetime", "1s"]);
    assert!(close(c["hold_s"].as_f64().unwrap(), 2.0, 1e-9));
    let c = capacity_json(&["--active-close", "server", "--lifetime", "2s"]);
    assert!(close(c["rate_per_key"].as_f64().unwrap(), 14_116.0, 1e-9));
}

#[test]
fn text_report_reads_well() {
    let assert = portsim()
        .args(["capacity", "--range", "32768-60999", "--time-wait", "60s", "--rate", "470,565"])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for needle in ["n = 28,232", "470.5 conn/s", "Erlang-B blocking", "0.167", "over the ceiling"] {
        assert!(out.contains(needle), "{needle} missing from:\n{out}");
    }
}

#[test]
fn bad_input_is_a_clear_error_and_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--range", "60999-32768"], "--range 60999-32768: the range is empty"),
        (&["--range", "0-100"], "--range 0-100"),
        (&["--reserved", "32768-60999"], "reserves every port"),
        (&["--reserved", "1-65535"], "--reserved 1-65535: outside the range 32768-60999"),
        (&["--reserved", "abc"], "--reserved abc"),
        (&["--time-wait", "forever"], "--time-wait forever: `forever` is not a duration"),
        (&["--lifetime=-1s"], "--lifetime -1s"),
        (&["--time-wait", "0s"], "the hold time is 0 s"),
        (&["--destinations", "0"], "--destinations 0"),
        (&["--addrs", "0"], "--addrs 0"),
        (&["--scope", "five-tuple"], "--scope: `five-tuple` is not a scope"),
        (&["--rate=-3"], "--rate -3"),
        (&["--rate", "0"], "--rate 0"),
        (&["--active-close", "both"], "--active-close both"),
    ];
    for (args, message) in cases {
        let assert = portsim().arg("capacity").args(*args).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.starts_with("error: ") && stderr.contains(message), "{args:?}: {stderr}");
    }
}
