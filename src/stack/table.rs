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
    /// When the last incarnation closed (entered TIME_WAIT, or was closed by the server). While
    /// the 4-tuple is live again the single-pool fast path does not keep it (0): nothing reads
    /// it before the next close writes it.
    pub closed_at: Nanos,
    /// Until when the server holds this 4-tuple in TIME_WAIT (0 when it never did).
    pub remote_tw_until: Nanos,
}

impl Entry {
    /// A 4-tuple seen for the first time, opened now.
    #[inline(always)]
    pub(super) fn opened(exclusive: bool) -> Entry {
        Entry { state: TupleState::Live, generation: 0, exclusive, closed_at: 0, remote_tw_until: 0 }
    }

    /// Opens a new incarnation of a known 4-tuple that is not live: notes in `opened` what the
    /// last one left (its close, the server's TIME_WAIT, a TIME_WAIT taken over). Returns
    /// whether the last one still held the port (a TIME_WAIT) and whether it held it by
    /// `bind()`.
    #[inline(always)]
    pub(super) fn reopen(&mut self, now: Nanos, exclusive: bool, opened: &mut super::Opened) -> (bool, bool) {
        debug_assert!(self.state != TupleState::Live, "reopened a live 4-tuple");
        opened.previous_close = Some(self.closed_at);
        let before = if self.state == TupleState::TimeWait {
            opened.recycled_time_wait = true;
            self.generation = self.generation.wrapping_add(1);
            (true, self.exclusive)
        } else {
            (false, false)
        };
        opened.remote_collision = now < self.remote_tw_until;
        self.state = TupleState::Live;
        self.remote_tw_until = 0;
        self.exclusive = exclusive;
        before
    }
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

/// A 4-tuple's slot in a [`TupleTable::One`], 8 bytes where an [`Entry`] takes 24. The table
/// is one only while the run has opened without `bind()` and released unseen TIME_WAITs (the
/// first `close()`, expiry or `bind()` turns it into full entries), so a 4-tuple there is live
/// or closed, never in TIME_WAIT, recycled, exclusive or held by the server: all it keeps is
/// when it last closed. A third of the bytes matters to a strategy picking ports at random:
/// every open and release lands on a random slot, and 28,232 slots of 24 bytes (677 KiB) do
/// not fit a 512 KiB L2 beside the TIME_WAIT FIFO streaming through it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FastSlot(u64);

impl FastSlot {
    /// Never seen (or forgotten).
    pub(super) const NEVER: FastSlot = FastSlot(0);
    /// Live (the last close, if any, is not kept: nothing reads it while the 4-tuple is live).
    pub(super) const LIVE: FastSlot = FastSlot(u64::MAX);

    /// Closed at `at`: stored as `at + 1`, leaving 0 and `u64::MAX` to the other two states.
    /// A release is before the run's end, far below `u64::MAX - 2`; past it the time is kept
    /// as that rather than wrap into another state.
    #[inline(always)]
    pub(super) fn closed(at: Nanos) -> FastSlot {
        debug_assert!(at < u64::MAX - 1, "a release at the end of time");
        FastSlot(at.min(u64::MAX - 2) + 1)
    }

    /// When it closed, if it is closed.
    #[inline(always)]
    pub(super) fn closed_at(self) -> Option<Nanos> {
        (self != FastSlot::NEVER && self != FastSlot::LIVE).then(|| self.0 - 1)
    }

