//! The CSV files: one row per strategy, per sample, per port, per attempt.

use crate::scenario::Scenario;
use crate::sim::{DestinationTable, RunOutput};
use anyhow::Result;
use std::net::Ipv4Addr;

/// A float as the CSVs write it: the shortest text that reads back to the same `f64`, always
/// with a point or an exponent (`0.0`, `1.5`, `5e-324`), so a column keeps one type in pandas
/// whatever the run (`failed_fraction` is `0.0`, not `0`, when nothing failed) and an
/// underflowing probability is `5e-324`, not 330 digits. `Display` gives neither.
pub fn csv_float(x: f64) -> String {
    format!("{x:?}")
}

/// An optional float: empty when absent (pandas reads NaN).
pub fn csv_opt(v: Option<f64>) -> String {
    v.map(csv_float).unwrap_or_default()
}

fn opt(v: Option<f64>) -> String {
    csv_opt(v)
}

/// `summary.csv`: the summary's scalar figures, one row per strategy, each row naming its
/// scenario and seed so the files of several runs concatenate into one table.
pub fn summary_csv(scenario: &Scenario, seed: u64, outputs: &[RunOutput]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "scenario",
        "seed",
        "name",
        "strategy",
        "range",
        "scope",
        "time_wait_s",
        "tw_reuse",
        "attempted",
        "established",
        "failed",
        "failed_fraction",
        "probes_mean",
        "probes_p50",
        "probes_p99",
        "probes_max",
        "collisions_local",
        "collisions_remote",
        "reuse_count",
        "reuse_within_threshold",
        "reuse_interval_min_s",
        "reuse_interval_p1_s",
        "reuse_interval_p50_s",
        "first_failure_s",
        "first_failure_in_warmup",
        "last_failure_s",
        "exhausted_s",
        "exhaustion_episodes",
        "longest_episode_s",
        "occupancy_peak",
        "port_usage_distinct",
        "port_usage_max_over_mean",
    ])?;
    for o in outputs {
        let s = &o.summary;
        let setting = |k: &str| {
            s.settings.get(k).map(|v| v.to_string().trim_matches('"').to_string()).unwrap_or_default()
        };
        w.write_record([
            scenario.name.clone(),
            seed.to_string(),
            s.name.clone(),
            s.strategy.clone(),
            setting("range"),
            setting("scope"),
            setting("time_wait_s"),
            setting("tw_reuse"),
            s.connections.attempted.to_string(),
            s.connections.established.to_string(),
            s.connections.failed.to_string(),
            csv_float(s.connections.failed_fraction),
            csv_float(s.probes.mean),
            s.probes.p50.to_string(),
            s.probes.p99.to_string(),
            s.probes.max.to_string(),
            s.collisions.local.to_string(),
            s.collisions.remote.to_string(),
            s.reuse.count.to_string(),
            s.reuse.within_threshold.to_string(),
            opt(s.reuse.interval_s.min),
            opt(s.reuse.interval_s.p1),
            opt(s.reuse.interval_s.p50),
            opt(s.exhaustion.first_failure_s),
            s.exhaustion.first_failure_in_warmup.to_string(),
            opt(s.exhaustion.last_failure_s),
            csv_float(s.exhaustion.exhausted_s),
            s.exhaustion.episodes.count.to_string(),
            csv_float(s.exhaustion.episodes.longest_s),
            s.occupancy.peak.to_string(),
            s.port_usage.distinct.to_string(),
            csv_float(s.port_usage.max_over_mean),
        ])?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `timeseries.csv`: per sample interval and strategy.
pub fn timeseries_csv(outputs: &[RunOutput]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "t_s",
        "strategy",
        "attempts",
        "established",
        "failed",
        "mean_candidates",
        "collisions_local",
        "collisions_remote",
        "live",
        "time_wait",
        "peak_held_toward_one_destination",
        "busiest_pool_held",
    ])?;
    for o in outputs {
        for s in &o.samples {
            w.write_record([
                csv_float(s.t_s),
                o.summary.name.clone(),
                s.attempts.to_string(),
                s.established.to_string(),
                s.failed.to_string(),
                csv_float(s.mean_candidates),
                s.collisions_local.to_string(),
                s.collisions_remote.to_string(),
                s.live.to_string(),
                s.time_wait.to_string(),
                s.peak_held_toward_one_destination.to_string(),
                s.busiest_pool_held.to_string(),
            ])?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `pools.csv`: per strategy and pool (source address, destination) that saw an attempt:
/// attempts and failures after the warm-up, the pool's first failure, its peak occupancy.
pub fn pools_csv(outputs: &[RunOutput]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "strategy",
        "local_addr",
        "destination",
        "attempted",
        "failed",
        "first_failure_s",
        "peak",
    ])?;
    for o in outputs {
        for p in &o.summary.pools.all {
            w.write_record([
                o.summary.name.clone(),
                p.local_addr.clone(),
                p.destination.clone(),
                p.attempted.to_string(),
                p.failed.to_string(),
                opt(p.first_failure_s),
                p.peak.to_string(),
            ])?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `port_usage.csv`: connections established on each port, per strategy (ports never used are
/// left out).
pub fn port_usage_csv(outputs: &[RunOutput]) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["strategy", "port", "connections"])?;
    for o in outputs {
        for (port, count) in &o.summary.port_usage.per_port {
            w.write_record([o.summary.name.clone(), port.to_string(), count.to_string()])?;
        }
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// `connections.csv`: one row per attempt (with `--log-connections`).
pub fn connections_csv(
    scenario: &Scenario,
    outputs: &[RunOutput],
    dests: &DestinationTable,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_connections_csv(&mut out, scenario, outputs, dests)?;
    Ok(out)
}

/// `connections.csv` written to `out` as it is made: a spilled log is read back and formatted
/// record by record, so the file never sits in memory whole.
pub fn write_connections_csv(
    out: &mut dyn std::io::Write,
    scenario: &Scenario,
    outputs: &[RunOutput],
    dests: &DestinationTable,
) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "time_s",
        "strategy",
        "local_addr",
        "destination",
        "port",
        "candidates",
        "result",
        "close_s",
        "lifetime_s",
        "reused",
    ])?;
    for o in outputs {
        o.log.for_each(|r| {
            let d = r.dest as usize;
            w.write_record([
                format!("{:.9}", crate::time::secs(r.time)),
                o.summary.name.clone(),
                scenario.addrs[usize::from(r.local)].to_string(),
                format!("{}:{}", Ipv4Addr::from(dests.addrs[d]), dests.ports[d]),
                r.port.map(|p| p.to_string()).unwrap_or_default(),
                r.candidates.to_string(),
                if r.port.is_some() { "established".into() } else { "failed".into() },
                if r.port.is_some() {
                    format!("{:.9}", crate::time::secs(r.time + r.lifetime))
                } else {
                    String::new()
                },
                if r.port.is_some() {
                    format!("{:.9}", crate::time::secs(r.lifetime))
                } else {
                    String::new()
                },
                r.reused.to_string(),
            ])?;
            Ok(())
        })?;
    }
    w.flush()?;
    Ok(())
}
