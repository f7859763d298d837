//! What `portsim run` writes for a `[nat]` scenario, all or nothing through [`Staged`]:
//! summary.json (with its `nat` block), nat.csv (one row per allocator), nat_timeseries.csv
//! (external ports in use per address), nat_hosts.csv (per inside host against its quota) and
//! one occupancy chart per allocator.

use super::NatRun;
use crate::nat::alloc::AllocatorConfig;
use crate::report::Staged;
use crate::report::plot::{
    self, DrawResult, Figure, LegendEntry, Stroke, colour, draw_legend, draw_line, layout, line_width,
    nice_max, tick,
};
use crate::scenario::nat::{NatAllocatorSpec, NatSettings, Protocol};
use crate::scenario::{Bound, Scenario};
use crate::time::secs;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// An allocator's parameters, as summary.json states them.
pub fn settings_json(spec: &NatAllocatorSpec) -> Value {
    let config = match &spec.config {
        AllocatorConfig::Netfilter { flags, range } | AllocatorConfig::NetfilterLegacy { flags, range } => {
            json!({
                "kernel": if matches!(spec.config, AllocatorConfig::Netfilter { .. }) { "linux >= 5" } else { "linux 4.x" },
                "random": flags.random,
                "random_fully": flags.random_fully,
                "persistent": flags.persistent,
                "range": range.map(|r| r.to_string()),
            })
        }
        AllocatorConfig::Cloud(c) => serde_json::to_value(c).expect("serialisable"),
        AllocatorConfig::PortBlock(c) => serde_json::to_value(c).expect("serialisable"),
    };
    json!({ "mapping": spec.mapping, "timeouts": spec.timeouts, "parameters": config })
}

/// summary.json for a `[nat]` scenario.
pub fn summary_json(s: &Scenario, nat: &NatSettings, seed: u64, runs: &[NatRun]) -> Value {
    let groups: Vec<Value> = nat
        .hosts
        .iter()
        .map(|g| {
            json!({
                "count": g.count,
                "strategy": g.strategy,
                "protocol": g.protocol,
                "rate": g.rate,
                "lifetime_mean_s": g.lifetime.or(s.lifetime).map(|l| l.mean_s()),
                "rst_fraction": g.rst_fraction,
            })
        })
        .collect();
    let allocators: Vec<Value> = runs
        .iter()
        .zip(&nat.allocators)
        .map(|(r, spec)| {
            let mut v = serde_json::to_value(r).expect("serialisable");
            v["settings"] = settings_json(spec);
            v
        })
        .collect();
    json!({
        "portsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": {
            "name": s.name,
            "description": s.description,
            "seed": seed,
            "duration_s": secs(s.duration),
            "warmup_s": secs(s.warmup),
            "destinations": s.destination_count(),
        },
        "nat": {
            "addrs": nat.addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "hosts": nat.host_count(),
            "host_groups": groups,
            "confirm_window_s": secs(nat.confirm_window),
            "syn_timeout_s": secs(nat.syn_timeout),
            "syn_retries": nat.syn_retries,
            "allocators": allocators,
        },
    })
}

fn csv_bytes(rows: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> Result<()>) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    rows(&mut w)?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

const NAT_CSV_HEADER: &[&str] = &[
    "label",
    "allocator",
    "attempted",
    "established",
    "failed",
    "failed_fraction",
    "inside_failed",
    "allocations",
    "alloc_failures",
    "clashes",
    "clash_fraction",
    "syn_retransmits",
    "mean_candidates",
    "p99_candidates",
    "max_candidates",
    "preserved_fraction",
    "peak_entries",
    "peak_ports_per_ip",
    "hosts_at_quota",
    "max_time_at_quota_s",
    "req8_reuses",
];

/// nat.csv: one row per allocator.
pub fn nat_csv(runs: &[NatRun]) -> Result<Vec<u8>> {
    csv_bytes(|w| {
        w.write_record(NAT_CSV_HEADER)?;
        for r in runs {
            let mut row = vec![r.label.clone(), r.allocator.clone()];
            for k in &NAT_CSV_HEADER[2..] {
                row.push(crate::report::csv_float(r.metric(k).unwrap_or(f64::NAN)));
            }
            w.write_record(&row)?;
        }
        Ok(())
    })
}

/// nat_timeseries.csv: per allocator, sample and external address, the ports in use.
pub fn timeseries_csv(nat: &NatSettings, runs: &[NatRun]) -> Result<Vec<u8>> {
    csv_bytes(|w| {
        w.write_record(["label", "time_s", "addr", "ports_in_use", "entries"])?;
        for r in runs {
            for smp in &r.samples {
                for (i, n) in smp.ports_per_ip.iter().enumerate() {
                    w.write_record([
                        r.label.clone(),
                        crate::report::csv_float(smp.time_s),
                        nat.addrs[i].to_string(),
                        n.to_string(),
                        smp.entries.to_string(),
                    ])?;
                }
            }
        }
        Ok(())
    })
}

