//! `predict`'s files: `predict.json` (everything), `predict.csv` (the guess curves, one row per
//! strategy, traffic, attack and k), `attack.csv`, `classifier.csv`, `dns.csv`, the charts and
//! `report.html`. Written whole or not at all, into a folder of their own.

use super::PredictReport;
use super::charts;
use crate::cli::PredictArgs;
use crate::report::files::Staged;
use crate::report::html::escape;
use crate::scenario::Scenario;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `portsim predict`.
pub fn execute(args: PredictArgs) -> Result<crate::commands::Status> {
    let mut s = crate::scenario::load(&args.scenario)?;
    if !args.only.is_empty() {
        s.retain_strategies(&args.only).map_err(|e| anyhow::anyhow!("{}: {e}", s.origin))?;
    }
    let seed = args.seed.unwrap_or(s.seed);
    let pool = crate::commands::worker_pool(args.threads)?;
    let terminal = crate::term::progress();
    let progress = |stage: &str| {
        if terminal {
            eprintln!("predict: {stage}");
        }
    };
    let report = pool.install(|| super::run(&s, seed, &progress));
    let dir = args.out.clone().unwrap_or_else(|| Path::new("output").join(format!("{}-predict", s.name)));
    let written = write(&dir, &s, seed, &report, !args.no_charts)?;
    if !crate::term::quiet() {
        crate::report::stdout::print(&table(&report));
    }
    let names: Vec<String> =
        written.iter().map(|p| p.strip_prefix(&dir).unwrap_or(p).display().to_string()).collect();
    crate::term::eprint_info(&format!("wrote {}/ ({})", dir.display(), names.join(", ")));
    Ok(crate::commands::Status::Ok)
}

/// `predict.json`.
pub fn json(s: &Scenario, seed: u64, r: &PredictReport) -> serde_json::Value {
    let p = &s.predict;
    serde_json::json!({
        "portsim_version": env!("CARGO_PKG_VERSION"),
        "scenario": {
            "name": s.name,
            "seed": seed,
            "k": p.k,
            "guesses": p.guesses,
            "trials": p.trials,
            "interval_s": crate::time::secs(p.interval),
            "server": format!("{}:{}", p.server.0, p.server.1),
            "attack": {
                "devices": p.attack.seeds,
                "rate": p.attack.rate,
                "rtt_s": crate::time::secs(p.attack.rtt),
                "revisit_s": crate::time::secs(p.attack.revisit),
                "max_batches": p.attack.max_batches,
            },
            "dns": {
                "range": p.dns.range.to_string(),
                "avoid_iana": p.dns.avoid_iana,
                "k": p.dns.k,
                "guesses": p.dns.guesses,
                "trials": p.dns.trials,
            },
        },
        "guesses": r.guesses,
        "attacks": r.attacks,
        "classifier": r.verdicts,
        "dns": r.dns,
    })
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x}")).unwrap_or_default()
}

/// `predict.csv`: one row per (strategy, traffic, attack, k).
pub fn guesses_csv(r: &PredictReport) -> String {
    let mut out = String::from(
        "label,name,traffic,attack,best,k,trials,first_hits,within_hits,guesses,first,within,first_ci95,formula_first,formula_within,count_correlation\n",
    );
    for g in &r.guesses {
        for p in &g.points {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                field(&g.label),
                g.name,
                g.traffic.name(),
                p.attack,
                p.attack == g.best_attack,
                p.k,
                p.trials,
                p.first_hits,
                p.within_hits,
                g.guesses,
                p.first,
                p.within,
                p.first_ci95,
                opt(g.formula_first),
                opt(g.formula_within),
                opt(g.count_correlation),
            );
        }
    }
    out
}

fn attack_csv(r: &PredictReport) -> String {
    let mut out = String::from(
        "label,name,background,background_rate,device,identified,connections,duration_s,failure\n",
    );
    for a in &r.attacks {
        for (i, d) in a.per_device.iter().enumerate() {
            let _ = writeln!(
                out,
                "{},{},{},{},{i},{},{},{},{}",
                field(&a.label),
                a.name,
                a.background,
                opt(a.background_rate),
                d.identified,
                d.connections,
                d.duration_s,
                field(d.failure.as_deref().unwrap_or_default())
            );
        }
    }
    out
}

fn classifier_csv(r: &PredictReport) -> String {
    let mut out = String::from("label,name,traffic,verdict\n");
    for v in &r.verdicts {
        let _ = writeln!(out, "{},{},{},{}", field(&v.label), v.name, v.traffic.name(), field(v.verdict));
    }
    out
}

