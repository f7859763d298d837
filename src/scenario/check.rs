//! `portsim check`: every error a file has, not just the first. The parser stops at the first
//! bad key; to find the next, the key at fault is taken out of the document and the rest is
//! validated again, until it passes or an error only follows from a key taken out (a required
//! key, now missing), which would be noise.

use super::{Scenario, ScenarioError, parse, parse_params};
use crate::params::{Params, Table, Value};
use std::path::Path;

/// At most this many errors per file.
const MAX_ERRORS: usize = 50;

/// Reads and validates `path`, returning the scenario or every error found in it.
pub fn load_all_errors(path: &Path) -> Result<Scenario, Vec<ScenarioError>> {
    let origin = path.display().to_string();
    let text = super::read_scenario_text(path).map_err(|e| vec![e])?;
    let base = path.parent().unwrap_or(Path::new("."));
    let first = match parse(&text, &origin, base) {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    let mut errors = vec![first];
    let Ok(doc) = Params::parse_document(&text) else { return Err(errors) };
    let span = doc.span();
    let mut table = doc.into_table();
    let mut removed: Vec<String> = Vec::new();
    let registry = crate::strategy::Registry::builtin();
    while errors.len() < MAX_ERRORS {
        let key = errors.last().map(|e| e.key.clone()).unwrap_or_default();
        if key.is_empty() || !remove_path(&mut table, &key) {
            break;
        }
        removed.push(key);
        let e = match parse_params(Params::new("", table.clone(), span.clone()), &origin, base, &registry) {
            Ok(_) => break,
            Err(e) => ScenarioError::from_param(&origin, &text, e),
        };
        let follows = removed.iter().any(|r| related(r, &e.key));
        if follows || errors.contains(&e) {
            break;
        }
        errors.push(e);
    }
    Err(errors)
}

/// One key is the other, or inside it.
fn related(a: &str, b: &str) -> bool {
    let inside =
        |x: &str, y: &str| x.starts_with(y) && matches!(x.as_bytes().get(y.len()), Some(b'.' | b'['));
    a == b || inside(a, b) || inside(b, a)
}

/// Takes the value at a dotted path (`workload.arrivals.rate`, `strategies[1].label`) out of a
/// document; false when there is none.
fn remove_path(table: &mut Table, path: &str) -> bool {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let (key, index) = match head.split_once('[') {
        Some((k, i)) => match i.strip_suffix(']').and_then(|i| i.parse::<usize>().ok()) {
            Some(i) => (k, Some(i)),
            None => return false,
        },
        None => (head, None),
    };
    let Some(pos) = table.iter().position(|(k, _)| k == key) else { return false };
    match (index, rest) {
        (None, None) => {
            table.remove(pos);
            true
        }
        (Some(_), None) => false,
        (index, Some(rest)) => {
            let mut node = &mut table[pos].1;
            if let Some(i) = index {
                node = match &mut node.value {
                    Value::Array(items) => match items.get_mut(i) {
                        Some(n) => n,
                        None => return false,
                    },
                    _ => return false,
                };
            }
            match &mut node.value {
                Value::Table(t) => remove_path(t, rest),
                _ => false,
            }
        }
    }
}