    /// The entry the general path would hold: live ones with no close time.
    pub(super) fn entry(self) -> Option<Entry> {
        match self {
            FastSlot::NEVER => None,
            FastSlot::LIVE => Some(Entry::opened(false)),
            FastSlot(c) => {
                Some(Entry { state: TupleState::Closed, closed_at: c - 1, ..Entry::opened(false) })
            }
        }
    }
}

/// Pools (local address x destination) up to which the 4-tuples are kept in dense arrays, one
/// 65,536-slot array per pool, instead of the hash table. 16 pools of 65,535 usable ports stay
/// below the engine's forgetting floor (2^20 remembered 4-tuples), so a dense run never forgets
/// and the two layouts remember the same 4-tuples whatever the run; 16 arrays of 24-byte slots
/// are 24 MiB at most, against about 40 bytes per remembered 4-tuple in the table.
pub const MAX_DENSE_POOLS: usize = 16;

/// The 4-tuples the stack knows, in one of two layouts chosen from the stack's shape.
///
/// Dense: `slots[pool][port]`, one load and no hash per lookup. A bsd run walks its
/// pool's array in port order, and a 4-tuple looked up 60 s after it was last touched (its
/// TIME_WAIT's end) is one of at most 65,536 slots of a pool, not a random bucket of a table
/// that has grown to every 4-tuple ever seen. Hashed: one entry per 4-tuple ever seen (until
/// forgotten), memory proportional to them whatever the number of pools.
///
/// Both answer every query alike, and [`TupleTable::len`] / [`TupleTable::retain`] count and
/// forget the same 4-tuples, so forgetting behaves the same on either.
#[derive(Clone)]
pub(super) enum TupleTable {
    /// Dense with a single pool (one local address, one destination: the speed scenario's
    /// shape) while only opens without `bind()` and unseen releases have run, its array of
    /// [`FastSlot`]s held directly: a lookup is one index by port, with no pool to multiply,
    /// no vector to bounds-check, and the stack's fast open and release
    /// ([`super::Stack`]'s `fast`) reach it without the pool index. The first write of a full
    /// entry turns it into a one-pool `Dense` ([`TupleTable::general`]).
    One {
        slots: Box<[FastSlot; 1 << 16]>,
        known: usize,
        span: (u16, u16),
    },
    Dense {
        /// `None`: never seen (or forgotten). `Option<Entry>` is no larger than `Entry`: the
        /// state's spare values hold the `None`.
        slots: Vec<Box<[Option<Entry>; 1 << 16]>>,
        /// Slots that are `Some`.
        known: usize,
        /// The lowest and highest port ever stored, so forgetting scans only that span.
        span: (u16, u16),
    },
    Hashed(TupleMap),
}

impl TupleTable {
    /// Dense for `pools` pools, or hashed when `dense` is false.
    pub(super) fn new(pools: usize, dense: bool) -> TupleTable {
        if dense && pools == 1 {
            TupleTable::One { slots: super::full_table(FastSlot::NEVER), known: 0, span: (u16::MAX, 0) }
        } else if dense {
            TupleTable::Dense { slots: vec![super::full_table(None); pools], known: 0, span: (u16::MAX, 0) }
        } else {
            TupleTable::Hashed(TupleMap::default())
        }
    }

    pub(super) fn is_dense(&self) -> bool {
        matches!(self, TupleTable::Dense { .. } | TupleTable::One { .. })
    }

    /// The entry of `key`, which belongs to pool `pool` (the stack's `pool_index`).
    #[inline]
    pub(super) fn get(&self, pool: usize, key: TupleKey) -> Option<Entry> {
        match self {
            TupleTable::One { slots, .. } => slots[usize::from(key.port())].entry(),
            TupleTable::Dense { slots, .. } => slots[pool][usize::from(key.port())],
            TupleTable::Hashed(map) => map.get(&key).copied(),
        }
    }

    /// The one-pool `Dense` table a [`TupleTable::One`] stands for, the same 4-tuples in full
    /// entries; any other table as it is.
    #[cold]
    pub(super) fn general(self) -> TupleTable {
        match self {
            TupleTable::One { slots, known, span } => {
                let mut full = super::full_table(None);
                for (to, from) in full.iter_mut().zip(slots.iter()) {
                    *to = from.entry();
                }
                TupleTable::Dense { slots: vec![full], known, span }
            }
            other => other,
        }
    }

    /// Makes a [`TupleTable::One`] general before an entry is written that its slots cannot
    /// hold (a TIME_WAIT, the server's, an exclusive holder): at the run's first `close()`,
    /// expiry or `bind()`.
    #[inline]
    fn writable(&mut self) {
        if matches!(self, TupleTable::One { .. }) {
            *self = std::mem::replace(self, TupleTable::Hashed(Default::default())).general();
        }
    }

