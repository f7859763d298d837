//! `[expect]`: assertions that turn a scenario into a regression test. A key is a metric: one of
//! the short names below, or any numeric figure of a strategy in `summary.json` by its dotted
//! key (`"exhaustion.first_failure_s"`, `"warmup.max_probes"`), quoted or written as TOML
//! dotted keys. As written it must hold exactly (`failed = 0`); `max_` or `min_` in front make
//! it a bound (`max_mean_probes = 1.5`, `"max_exhaustion.first_failure_s" = 60`). Keys at the
//! top apply to every strategy; a sub-table named after a strategy's label (`[expect.linux]`)
//! applies to that strategy only.

use crate::params::{Node, ParamError, Params, Value};

/// The metrics an expectation can name, as they appear in `summary.json`.
pub const METRICS: &[&str] = &[
    "attempted",
    "established",
    "failed",
    "failed_fraction",
    "mean_probes",
    "p99_probes",
    "max_probes",
    "collisions_local",
    "collisions_remote",
    "forced_reuse",
    "reuse_count",
    "reuse_within_threshold",
    "occupancy_peak",
    "port_usage_distinct",
    "port_usage_max_over_mean",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Exactly,
    AtMost,
    AtLeast,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    /// The strategy label it applies to, or every strategy.
    pub strategy: Option<String>,
    /// A short name from [`METRICS`] or a dotted key of [`summary_keys`].
    pub metric: String,
    pub bound: Bound,
    pub value: f64,
    /// The key as written, for messages (`expect.linux.max_failed`).
    pub key: String,
}

impl Expectation {
    /// Whether `actual` satisfies this expectation.
    pub fn holds(&self, actual: f64) -> bool {
        match self.bound {
            Bound::Exactly => actual == self.value,
            Bound::AtMost => actual <= self.value,
            Bound::AtLeast => actual >= self.value,
        }
    }
}

pub(super) fn parse(mut p: Params, labels: &[String]) -> Result<Vec<Expectation>, ParamError> {
    let mut out = Vec::new();
    for key in p.keys() {
        let node = p.take(&key).expect("key listed");
        if let Value::Table(_) = node.value {
            let strategy = labels.contains(&key).then(|| key.clone());
            let mut sub = Params::new(p.path(&key), as_table(node), None);
            let prefix = if strategy.is_some() { String::new() } else { format!("{key}.") };
            flatten(&mut sub, &prefix, &strategy, &mut out)?;
        } else {
            out.push(one(&p, &key, &key, node, None)?);
        }
    }
    Ok(out)
}

/// The entries of a sub-table: under a strategy's label, or the rest of a dotted key
/// (`max_exhaustion.first_failure_s = 60` is the table `max_exhaustion`).
fn flatten(
    sub: &mut Params,
    prefix: &str,
    strategy: &Option<String>,
    out: &mut Vec<Expectation>,
) -> Result<(), ParamError> {
    for k in sub.keys() {
        let n = sub.take(&k).expect("key listed");
        let full = format!("{prefix}{k}");
        if let Value::Table(_) = n.value {
            let mut deeper = Params::new(sub.path(&k), as_table(n), None);
            flatten(&mut deeper, &format!("{full}."), strategy, out)?;
        } else {
            out.push(one(sub, &k, &full, n, strategy.clone())?);
        }
    }
    Ok(())
}

/// Every numeric figure of a strategy's summary by its dotted key, from a summary's JSON
/// (`connections.failed_fraction`, `exhaustion.episodes.longest_s`). Wall-clock figures are
/// left out: an assertion on them would not be reproducible.
pub fn summary_keys(summary: &serde_json::Value) -> Vec<String> {
    fn walk(v: &serde_json::Value, path: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                    walk(x, &p, out);
                }
            }
            serde_json::Value::Number(_) | serde_json::Value::Null | serde_json::Value::Bool(_) => {
                out.push(path.to_string())
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(summary, "", &mut out);
    out.retain(|k| {
        k.contains('.') && !k.starts_with("settings.") && k != "run.wall_s" && k != "run.connections_per_s"
    });
    out
}

/// The dotted keys an expectation may name: those of an empty run's summary.
fn valid_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let (summary, _) = crate::metrics::Collector::new(0, 1, 1).finish(0, 1, 0.0, 0);
        summary_keys(&serde_json::to_value(&summary).expect("a summary serialises"))
    })
}

fn as_table(node: Node) -> crate::params::Table {
    match node.value {
        Value::Table(t) => t,
        _ => Vec::new(),
    }
}

/// One assertion: `key` as it sits in its table `p`, `written` the whole (dotted) key.
fn one(
    p: &Params,
    key: &str,
    written: &str,
    node: Node,
    strategy: Option<String>,
) -> Result<Expectation, ParamError> {
    let (bound, metric) = if let Some(m) = written.strip_prefix("max_") {
        (Bound::AtMost, m)
    } else if let Some(m) = written.strip_prefix("min_") {
        (Bound::AtLeast, m)
    } else {
        (Bound::Exactly, written)
    };
    let known = METRICS.contains(&metric) || valid_keys().iter().any(|k| k == metric);
    if !known {
        return Err(ParamError {
            key: p.path(key),
            span: Some(node.span.clone()),
            message: format!(
                "`{written}` is not an expectation: use a metric ({}) or a dotted key of summary.json (such as exhaustion.first_failure_s), optionally with max_ or min_ in front",
                METRICS.join(", ")
            ),
        });
    }
    let metric = metric.to_string();
    let value = match node.value {
        Value::Integer(i) => i as f64,
        Value::Float(f) if f.is_finite() => f,
        other => {
            return Err(ParamError {
                key: p.path(key),
                span: Some(node.span),
                message: format!("expected a number, found {}", other.type_str()),
            });
        }
    };
    Ok(Expectation { strategy, metric, bound, value, key: p.path(key) })
}
