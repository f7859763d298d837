//! `portsim strategies`: the registry as text (see [`crate::commands::strategies_text`]) or as
//! one JSON document for scripts. The JSON's shape is documented in docs/cli.md and pinned by
//! tests/integration/conventions.rs: keys are only ever added.

use crate::cli::StrategiesArgs;
use crate::commands::Status;
use crate::report::stdout;
use crate::strategy::registry::{OsDefaults, STRATEGIES};
use anyhow::Result;
use serde_json::{Value, json};

/// `portsim strategies [--json]`.
pub fn strategies(args: StrategiesArgs) -> Result<Status> {
    if args.json {
        stdout::print(&format!("{}\n", serde_json::to_string_pretty(&strategies_json())?));
    } else {
        stdout::print(&crate::commands::strategies_text());
    }
    Ok(Status::Ok)
}

/// Every built-in strategy, in the registry's order: what the text lists, as data. `defaults`
/// holds the stack settings it runs with when the scenario sets none (`profile` false: it has
/// none of its own and gets portsim's Linux-like ones).
pub fn strategies_json() -> Value {
    let list: Vec<Value> = STRATEGIES
        .iter()
        .map(|s| {
            let os = s.configure(crate::params::Params::empty(s.name)).ok().map(|c| c.os_defaults());
            let defaults = os.as_ref().map(|os| {
                let range = os.range.unwrap_or(crate::scenario::DEFAULT_RANGE);
                json!({
                    "profile": *os != OsDefaults::default(),
                    "range": [range.lo(), range.hi()],
                    "scope": os.scope.unwrap_or(crate::stack::Scope::FourTuple).name(),
                    "time_wait_s": crate::time::secs(os.time_wait.unwrap_or(crate::scenario::DEFAULT_TIME_WAIT)),
                    "tw_reuse": os.tw_reuse.unwrap_or(crate::stack::TwReuse::Off).name(),
                    "reserved": os.reserved,
                })
            });
            json!({
                "name": s.name,
                "aliases": s.aliases,
                "summary": s.summary,
                "defaults": defaults,
                "notes": os.as_ref().map(crate::strategy::registry::stack_notes).unwrap_or_default(),
                "parameters": s.params.iter().map(|p| json!({
                    "name": p.name,
                    "default": p.default,
                    "help": p.help,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "portsim_version": env!("CARGO_PKG_VERSION"), "strategies": list })
}
