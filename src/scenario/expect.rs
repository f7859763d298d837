//! `[expect]`: assertions that turn a scenario into a regression test. A key is a metric name
//! (`failed = 0`: exactly), or the name with `max_` or `min_` in front (`max_mean_probes = 1.5`).
//! Keys at the top apply to every strategy; a sub-table named after a strategy's label
//! (`[expect.linux]`) applies to that strategy only.

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
    pub metric: &'static str,
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
            if !labels.contains(&key) {
                return Err(p.error(
                    &key,
                    format!(
                        "`{key}` is neither a metric nor a strategy of this scenario ({})",
                        labels.join(", ")
                    ),
                ));
            }
            let mut sub = Params::new(p.path(&key), as_table(node), None);
            for k in sub.keys() {
                let n = sub.take(&k).expect("key listed");
                out.push(one(&sub, &k, n, Some(key.clone()))?);
            }
        } else {
            out.push(one(&p, &key, node, None)?);
        }
    }
    Ok(out)
}

fn as_table(node: Node) -> crate::params::Table {
    match node.value {
        Value::Table(t) => t,
        _ => Vec::new(),
    }
}

fn one(p: &Params, key: &str, node: Node, strategy: Option<String>) -> Result<Expectation, ParamError> {
    let (bound, metric) = if let Some(m) = key.strip_prefix("max_") {
        (Bound::AtMost, m)
    } else if let Some(m) = key.strip_prefix("min_") {
        (Bound::AtLeast, m)
    } else {
        (Bound::Exactly, key)
    };
    let metric = METRICS.iter().find(|m| **m == metric).copied().ok_or_else(|| ParamError {
        key: p.path(key),
        span: Some(node.span.clone()),
        message: format!(
            "`{key}` is not an expectation: use a metric ({}), optionally with max_ or min_ in front",
            METRICS.join(", ")
        ),
    })?;
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
