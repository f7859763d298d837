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

#[test]
fn sysctl_forms_are_accepted() {
    let text = |ports: &str, tcp: &str| {
        format!(
            "name = \"s\"\nduration = \"1m\"\n[ports]\n{ports}\n[tcp]\n{tcp}\n[[destinations]]\naddr = \"192.0.2.1:443\"\n\
             [workload]\narrivals = {{ process = \"poisson\", rate = 10.0 }}\nlifetime = {{ dist = \"constant\", value = \"1s\" }}\n\
             [[strategies]]\nname = \"bsd\"\n"
        )
    };
    let parse = |t: String| portsim::scenario::parse(&t, "s.toml", std::path::Path::new(".")).unwrap();
    // What `sysctl net.ipv4.ip_local_port_range` prints (a tab) and ip_local_reserved_ports' list.
    let s = parse(text("range = \"32768\t60999\"\nreserved = \"40000-40010,40020\"", "tw_reuse = 2"));
    assert_eq!(s.ports.range.unwrap().to_string(), "32768-60999");
    assert_eq!(s.ports.reserved.ranges(), ["40000-40010", "40020"]);
    assert_eq!(s.tcp.tw_reuse, Some(portsim::stack::TwReuse::Loopback));
    let s = parse(text("range = \"32768 60999\"\nreserved = [40000, \"40100-40101\"]", "tw_reuse = 0"));
    assert_eq!(s.ports.reserved.ranges(), ["40000", "40100-40101"]);
    assert_eq!(s.tcp.tw_reuse, Some(portsim::stack::TwReuse::Off));
    let s = parse(text("", "tw_reuse = 1"));
    assert_eq!(s.tcp.tw_reuse, Some(portsim::stack::TwReuse::On));
}