    #[inline]
    pub(super) fn get_mut(&mut self, pool: usize, key: TupleKey) -> Option<&mut Entry> {
        self.writable();
        match self {
            TupleTable::One { .. } => unreachable!("made general just above"),
            TupleTable::Dense { slots, .. } => slots[pool][usize::from(key.port())].as_mut(),
            TupleTable::Hashed(map) => map.get_mut(&key),
        }
    }

    /// The entry of `key`, inserting `fresh` if there is none; `true` with an entry that was
    /// already there. One lookup either way.
    #[inline]
    pub(super) fn get_or_insert(&mut self, pool: usize, key: TupleKey, fresh: Entry) -> (&mut Entry, bool) {
        self.writable();
        match self {
            TupleTable::One { .. } => unreachable!("made general just above"),
            TupleTable::Dense { slots, known, span } => {
                insert_in_slot(&mut slots[pool][usize::from(key.port())], known, span, key.port(), fresh)
            }
            TupleTable::Hashed(map) => match map.entry(key) {
                std::collections::hash_map::Entry::Occupied(slot) => (slot.into_mut(), true),
                std::collections::hash_map::Entry::Vacant(slot) => (slot.insert(fresh), false),
            },
        }
    }

    /// 4-tuples known.
    pub(super) fn len(&self) -> usize {
        match self {
            TupleTable::Dense { known, .. } | TupleTable::One { known, .. } => *known,
            TupleTable::Hashed(map) => map.len(),
        }
    }

    /// Forgets every entry `keep` rejects.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        match self {
            TupleTable::One { slots, known, span } if span.0 <= span.1 => {
                for slot in &mut slots[usize::from(span.0)..=usize::from(span.1)] {
                    if slot.entry().is_some_and(|e| !keep(&e)) {
                        *slot = FastSlot::NEVER;
                        *known -= 1;
                    }
                }
            }
            TupleTable::One { .. } => {}
            TupleTable::Dense { slots, known, span } => {
                for pool in slots.iter_mut() {
                    forget_in(&mut pool[..], known, *span, &mut keep);
                }
            }
            TupleTable::Hashed(map) => map.retain(|_, e| keep(e)),
        }
    }
}

/// A dense slot's entry, inserting `fresh` (and counting it in `known` and `span`) if empty.
#[inline]
fn insert_in_slot<'a>(
    slot: &'a mut Option<Entry>,
    known: &mut usize,
    span: &mut (u16, u16),
    port: u16,
    fresh: Entry,
) -> (&'a mut Entry, bool) {
    let existed = slot.is_some();
    if !existed {
        *known += 1;
        *span = (span.0.min(port), span.1.max(port));
    }
    (slot.get_or_insert(fresh), existed)
}

/// Forgets the entries of one pool's slots, within `span`, that `keep` rejects.
fn forget_in(
    slots: &mut [Option<Entry>],
    known: &mut usize,
    span: (u16, u16),
    keep: &mut impl FnMut(&Entry) -> bool,
) {
    if span.0 > span.1 {
        return;
    }
    for slot in &mut slots[usize::from(span.0)..=usize::from(span.1)] {
        if slot.as_ref().is_some_and(|e| !keep(e)) {
            *slot = None;
            *known -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_slot_tells_never_live_and_closed_apart() {
        assert_eq!(FastSlot::NEVER.entry().map(|e| e.state), None);
        assert_eq!(FastSlot::LIVE.entry().map(|e| e.state), Some(TupleState::Live));
        assert_eq!(FastSlot::LIVE.closed_at(), None);
        for at in [0, 1, 60_000_000_000, u64::MAX - 2] {
            let e = FastSlot::closed(at).entry().expect("known");
            assert_eq!((e.state, e.closed_at, e.remote_tw_until), (TupleState::Closed, at, 0));
            assert_eq!(FastSlot::closed(at).closed_at(), Some(at));
        }
    }

    #[test]
    fn a_dense_slot_costs_no_more_than_its_entry() {
        assert_eq!(std::mem::size_of::<Option<Entry>>(), std::mem::size_of::<Entry>());
        assert!(std::mem::size_of::<Entry>() <= 24);
    }
}