fn dns_csv(r: &PredictReport) -> String {
    let mut out = String::from(
        "label,name,pool_ports,k,guesses,trials,first_hits,within_hits,port_bits,bound_bits,total_bits,formula_bits\n",
    );
    for d in &r.dns {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            field(&d.label),
            d.name,
            d.pool_ports,
            d.k,
            d.guesses,
            d.trials,
            d.first_hits,
            d.within_hits,
            opt(d.port_bits),
            d.bound_bits,
            opt(d.total_bits),
            opt(d.formula_bits)
        );
    }
    out
}

/// Writes every file into `dir`.
pub fn write(
    dir: &Path,
    s: &Scenario,
    seed: u64,
    r: &PredictReport,
    with_charts: bool,
) -> Result<Vec<PathBuf>> {
    let mut staged = Staged::new(dir)?;
    let j = serde_json::to_string_pretty(&json(s, seed, r))? + "\n";
    staged.write(dir.join("predict.json"), j.as_bytes())?;
    staged.write(dir.join("predict.csv"), guesses_csv(r).as_bytes())?;
    staged.write(dir.join("attack.csv"), attack_csv(r).as_bytes())?;
    staged.write(dir.join("classifier.csv"), classifier_csv(r).as_bytes())?;
    staged.write(dir.join("dns.csv"), dns_csv(r).as_bytes())?;
    if with_charts {
        let drawn = charts::draw(s, r)?;
        for (name, c) in &drawn {
            staged.write(dir.join("charts").join(format!("{name}.svg")), c.svg.as_bytes())?;
            staged.write(dir.join("charts").join(format!("{name}.png")), &c.png)?;
        }
        let svgs: Vec<(&str, &str)> = drawn.iter().map(|(n, c)| (*n, c.svg.as_str())).collect();
        staged.write(dir.join("report.html"), html(s, seed, r, &svgs).as_bytes())?;
    }
    staged.publish()
}

fn pct(x: f64) -> String {
    format!("{:.4}", x)
}

/// The terminal summary.
pub fn table(r: &PredictReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Next-port guessing (best attack, largest k; idle host | busy host):");
    let _ = writeln!(
        out,
        "  {:<20} {:<11} {:>9} {:>9} {:>9} {:>9} {:>7}  leaks count (busy attack)",
        "strategy", "attack", "P1 idle", "formula", "Pw idle", "P1 busy", "H∞ bits"
    );
    for pair in r.guesses.chunks(2) {
        let (idle, busy) = (&pair[0], pair.get(1));
        let last = idle.best().last();
        let busy_last = busy.and_then(|b| b.best().last());
        let leak = match busy.and_then(|b| b.leaks_count) {
            Some(true) => "yes",
            Some(false) => "no",
            None => "-",
        };
        let _ = writeln!(
            out,
            "  {:<20} {:<11} {:>9} {:>9} {:>9} {:>9} {:>7}  {leak} ({})",
            idle.label,
            idle.best_attack,
            last.map(|p| pct(p.first)).unwrap_or_default(),
            idle.formula_first.map(pct).unwrap_or_else(|| "-".into()),
            last.map(|p| pct(p.within)).unwrap_or_default(),
            busy_last.map(|p| pct(p.first)).unwrap_or_default(),
            idle.min_entropy_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into()),
            busy.map(|b| b.best_attack).unwrap_or("-")
        );
    }
    if !r.attacks.is_empty() {
        let _ = writeln!(out, "\nTracking attack (Kol, Klein, Gilad 2022), two visits per device:");
        for a in &r.attacks {
            let _ = writeln!(
                out,
                "  {:<20} {:<18} identified {:>2}/{:<2} {:>8.0} connections {:>6.1} s{}",
                a.label,
                a.background,
                a.identified,
                a.devices,
                a.mean_connections,
                a.mean_duration_s,
                if a.failures.is_empty() {
                    String::new()
                } else {
                    format!(
                        "  failures: {}",
                        a.failures.iter().map(|(n, c)| format!("{n} x{c}")).collect::<Vec<_>>().join(", ")
                    )
                }
            );
        }
    }
    let _ = writeln!(out, "\nCVE-2022-32296 tester verdicts:");
    for v in &r.verdicts {
        let _ = writeln!(out, "  {:<20} {:<5} {}", v.label, v.traffic.name(), v.verdict);
    }
    let _ = writeln!(out, "\nDNS spoofer (Unbound's pool), bits on top of the 16-bit query ID:");
    for d in &r.dns {
        let _ = writeln!(
            out,
            "  {:<20} port {:>6} bits (formula {:>6}), total {:>6}",
            d.label,
            d.port_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| format!(">{:.1}", d.bound_bits)),
            d.formula_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into()),
            d.total_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| format!(">{:.1}", d.bound_bits + 16.0)),
        );
    }
    out
}

