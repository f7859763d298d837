//! The binary as a user meets it: exit codes, help, and every bad-input message pinned.

use assert_cmd::Command;
use std::path::Path;

fn portsim() -> Command {
    Command::cargo_bin("portsim").expect("the portsim binary is built for the tests")
}

/// Every fixture in tests/invalid_scenarios/ and the exact messages `portsim check` gives for it
/// (one line per error it finds).
const INVALID: &[(&str, &str)] = &[
    (
        "absurd-rate",
        "6:12: workload.arrivals: about 3.60e15 connections over 3600000 s: at most 1e10 per run (lower the rate or the duration)",
    ),
    (
        "bad-active-close",
        "4:16: tcp.active_close: use \"client\", \"server\", or the probability (0 to 1) that the client closes first",
    ),
    (
        "bad-duration",
        "2:12: duration: `ten minutes` is not a duration: write it like \"250ms\", \"60s\" or \"10m\"",
    ),
    (
        "bad-expect",
        "11:16: expect.max_failures: `max_failures` is not an expectation: use a metric (attempted, established, failed, failed_fraction, mean_probes, p99_probes, max_probes, collisions_local, collisions_remote, forced_reuse, reuse_count, reuse_within_threshold, occupancy_peak, port_usage_distinct, port_usage_max_over_mean) or a dotted key of summary.json (such as exhaustion.first_failure_s), optionally with max_ or min_ in front",
    ),
    ("bad-host-prefix", "4:10: host.addrs: `10.0.0.1/33`: the prefix length must be 0 to 32"),
    ("bad-hz", "4:6: tcp.hz: 200 is not a CONFIG_HZ choice: use 100, 250, 300 or 1000"),
    ("bad-parameter-value", "10:15: strategies[0].entry_width: `24` is not one of: 16, 32"),
    ("bad-predict-k", "11:9: predict.k: every k must be a whole number of ports from 1 to 4096"),
    (
        "bad-predict-target",
        "11:15: predict.attack.strategies: the scenario has no strategy `linux-5.12` (it has linux)",
    ),
    (
        "bad-socket-mode",
        "5:10: destinations[0].socket: `bind-first` is not a socket mode: use one of connect, bind-then-connect, bind-no-port",
    ),
    ("deep-nesting", "3:85: invalid TOML: cannot recurse further; max recursion depth met"),
    (
        "duplicate-label",
        "12:9: strategies[1].label: two strategies are labelled `bsd`: give one a different `label`",
    ),
    (
        "duration-too-long",
        "2:12: duration: `584y` is too long: portsim accepts durations up to 100 years (\"100y\")",
    ),
    (
        "empty-destinations",
        "3:16: destinations: at least one [[destinations]] entry is required, e.g. addr = \"192.0.2.10:443\"",
    ),
    (
        "local-port-range-not-linux",
        "6:20: destinations[0].local_port_range: is Linux's IP_LOCAL_PORT_RANGE, which the `macos` profile (strategy `macos`) does not have: remove it, or run only Linux profiles and RFC strategies",
    ),
    (
        "missing-trace",
        "4:40: workload.arrivals.file: cannot read trace tests/invalid_scenarios/no-such-trace.csv: No such file or directory (os error 2)",
    ),
    (
        "name-too-long",
        "1:8: name: must be at most 200 bytes without control characters (it names the output folder)",
    ),
    (
        "name-with-nul",
        "1:8: name: must be at most 200 bytes without control characters (it names the output folder)",
    ),
    (
        "nat-addrs-not-contiguous",
        "14:8: nat.allocators[0].name: netfilter maps onto one contiguous address range (SNAT --to-source a.b.c.d-a.b.c.e): list nat.addrs in order without gaps",
    ),
    (
        "nat-bad-expect",
        "16:13: nat.expect.max_clash: `clash` is not a NAT metric: use one of attempted, established, failed, failed_fraction, inside_failed, allocations, alloc_failures, clashes, clash_fraction, syn_retransmits, mean_candidates, p99_candidates, max_candidates, preserved_fraction, peak_ports_per_ip, peak_entries, hosts_at_quota, max_time_at_quota_s, req8_reuses, optionally with max_ or min_ in front",
    ),
    (
        "nat-blocks-do-not-fit",
        "15:14: nat.allocators[0].block_size: 200 hosts need 200 blocks of 512 ports, but 1 address of 64512 ports holds 126",
    ),
    (
        "nat-no-addrs",
        "10:1: nat.addrs: is required: the gateway's external addresses, e.g. [\"203.0.113.1\"]",
    ),
    (
        "nat-unknown-allocator",
        "14:8: nat.allocators[0].name: unknown NAT allocator `iptables`; valid: netfilter, netfilter-legacy, random, random-fully, port-block, aws-nat-gateway, azure-nat-gateway, azure-lb, gcp-cloud-nat",
    ),
    (
        "nat-unknown-host-strategy",
        "14:12: nat.hosts[0].strategy: no [[strategies]] entry is labelled `freebsd` (there are linux)",
    ),
    ("negative-rate", "6:43: workload.arrivals.rate: must be greater than 0, got -5"),
    (
        "no-strategies",
        "1:1: strategies: at least one [[strategies]] entry is required, e.g. name = \"random-start\" (see `portsim strategies`)",
    ),
    ("not-utf8", "2:13: the scenario is not UTF-8 text (TOML files are)"),
    (
        "plus-port",
        "4:9: ports.range: `+40000` is not a port number (1-65535)\n\
         6:8: destinations[0].addr: `+443` is not a port number (1-65535)",
    ),
    ("plus-prefix", "4:10: destinations[0].prefix: `/+24` is not a prefix length (0-32)"),
    ("port-too-big", "4:8: destinations[0].addr: port 70000 is out of range (ports are 1-65535)"),
    ("port-zero", "4:9: ports.range: port 0 is not a port (ports are 1-65535)"),
    (
        "prefix-too-small",
        "4:9: destinations[0].count: 300 addresses do not fit in 198.51.100.0/24 (256 addresses)",
    ),
    ("range-min-over-max", "4:9: ports.range: the range is empty: min 60999 > max 32768"),
    (
        "reserved-every-effective-port",
        "4:13: ports.reserved: reserves every port of the range 40000-40010 that strategy `bsd` uses: nothing is left to allocate",
    ),
    (
        "reserved-outside-range",
        "5:20: ports.reserved: port 61000 is outside the port range 32768-60999: reserving it does nothing (remove it, or widen ports.range)",
    ),
    ("reserved-too-big", "4:13: ports.reserved: port 65536 is out of range (ports are 1-65535)"),
    (
        "several-errors",
        "4:9: ports.range: the range is empty: min 60999 > max 32768\n\
         7:12: tcp.tw_reuse: `3` is not a tw_reuse setting: use \"off\", \"on\" or \"loopback\" (or 0, 1, 2, as net.ipv4.tcp_tw_reuse writes them)\n\
         6:1: tcp.time_wiat: unknown key `time_wiat` (valid keys: time_wait, active_close, tw_reuse, tw_reuse_delay, time_wait_timer, hz, timestamps)\n\
         11:42: workload.arrivals.rate: must be greater than 0, got -1",
    ),
    ("syntax-error", "3:10: invalid TOML: unclosed table, expected `]`"),
    (
        "time-wait-too-long",
        "4:13: tcp.time_wait: `18446744073709551615ns` is too long: portsim accepts durations up to 100 years (\"100y\")",
    ),
    ("too-many-addrs", "4:9: host.addrs: 300 addresses: at most 256 local addresses"),
    (
        "too-many-destinations",
        " destinations: the run would need about 11.8 GB of memory, more than the limit of 8 GiB; the largest part is 1073741824 destinations x 1 strategies (11.8 GB)",
    ),
    ("too-many-samples", "9:19: metrics.sample_interval: cuts the run into 3600000 rows: at most 1000000"),
    (
        "too-much-memory",
        " metrics.sample_interval, strategies: the run would need about 9.8 GB of memory, more than the limit of 8 GiB; the largest part is 1000002 time-series rows x 40 strategies (9.6 GB)",
    ),
    (
        "typo-key",
        "4:1: tcp.time_wiat: unknown key `time_wiat` (valid keys: time_wait, active_close, tw_reuse, tw_reuse_delay, time_wait_timer, hz, timestamps)",
    ),
    (
        "unknown-parameter",
        "10:1: strategies[0].table_lenght: unknown key `table_lenght` (valid keys: name, label, stack, table_length, entry_width, increment, index, hash, rekey_period)",
    ),
    (
        "unknown-process",
        "6:24: workload.arrivals.process: `bursty` is not an arrival process: use one of poisson, constant, on-off, ramp, trace",
    ),
    ("unknown-strategy", "9:8: strategies[0].name: unknown strategy `lunix`; valid strategies: "),
    ("warmup-too-long", "3:10: warmup: must be shorter than `duration`"),
    ("wrong-type", "6:42: workload.arrivals.rate: expected a number, found string `\"fast\"`"),
    ("zero-rate", "6:42: workload.arrivals.rate: must be greater than 0, got 0"),
];

