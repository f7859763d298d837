//! `portsim predict`: the observer's guess rates against the reference values (within
//! four standard errors), the count leak, the tracking attack's success against linux-5.12 and
//! failure against linux, the CVE-2022-32296 tester's verdicts, the DNS view, and determinism.

use portsim::predict::observer::{self, Traffic, rank_guesses};
use portsim::predict::{self, classifier, tracker};
use portsim::scenario::{self, Scenario};
use std::path::Path;

/// A scenario with the given strategies and `[predict]` body; 20 conn/s of background over 200
/// destinations.
fn scenario(strategies: &[&str], predict: &str) -> Scenario {
    let mut text = String::from(
        "name = \"p\"\nseed = 5\nduration = \"10m\"\n[[destinations]]\ncount = 200\nprefix = \"192.0.2.0/24\"\nport = 443\n[workload]\narrivals = { process = \"poisson\", rate = 20.0 }\nlifetime = { dist = \"exponential\", mean = \"2s\" }\n",
    );
    for s in strategies {
        text.push_str(&format!("[[strategies]]\nname = \"{s}\"\n"));
    }
    text.push_str("[predict]\n");
    text.push_str(predict);
    scenario::parse(&text, "p.toml", Path::new(".")).expect("valid scenario")
}

/// Four standard errors of a proportion `p` over `n` trials.
fn four_se(p: f64, n: f64) -> f64 {
    4.0 * (p * (1.0 - p) / n).sqrt()
}

#[test]
fn guesses_rank_the_most_frequent_differences_then_small_ones() {
    assert_eq!(rank_guesses(&[2, 4, 2], 100, 3, 1), vec![2, 4, 1]);
    assert_eq!(rank_guesses(&[], 100, 3, 1), vec![1, 2, 3]);
    // Linux walks even ports: unbacked guesses are its multiples of 2.
    assert_eq!(rank_guesses(&[6], 100, 4, 2), vec![6, 2, 4, 8]);
    // Ties go to the smaller difference; never more guesses than ports; once the step's
    // multiples are used up, the other residues.
    assert_eq!(rank_guesses(&[7, 3], 5, 9, 1), vec![3, 7, 1, 2, 4]);
    assert_eq!(rank_guesses(&[], 6, 6, 2), vec![2, 4, 1, 3, 5, 0]);
}

#[test]
fn idle_guess_rates_match_the_reference_values() {
    let trials = 2000.0;
    let s = scenario(
        &["bsd", "random-pick", "random-start", "random-increments", "linux-5.12", "linux", "hash"],
        "k = [8]\nguesses = 10\ntrials = 2000\n",
    );
    let n = 28232.0;
    for spec in &s.strategies {
        let g = observer::measure(&s, spec, s.seed, Traffic::Idle);
        let p = g.at(8).expect("k = 8 measured");
        let (want1, wantw) = match spec.config.name() {
            "bsd" | "hash" => (1.0, 1.0),
            "random-pick" | "random-start" => (1.0 / n, 10.0 / n),
            "random-increments" => (1.0 / 500.0, 10.0 / 500.0),
            "linux-5.12" => (15.0 / 16.0, 1.0),
            // Within one 10 s window; a window boundary falls between two 50 ms connections
            // 0.5 % of the time.
            "linux" => (1.0 / 8.0, 1.0),
            other => unreachable!("{other}"),
        };
        let tol1 = four_se(want1, trials).max(2.0 / trials);
        let tolw = four_se(wantw, trials).max(2.0 / trials);
        assert!((p.first - want1).abs() <= tol1, "{}: P1 {} vs {want1}", spec.label, p.first);
        if spec.config.name() == "linux" {
            // The attack learns the eight steps as it sees them: at k = 8 it covers most.
            assert!(p.within > 5.0 / 8.0 && p.within <= 1.0, "linux: Pw {}", p.within);
            assert_eq!(g.formula_within, Some(1.0));
        } else {
            assert!((p.within - wantw).abs() <= tolw, "{}: Pw {} vs {wantw}", spec.label, p.within);
        }
        assert_eq!(
            g.formula_first,
            Some(want1).filter(|_| spec.config.name() != "linux").or(g.formula_first)
        );
    }
}

#[test]
fn port_differences_leak_the_connection_count_of_global_counters_only() {
    let s = scenario(
        &["bsd", "hash", "linux-legacy", "linux-5.12", "linux", "random-pick"],
        "k = [16]\ntrials = 300\n",
    );
    for spec in &s.strategies {
        let g = observer::measure(&s, spec, s.seed, Traffic::Busy);
        let leaks = matches!(spec.config.name(), "bsd" | "hash" | "linux-legacy");
        assert_eq!(g.leaks_count, Some(leaks), "{}: r = {:?}", spec.label, g.count_correlation);
        if leaks {
            // The count-adjusted attack is the best one, and it is exact on a quiet range.
            assert!(g.best_attack.starts_with("count-"), "{}: {}", spec.label, g.best_attack);
            assert!(g.at(16).unwrap().first > 0.95, "{}", spec.label);
        }
    }
}

