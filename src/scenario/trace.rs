//! Trace files: a CSV with a header row and the columns
//!
//! | column | meaning |
//! |---|---|
//! | `start_s` | when the connection starts, seconds from the start of the run (non-decreasing) |
//! | `destination` | `address:port`, e.g. `192.0.2.10:443` |
//! | `lifetime_s` | optional: how long it stays open, seconds; empty or absent to draw it from `[workload] lifetime` |

use super::workload::{Trace, TraceRow, parse_endpoint, trace_secs};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The longest line a trace may have; a row is a few dozen bytes.
pub const MAX_LINE_BYTES: usize = 4096;
/// The most rows a trace may have: each costs 24 bytes while the run lasts.
pub const MAX_ROWS: usize = 20_000_000;

/// Passes bytes through, failing once a line runs past [`MAX_LINE_BYTES`]: the CSV reader
/// would otherwise grow one record without end on a file with no line breaks.
struct LineLimit<R> {
    inner: R,
    line: usize,
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.line = if b == b'\n' { 0 } else { self.line + 1 };
            if self.line > MAX_LINE_BYTES {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a line is longer than {MAX_LINE_BYTES} bytes: is it a trace CSV?"),
                ));
            }
        }
        Ok(n)
    }
}

/// The 1-based line holding byte `byte` of the file, counted when it is displayed.
struct LineAt<'a> {
    path: &'a Path,
    byte: u64,
}

impl std::fmt::Display for LineAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The reader's offset is where it started looking, before the blank lines it skipped:
        // count the line breaks up to it, then the blank lines after it.
        let mut newlines = 0usize;
        if let Ok(file) = std::fs::File::open(self.path) {
            let mut bytes = std::io::BufReader::new(file).bytes().map_while(Result::ok);
            let mut at = 0u64;
            for b in bytes.by_ref() {
                at += 1;
                newlines += usize::from(b == b'\n');
                if at >= self.byte && b != b'\n' && b != b'\r' {
                    break;
                }
            }
            if self.byte == 0 {
                newlines = 0;
            }
        }
        write!(f, "{}", newlines + 1)
    }
}

/// Reads a trace as a bounded stream (a regular file, lines of at most [`MAX_LINE_BYTES`], at
/// most [`MAX_ROWS`] rows); an error names the line and the column that is wrong.
pub fn load(path: &Path) -> Result<Trace, String> {
    let cannot = |e: &dyn std::fmt::Display| format!("cannot read trace {}: {e}", path.display());
    let meta = std::fs::metadata(path).map_err(|e| cannot(&e))?;
    if !meta.is_file() {
        return Err(cannot(&"not a regular file"));
    }
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(LineLimit { inner: std::io::BufReader::new(file), line: 0 });
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
    let mut record = csv::StringRecord::new();
    loop {
        let read = reader.read_record(&mut record);
        // The line the record starts on, counting blank lines, which the reader's own line
        // count misses: found from the byte offset, and only on an error.
        let byte = record.position().map_or(0, |p| p.byte());
        let line = LineAt { path, byte };
        let io_error = |e: csv::Error| match e.kind() {
            csv::ErrorKind::Io(e) => format!("{}: {e}", path.display()),
            _ => format!("{} line {line}: {e}", path.display()),
        };
        if !read.map_err(io_error)? {
            break;
        }
        if rows.len() == MAX_ROWS {
            return Err(format!("{}: more than {MAX_ROWS} rows: split the trace", path.display()));
        }
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
        // Blank lines count: the error is on line 5 of the file, the third record.
        let f = write("start_s,destination\n\n1,192.0.2.1:443\n\n0.5,192.0.2.1:443\n");
        let e = load(f.path()).unwrap_err();
        assert!(e.ends_with("line 5, start_s: start times must not decrease"), "{e}");
    }

    #[test]
    fn reads_as_a_bounded_stream() {
        let e = load(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(e, "cannot read trace /dev/zero: not a regular file");
        let f = write(&format!("start_s,destination\n{}", "9".repeat(MAX_LINE_BYTES + 10)));
        let e = load(f.path()).unwrap_err();
        assert!(e.ends_with("a line is longer than 4096 bytes: is it a trace CSV?"), "{e}");
    }
}