#[test]
fn every_invalid_scenario_exits_2_with_its_pinned_message() {
    for (fixture, message) in INVALID {
        let path = format!("tests/invalid_scenarios/{fixture}.toml");
        let out = portsim().args(["check", &path]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let expected: Vec<String> = message.split('\n').map(|m| format!("error: {path}:{m}")).collect();
        let expected = expected.join("\n");
        assert_eq!(out.status.code(), Some(2), "{fixture}: {stderr}");
        if fixture == &"unknown-strategy" {
            // The list of valid names grows with the registry; its start is pinned.
            assert!(stderr.starts_with(&expected), "{fixture}:\n  got {stderr}\n  want {expected}...");
            assert!(stderr.contains("bsd (sequential), random-start (alg1, simple-random)"));
        } else {
            assert_eq!(stderr.trim_end(), expected, "{fixture}");
        }
        assert!(!stderr.contains("panicked"), "{fixture}: {stderr}");
        // `run` refuses it the same way, before running anything.
        let run = portsim().args(["run", &path, "--out", "target/never-written"]).output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{fixture}");
    }
    assert!(!Path::new("target/never-written").exists());
}

#[test]
fn every_fixture_is_pinned() {
    let mut on_disk: Vec<String> = std::fs::read_dir("tests/invalid_scenarios")
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".toml").map(str::to_string)
        })
        .collect();
    on_disk.sort();
    let pinned: Vec<String> = INVALID.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(on_disk, pinned);
}

