//! `portsim vectors`: the shipped vectors replay against the strategies, regenerate to the same
//! file, and a vector that says anything else is caught.

use assert_cmd::Command;
use portsim::strategy::registry::Registry;
use portsim::strategy::vectors::{SCHEMA, VectorFile, generate, replay};

const SHIPPED: &str = "tests/vectors/strategies.json";

fn shipped() -> VectorFile {
    serde_json::from_str(&std::fs::read_to_string(SHIPPED).unwrap()).unwrap()
}

#[test]
fn the_shipped_vectors_replay_against_every_strategy() {
    let file = shipped();
    assert_eq!(file.schema, SCHEMA);
    // Every built-in strategy has vectors.
    for info in portsim::strategy::registry::STRATEGIES {
        assert!(file.strategies.iter().any(|s| s.strategy == info.name), "no vectors for {}", info.name);
    }
    let requests: usize = file.strategies.iter().flat_map(|s| &s.cases).map(|c| c.requests.len()).sum();
    assert_eq!(replay(&file, &Registry::builtin()), Ok(requests));
}

#[test]
fn the_shipped_vectors_are_what_portsim_vectors_writes_today() {
    // If a strategy changed on purpose, regenerate: portsim vectors --out tests/vectors/strategies.json
    let today = generate(None).unwrap();
    let file = shipped();
    assert_eq!(today.strategies.len(), file.strategies.len());
    for (a, b) in today.strategies.iter().zip(&file.strategies) {
        assert_eq!(a, b, "{} drifted from {SHIPPED}", a.label);
    }
    // Byte for byte what the command writes.
    let text = std::fs::read_to_string(SHIPPED).unwrap();
    assert_eq!(serde_json::to_string_pretty(&today).unwrap() + "\n", text);
}

#[test]
fn a_vector_that_disagrees_is_reported_with_where() {
    let mut file = shipped();
    let linux = file.strategies.iter_mut().find(|s| s.label == "linux").unwrap();
    linux.cases[0].requests[1].port = Some(1009);
    let e = replay(&file, &Registry::builtin()).unwrap_err();
    assert!(e.starts_with("linux / fresh: ten free ports, six connections to one destination a second apart: request 1: got port Some("), "{e}");

    let mut file = shipped();
    let bsd = file.strategies.iter_mut().find(|s| s.label == "bsd").unwrap();
    bsd.cases[0].setup_draws.push(7);
    let e = replay(&file, &Registry::builtin()).unwrap_err();
    assert!(e.ends_with("built with 0 draws, the vector lists 1"), "{e}");

    let mut file = shipped();
    file.strategies[0].settings = serde_json::json!({});
    assert!(replay(&file, &Registry::builtin()).unwrap_err().contains("settings"));
}

#[test]
fn every_listed_probe_is_counted_and_draws_are_consumed_in_order() {
    // Invariants of the format itself: candidates = probes, the port picked is the last probe
    // and was neither reserved nor busy, unless the allocator forced it (NetBSD hands out
    // `lastport - 1` after giving up: only its non-bsd algorithms, only after a full scan).
    let mut forced = 0;
    for s in shipped().strategies {
        for c in &s.cases {
            for r in &c.requests {
                assert_eq!(r.candidates as usize, r.probes.len(), "{} / {}", s.label, c.name);
                if r.forced {
                    forced += 1;
                    assert!(s.label.starts_with("netbsd-") && s.label != "netbsd-bsd", "{}", s.label);
                    assert!(r.port.is_some(), "{} / {}", s.label, c.name);
                    continue;
                }
                if let Some(p) = r.port {
                    assert_eq!(r.probes.last(), Some(&p), "{} / {}", s.label, c.name);
                    assert!(!c.reserved.contains(&p) && !c.busy.contains(&p), "{} / {}", s.label, c.name);
                }
            }
        }
    }
    assert!(forced > 0, "the exhaustion cases show NetBSD's forced reuse");
}

#[test]
fn the_command_filters_by_strategy_and_names_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("hash.json");
    let assert = Command::cargo_bin("portsim")
        .unwrap()
        .args(["vectors", "--strategy", "alg3", "--out"])
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.ends_with("(2 configurations, 48 requests)\n"), "{stderr}");
    let file: VectorFile = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let labels: Vec<&str> = file.strategies.iter().map(|s| s.label.as_str()).collect();
    assert_eq!(labels, ["hash", "hash-random-init-rekey"]);

    let assert =
        Command::cargo_bin("portsim").unwrap().args(["vectors", "--strategy", "lunix"]).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.starts_with("error: unknown strategy `lunix`; valid strategies: bsd (sequential), "),
        "{stderr}"
    );
}

#[test]
fn a_taped_strategy_picks_what_the_simulated_one_picks() {
    // The vectors describe the strategies the simulator runs: the same seed through the
    // ChaCha8 RNG the simulator uses and through the tape gives the same answers.
    use portsim::stack::{Flow, PortRange};
    use portsim::strategy::{BusyPorts, Request, StrategyRng, TapeRng};
    use rand::SeedableRng;
    let range = PortRange::new(5000, 5063).unwrap();
    for info in portsim::strategy::registry::STRATEGIES {
        let cfg = info.configure(portsim::params::Params::empty("s")).unwrap();
        let mut sim = cfg.build(StrategyRng::seed_from_u64(9));
        let mut taped = cfg.build_taped(TapeRng::seeded(9).0).unwrap();
        let mut busy = BusyPorts::new((5000..5064).filter(|p| p % 3 == 0));
        for k in 0..200u32 {
            let f = Flow::new([10, 0, 0, 1].into(), [192, 0, 2, (k % 7) as u8].into(), 443);
            let req = Request::connect(&f, u64::from(k) * 700_000_000, range);
            let a = sim.select(&req, &busy);
            assert_eq!(a, taped.select(&req, &busy), "{} request {k}", info.name);
            match a.port {
                Some(p) => busy.0.insert(p),
                None => busy.0.remove(&(5000 + (k as u16 % 64))),
            };
        }
    }
}
