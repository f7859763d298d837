//! The command line, as clap derive definitions only.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  portsim run                                   run the built-in quickstart scenario
  portsim run scenarios/busy-backend.toml       run a scenario, write output/busy-backend/
  portsim run scenarios/rfc-compare.toml --only bsd,random-pick --seed 3
  portsim run scenarios/*.toml --out /tmp/portsim
  portsim check scenarios/*.toml                validate scenario files
  portsim strategies                            list strategies and their parameters";

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
    /// Validate scenario files without running them (exit 2 on the first bad file).
    Check {
        /// Scenario files (TOML).
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
    },
    /// List every strategy with its aliases, parameters and defaults.
    Strategies,
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
    /// Print summary.json to stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write connections.csv: one row per attempt.
    #[arg(long)]
    pub log_connections: bool,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}