#[test]
fn check_accepts_every_shipped_scenario() {
    // The scenarios and the benchmark's big runs (checked, not run: they take seconds).
    let mut files: Vec<String> = ["scenarios", "benches/scenarios"]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 13, "{files:?}");
    let out = portsim().arg("check").args(&files).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok: ")).count(), files.len());
}

#[test]
fn missing_file_and_bad_flags_exit_2() {
    let out = portsim().args(["check", "no/such.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error: no/such.toml: cannot read the scenario: ")
    );
    let out = portsim().args(["run", "--seed", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = portsim().args(["run", "scenarios/quickstart.toml", "--only", "lunix"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--only lunix: the scenario has no strategy `lunix`")
    );
}

#[test]
fn help_has_examples_and_version_is_the_crate_version() {
    let out = portsim().arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for word in ["run", "check", "strategies", "Examples:", "portsim run scenarios/busy-backend.toml"] {
        assert!(help.contains(word), "--help lacks {word}");
    }
    let out = portsim().arg("--version").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("portsim {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn strategies_lists_every_strategy_with_aliases_and_parameters() {
    let out = portsim().arg("strategies").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "bsd (aliases: sequential)",
        "random-start (aliases: alg1, simple-random)",
        "random-pick (aliases: alg2)",
        "hash (aliases: alg3)",
        "double-hash (aliases: alg4)",
        "random-increments (aliases: alg5)",
        "table_length = 10",
        "n = 500",
        "termination = rfc6056",
    ] {
        assert!(text.contains(needle), "`portsim strategies` lacks {needle}");
    }
}

#[test]
fn run_writes_every_file_and_expect_failures_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = portsim()
        .args(["run", "scenarios/quickstart.toml", "--no-charts", "--log-connections", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("random-increments") && table.contains("probes mean"));
    for f in
        ["summary.json", "summary.csv", "timeseries.csv", "port_usage.csv", "pools.csv", "connections.csv"]
    {
        assert!(dir.path().join(f).is_file(), "{f} missing");
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["portsim_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(json["scenario"]["name"], "quickstart");
    let s = &json["strategies"][0];
    for key in [
        "/connections/attempted",
        "/connections/established",
        "/connections/failed",
        "/probes/mean",
        "/probes/p50",
        "/probes/p99",
        "/probes/max",
        "/probes/histogram",
        "/collisions/local",
        "/collisions/remote",
        "/reuse/count",
        "/reuse/within_threshold",
        "/reuse/interval_s/min",
        "/reuse/interval_s/p1",
        "/reuse/interval_s/p50",
        "/exhaustion/first_failure_s",
        "/occupancy/peak",
        "/port_usage/distinct",
        "/port_usage/max_over_mean",
        "/run/wall_s",
        "/run/connections_per_s",
    ] {
        assert!(s.pointer(key).is_some(), "summary.json lacks {key}");
    }
    let log = std::fs::read_to_string(dir.path().join("connections.csv")).unwrap();
    assert!(log.starts_with(
        "time_s,strategy,local_addr,destination,port,candidates,result,close_s,lifetime_s,reused\n"
    ));
    assert_eq!(
        log.lines().count() as u64 - 1,
        6 * json["strategies"][0]["run"]["simulated_connections"].as_u64().unwrap()
    );

    // An [expect] that cannot hold: exit 1, and the message says which and why.
    let text = std::fs::read_to_string("scenarios/quickstart.toml").unwrap() + "max_mean_probes = 0.5\n";
    let file = dir.path().join("strict.toml");
    std::fs::write(&file, text).unwrap();
    let out = portsim()
        .arg("run")
        .arg(&file)
        .args(["--no-charts", "--only", "bsd", "--out"])
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("FAIL quickstart: bsd mean_probes is 1, expected <= 0.5 (expect.max_mean_probes)")
    );
}

#[test]
fn json_output_is_the_summary_and_runs_are_byte_identical_across_threads() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for threads in ["1", "2"] {
        let out_dir = dir.path().join(threads);
        let out = portsim()
            .args([
                "run",
                "scenarios/server-closes-first.toml",
                "--no-charts",
                "--json",
                "--threads",
                threads,
                "--out",
            ])
            .arg(&out_dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut written: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.join("summary.json")).unwrap()).unwrap();
        let mut printed = printed;
        for v in [&mut written, &mut printed] {
            for s in v["strategies"].as_array_mut().unwrap() {
                s.as_object_mut().unwrap().remove("run");
            }
        }
        assert_eq!(printed, written);
        let csvs: Vec<Vec<u8>> = ["summary.csv", "timeseries.csv", "port_usage.csv"]
            .iter()
            .map(|f| std::fs::read(out_dir.join(f)).unwrap())
            .collect();
        files.push((written, csvs));
    }
    assert_eq!(files[0], files[1]);
}

#[test]
fn the_table_says_which_profile_is_an_assumption() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("w.toml");
    std::fs::write(
        &file,
        "name = \"w\"\nduration = \"10s\"\n[[destinations]]\naddr = \"192.0.2.1:443\"\n[workload]\n\
         arrivals = { process = \"poisson\", rate = 10.0 }\nlifetime = { dist = \"constant\", value = \"1s\" }\n\
         [[strategies]]\nname = \"windows\"\n[[strategies]]\nname = \"linux\"\n",
    )
    .unwrap();
    let out = portsim()
        .arg("run")
        .arg(&file)
        .arg("--no-charts")
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("note: windows is an assumption: selection order not documented"), "{table}");
    assert!(!table.contains("note: linux"));
}