/// `report.html`: the predictability section, self-contained.
pub fn html(s: &Scenario, seed: u64, r: &PredictReport, svgs: &[(&str, &str)]) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>portsim predict: {}</title>\n<style>body{{font-family:sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222}} table{{border-collapse:collapse;margin:1rem 0}} td,th{{border:1px solid #ddd;padding:0.25rem 0.5rem;text-align:right}} th{{background:#f3f3f3}} td:first-child{{text-align:left}} figure svg{{max-width:100%;height:auto}}</style>\n</head>\n<body>\n",
        escape(&s.name)
    );
    let _ = writeln!(h, "<h1>{}: how predictable is each algorithm?</h1>", escape(&s.name));
    let _ = writeln!(
        h,
        "<p>portsim {} &middot; seed {seed} &middot; {} hosts per strategy &middot; from <code>{}</code></p>",
        env!("CARGO_PKG_VERSION"),
        s.predict.trials,
        escape(&s.origin)
    );
    h.push_str("<h2 id=\"predictability\">Predictability</h2>\n<p>An observer sees k ports of the host's connections to its own server and guesses the next one, with the attack that works best for the algorithm. Measured on simulated hosts running the real strategies; the closed form for an idle host beside it.</p>\n");
    h.push_str("<table><thead><tr><th>strategy</th><th>traffic</th><th>attack</th><th>k</th><th>P(first guess)</th><th>&plusmn;95%</th><th>formula</th><th>P(one of w)</th><th>min-entropy bits</th><th>count leak r</th></tr></thead><tbody>\n");
    for g in &r.guesses {
        if let Some(p) = g.best().last() {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td></tr>",
                escape(&g.label),
                g.traffic.name(),
                g.best_attack,
                p.k,
                p.first,
                p.first_ci95,
                g.formula_first.map(|f| format!("{f:.4}")).unwrap_or_else(|| "-".into()),
                p.within,
                g.min_entropy_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into()),
                g.count_correlation.map(|c| format!("{c:.3}")).unwrap_or_else(|| "-".into()),
            );
        }
    }
    h.push_str("</tbody></table>\n");
    for (name, svg) in svgs {
        let _ = writeln!(h, "<figure>{svg}<figcaption>{}</figcaption></figure>", escape(name));
    }
    h.push_str("<h2 id=\"tracking\">Tracking attack</h2>\n<table><thead><tr><th>strategy</th><th>background traffic</th><th>identified</th><th>devices</th><th>mean connections</th><th>mean seconds</th><th>failures</th></tr></thead><tbody>\n");
    for a in &r.attacks {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&a.label),
            escape(&a.background),
            a.identified,
            a.devices,
            a.mean_connections,
            a.mean_duration_s,
            escape(&a.failures.iter().map(|(n, c)| format!("{n} x{c}")).collect::<Vec<_>>().join(", "))
        );
    }
    h.push_str("</tbody></table>\n<h2 id=\"classifier\">CVE-2022-32296 tester</h2>\n<table><thead><tr><th>strategy</th><th>traffic</th><th>verdict</th></tr></thead><tbody>\n");
    for v in &r.verdicts {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.label),
            v.traffic.name(),
            escape(v.verdict)
        );
    }
    h.push_str("</tbody></table>\n<h2 id=\"dns\">DNS spoofer</h2>\n<table><thead><tr><th>strategy</th><th>pool ports</th><th>port bits</th><th>formula</th><th>total bits</th></tr></thead><tbody>\n");
    for d in &r.dns {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&d.label),
            d.pool_ports,
            d.port_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| format!("&gt;{:.1}", d.bound_bits)),
            d.formula_bits.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into()),
            d.total_bits
                .map(|b| format!("{b:.2}"))
                .unwrap_or_else(|| format!("&gt;{:.1}", d.bound_bits + 16.0)),
        );
    }
    h.push_str("</tbody></table>\n</body>\n</html>\n");
    h
}
