//! What each subcommand does. `main` parses the command line and maps the result to an exit
//! code; everything in between lives here, so it can be tested without a process.

use crate::cli::{Cli, Command, RunArgs};
use crate::report::{self, stdout};
use crate::scenario::{self, Scenario};
use crate::sim::{self, DestinationTable, RunOptions, RunOutput};
use crate::strategy::registry::STRATEGIES;
use crate::term;
use anyhow::{Context, Result};
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
    /// Bad input, every error already printed: exit 2.
    Invalid,
}

/// Runs a parsed command line.
pub fn execute(cli: Cli) -> Result<Status> {
    crate::term::apply(cli.quiet, cli.color);
    match cli.command {
        Command::Strategies(args) => crate::listing::strategies(args),
        Command::Check { scenarios } => check(&scenarios),
        Command::Sweep(args) => crate::sweep::execute(args),
        Command::Merge(args) => crate::sweep::merge::execute(args),
        Command::Capacity(args) => crate::capacity::execute(args),
        Command::Run(args) => run(args),
        Command::Vectors(args) => crate::strategy::vectors::execute(args),
        Command::Predict(args) => crate::predict::output::execute(args),
        Command::Compare(args) => crate::compare::execute(args),
        Command::Completions(args) => crate::manuals::completions(args),
        Command::Man(args) => crate::manuals::man(args),
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

/// `portsim check`: every file, every error found in each (on stderr), then exit 2 if any was
/// bad.
fn check(paths: &[PathBuf]) -> Result<Status> {
    let mut bad = 0;
    for path in paths {
        match scenario::load_all_errors(path) {
            Ok(s) => {
                for w in &s.warnings {
                    term::eprint_line(&format!("{} {}: {w}", term::warning_prefix(), s.origin));
                }
                if term::quiet() {
                    continue;
                }
                stdout::print(&format!(
                    "ok: {} ({}: {} strateg{}, {} destination{}, {})\n",
                    path.display(),
                    s.name,
                    s.strategies.len(),
                    if s.strategies.len() == 1 { "y" } else { "ies" },
                    s.destination_count(),
                    if s.destination_count() == 1 { "" } else { "s" },
                    crate::time::format_duration(s.duration),
                ));
                for n in scenario::kernel_notes(&s) {
                    stdout::print(&format!("  note: {n}\n"));
                }
                // Valid, but `run` refuses it without --allow-long: say so now.
                if let Err(e) = crate::budget::check_work(&s, 1, false) {
                    eprintln!("warning: {e}");
                }
            }
            Err(errors) => {
                bad += 1;
                for e in errors {
                    term::eprint_line(&format!("{} {e}", term::error_prefix()));
                }
            }
        }
    }
    if bad > 0 && paths.len() > 1 {
        eprintln!("{bad} of {} files are invalid", paths.len());
    }
    Ok(if bad > 0 { Status::Invalid } else { Status::Ok })
}

fn load_all(args: &RunArgs) -> Result<Vec<Scenario>> {
    let mut out = Vec::new();
    if args.scenarios.is_empty() {
        out.push(scenario::parse(QUICKSTART, "<built-in quickstart>", Path::new("scenarios"))?);
    }
    for path in &args.scenarios {
        out.push(scenario::load(path)?);
    }
    for s in &out {
        for w in &s.warnings {
            term::eprint_line(&format!("{} {}: {w}", term::warning_prefix(), s.origin));
        }
    }
    for s in &mut out {
        if !args.only.is_empty() {
            s.retain_strategies(&args.only).map_err(|e| anyhow::anyhow!("{}: {e}", s.origin))?;
        }
    }
    Ok(out)
}

/// Where each scenario's files go: `--out` itself for one scenario, else one sub-folder per
/// scenario name. Two scenarios with the same name would share a folder: refused.
fn output_dirs(args: &RunArgs, scenarios: &[Scenario]) -> Result<Vec<PathBuf>> {
    let several = scenarios.len() > 1;
    let dirs: Vec<PathBuf> = scenarios
        .iter()
        .map(|s| match (&args.out, several) {
            (Some(d), false) => d.clone(),
            (Some(d), true) => d.join(&s.name),
            (None, _) => Path::new("output").join(&s.name),
        })
        .collect();
    for (i, s) in scenarios.iter().enumerate() {
        if let Some(first) = scenarios[..i].iter().find(|o| o.name == s.name) {
            anyhow::bail!(
                "{} and {} are both named `{}`: their files would share {}/; give one a different `name`",
                first.origin,
                s.origin,
                s.name,
                dirs[i].display()
            );
        }
    }
    // Refused before anything runs, not after minutes of simulation.
    for d in &dirs {
        report::check_replaceable(d)?;
    }
    Ok(dirs)
}

/// The most worker threads `--threads` asks for (run, sweep and predict): each reserves a
/// stack, and 100,000 of them aborted the process instead of giving an error. 1024 is far past
/// any gain (the runs are CPU-bound: one thread per core is the default).
pub const MAX_THREADS: usize = 1024;

/// The worker pool for `--threads` (`None` or 0: one per core), bounded by [`MAX_THREADS`].
pub fn worker_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let n = threads.unwrap_or(0);
    if n > MAX_THREADS {
        anyhow::bail!("--threads {n}: at most {MAX_THREADS} worker threads (results do not depend on it)");
    }
    rayon::ThreadPoolBuilder::new().num_threads(n).build().context("cannot start worker threads")
}

/// `portsim run`. With `--json`, one scenario prints its summary object and several print one
/// array of them: either way stdout is one JSON document.
fn run(args: RunArgs) -> Result<Status> {
    let scenarios = load_all(&args)?;
    // Before anything is built: what the runs need (with --only and --seeds as given).
    for s in &scenarios {
        crate::budget::check_memory(s, args.seeds)?;
        crate::budget::check_work(s, args.seeds, args.allow_long)?;
    }
    let dirs = output_dirs(&args, &scenarios)?;
    let pool = worker_pool(args.threads)?;
    let several = scenarios.len() > 1;
    let json_array = args.json && several;
    if json_array {
        stdout::print("[\n");
    }
    if args.seeds == 0 {
        anyhow::bail!("--seeds 0: give at least one seed per strategy");
    }
    let mut status = Status::Ok;
    let mut index = Vec::new();
    for (i, (s, dir)) in scenarios.iter().zip(&dirs).enumerate() {
        let seed = args.seed.unwrap_or(s.seed);
        if s.nat.is_some() {
            // A gateway scenario (issue 11): its own runs, files and assertions.
            let sep = if json_array && i > 0 { ",\n" } else { "" };
            let json = args.json.then(|| if json_array { sep.to_string() } else { String::new() });
            if !crate::nat::output::execute(s, seed, dir, &pool, json.as_deref(), !args.no_charts)? {
                status = Status::ExpectationFailed;
            }
            stdout::print(if args.json && !json_array {
                "\n"
            } else if args.json {
                ""
            } else {
                "\n"
            });
            continue;
        }
        // The connection log goes to disk beside the output folder, on its file system.
        let spill = args.log_connections.then(|| spill_dir(dir)).transpose()?;
        let outputs = run_with_progress(&pool, s, seed, args.log_connections, spill.as_deref());
        let mut by_seed: Vec<(u64, Vec<RunOutput>)> = Vec::new();
        for k in 1..u64::from(args.seeds) {
            let more = seed.wrapping_add(k);
            by_seed.push((more, run_with_progress(&pool, s, more, false, None)));
        }
        let across = (args.seeds > 1).then(|| {
            let all: Vec<(u64, &[RunOutput])> = std::iter::once((seed, outputs.as_slice()))
                .chain(by_seed.iter().map(|(k, o)| (*k, o.as_slice())))
                .collect();
            report::seeds::across(&all)
        });
        let dests = DestinationTable::of(s);
        let written = report::write_outputs(
            dir,
            s,
            seed,
            &outputs,
            &dests,
            report::OutputOptions {
                log_connections: args.log_connections,
                charts: !args.no_charts,
                chart_style: args.chart.style(),
                across_seeds: across.as_deref(),
            },
        )?;
        if args.json {
            let doc = serde_json::to_string_pretty(&report::summary_json_with(
                s,
                seed,
                &outputs,
                across.as_deref(),
            ))?;
            let sep = if json_array && i > 0 { ",\n" } else { "" };
            stdout::print(&format!("{sep}{doc}{}", if json_array { "" } else { "\n" }));
        } else if !term::quiet() {
            let table = if args.wide {
                report::render_table(s, &outputs)
            } else {
                report::render_compact_table(s, &outputs)
            };
            stdout::print(&format!(
                "{} (seed {seed}){}\n{table}",
                s.name,
                if s.description.is_empty() { String::new() } else { format!(": {}", s.description) },
            ));
            if let Some(a) = &across {
                let t = if args.wide { report::seeds::render(a) } else { report::seeds::render_compact(a) };
                stdout::print(&format!("\n{t}"));
            }
        }
        let names: Vec<String> =
            written.iter().map(|p| p.strip_prefix(dir).unwrap_or(p).display().to_string()).collect();
        term::eprint_info(&format!("wrote {}/ ({})", dir.display(), names.join(", ")));
        let checked = report::expectations::check(s, &outputs);
        for c in &checked {
            let line = format!("{} {}", term::verdict(c.passed), c.text);
            if c.passed {
                term::eprint_info(&line);
            } else {
                term::eprint_line(&line);
                status = Status::ExpectationFailed;
            }
        }
        if several && !args.no_charts {
            index.push(report::index::entry(s, seed, dir, &outputs, &checked));
        }
        if !args.json && !term::quiet() {
            stdout::print("\n");
        }
    }
    if json_array {
        stdout::print("\n]\n");
    }
    if let Some(parent) = dirs.first().and_then(|d| d.parent()).filter(|_| !index.is_empty()) {
        report::index::write(parent, &index)?;
    }
    Ok(status)
}

/// The folder a run's connection log spills into: the output folder's parent, created.
fn spill_dir(dir: &Path) -> Result<PathBuf> {
    let abs = std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let parent = abs.parent().unwrap_or(Path::new("/")).to_path_buf();
    std::fs::create_dir_all(&parent).map_err(|e| {
        anyhow::Error::new(e).context(report::WriteError(format!("cannot create {}", parent.display())))
    })?;
    Ok(parent)
}

/// Runs every strategy of `s` on `pool`, with progress on simulated time (a bar on a terminal,
/// a line every few seconds when piped). With `log`, the connection log spills into `spill`.
pub fn run_with_progress(
    pool: &rayon::ThreadPool,
    s: &Scenario,
    seed: u64,
    log: bool,
    spill: Option<&Path>,
) -> Vec<RunOutput> {
    let total = s.duration.saturating_mul(s.strategies.len() as u64);
    let progress = crate::progress::Progress::new(total, s.name.clone(), "");
    let tick = |ns: u64| progress.inc(ns);
    let opts = RunOptions { log_connections: log, progress: Some(&tick), spill_log_in: spill };
    let outputs = pool.install(|| sim::run_all(s, seed, opts));
    progress.finish();
    outputs
}

/// Every `[expect]` assertion that does not hold, as a sentence.
pub fn failed_expectations(s: &Scenario, outputs: &[RunOutput]) -> Vec<String> {
    report::expectations::check(s, outputs).into_iter().filter(|c| !c.passed).map(|c| c.text).collect()
}