#[test]
fn check_checks_every_file_and_exits_2_if_any_was_bad() {
    let out = portsim()
        .args([
            "check",
            "tests/invalid_scenarios/zero-rate.toml",
            "scenarios/quickstart.toml",
            "tests/invalid_scenarios/port-zero.toml",
            "scenarios/tw-reuse.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().filter(|l| l.starts_with("ok: ")).count(), 2, "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("error: tests/invalid_scenarios/zero-rate.toml:6:42:"), "{stderr}");
    assert!(stderr.contains("error: tests/invalid_scenarios/port-zero.toml:4:9:"), "{stderr}");
    assert!(stderr.trim_end().ends_with("2 of 4 files are invalid"), "{stderr}");
}

#[test]
fn capacity_refuses_reserved_ports_outside_the_range() {
    let out = portsim().args(["capacity", "--range", "32768-60999", "--reserved", "61000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: --reserved 61000: outside the range 32768-60999: reserving it does nothing (remove it, or widen --range)"
    );
    // The kernel's list form, split on commas: 11 + 1 reserved.
    let out = portsim()
        .args(["capacity", "--range", "32768 60999", "--reserved", "40000-40010,40020", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["reserved"], 12);
}

#[test]
fn trace_rows_past_the_duration_are_a_warning_with_their_count() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.csv"),
        "start_s,destination,lifetime_s\n0.5,192.0.2.1:443,1\n1.5,192.0.2.1:443,1\n2.0,192.0.2.1:443,1\n9,192.0.2.1:443,1\n",
    )
    .unwrap();
    let file = dir.path().join("t.toml");
    std::fs::write(
        &file,
        "name = \"t\"\nduration = \"2s\"\n[workload]\narrivals = { process = \"trace\", file = \"t.csv\" }\n\
         [[strategies]]\nname = \"bsd\"\n",
    )
    .unwrap();
    let out = portsim().arg("check").arg(&file).output().unwrap();
    assert!(out.status.success());
    let warning = format!(
        "warning: {}: {}: 2 of 4 trace rows start at or after duration (2s) and are dropped",
        file.display(),
        dir.path().join("t.csv").display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end(), warning);
    let out = portsim()
        .arg("run")
        .arg(&file)
        .arg("--no-charts")
        .arg("--out")
        .arg(dir.path().join("o"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&warning));
}

/// Special files and huge files are refused before anything is read whole: `portsim check
/// /dev/zero` used to read until memory ran out.
#[test]
fn special_and_huge_files_are_refused_with_the_limit() {
    for path in ["/dev/zero", "/tmp"] {
        let out = portsim().args(["check", path]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{path}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end(), format!("error: {path}: cannot read the scenario: not a regular file"));
        let run = portsim().args(["run", path, "--out", "target/never-written"]).output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{path}");
    }
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.toml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let out = portsim().arg("check").arg(&big).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("larger than 1048576 bytes"));
}