#[test]
fn the_tracking_attack_identifies_linux_5_12_and_fails_against_linux() {
    let s = scenario(&["linux-legacy", "linux-5.12", "linux"], "[predict.attack]\nseeds = 4\n");
    let targets = predict::attack_targets(&s);
    assert_eq!(targets.len(), 3);
    for spec in targets {
        for traffic in [Traffic::Idle, Traffic::Busy] {
            let a = predict::attack(&s, spec, s.seed, traffic);
            match spec.config.name() {
                "linux-5.12" => {
                    assert_eq!(a.identified, 4, "{traffic:?}: {:?}", a.failures);
                    assert!(
                        a.mean_connections < 50_000.0 && a.mean_connections > 10_000.0,
                        "{}",
                        a.mean_connections
                    );
                    // Four devices, four different IDs.
                    assert_eq!(a.shared_ids, 0);
                }
                "linux" => assert_eq!(a.identified, 0, "{traffic:?}"),
                "linux-legacy" => {
                    // One shared hint: no fresh port ever advances by exactly 2.
                    assert_eq!(a.identified, 0);
                    assert_eq!(a.failures, vec![("initial increment outside [20, 200)".to_string(), 4)]);
                }
                other => unreachable!("{other}"),
            }
        }
    }
}

#[test]
fn the_canonical_fingerprint_is_the_proof_of_concepts() {
    let buckets = vec![vec![1030, 1025], vec![1040], vec![], vec![1080, 1077, 1070]];
    assert_eq!(tracker::canonical(buckets), "(1025,1030):(1070,1077,1080)");
}

#[test]
fn the_tester_gives_each_linux_era_its_verdict() {
    let s = scenario(&["linux-legacy", "linux-5.12", "linux", "bsd", "random-start"], "trials = 1\n");
    let r = predict::run(&s, s.seed, &|_| {});
    for v in &r.verdicts {
        let want = match v.name {
            "linux-legacy" => classifier::Verdict::Algorithm3,
            "linux-5.12" => classifier::Verdict::Algorithm4Vulnerable,
            "linux" => classifier::Verdict::Algorithm4NotVulnerable,
            _ => classifier::Verdict::NotLinux,
        };
        assert_eq!(v.verdict, want.text(), "{} {:?}", v.label, v.traffic);
    }
}

#[test]
fn dns_view_counts_unbounds_pool_and_measures_the_bits() {
    let s = scenario(&["bsd", "random-pick", "random-increments", "linux"], "[predict.dns]\ntrials = 4000\n");
    let avoid = predict::dns::avoided(&s);
    let pool = 64512 - avoid.count_in(portsim::stack::PortRange::new(1024, 65535).unwrap());
    // 1024-65535 less 4,825 IANA-assigned ports and the 256 of 49152-49407.
    assert_eq!(pool, 59431);
    for spec in &s.strategies {
        let d = predict::dns::measure(&s, spec, s.seed);
        assert_eq!(d.pool_ports, 59431);
        let bits = d.port_bits.expect("some guess hit");
        match spec.config.name() {
            "bsd" => assert_eq!(bits, 0.0),
            // log2(59431) = 15.86; 4000 trials x 1024 guesses give about 69 hits: +-0.5 bit.
            "random-pick" => assert!((bits - 15.86).abs() < 0.5, "{bits}"),
            // Every step 1..500 is one guess rank: the first 512 ranks hold them all.
            "random-increments" => assert!((bits - 500f64.log2()).abs() < 0.2, "{bits}"),
            // connect() takes even ports first: half the pool, one bit less.
            "linux" => {
                assert!((bits - 14.86).abs() < 0.5, "{bits}");
                assert!((d.formula_bits.unwrap() - 14.86).abs() < 0.01);
            }
            other => unreachable!("{other}"),
        }
    }
}

#[test]
fn predict_output_is_byte_identical_across_thread_counts() {
    let s = scenario(
        &["linux-5.12", "random-increments"],
        "k = [1, 4]\ntrials = 50\n[predict.attack]\nseeds = 2\n[predict.dns]\ntrials = 50\n",
    );
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let r = pool.install(|| predict::run(&s, 9, &|_| {}));
        serde_json::to_string(&predict::output::json(&s, 9, &r)).unwrap()
    };
    assert_eq!(run(1), run(2));
}