/// nat_hosts.csv: per allocator and inside host, its peak against its quota.
pub fn hosts_csv(nat: &NatSettings, runs: &[NatRun]) -> Result<Vec<u8>> {
    csv_bytes(|w| {
        w.write_record([
            "label",
            "host",
            "group",
            "strategy",
            "protocol",
            "peak_ports",
            "quota",
            "time_at_quota_s",
            "failed",
        ])?;
        for r in runs {
            for h in &r.hosts {
                let g = &nat.hosts[h.group as usize];
                w.write_record([
                    r.label.clone(),
                    h.host.to_string(),
                    h.group.to_string(),
                    g.strategy.clone(),
                    if g.protocol == Protocol::Udp { "udp".into() } else { "tcp".into() },
                    h.peak_ports.to_string(),
                    h.quota.map(|q| q.to_string()).unwrap_or_default(),
                    crate::report::csv_float(h.time_at_quota_s),
                    h.failed.to_string(),
                ])?;
            }
        }
        Ok(())
    })
}

/// External ports in use per address over the run, for one allocator.
struct Occupancy<'a> {
    title: String,
    run: &'a NatRun,
    addrs: Vec<String>,
    /// The ports one address can hand out (the top reference line), if one number.
    capacity: Option<f64>,
}

impl Figure for Occupancy<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult
    where
        DB::ErrorType: 'static,
    {
        let (area, legend) = layout(root, &self.title)?;
        let x_max = self.run.samples.last().map_or(1.0, |s| s.time_s).max(1e-9);
        let peak = f64::from(self.run.peak_ports_per_ip);
        let y_max = nice_max(peak.max(self.capacity.unwrap_or(0.0)).max(1.0) * 1.05);
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)?;
        let f = |v: &f64| tick(*v);
        let mut m = chart.configure_mesh();
        plot::mesh_style(&mut m, "simulated time (s)", "external ports in use");
        m.x_label_formatter(&f).y_label_formatter(&f).draw()?;
        let n = self.addrs.len();
        let mut entries = vec![LegendEntry::heading("external address (peak)")];
        for i in 0..n {
            let pts: Vec<(f64, f64)> =
                self.run.samples.iter().map(|s| (s.time_s, f64::from(s.ports_per_ip[i]))).collect();
            draw_line(&mut chart, pts, colour(i), Stroke::Solid, line_width(i, n))?;
            entries.push(LegendEntry::line(
                format!("{} ({})", self.addrs[i], self.run.per_ip[i].peak_ports),
                colour(i),
                Stroke::Solid,
            ));
        }
        if let Some(c) = self.capacity {
            draw_line(&mut chart, vec![(0.0, c), (x_max, c)], RGBColor(40, 40, 40), Stroke::Dashed, 1)?;
            entries.push(LegendEntry::line(
                format!("ports per address ({})", tick(c)),
                RGBColor(40, 40, 40),
                Stroke::Dashed,
            ));
        }
        draw_legend(&legend, &entries)
    }
}

/// The ports one external address offers under `spec`, when it is one number.
fn capacity(spec: &NatAllocatorSpec) -> Option<f64> {
    match &spec.config {
        AllocatorConfig::Netfilter { range, .. } | AllocatorConfig::NetfilterLegacy { range, .. } => {
            Some(f64::from(range.map_or(64512, |r| r.len())))
        }
        AllocatorConfig::Cloud(c) => Some(f64::from(c.range.len())),
        AllocatorConfig::PortBlock(c) => Some(f64::from(c.blocks_per_ip() * c.block_size)),
    }
}

