//! The command line, as clap derive definitions only.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// The top-level `--help`'s examples: one or two per subcommand. Each subcommand's own
/// `--help` carries its own block (tests/integration/conventions.rs pins them all and parses
/// every example line).
pub const EXAMPLES: &str = "\
Examples:
  portsim run                                   run the built-in quickstart scenario
  portsim run scenarios/busy-backend.toml       run a scenario, write output/busy-backend/
  portsim run scenarios/rfc-compare.toml --only bsd,random-pick --seed 3
  portsim run scenarios/*.toml --out /tmp/portsim
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --seeds 3
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --shard 0/4
  portsim merge output/sweep-rate-sweep         merge shard-0-of-4.json .. shard-3-of-4.json
  portsim capacity --range 32768-60999 --time-wait 60s --rate 470
  portsim check scenarios/*.toml                validate scenario files
  portsim strategies                            list strategies and their parameters
  portsim vectors --strategy linux --out v.json  test vectors for stack authors
  portsim predict scenarios/predictability.toml  how predictable each strategy's ports are
  portsim compare output/before output/after    two runs' curves and differences side by side
  portsim completions bash > portsim.bash       shell completions (bash, zsh, fish, powershell)
  portsim man --out man/                        man pages: portsim.1 and one per subcommand";

/// portsim: ephemeral port allocation simulator.
///
/// Drives RFC 6056's port-selection algorithms (and the kernels' variants) through the same
/// connection-churn workload and measures collisions, port reuse and exhaustion.
#[derive(Debug, Parser)]
#[command(name = "portsim", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Print only errors, warnings, failed `[expect]` assertions and what `--json` asks for.
    ///
    /// No progress bar, no table, no `wrote ...` or PASS line; the exit code is unchanged.
    /// Commands whose product is their stdout (strategies, capacity, vectors, completions,
    /// man) still print it.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// When to colour help, errors, warnings and PASS/FAIL.
    ///
    /// auto: on a terminal, unless NO_COLOR is set or CLICOLOR=0 (CLICOLOR_FORCE=1 colours a
    /// pipe too); always and never override those variables.
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub color: crate::term::ColorWhen,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: print the summary table and write summary.json, summary.csv,
    /// timeseries.csv, port_usage.csv, charts and report.html (several scenarios: an index.html
    /// beside their folders too; exit 1 if an `[expect]` assertion fails).
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Run a scenario over a grid of values of one or more keys: sweep.csv, sweep.json,
    /// charts of failure fraction and mean candidates against the swept value, and report.html.
    #[command(after_help = SWEEP_EXAMPLES)]
    Sweep(SweepArgs),
    /// Merge the shard-K-of-N.json files of a sharded sweep (--shard) into the sweep's own
    /// sweep.csv, sweep.json and charts, byte for byte those of the unsharded sweep (exit 2,
    /// naming the --shard values to rerun, when a shard is missing).
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Closed-form capacity: the sustainable connection rate per destination and per host,
    /// and Erlang-B blocking at a given rate.
    #[command(after_help = CAPACITY_EXAMPLES)]
    Capacity(CapacityArgs),
    /// Validate scenario files without running them: every error of every file on stderr,
    /// exit 2 if any file was bad.
    #[command(after_help = CHECK_EXAMPLES)]
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List every strategy with its aliases, parameters and defaults.
    #[command(after_help = STRATEGIES_EXAMPLES)]
    Strategies(StrategiesArgs),
    /// Test vectors for stack authors: seeded cases with every random draw, every port
    /// examined and the port picked, as JSON (schema: docs/vectors.md).
    #[command(after_help = VECTORS_EXAMPLES)]
    Vectors(VectorsArgs),
    /// How predictable each strategy's ports are: next-port guessing against k, the 2022
    /// tracking attack, the CVE-2022-32296 tester's verdicts and the DNS view (predict.json,
    /// predict.csv, attack.csv, classifier.csv, dns.csv, charts, report.html).
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict(PredictArgs),
    /// Compare finished run folders: every run's curves on the same five charts, a table of the
    /// differences per strategy and metric (differences.csv, marked where within the runs'
    /// seed-to-seed spread under --seeds) and report.html.
    #[command(after_help = COMPARE_EXAMPLES)]
    Compare(CompareArgs),
    /// Print a shell completion script for bash, zsh, fish or powershell to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// The man pages: portsim.1 to stdout, or with --out portsim.1 and one page per
    /// subcommand (portsim-run.1, ...) written into a folder.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const RUN_EXAMPLES: &str = "\
Examples:
  portsim run                                   run the built-in quickstart scenario
  portsim run scenarios/busy-backend.toml       run a scenario, write output/busy-backend/
  portsim run scenarios/rfc-compare.toml --only bsd,random-pick --seed 3
  portsim run scenarios/*.toml --out /tmp/portsim
  portsim run scenarios/quickstart.toml --seeds 5   means and 95 % intervals over 5 seeds
  portsim run scenarios/quickstart.toml --wide      every column of the table
  portsim run scenarios/quickstart.toml --json --quiet > summary.json";

const SWEEP_EXAMPLES: &str = "\
Examples:
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --seeds 3
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --shard 0/4
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300,500 --vary tcp.time_wait=30s,60s
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:5 --json --quiet";

const CAPACITY_EXAMPLES: &str = "\
Examples:
  portsim capacity                              Linux's default range, 60 s TIME_WAIT
  portsim capacity --range 32768-60999 --time-wait 60s --rate 470
  portsim capacity --range 49152-65535 --time-wait 120s --destinations 4 --json";

const CHECK_EXAMPLES: &str = "\
Examples:
  portsim check scenarios/busy-backend.toml     validate one file: `ok: ...` and its notes
  portsim check scenarios/*.toml                every file; exit 2 if any is bad";

const STRATEGIES_EXAMPLES: &str = "\
Examples:
  portsim strategies                            every strategy, its aliases, defaults, parameters
  portsim strategies --json                     the same as one JSON document (docs/cli.md)";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  portsim completions bash > ~/.local/share/bash-completion/completions/portsim
  portsim completions zsh > ~/.zfunc/_portsim   with fpath+=~/.zfunc before compinit
  portsim completions fish > ~/.config/fish/completions/portsim.fish
  portsim completions powershell >> $PROFILE";

const MAN_EXAMPLES: &str = "\
Examples:
  portsim man | man -l -                        read portsim.1 now
  portsim man --out ~/.local/share/man/man1     install every page, then `man portsim-run`";

#[derive(Debug, Args)]
pub struct StrategiesArgs {
    /// Print one JSON document (schema: docs/cli.md) instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write portsim.1 and one page per subcommand into this folder (created if missing; each
    /// page written whole or not at all) instead of printing portsim.1.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

const COMPARE_EXAMPLES: &str = "\
Examples:
  portsim compare before after                  write output/compare-before-vs-after/
  portsim compare output/quickstart output/busy-backend --out /tmp/cmp --no-charts

The first folder is the baseline; folders must come from this portsim version. Before and after a
change, run the scenario with `--out before --seeds 5`, make the change, run it again with
`--out after --seeds 5`, then compare: differences within the seed-to-seed spread are marked.";

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Folders `portsim run` wrote (two or more; the first is the baseline).
    #[arg(required = true, num_args = 2.., value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Output folder (default: `output/compare-<A>-vs-<B>/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Skip the charts and report.html: differences.csv only.
    #[arg(long)]
    pub no_charts: bool,
}

const PREDICT_EXAMPLES: &str = "\
Examples:
  portsim predict scenarios/predictability.toml          write output/predictability-predict/
  portsim predict scenarios/predictability.toml --only linux,linux-5.12 --seed 3
  portsim predict scenarios/predictability.toml --no-charts --out /tmp/p";

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The scenario (TOML); its `[predict]` table says what to measure.
    pub scenario: PathBuf,
    /// Output folder (default: `output/<scenario name>-predict/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed, instead of the scenario's own.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Only these strategies (labels or names, comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Skip the charts and report.html.
    #[arg(long)]
    pub no_charts: bool,
}

const VECTORS_EXAMPLES: &str = "\
Examples:
  portsim vectors                               every strategy's vectors, to stdout
  portsim vectors --strategy linux --out linux.json
  portsim vectors --strategy alg3               aliases work too";

#[derive(Debug, Args)]
pub struct VectorsArgs {
    /// Only this strategy's configurations (a name or alias; default: every strategy).
    #[arg(long, value_name = "NAME")]
    pub strategy: Option<String>,
    /// Write to this file (whole or not at all) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files (TOML); none runs the built-in quickstart.
    pub scenarios: Vec<PathBuf>,
    /// Output folder (default: `output/<scenario name>/`; with several scenarios, one
    /// sub-folder each).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Seed for every run, instead of the scenario's own.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Run only these strategies (labels or names, comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Print summary.json to stdout instead of the table (several scenarios: one JSON array of
    /// them).
    #[arg(long)]
    pub json: bool,
    /// Seeds per strategy (the scenario's or --seed, then the next ones): the table, the JSON
    /// (across_seeds) and the report give means with 95 % confidence intervals; the files hold
    /// the first seed's run.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seeds: u32,
    /// Also write connections.csv: one row per attempt (kept on disk beside the output folder
    /// while the run lasts, not in memory).
    #[arg(long)]
    pub log_connections: bool,
    /// Run even when the work estimate is over the one-hour CPU budget.
    #[arg(long)]
    pub allow_long: bool,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Skip the charts (charts/*.svg, charts/*.png) and report.html.
    #[arg(long)]
    pub no_charts: bool,
    #[command(flatten)]
    pub chart: ChartArgs,
    /// Every column of the summary table (the default, compact one fits 100 columns).
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The scenario to sweep (TOML).
    pub scenario: PathBuf,
    /// KEY=FROM..TO:STEPS (evenly spaced, STEPS points) or KEY=a,b,c; KEY is a dotted scenario
    /// key such as workload.arrivals.rate or tcp.time_wait. Several --vary sweep their
    /// Cartesian product.
    #[arg(long, value_name = "KEY=FROM..TO:STEPS", required = true)]
    pub vary: Vec<String>,
    /// Seeds per point (the scenario's seed, then the next ones): mean and a 95 % confidence
    /// interval per point.
    #[arg(long, value_name = "K", default_value_t = 1)]
    pub seeds: u32,
    /// Output folder (default: `output/<scenario name>-sweep/`).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sweep only these strategies (labels or names, comma-separated).
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub only: Vec<String>,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Skip the charts.
    #[arg(long)]
    pub no_charts: bool,
    #[command(flatten)]
    pub chart: ChartArgs,
    /// Run even when the work estimate is over the one-hour CPU budget.
    #[arg(long)]
    pub allow_long: bool,
    /// Run only shard K of N (counted from 0): the tasks whose index is K mod N, written to
    /// shard-K-of-N.json in the output folder for `portsim merge`. `auto` reads K and N from
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, JOB_COMPLETION_INDEX with PORTSIM_SHARDS, or
    /// PORTSIM_SHARD=K/N.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// Print sweep.json to stdout instead of the table (with --shard: the shard's manifest is
    /// written, nothing is printed).
    #[arg(long)]
    pub json: bool,
}

const MERGE_EXAMPLES: &str = "\
Examples:
  portsim merge output/sweep-rate-sweep         every shard-K-of-N.json in the folder, written beside them
  portsim merge shards/shard-*.json --out merged
  for k in 0 1 2 3; do portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 \\
      --shard $k/4 --out shards; done; portsim merge shards

See docs/cluster.md for Slurm, Kubernetes and GNU parallel recipes.";

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Shard files, or folders holding shard-K-of-N.json files.
    #[arg(required = true, value_name = "DIR|FILES")]
    pub inputs: Vec<PathBuf>,
    /// Output folder (default: the folder given, or the first shard file's folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Skip the charts.
    #[arg(long)]
    pub no_charts: bool,
    /// Print the merged sweep.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub chart: ChartArgs,
}

/// How the charts are drawn (`run`, `sweep`, `merge`).
#[derive(Debug, Args, Clone, Copy)]
pub struct ChartArgs {
    /// Log y axes on the failure and collision panels and the sweep's charts wherever a value
    /// is positive (default: only where the values span two decades).
    #[arg(long)]
    pub log_y: bool,
    /// Every chart at WIDTHxHEIGHT pixels (default: 1100x620; port_usage grows with its
    /// panels), from 640x400 to 4000x4000.
    #[arg(long, value_name = "WxH", value_parser = crate::report::charts::parse_chart_size)]
    pub chart_size: Option<(u32, u32)>,
    /// PNG pixels per chart pixel, 1 to 4: `--scale 2` for high-DPI screens (the SVGs are
    /// vector and unchanged).
    #[arg(long, value_name = "X", default_value = "1", value_parser = crate::report::charts::parse_scale)]
    pub scale: f64,
}

impl ChartArgs {
    /// The charts' style.
    pub fn style(&self) -> crate::report::charts::ChartStyle {
        crate::report::charts::ChartStyle { log_y: self.log_y, size: self.chart_size, scale: self.scale }
    }
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// The ephemeral port range.
    #[arg(long, default_value = "32768-60999", value_name = "LO-HI")]
    pub range: String,
    /// Reserved ports or ranges inside it (repeatable, or comma-separated).
    #[arg(long, value_name = "PORTS", value_delimiter = ',')]
    pub reserved: Vec<String>,
    /// How long the closing side holds TIME_WAIT.
    #[arg(long, default_value = "60s", value_name = "DURATION")]
    pub time_wait: String,
    /// With tcp_tw_reuse on: how soon a TIME_WAIT may be reused (replaces --time-wait in the
    /// hold time).
    #[arg(long, value_name = "DURATION")]
    pub tw_reuse_delay: Option<String>,
    /// Mean connection lifetime.
    #[arg(long, default_value = "0s", value_name = "DURATION")]
    pub lifetime: String,
    /// Which side closes first: client (it keeps TIME_WAIT, so H = lifetime + TIME_WAIT),
    /// server (the port is free at close: H = lifetime), or the probability that the client
    /// closes first.
    #[arg(long, default_value = "client", value_name = "SIDE")]
    pub active_close: String,
    /// Distinct destinations (address, port) the load is spread over.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub destinations: u64,
    /// Local source addresses.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub addrs: u64,
    /// Uniqueness scope: four-tuple (Linux, FreeBSD connect) or local-port (BSDs, macOS,
    /// Windows, bind-before-connect).
    #[arg(long, default_value = "four-tuple", value_name = "SCOPE")]
    pub scope: String,
    /// Host connection rates (per second, repeatable or comma-separated) to compute
    /// Erlang-B blocking at; the load is spread evenly over destinations and addresses.
    #[arg(long, value_name = "CONN/S", value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Size a NAT gateway instead (issue 11): addresses and ports per VM for --rate (per VM)
    /// at P99, from --vms, --destinations, --lifetime, --nat-time-wait, --nat-ports and
    /// --ports-per-vm. Example: --nat --rate 0.5 --ports-per-vm 64 (GCP's 64 ports / 120 s).
    #[arg(long)]
    pub nat: bool,
    /// With --nat: inside hosts (VMs, pods) behind the gateway.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub vms: u64,
    /// With --nat: how long the gateway holds a port after the close (conntrack and GCP
    /// TIME_WAIT 120 s, Azure 65 s).
    #[arg(long, default_value = "120s", value_name = "DURATION")]
    pub nat_time_wait: String,
    /// With --nat: ports per external address (1024-65535: 64,512).
    #[arg(long, default_value_t = 64512, value_name = "N")]
    pub nat_ports: u64,
    /// With --nat: a per-VM port quota (GCP min_ports_per_vm, a port block).
    #[arg(long, value_name = "N")]
    pub ports_per_vm: Option<u64>,
}
