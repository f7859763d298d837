//! Every shipped scenario runs, and its own `[expect]` assertions hold.

use portsim::commands::failed_expectations;
use portsim::sim::{self, RunOptions};
use std::path::Path;

#[test]
fn every_shipped_scenario_runs_and_meets_its_expectations() {
    let mut files: Vec<_> = std::fs::read_dir("scenarios")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for path in &files {
        let s = portsim::scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
        let out = sim::run_all(&s, s.seed, RunOptions::default());
        assert_eq!(out.len(), s.strategies.len());
        for o in &out {
            assert!(o.summary.connections.attempted > 0, "{}: {} attempted nothing", s.name, o.summary.name);
        }
        let failed = failed_expectations(&s, &out);
        assert!(failed.is_empty(), "{}: {failed:?}", path.display());
    }
}

#[test]
fn the_built_in_quickstart_is_the_shipped_one() {
    let shipped = std::fs::read_to_string("scenarios/quickstart.toml").unwrap();
    assert_eq!(shipped, portsim::commands::QUICKSTART);
    assert!(Path::new("scenarios/trace-replay.csv").is_file());
}