/// `--threads` is bounded: 100,000 used to abort the process.
#[test]
fn threads_are_bounded() {
    for cmd in [
        &["run", "scenarios/quickstart.toml"][..],
        &["sweep", "scenarios/quickstart.toml", "--vary", "workload.arrivals.rate=1,2"],
    ] {
        let out = portsim()
            .args(cmd)
            .args(["--threads", "100000", "--out", "target/never-written"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim_end(),
            "error: --threads 100000: at most 1024 worker threads (results do not depend on it)"
        );
    }
    assert!(!Path::new("target/never-written").exists());
}

#[test]
fn bad_chart_flags_name_the_flag_and_the_accepted_values() {
    for (args, message) in [
        (
            ["run", "--chart-size", "10x10"],
            "error: invalid value '10x10' for '--chart-size <WxH>': expected WIDTHxHEIGHT in pixels, from 640x400 to 4000x4000 (the default is 1100x620), got \"10x10\"",
        ),
        (
            ["sweep", "--chart-size", "wide"],
            "error: invalid value 'wide' for '--chart-size <WxH>': expected WIDTHxHEIGHT in pixels, from 640x400 to 4000x4000 (the default is 1100x620), got \"wide\"",
        ),
        (
            ["run", "--scale", "9"],
            "error: invalid value '9' for '--scale <X>': expected a number from 1 to 4 (PNG pixels per chart pixel), got \"9\"",
        ),
    ] {
        let out = portsim().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.lines().next(), Some(message), "{args:?}: {stderr}");
    }
}
