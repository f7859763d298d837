//! Histograms that cost one array increment per record.

/// Exact counts of small integers (candidates per allocation are at most 65,535).
///
/// A record is one increment: the count of records and their sum are read from the counts
/// when asked (once per summary), not kept per record. Callgrind on the speed scenario (bsd):
/// a kept `u64` total and `u128` sum were 3 of the record's 8 instructions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CountHistogram {
    counts: Vec<u64>,
}

impl CountHistogram {
    #[inline]
    pub fn record(&mut self, v: u32) {
        let i = v as usize;
        match self.counts.get_mut(i) {
            Some(c) => *c += 1,
            None => self.grow_and_record(i),
        }
    }

    /// The first record of a new largest value: off the per-record path.
    #[cold]
    fn grow_and_record(&mut self, i: usize) {
        self.counts.resize(i + 1, 0);
        self.counts[i] += 1;
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The sum of every value recorded, exact.
    fn sum(&self) -> u128 {
        self.counts.iter().enumerate().map(|(v, &c)| v as u128 * u128::from(c)).sum()
    }

    pub fn mean(&self) -> f64 {
        let total = self.count();
        if total == 0 { 0.0 } else { self.sum() as f64 / total as f64 }
    }

    /// The smallest value with at least a fraction `q` of the records at or below it.
    pub fn percentile(&self, q: f64) -> u32 {
        let total = self.count();
        if total == 0 {
            return 0;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (v, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return v as u32;
            }
        }
        self.max()
    }

    pub fn max(&self) -> u32 {
        self.counts.iter().rposition(|&c| c > 0).unwrap_or(0) as u32
    }

    /// `(value, count)` for every value recorded at least once.
    pub fn nonzero(&self) -> Vec<(u32, u64)> {
        self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(v, c)| (v as u32, *c)).collect()
    }
}

/// Log-linear buckets for durations in nanoseconds: 64 sub-buckets per power of two, so a
/// percentile is within 1/64 (1.6 %) of the true value; the minimum is kept exactly. As for
/// [`CountHistogram`], the number of records is read from the buckets, not kept per record.
#[derive(Clone, Debug, PartialEq)]
pub struct LogHistogram {
    /// A fixed array: the bucket index, masked to its size (a no-op, every bucket is below
    /// it), needs no bounds check.
    counts: Box<[u64; BUCKETS]>,
    min: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// 64 sub-buckets for each of 64 powers of two: the largest `u64` falls in bucket 3,775.
const BUCKETS: usize = (64 * SUB) as usize;

impl Default for LogHistogram {
    fn default() -> Self {
        LogHistogram { counts: Box::new([0; BUCKETS]), min: u64::MAX }
    }
}

impl LogHistogram {
    #[inline]
    fn bucket(v: u64) -> usize {
        if v < SUB {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros();
        let shift = exp - SUB_BITS;
        let sub = (v >> shift) - SUB;
        ((u64::from(shift) + 1) * SUB + sub) as usize
    }

    /// The smallest value that falls in bucket `b`.
    fn lower(b: usize) -> u64 {
        let b = b as u64;
        if b < SUB {
            return b;
        }
        let shift = b / SUB - 1;
        (SUB + b % SUB) << shift
    }

    #[inline]
    pub fn record(&mut self, v: u64) {
        self.counts[Self::bucket(v) & (BUCKETS - 1)] += 1;
        if v < self.min {
            self.min = v;
        }
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn min(&self) -> Option<u64> {
        (self.count() > 0).then_some(self.min)
    }

    /// The lower edge of the bucket holding the `q`-quantile (never below the exact minimum).
    pub fn percentile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Self::lower(b).max(self.min));
            }
        }
        None
    }

    /// `(lower edge, count)` of every non-empty bucket, for CDF charts.
    pub fn buckets(&self) -> Vec<(u64, u64)> {
        self.counts.iter().enumerate().filter(|(_, c)| **c > 0).map(|(b, c)| (Self::lower(b), *c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_histogram_percentiles() {
        let mut h = CountHistogram::default();
        for v in [1, 1, 1, 2, 5] {
            h.record(v);
        }
        assert_eq!((h.count(), h.mean(), h.max()), (5, 2.0, 5));
        assert_eq!((h.percentile(0.5), h.percentile(0.8), h.percentile(0.99)), (1, 2, 5));
        assert_eq!(h.nonzero(), vec![(1, 3), (2, 1), (5, 1)]);
    }

    #[test]
    fn log_histogram_is_within_one_sixty_fourth() {
        let mut h = LogHistogram::default();
        for v in [0u64, 1, 63, 64, 65, 1000, 1_000_000_007, u64::MAX] {
            let b = LogHistogram::bucket(v);
            let lo = LogHistogram::lower(b);
            assert!(lo <= v && (v - lo) as f64 <= v as f64 / 64.0, "{v}: bucket {b} starts at {lo}");
            h.record(v);
        }
        assert_eq!(h.min(), Some(0));
        // The mask on the bucket index is a no-op: the largest value's bucket is in the array.
        assert_eq!(LogHistogram::bucket(u64::MAX), 3775);
        assert_eq!(h.counts[3775], 1);
        let mut h = LogHistogram::default();
        for v in 1..=1000u64 {
            h.record(v * 1_000_000);
        }
        let p50 = h.percentile(0.5).unwrap() as f64;
        assert!((p50 - 500e6).abs() / 500e6 < 1.0 / 64.0, "{p50}");
        assert_eq!(h.min(), Some(1_000_000));
    }
}
