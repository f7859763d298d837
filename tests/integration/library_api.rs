//! The public API for strategies of one's own: a registry a scenario can name them from, adding
//! configurations to a loaded scenario, running and writing outputs.

use portsim::strategy::registry::STRATEGIES;
use portsim::{
    ConfiguredStrategy, ParamInfo, Params, PortCheck, PortSelector, Registry, Request, Selection,
    StrategyConfig, StrategyInfo, StrategyRng,
};
use std::path::Path;

/// Always the lowest free port at or above `lo + skip`.
#[derive(Debug, PartialEq)]
struct LowestConfig {
    skip: u16,
}

struct Lowest(u16);

impl PortSelector for Lowest {
    fn select(&mut self, req: &Request<'_>, check: &dyn PortCheck) -> Selection {
        let mut candidates = 0;
        for port in req.range.lo() + self.0..=req.range.hi() {
            candidates += 1;
            if check.is_suitable(port) {
                return Selection::found(port, candidates);
            }
        }
        Selection::exhausted(candidates)
    }
}

impl ConfiguredStrategy for LowestConfig {
    fn name(&self) -> &'static str {
        LOWEST.name
    }
    fn settings(&self) -> serde_json::Value {
        serde_json::json!({ "skip": self.skip })
    }
    fn build(&self, _: StrategyRng) -> Box<dyn PortSelector> {
        Box::new(Lowest(self.skip))
    }
}

static LOWEST: StrategyInfo = StrategyInfo {
    name: "lowest",
    aliases: &["low"],
    summary: "the lowest free port",
    params: &[ParamInfo { name: "skip", default: "0", help: "ports skipped at the bottom" }],
    parse: |p| Ok(StrategyConfig::new(LowestConfig { skip: p.u64_in("skip", 0, 0, 100)? as u16 })),
};

static CLASH: StrategyInfo = StrategyInfo {
    name: "mine",
    aliases: &["alg1"],
    summary: "",
    params: &[],
    parse: |_| Ok(StrategyConfig::new(LowestConfig { skip: 0 })),
};

/// 20 ports, one connection a second held 1 s then 5 s of TIME_WAIT: about 6 ports busy.
const SCENARIO: &str = r#"
name = "api"
duration = "100s"
warmup = "0s"
[ports]
range = "20000-20019"
[tcp]
time_wait = "5s"
[[destinations]]
addr = "192.0.2.1:80"
[workload]
arrivals = { process = "constant", rate = 1.0 }
lifetime = { dist = "constant", value = "1s" }
[[strategies]]
name = "low"
skip = 3
[[strategies]]
name = "bsd"
"#;

fn registry() -> Registry {
    let mut r = Registry::builtin();
    r.add(&LOWEST).unwrap();
    r
}

#[test]
fn a_registry_holds_the_builtins_then_yours_and_refuses_a_taken_name() {
    let mut r = registry();
    let names: Vec<&str> = r.iter().map(|s| s.name).collect();
    assert_eq!(names.len(), STRATEGIES.len() + 1);
    assert_eq!(names.last(), Some(&"lowest"));
    assert_eq!(r.add(&CLASH).unwrap_err(), "strategy name `alg1` is taken by `random-start`");
    assert_eq!(r.add(&LOWEST).unwrap_err(), "strategy name `lowest` is taken by `lowest`");
    assert!(r.valid_names().ends_with(", lowest (low)"), "{}", r.valid_names());
}

#[test]
fn scenarios_name_your_strategy_only_through_your_registry() {
    let e = portsim::scenario::parse(SCENARIO, "api.toml", Path::new(".")).unwrap_err();
    assert_eq!(e.key, "strategies[0].name");
    assert!(e.message.starts_with("unknown strategy `low`"), "{e}");
    let s = portsim::scenario::parse_with(SCENARIO, "api.toml", Path::new("."), &registry()).unwrap();
    assert_eq!(s.strategies[0].label, "low");
    assert_eq!(s.strategies[0].config, StrategyConfig::new(LowestConfig { skip: 3 }));
    assert_eq!(s.strategies[0].config.get::<LowestConfig>(), Some(&LowestConfig { skip: 3 }));
    // Its parameters are checked like any strategy's.
    let bad = SCENARIO.replace("skip = 3", "skip = 300");
    let e = portsim::scenario::parse_with(&bad, "api.toml", Path::new("."), &registry()).unwrap_err();
    assert_eq!((e.key.as_str(), e.position.map(|p| p.0)), ("strategies[0].skip", Some(16)));
    let bad = SCENARIO.replace("skip = 3", "skp = 3");
    let e = portsim::scenario::parse_with(&bad, "api.toml", Path::new("."), &registry()).unwrap_err();
    assert!(e.message.contains("valid keys: name, label, stack, skip"), "{e}");
}

#[test]
fn your_strategy_runs_next_to_the_builtins_and_is_measured_like_them() {
    let mut s = portsim::scenario::parse_with(SCENARIO, "api.toml", Path::new("."), &registry()).unwrap();
    s.add_strategy("lowest-0", StrategyConfig::new(LowestConfig { skip: 0 })).unwrap();
    assert_eq!(
        s.add_strategy("bsd", StrategyConfig::new(LowestConfig { skip: 0 })).unwrap_err(),
        "two strategies are labelled `bsd`: give one a different label"
    );
    let runs = portsim::run(&s, 1);
    let labels: Vec<&str> = runs.iter().map(|r| r.summary.name.as_str()).collect();
    assert_eq!(labels, ["low", "bsd", "lowest-0"]);
    // Constant arrivals at t = 0, 1, 2, ...: a port is busy for 1 s open plus 5 s of TIME_WAIT,
    // so connection k finds the ports of connections k-5..k-1 in use and `lowest` cycles
    // through the lowest 6 ports: at most 6 candidates, never a failure.
    let low0 = &runs[2].summary;
    assert_eq!(
        (low0.strategy.as_str(), low0.connections.attempted, low0.connections.failed),
        ("lowest", 100, 0)
    );
    assert!(low0.probes.max <= 6, "{}", low0.probes.max);
    assert_eq!(low0.port_usage.distinct, 6, "{:?}", low0.port_usage);
    assert_eq!(runs[0].summary.settings["parameters"], serde_json::json!({ "skip": 3 }));
    // Same scenario, same seed: same results.
    assert_eq!(portsim::run(&s, 1)[0].summary.probes, runs[0].summary.probes);

    let dir = tempfile::tempdir().unwrap();
    let written = portsim::write_outputs(dir.path(), &s, 1, &runs, Default::default()).unwrap();
    assert_eq!(written.len(), 5, "{written:?}");
    assert!(written.iter().any(|p| p.ends_with("pools.csv")));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(json["strategies"][2]["strategy"], "lowest");
}

#[test]
fn configure_reads_parameters_as_a_scenario_does() {
    let cfg = registry().configure("low", Params::from_toml("s", "skip = 5").unwrap()).unwrap();
    assert_eq!(cfg.name(), "lowest");
    assert_eq!(cfg.settings(), serde_json::json!({ "skip": 5 }));
    let e = registry().configure("nope", Params::empty("s")).unwrap_err();
    assert!(e.message.ends_with(", lowest (low)"), "{e}");
}
