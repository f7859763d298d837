//! The command line, as clap derive definitions only.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  portsim run                                   run the built-in quickstart scenario
  portsim run scenarios/busy-backend.toml       run a scenario, write output/busy-backend/
  portsim run scenarios/rfc-compare.toml --only bsd,random-pick --seed 3
  portsim run scenarios/*.toml --out /tmp/portsim
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --seeds 3
  portsim sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..700:9 --shard 0/4
  portsim merge output/sweep-rate-sweep          merge shard-0-of-4.json .. shard-3-of-4.json
  portsim capacity --range 32768-60999 --time-wait 60s --rate 470
  portsim check scenarios/*.toml                validate scenario files
  portsim strategies                            list strategies and their parameters
  portsim vectors --strategy linux --out v.json test vectors for stack authors";

/// portsim: ephemeral port allocation simulator.
///
/// Drives RFC 6056's port-selection algorithms (and the kernels' variants) through the same
/// connection-churn workload and measures collisions, port reuse and exhaustion.
#[derive(Debug, Parser)]
#[command(name = "portsim", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: print the summary table and write summary.json, summary.csv,
    /// timeseries.csv and port_usage.csv (exit 1 if an [expect] assertion fails).
    #[command(after_help = EXAMPLES)]
    Run(RunArgs),
    /// Run a scenario over a grid of values of one or more keys: sweep.csv, sweep.json and
    /// charts of failure fraction and mean candidates against the swept value.
    #[command(after_help = EXAMPLES)]
    Sweep(SweepArgs),
    /// Merge the shard-K-of-N.json files of a sharded sweep (--shard) into the sweep's own
    /// sweep.csv, sweep.json and charts, byte for byte those of the unsharded sweep (exit 2,
    /// naming the --shard values to rerun, when a shard is missing).
    #[command(after_help = MERGE_EXAMPLES)]
    Merge(MergeArgs),
    /// Closed-form capacity: the sustainable connection rate per destination and per host,
    /// and Erlang-B blocking at a given rate.
    #[command(after_help = EXAMPLES)]
    Capacity(CapacityArgs),
    /// Validate scenario files without running them (exit 2 on the first bad file).
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List every strategy with its aliases, parameters and defaults.
    Strategies,
    /// Test vectors for stack authors: seeded cases with every random draw, every port
    /// examined and the port picked, as JSON (schema: docs/vectors.md).
    #[command(after_help = VECTORS_EXAMPLES)]
    Vectors(VectorsArgs),
    /// How predictable each strategy's ports are: next-port guessing against k, the 2022
    /// tracking attack, the CVE-2022-32296 tester's verdicts and the DNS view (predict.json,
    /// predict.csv, attack.csv, classifier.csv, dns.csv, charts, report.html).
    #[command(after_help = PREDICT_EXAMPLES)]
    Predict(PredictArgs),
}

const PREDICT_EXAMPLES: &str = "\
Examples:
  portsim predict scenarios/predictability.toml          write output/predictability-predict/
  portsim predict scenarios/predictability.toml --only linux,linux-5.12 --seed 3
  portsim predict scenarios/predictability.toml --no-charts --out /tmp/p";

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The scenario (TOML); its [predict] table says what to measure.
    pub scenario: PathBuf,
    /// Output folder (default: output/<scenario name>-predict/).
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
    /// Output folder (default: output/<scenario name>/; with several scenarios, one
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
    /// Output folder (default: output/<scenario name>-sweep/).
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
    /// Run even when the work estimate is over the one-hour CPU budget.
    #[arg(long)]
    pub allow_long: bool,
    /// Run only shard K of N (counted from 0): the tasks whose index is K mod N, written to
    /// shard-K-of-N.json in the output folder for `portsim merge`. `auto` reads K and N from
    /// SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT, JOB_COMPLETION_INDEX with PORTSIM_SHARDS, or
    /// PORTSIM_SHARD=K/N.
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
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
}
