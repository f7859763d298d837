//! Trace files: a CSV with a header row and the columns
//!
//! | column | meaning |
//! |---|---|
//! | `start_s` | when the connection starts, seconds from the start of the run (non-decreasing) |
//! | `destination` | `address:port`, e.g. `192.0.2.10:443` |
//! | `lifetime_s` | optional: how long it stays open, seconds; empty or absent to draw it from `[workload] lifetime` |

use super::workload::{Trace, TraceRow, parse_endpoint, trace_secs};
use std::collections::HashMap;
use std::path::Path;

/// Reads a trace; an error names the line and the column that is wrong.
pub fn load(path: &Path) -> Result<Trace, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read trace {}: {e}", path.display()))?;
    let headers = reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (start_col, dest_col) = match (col("start_s"), col("destination")) {
        (Some(s), Some(d)) => (s, d),
        _ => {
            return Err(format!(
                "{}: the header must name the columns start_s and destination (and optionally lifetime_s)",
                path.display()
            ));
        }
    };
    let life_col = col("lifetime_s");
    let mut rows = Vec::new();
    let mut destinations = Vec::new();
    let mut index: HashMap<(std::net::Ipv4Addr, u16), u32> = HashMap::new();
    let mut last = 0;
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| format!("{} line {line}: {e}", path.display()))?;
        let field = |c: usize| record.get(c).unwrap_or("");
        let at = |what: &str, e: String| format!("{} line {line}, {what}: {e}", path.display());
        let start = trace_secs(field(start_col)).map_err(|e| at("start_s", e))?;
        if start < last {
            return Err(at("start_s", "start times must not decrease".into()));
        }
        last = start;
        let endpoint = parse_endpoint(field(dest_col)).map_err(|e| at("destination", e))?;
        let dest = *index.entry(endpoint).or_insert_with(|| {
            destinations.push(endpoint);
            (destinations.len() - 1) as u32
        });
        let lifetime = match life_col.map(field) {
            None | Some("") => None,
            Some(text) => Some(trace_secs(text).map_err(|e| at("lifetime_s", e))?),
        };
        rows.push(TraceRow { start, dest, lifetime });
    }
    if rows.is_empty() {
        return Err(format!("{}: the trace has no connections", path.display()));
    }
    Ok(Trace { rows, destinations })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn reads_rows_and_interns_destinations() {
        let f = write(
            "start_s,destination,lifetime_s\n0.5,192.0.2.1:443,2\n0.5,192.0.2.2:80,\n1,192.0.2.1:443,0.25\n",
        );
        let t = load(f.path()).unwrap();
        assert_eq!(t.destinations.len(), 2);
        assert_eq!(t.rows[1], TraceRow { start: 500_000_000, dest: 1, lifetime: None });
        assert_eq!(t.rows[2], TraceRow { start: 1_000_000_000, dest: 0, lifetime: Some(250_000_000) });
    }

    #[test]
    fn errors_name_the_line() {
        let f = write("start_s,destination\n2,192.0.2.1:443\n1,192.0.2.1:443\n");
        assert!(load(f.path()).unwrap_err().ends_with("line 3, start_s: start times must not decrease"));
        let f = write("start_s,destination\n1,192.0.2.1\n");
        assert!(load(f.path()).unwrap_err().contains("line 2, destination: "));
        let f = write("when,where\n");
        assert!(load(f.path()).unwrap_err().contains("must name the columns"));
    }
}
