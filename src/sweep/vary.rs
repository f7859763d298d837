//! `--vary KEY=FROM..TO:STEPS` and `--vary KEY=a,b,c`: the values a sweep gives one key.

use crate::params::Value;
use crate::time::{Nanos, format_duration, parse_duration, secs};

/// One swept key and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    /// Dotted scenario key (`workload.arrivals.rate`, `tcp.time_wait`, `strategies[1].n`).
    pub key: String,
    pub values: Vec<VaryValue>,
    /// The values are durations (the charts say seconds).
    pub durations: bool,
}

/// One value of a swept key.
#[derive(Clone, Debug, PartialEq)]
pub struct VaryValue {
    /// What is written into the scenario.
    pub value: Value,
    /// How reports print it.
    pub label: String,
    /// Where it goes on a chart's x axis (seconds for durations); `None` for a value that is
    /// not a number (a port range, a setting's name).
    pub x: Option<f64>,
}

const MAX_STEPS: usize = 10_000;

fn number(text: &str) -> Option<f64> {
    let t = text.trim().replace('_', "");
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

fn integer(text: &str) -> Option<i64> {
    text.trim().replace('_', "").parse::<i64>().ok()
}

/// A value from the list form, typed as TOML would type it.
fn list_value(text: &str) -> VaryValue {
    let t = text.trim();
    if let Some(i) = integer(t) {
        return VaryValue { value: Value::Integer(i), label: t.to_string(), x: Some(i as f64) };
    }
    if let Some(f) = number(t) {
        return VaryValue { value: Value::Float(f), label: t.to_string(), x: Some(f) };
    }
    if t == "true" || t == "false" {
        return VaryValue { value: Value::Boolean(t == "true"), label: t.to_string(), x: None };
    }
    let x = parse_duration(t).ok().map(secs);
    VaryValue { value: Value::String(t.to_string()), label: t.to_string(), x }
}

fn duration_value(ns: Nanos) -> VaryValue {
    let label = format_duration(ns);
    VaryValue { value: Value::String(label.clone()), label, x: Some(secs(ns)) }
}

/// Parses one `--vary` argument.
pub fn parse_vary(text: &str) -> Result<Vary, String> {
    let (key, spec) = text
        .split_once('=')
        .ok_or_else(|| "write KEY=FROM..TO:STEPS (evenly spaced) or KEY=a,b,c (a list)".to_string())?;
    let key = key.trim().to_string();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return Err("the key before `=` must be a dotted scenario key such as workload.arrivals.rate".into());
    }
    if key == "seed" {
        // Each point runs under the sweep's own seeds; a varied `seed` was set and then
        // overridden, giving identical points.
        return Err("the seed is not a scenario setting a sweep can vary: use --seeds N to run every point under N seeds (from --seed)".into());
    }
    let spec = spec.trim();
    if spec.is_empty() {
        return Err(format!("no values after `{key}=`: write FROM..TO:STEPS or a,b,c"));
    }
    if let Some((from, rest)) = spec.split_once("..") {
        if rest.starts_with('.') {
            // `10...20` would otherwise read as 10 to .20.
            return Err(format!("write FROM..TO with two dots, not `{spec}`"));
        }
        let (to, steps) = rest
            .split_once(':')
            .ok_or_else(|| format!("say how many points: {key}={from}..{rest}:STEPS (for example :5)"))?;
        let (from, to) = (from.trim(), to.trim());
        let steps: usize = steps.trim().parse().map_err(|_| {
            format!("STEPS `{}` must be a whole number of points, 1 to {MAX_STEPS}", steps.trim())
        })?;
        if steps == 0 || steps > MAX_STEPS {
            return Err(format!("STEPS must be 1 to {MAX_STEPS} points, not {steps}"));
        }
        if steps == 1 && from != to {
            return Err(format!("one step cannot span {from}..{to}: give at least 2 steps, or FROM = TO"));
        }
        let at = |i: usize| if steps == 1 { 0.0 } else { i as f64 / (steps - 1) as f64 };
        // Integers, when both ends and every step are.
        if let (Some(a), Some(b)) = (integer(from), integer(to))
            && (steps == 1 || (b - a) % (steps as i64 - 1) == 0)
        {
            let step = if steps == 1 { 0 } else { (b - a) / (steps as i64 - 1) };
            let values = (0..steps)
                .map(|i| {
                    let v = a + step * i as i64;
                    VaryValue { value: Value::Integer(v), label: v.to_string(), x: Some(v as f64) }
                })
                .collect();
            return Ok(Vary { key, values, durations: false });
        }
        if let (Some(a), Some(b)) = (number(from), number(to)) {
            let values = (0..steps)
                .map(|i| {
                    let v = a + (b - a) * at(i);
                    // Round away float noise so labels read well (300.0000001 -> 300).
                    let v = (v * 1e9).round() / 1e9;
                    VaryValue { value: Value::Float(v), label: v.to_string(), x: Some(v) }
                })
                .collect();
            return Ok(Vary { key, values, durations: false });
        }
        if let (Ok(a), Ok(b)) = (parse_duration(from), parse_duration(to)) {
            let values = (0..steps)
                .map(|i| {
                    let ns = if steps == 1 {
                        a
                    } else {
                        let (a, b) = (i128::from(a), i128::from(b));
                        let v = a + (b - a) * i as i128 / (steps as i128 - 1);
                        // Whole milliseconds read better and lose nothing a scenario cares about.
                        let v = if (b - a).abs() >= 1_000_000 * (steps as i128) {
                            (v + 500_000) / 1_000_000 * 1_000_000
                        } else {
                            v
                        };
                        v as Nanos
                    };
                    duration_value(ns)
                })
                .collect();
            return Ok(Vary { key, values, durations: true });
        }
        return Err(format!(
            "FROM and TO must both be numbers (300..700:9) or both durations (30s..120s:4), not `{from}` and `{to}`"
        ));
    }
    let items: Vec<&str> = spec.split(',').map(str::trim).collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err("an empty value in the list: write KEY=a,b,c".into());
    }
    if items.len() > MAX_STEPS {
        return Err(format!("at most {MAX_STEPS} values"));
    }
    let values: Vec<VaryValue> = items.iter().map(|t| list_value(t)).collect();
    let durations = items.iter().all(|t| number(t).is_none() && parse_duration(t).is_ok());
    Ok(Vary { key, values, durations })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_it_would_get_wrong() {
        assert!(parse_vary("seed=1,2,3").unwrap_err().contains("--seeds"));
        let e = parse_vary("workload.arrivals.rate=10...20:3").unwrap_err();
        assert_eq!(e, "write FROM..TO with two dots, not `10...20:3`");
    }

    #[test]
    fn ranges_lists_and_durations() {
        let v = parse_vary("workload.arrivals.rate=300..700:5").unwrap();
        assert_eq!(
            v.values.iter().map(|x| x.label.as_str()).collect::<Vec<_>>(),
            ["300", "400", "500", "600", "700"]
        );
        assert_eq!(v.values[0].value, Value::Integer(300));
        let v = parse_vary("workload.arrivals.rate=1..2:3").unwrap();
        assert_eq!(v.values[1].value, Value::Float(1.5));
        let v = parse_vary("tcp.time_wait=30s..120s:4").unwrap();
        assert!(v.durations);
        assert_eq!(
            v.values.iter().map(|x| x.label.as_str()).collect::<Vec<_>>(),
            ["30s", "1m", "1m 30s", "2m"]
        );
        assert_eq!(v.values[1].x, Some(60.0));
        let v = parse_vary("ports.range=32768-60999,1024-65535").unwrap();
        assert_eq!(v.values[1].value, Value::String("1024-65535".into()));
        assert_eq!(v.values[1].x, None);
        assert!(parse_vary("rate").unwrap_err().contains("KEY=FROM..TO:STEPS"));
        assert!(parse_vary("rate=1..5").unwrap_err().contains("STEPS"));
        assert!(parse_vary("rate=1..5:0").unwrap_err().contains("1 to"));
        assert!(parse_vary("rate=a..b:3").unwrap_err().contains("numbers"));
        assert!(parse_vary("rate=1,,2").unwrap_err().contains("empty"));
    }
}
