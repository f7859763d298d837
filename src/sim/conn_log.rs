//! The connection log behind `connections.csv`: every attempt of a run. Kept in memory for a
//! library caller who reads it, or, for `portsim run --log-connections`, spilled as it is
//! made into a temporary file beside the output folder (29 bytes an attempt), so a run of 1e9
//! attempts needs disk rather than 30 GB of memory. The file is unlinked from the start
//! (`tempfile`), so nothing is left behind whatever ends the process, kill -9 included.

use super::engine::ConnRecord;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// One record on disk: time, local index, destination, port (0: none), candidates, lifetime,
/// reused; little-endian.
const RECORD: usize = 8 + 2 + 4 + 2 + 4 + 8 + 1;

/// Every connection attempt of a run, in order.
#[derive(Clone, Debug, Default)]
pub struct ConnLog {
    records: Vec<ConnRecord>,
    spill: Option<Spill>,
}

#[derive(Clone, Debug)]
enum Spill {
    Writing(Arc<Mutex<Writing>>),
    Done { file: Arc<Mutex<File>>, count: u64, error: Option<Arc<std::io::Error>> },
}

#[derive(Debug)]
struct Writing {
    out: BufWriter<File>,
    count: u64,
    error: Option<std::io::Error>,
}

fn encode(r: &ConnRecord) -> [u8; RECORD] {
    let mut b = [0u8; RECORD];
    b[0..8].copy_from_slice(&r.time.to_le_bytes());
    b[8..10].copy_from_slice(&r.local.to_le_bytes());
    b[10..14].copy_from_slice(&r.dest.to_le_bytes());
    b[14..16].copy_from_slice(&r.port.unwrap_or(0).to_le_bytes());
    b[16..20].copy_from_slice(&r.candidates.to_le_bytes());
    b[20..28].copy_from_slice(&r.lifetime.to_le_bytes());
    b[28] = u8::from(r.reused);
    b
}

fn decode(b: &[u8; RECORD]) -> ConnRecord {
    let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().expect("2 bytes"));
    ConnRecord {
        time: u64_at(0),
        local: u16_at(8),
        dest: u32_at(10),
        port: Some(u16_at(14)).filter(|&p| p != 0),
        candidates: u32_at(16),
        lifetime: u64_at(20),
        reused: b[28] != 0,
    }
}

impl ConnLog {
    /// A log spilled into an unlinked temporary file in `dir` (`None`: kept in memory). A file
    /// that cannot be created is an error when the log is read, as a failed write would be.
    pub fn new(spill_in: Option<&Path>) -> ConnLog {
        let Some(dir) = spill_in else { return ConnLog::default() };
        let writing = match tempfile::tempfile_in(dir) {
            Ok(f) => Writing { out: BufWriter::with_capacity(1 << 16, f), count: 0, error: None },
            Err(e) => {
                let f = tempfile::tempfile().or_else(|_| File::open("/dev/null"));
                match f {
                    Ok(f) => Writing { out: BufWriter::new(f), count: 0, error: Some(e) },
                    Err(_) => return ConnLog { records: Vec::new(), spill: None },
                }
            }
        };
        ConnLog { records: Vec::new(), spill: Some(Spill::Writing(Arc::new(Mutex::new(writing)))) }
    }

    /// Adds one attempt.
    #[inline]
    pub fn push(&mut self, r: ConnRecord) {
        match &self.spill {
            None => self.records.push(r),
            Some(Spill::Writing(w)) => {
                let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
                if w.error.is_none()
                    && let Err(e) = w.out.write_all(&encode(&r))
                {
                    w.error = Some(e);
                }
                w.count += 1;
            }
            Some(Spill::Done { .. }) => panic!("a finished connection log is not written to"),
        }
    }

