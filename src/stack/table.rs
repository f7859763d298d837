//! The table of 4-tuples the host knows: live, in TIME_WAIT, or closed but remembered (so a
//! later connection on the same 4-tuple can be recognised as a reuse, and as a remote collision
//! while the server still holds TIME_WAIT).

use super::flow::TupleKey;
use crate::time::Nanos;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Where a 4-tuple stands at the local host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TupleState {
    /// Connected: the 4-tuple is in use.
    Live,
    /// The client closed first and holds TIME_WAIT since `closed_at`.
    TimeWait,
    /// Nothing is held locally; `closed_at` and `remote_tw_until` remember the last incarnation.
    Closed,
}

#[derive(Clone, Copy, Debug)]
pub struct Entry {
    pub state: TupleState,
    /// Bumped whenever a TIME_WAIT ends early (recycled by tw_reuse), so a stale expiry of the
    /// previous incarnation can be told apart and ignored.
    pub generation: u32,
    /// The connection holds its port exclusively (it was taken by an explicit `bind()`).
    pub exclusive: bool,
    /// When the last incarnation closed (entered TIME_WAIT, or was closed by the server).
    pub closed_at: Nanos,
    /// Until when the server holds this 4-tuple in TIME_WAIT (0 when it never did).
    pub remote_tw_until: Nanos,
}

/// Hashes a packed 4-tuple with one 128-bit multiply folded to 64 bits: every input bit reaches
/// both the low bits (the bucket) and the high bits (the control byte) of the hash, at the cost
/// of a couple of cycles. Deterministic, so table behaviour never depends on the process.
#[derive(Default, Clone, Copy)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    #[inline]
    fn write_u64(&mut self, k: u64) {
        let m = u128::from(k ^ 0x243f_6a88_85a3_08d3).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 = (m as u64) ^ ((m >> 64) as u64);
    }
}

pub type TupleMap = HashMap<TupleKey, Entry, BuildHasherDefault<KeyHasher>>;