/// A file-name-safe form of a label.
fn file_label(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// Every file of a `[nat]` run into `dir`, whole or not at all.
pub fn write_outputs(
    dir: &Path,
    s: &Scenario,
    seed: u64,
    runs: &[NatRun],
    charts: bool,
) -> Result<Vec<PathBuf>> {
    let nat = s.nat.as_ref().expect("a [nat] scenario");
    let mut staged = Staged::new(dir)?;
    let json = serde_json::to_string_pretty(&summary_json(s, nat, seed, runs))?;
    staged.write(dir.join("summary.json"), json.as_bytes())?;
    staged.write(dir.join("nat.csv"), &nat_csv(runs)?)?;
    staged.write(dir.join("nat_timeseries.csv"), &timeseries_csv(nat, runs)?)?;
    staged.write(dir.join("nat_hosts.csv"), &hosts_csv(nat, runs)?)?;
    if charts {
        for (r, spec) in runs.iter().zip(&nat.allocators) {
            let fig = Occupancy {
                title: format!("{}: external ports in use per address, {}", s.name, r.label),
                run: r,
                addrs: nat.addrs.iter().map(|a| a.to_string()).collect(),
                capacity: capacity(spec),
            };
            let drawn = plot::render(&fig)?;
            let name = format!("nat-occupancy-{}", file_label(&r.label));
            staged.write(dir.join("charts").join(format!("{name}.svg")), drawn.svg.as_bytes())?;
            staged.write(dir.join("charts").join(format!("{name}.png")), &drawn.png)?;
        }
    }
    staged.publish()
}

/// The terminal table: one row per allocator.
pub fn render_table(runs: &[NatRun]) -> String {
    let head = [
        "allocator",
        "attempted",
        "failed %",
        "alloc fail",
        "clashes",
        "SYN retx",
        "mean cand",
        "preserved %",
        "peak/IP",
    ];
    let rows: Vec<[String; 9]> = runs
        .iter()
        .map(|r| {
            [
                r.label.clone(),
                r.attempted.to_string(),
                format!("{:.3}", 100.0 * r.failed_fraction),
                r.alloc_failures.to_string(),
                r.clashes.to_string(),
                r.syn_retransmits.to_string(),
                format!("{:.2}", r.candidates.mean),
                format!("{:.1}", 100.0 * r.preserved_fraction),
                r.peak_ports_per_ip.to_string(),
            ]
        })
        .collect();
    let width: Vec<usize> = (0..head.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([head[i].len()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(
                |(i, c)| {
                    if i == 0 { format!("{c:<w$}", w = width[i]) } else { format!("{c:>w$}", w = width[i]) }
                },
            )
            .collect();
        out.push_str(parts.join("  ").trim_end());
        out.push('\n');
    };
    line(head.to_vec(), &mut out);
    for r in &rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// `[nat.expect]` against the runs: (passed, sentence) per assertion and allocator.
pub fn check_expectations(s: &Scenario, runs: &[NatRun]) -> Vec<(bool, String)> {
    let Some(nat) = &s.nat else { return Vec::new() };
    let mut out = Vec::new();
    for e in &nat.expect {
        for r in runs {
            if e.allocator.as_ref().is_some_and(|a| a != &r.label) {
                continue;
            }
            let actual = r.metric(&e.metric);
            let passed = actual.is_some_and(|a| match e.bound {
                Bound::Exactly => a == e.value,
                Bound::AtMost => a <= e.value,
                Bound::AtLeast => a >= e.value,
            });
            let want = match e.bound {
                Bound::Exactly => format!("= {}", e.value),
                Bound::AtMost => format!("<= {}", e.value),
                Bound::AtLeast => format!(">= {}", e.value),
            };
            let is = actual.map_or_else(|| "null".into(), |a| a.to_string());
            out.push((
                passed,
                format!("{}: {} {} is {is}, expected {want} ({})", s.name, r.label, e.metric, e.key),
            ));
        }
    }
    out
}

/// `portsim run` on a `[nat]` scenario: run every allocator, write the files, print the table
/// (or the JSON, after `json_sep`), and judge `[nat.expect]`. Returns whether every assertion
/// held.
pub fn execute(
    s: &Scenario,
    seed: u64,
    dir: &Path,
    pool: &rayon::ThreadPool,
    json: Option<&str>,
    charts: bool,
) -> Result<bool> {
    let nat = s.nat.as_ref().expect("a [nat] scenario");
    let runs = pool.install(|| super::run_all(s, seed));
    let written = write_outputs(dir, s, seed, &runs, charts)?;
    match json {
        Some(sep) => {
            let doc = serde_json::to_string_pretty(&summary_json(s, nat, seed, &runs))?;
            crate::report::stdout::print(&format!("{sep}{doc}"));
        }
        None => crate::report::stdout::print(&format!(
            "{} (seed {seed}, {} inside hosts behind {} address{}){}\n{}",
            s.name,
            nat.host_count(),
            nat.addrs.len(),
            if nat.addrs.len() == 1 { "" } else { "es" },
            if s.description.is_empty() { String::new() } else { format!(": {}", s.description) },
            render_table(&runs)
        )),
    }
    let names: Vec<String> =
        written.iter().map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string()).collect();
    eprintln!("wrote {}/ ({})", dir.display(), names.join(", "));
    let mut ok = true;
    for (passed, text) in check_expectations(s, &runs) {
        eprintln!("{} {text}", if passed { "PASS" } else { "FAIL" });
        ok &= passed;
    }
    Ok(ok)
}