#[test]
fn predict_cli_writes_its_files_and_refuses_unknown_attack_targets() {
    let dir = tempfile::tempdir().unwrap();
    let scen = dir.path().join("s.toml");
    std::fs::write(
        &scen,
        "name = \"tiny\"\nduration = \"10m\"\n[[destinations]]\naddr = \"192.0.2.1:443\"\n[workload]\narrivals = { process = \"poisson\", rate = 5.0 }\nlifetime = { dist = \"constant\", value = \"1s\" }\n[[strategies]]\nname = \"linux-5.12\"\n[predict]\nk = [2]\ntrials = 20\n[predict.attack]\nseeds = 1\n[predict.dns]\ntrials = 20\n",
    )
    .unwrap();
    let out_dir = dir.path().join("out");
    let out = assert_cmd::Command::cargo_bin("portsim")
        .unwrap()
        .args(["predict", scen.to_str().unwrap(), "--out", out_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in [
        "predict.json",
        "predict.csv",
        "attack.csv",
        "classifier.csv",
        "dns.csv",
        "report.html",
        "charts/predict-guess.svg",
        "charts/predict-attack.png",
    ] {
        assert!(out_dir.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(out_dir.join("predict.csv")).unwrap();
    assert!(csv.starts_with("label,name,traffic,attack,best,k,"));
    assert_eq!(csv.lines().count(), 1 + 2 * 3, "{csv}");
    std::fs::write(
        &scen,
        std::fs::read_to_string(&scen).unwrap().replace("seeds = 1", "seeds = 1\nstrategies = [\"linux-6\"]"),
    )
    .unwrap();
    let out = assert_cmd::Command::cargo_bin("portsim")
        .unwrap()
        .args(["predict", scen.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "predict.attack.strategies: the scenario has no strategy `linux-6` (it has linux-5.12)"
        ),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What Linux 6.18 did (a private network namespace, 400 back-to-back connections to
/// 127.1.2.3:12345 closed with RST, 2026-12-01): no odd port, differences 2, 4, ..., 16 seen
/// 49, 60, 43, 52, 46, 65, 40, 44 times; one connection per 0.1 s for 25 s jumped by 100 or more
/// at 6.2 s and 16.3 s (the 10 s re-keying), and the authors' CVE-2022-32296 tester said
/// "RFC 6056 Algorithm 4 (Not Vulnerable)". portsim's `linux` must do the same.
#[test]
fn linux_steps_like_the_kernel_on_loopback() {
    use portsim::predict::device::{Device, Hold};
    let s = scenario(&["linux"], "");
    let spec = &s.strategies[0];
    let sel = predict::adapter::selector(&spec.config, 11, &spec.label, 0);
    let mut dev = Device::new(&s, spec, sel, false, 0, None, 4);
    let ms = 1_000_000;
    let ports: Vec<u16> = (1..=400)
        .map(|i| dev.connect(i * ms, 0x7f01_0203, 12345, Hold::Reset).expect("a free port"))
        .collect();
    assert!(ports.iter().all(|p| p % 2 == 0));
    let mut counts = std::collections::BTreeMap::new();
    for w in ports.windows(2) {
        *counts.entry((u32::from(w[1]) + 28232 - u32::from(w[0])) % 28232).or_insert(0u32) += 1;
    }
    // 399 steps in 0.4 s: at most one crosses a 10 s key window.
    let steps: u32 = (2..=16).step_by(2).map(|d| counts.get(&d).copied().unwrap_or(0)).sum();
    assert!(steps >= 398, "{counts:?}");
    for d in (2..=16).step_by(2) {
        // 399/8 = 50 each; the kernel's smallest and largest counts were 40 and 65.
        let c = counts[&d];
        assert!((25..=80).contains(&c), "{d}: {c} ({counts:?})");
    }
    // One connection per 0.1 s over 25 s: jumps of 100 or more about every 10 s.
    let mut jumps = Vec::new();
    let mut prev = dev.connect(2_000 * ms, 0x7f01_0203, 12345, Hold::Reset).unwrap();
    for i in 1..=250u64 {
        let p = dev.connect(2_000 * ms + i * 100 * ms, 0x7f01_0203, 12345, Hold::Reset).unwrap();
        if (u32::from(p) + 28232 - u32::from(prev)) % 28232 >= 100 {
            jumps.push(i);
        }
        prev = p;
    }
    assert!((2..=3).contains(&jumps.len()), "{jumps:?}");
    assert!(jumps.windows(2).all(|w| w[1] - w[0] == 100), "{jumps:?}");
}
