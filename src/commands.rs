//! What each subcommand does. `main` parses the command line and maps the result to an exit
//! code; everything in between lives here, so it can be tested without a process.

use crate::cli::{Cli, Command, RunArgs};
use crate::report;
use crate::scenario::{self, Scenario};
use crate::sim::{self, DestinationTable, RunOptions, RunOutput};
use crate::strategy::registry::STRATEGIES;
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The scenario `portsim run` runs when given none.
pub const QUICKSTART: &str = include_str!("../scenarios/quickstart.toml");

/// How a command ended, when it did not fail outright.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// An `[expect]` assertion failed: exit 1.
    ExpectationFailed,
    /// Stopped by Ctrl-C after writing what was finished: exit 130.
    Interrupted,
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<Status> {
    match cli.command {
        Command::Strategies => {
            print!("{}", strategies_text());
            Ok(Status::Ok)
        }
        Command::Check { scenarios } => check(&scenarios),
        Command::Sweep(args) => crate::sweep::execute(args),
        Command::Capacity(args) => crate::capacity::execute(args),
        Command::Run(args) => run(args),
    }
}

/// `portsim strategies`: every strategy with its summary, the stack settings it runs with when
/// the scenario sets none (an OS profile's own, else portsim's Linux-like defaults) and its
/// parameters.
pub fn strategies_text() -> String {
    let mut out = String::new();
    for s in STRATEGIES {
        out.push_str(s.name);
        if !s.aliases.is_empty() {
            out.push_str(&format!(" (aliases: {})", s.aliases.join(", ")));
        }
        out.push('\n');
        out.push_str(&format!("    {}\n", s.summary));
        if let Ok(cfg) = s.configure(crate::params::Params::empty(s.name)) {
            let os = cfg.os_defaults();
            let profile = os != crate::strategy::registry::OsDefaults::default();
            out.push_str(&format!(
                "    defaults{}: range {}, scope {}, TIME_WAIT {}s, tw_reuse {}\n",
                if profile { "" } else { " (none of its own: portsim's)" },
                os.range.unwrap_or(scenario::DEFAULT_RANGE),
                os.scope.unwrap_or(crate::stack::Scope::FourTuple).name(),
                crate::time::secs(os.time_wait.unwrap_or(scenario::DEFAULT_TIME_WAIT)),
                os.tw_reuse.unwrap_or(crate::stack::TwReuse::Off).name(),
            ));
            crate::strategy::registry::stack_notes(&os)
                .iter()
                .for_each(|n| out.push_str(&format!("    {n}\n")));
        }
        if s.params.is_empty() {
            out.push_str("    parameters: none\n");
        }
        for p in s.params {
            out.push_str(&format!("    {} = {}    {}\n", p.name, p.default, p.help));
        }
        out.push('\n');
    }
    out
}

fn check(paths: &[PathBuf]) -> Result<Status> {
    for path in paths {
        let s = scenario::load(path)?;
        println!(
            "ok: {} ({}: {} strateg{}, {} destination{}, {})",
            path.display(),
            s.name,
            s.strategies.len(),
            if s.strategies.len() == 1 { "y" } else { "ies" },
            s.destination_count(),
            if s.destination_count() == 1 { "" } else { "s" },
            crate::time::format_duration(s.duration),
        );
        scenario::kernel_notes(&s).iter().for_each(|n| println!("  note: {n}"));
    }
    Ok(Status::Ok)
}

fn load_all(args: &RunArgs) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    if args.scenarios.is_empty() {
        out.push(scenario::parse(QUICKSTART, "<built-in quickstart>", Path::new("scenarios"))?);
    }
    for path in &args.scenarios {
        out.push(scenario::load(path)?);
    }
    for s in &mut out {
        if !args.only.is_empty() {
            s.retain_strategies(&args.only).map_err(|e| anyhow::anyhow!("{}: {e}", s.origin))?;
        }
    }
    Ok(out)
}

fn run(args: RunArgs) -> Result<Status> {
    let scenarios = load_all(&args)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
        .context("cannot start worker threads")?;
    let several = scenarios.len() > 1;
    let mut status = Status::Ok;
    for s in &scenarios {
        let seed = args.seed.unwrap_or(s.seed);
        let dir = match (&args.out, several) {
            (Some(d), false) => d.clone(),
            (Some(d), true) => d.join(&s.name),
            (None, _) => Path::new("output").join(&s.name),
        };
        let outputs = run_with_progress(&pool, s, seed, args.log_connections);
        let dests = DestinationTable::of(s);
        let written = report::write_outputs(
            &dir,
            s,
            seed,
            &outputs,
            &dests,
            report::OutputOptions { log_connections: args.log_connections, charts: !args.no_charts },
        )?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report::summary_json(s, seed, &outputs))?);
        } else {
            println!(
                "{} (seed {seed}){}",
                s.name,
                if s.description.is_empty() { String::new() } else { format!(": {}", s.description) }
            );
            print!("{}", report::render_table(&outputs));
        }
        let names: Vec<String> =
            written.iter().map(|p| p.strip_prefix(&dir).unwrap_or(p).display().to_string()).collect();
        eprintln!("wrote {}/ ({})", dir.display(), names.join(", "));
        for failure in failed_expectations(s, &outputs) {
            eprintln!("expectation failed: {failure}");
            status = Status::ExpectationFailed;
        }
        if !args.json {
            println!();
        }
    }
    Ok(status)
}

/// Runs every strategy of `s` on `pool`, with a progress bar on a terminal.
pub fn run_with_progress(pool: &rayon::ThreadPool, s: &Scenario, seed: u64, log: bool) -> Vec<RunOutput> {
    let total = s.duration.saturating_mul(s.strategies.len() as u64);
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{msg} [{bar:30}] {percent:>3}% simulated, eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        b.set_message(s.name.clone());
        b
    } else {
        ProgressBar::hidden()
    };
    let tick = |ns: u64| bar.inc(ns);
    let outputs =
        pool.install(|| sim::run_all(s, seed, RunOptions { log_connections: log, progress: Some(&tick) }));
    bar.finish_and_clear();
    outputs
}

/// Every `[expect]` assertion that does not hold, as a sentence.
pub fn failed_expectations(s: &Scenario, outputs: &[RunOutput]) -> Vec<String> {
    let mut out = Vec::new();
    for e in &s.expect {
        for o in outputs {
            if e.strategy.as_ref().is_some_and(|l| l != &o.summary.name) {
                continue;
            }
            let actual = o.summary.metric(e.metric).unwrap_or(f64::NAN);
            if !e.holds(actual) {
                let want = match e.bound {
                    scenario::Bound::Exactly => format!("= {}", e.value),
                    scenario::Bound::AtMost => format!("<= {}", e.value),
                    scenario::Bound::AtLeast => format!(">= {}", e.value),
                };
                out.push(format!(
                    "{}: {} {} is {actual}, expected {want} ({})",
                    s.name, o.summary.name, e.metric, e.key
                ));
            }
        }
    }
    out
}