    /// Ends the writing: flushes the spill file.
    pub fn finish(mut self) -> ConnLog {
        if let Some(Spill::Writing(w)) = self.spill.take() {
            let w = Arc::try_unwrap(w).map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()));
            self.spill = match w {
                Ok(mut w) => {
                    if w.error.is_none()
                        && let Err(e) = w.out.flush()
                    {
                        w.error = Some(e);
                    }
                    let count = w.count;
                    let mut error = w.error.take();
                    let file = match w.out.into_inner() {
                        Ok(f) => f,
                        Err(e) => {
                            let (e, out) = e.into_parts();
                            error.get_or_insert(e);
                            out.into_parts().0
                        }
                    };
                    Some(Spill::Done { file: Arc::new(Mutex::new(file)), count, error: error.map(Arc::new) })
                }
                Err(_) => None,
            };
        }
        self
    }

    /// How many attempts the log holds.
    pub fn len(&self) -> u64 {
        match &self.spill {
            None => self.records.len() as u64,
            Some(Spill::Writing(w)) => w.lock().unwrap_or_else(|e| e.into_inner()).count,
            Some(Spill::Done { count, .. }) => *count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the log went to a file (its records are then only read through [`Self::for_each`]).
    pub fn is_spilled(&self) -> bool {
        self.spill.is_some()
    }

    /// Calls `f` on every attempt, in order, reading a spilled log back from its file.
    pub fn for_each(&self, mut f: impl FnMut(&ConnRecord) -> anyhow::Result<()>) -> anyhow::Result<()> {
        match &self.spill {
            None => self.records.iter().try_for_each(f),
            Some(Spill::Writing(_)) => anyhow::bail!("the connection log is still being written"),
            Some(Spill::Done { file, count, error }) => {
                if let Some(e) = error {
                    let kept = format!("cannot keep the connection log: {e}");
                    return Err(std::io::Error::new(e.kind(), kept).into());
                }
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                file.seek(SeekFrom::Start(0))?;
                let mut r = BufReader::with_capacity(1 << 16, &mut *file);
                let mut b = [0u8; RECORD];
                for _ in 0..*count {
                    r.read_exact(&mut b)?;
                    f(&decode(&b))?;
                }
                Ok(())
            }
        }
    }
}

/// The in-memory records (empty when the log was spilled).
impl std::ops::Deref for ConnLog {
    type Target = [ConnRecord];
    fn deref(&self) -> &[ConnRecord] {
        &self.records
    }
}

impl<'a> IntoIterator for &'a ConnLog {
    type Item = &'a ConnRecord;
    type IntoIter = std::slice::Iter<'a, ConnRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(i: u64) -> ConnRecord {
        ConnRecord {
            time: i * 1_000_000_007,
            local: (i % 7) as u16,
            dest: (i * 31) as u32,
            port: if i.is_multiple_of(5) { None } else { Some(1 + (i % 65535) as u16) },
            candidates: (i * 3) as u32,
            lifetime: u64::MAX - i,
            reused: i.is_multiple_of(2),
        }
    }

    #[test]
    fn a_spilled_log_reads_back_what_was_pushed_and_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut spilled = ConnLog::new(Some(dir.path()));
        let mut kept = ConnLog::new(None);
        for i in 0..10_000 {
            spilled.push(sample(i));
            kept.push(sample(i));
        }
        let (spilled, kept) = (spilled.finish(), kept.finish());
        assert_eq!((spilled.len(), kept.len()), (10_000, 10_000));
        assert!(spilled.is_spilled() && !spilled.is_empty() && spilled.records.is_empty());
        let mut back = Vec::new();
        spilled
            .for_each(|r| {
                back.push(*r);
                Ok(())
            })
            .unwrap();
        assert_eq!(back, kept.to_vec());
        // Read twice: the second pass starts from the beginning again.
        let mut n = 0;
        spilled
            .clone()
            .for_each(|_| {
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(n, 10_000);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "the spill file is unlinked");
    }

    #[test]
    fn a_log_that_cannot_be_spilled_is_an_error_when_read() {
        let mut log = ConnLog::new(Some(Path::new("/nonexistent/portsim")));
        log.push(sample(1));
        let log = log.finish();
        let err = log.for_each(|_| Ok(())).unwrap_err().to_string();
        assert!(err.starts_with("cannot keep the connection log: "), "{err}");
    }
}
