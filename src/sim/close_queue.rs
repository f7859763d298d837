//! The queue of scheduled closes (and, on the one-event path, releases): a calendar queue
//! (Brown, "Calendar queues: a fast O(1) priority queue implementation for the simulation event
//! set problem", CACM 31(10), 1988) in the shape of a one-level timer wheel, popping in exact
//! `Ord` order, which for the engine's events is (time, sequence number).
//!
//! Why not the binary heap it replaces: closes are scheduled at `now + lifetime` and come out
//! within a few lifetimes; a heap pays `log2(live)` cache-missing sift steps per push and pop
//! (22 % of the speed run's profile), where the wheel pays an append to a bucket and, once per
//! bucket, a sort of a handful of events.
//!
//! Layout: time is cut into buckets of `2^shift` ns. The bucket `cur` being served is sorted in
//! `front` (descending, so the smallest pops off the end); the next `2^bits - 1` buckets are
//! unsorted lists in a ring, with a bitmap of the non-empty ones; anything farther goes to an
//! overflow heap and moves into the ring as the wheel turns. Invariant: every event in `front`
//! has bucket `<= cur`, every event in the ring a bucket in `(cur, cur + 2^bits)`, every event in
//! the overflow a bucket `>= cur + 2^bits` — so the smallest event is `front`'s last, or, when
//! `front` is empty, the smallest of the first non-empty bucket (ring or overflow). Order is
//! exact whatever the bucket width: the width only sets the speed.

use crate::time::Nanos;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An event with a time: what the wheel buckets by. Its `Ord` must order by time first.
pub trait Timed: Copy + Ord {
    fn time(&self) -> Nanos;
}

/// A calendar queue of `T`, popping in `Ord` order. `push` must not go below the last popped
/// event (the simulation clock never runs backwards); anything at or after it is exact.
pub struct CloseQueue<T: Timed> {
    shift: u32,
    mask: u64,
    /// The bucket (`time >> shift`) whose events are in `front`.
    cur: u64,
    /// The events of bucket `cur` and earlier, sorted descending.
    front: Vec<T>,
    /// Per ring slot, the first node of its list ([`NIL`] when empty). The lists live in one
    /// slab whose freed nodes are reused, so the queue's memory is proportional to what it
    /// holds and stays hot in the cache (one vector per slot scattered its events over the
    /// heap and cost more than the binary heap it replaced).
    heads: Vec<u32>,
    nodes: Vec<Node<T>>,
    free: u32,
    /// One bit per ring slot: the slot holds events.
    occupied: Vec<u64>,
    overflow: BinaryHeap<Reverse<T>>,
    len: usize,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node<T> {
    event: T,
    next: u32,
}

impl<T: Timed> CloseQueue<T> {
    /// A wheel of `2^bits` buckets of `2^shift` ns each (`bits` in 6..=20).
    pub fn new(shift: u32, bits: u32) -> CloseQueue<T> {
        let bits = bits.clamp(6, 20);
        let slots = 1usize << bits;
        CloseQueue {
            shift: shift.min(62),
            mask: slots as u64 - 1,
            cur: 0,
            front: Vec::new(),
            heads: vec![NIL; slots],
            nodes: Vec::new(),
            free: NIL,
            occupied: vec![0; slots / 64],
            overflow: BinaryHeap::new(),
            len: 0,
        }
    }

    /// A wheel sized for events spaced about `spacing` ns apart that stay queued about `hold`
    /// ns: buckets of two to four spacings (a few events to sort per turn), a ring spanning
    /// about four holds.
    pub fn sized_for(spacing: Nanos, hold: Nanos) -> CloseQueue<T> {
        let shift = 63 - spacing.max(1).leading_zeros() + 2;
        let span = (hold.saturating_mul(4) >> shift).max(1);
        let bits = 64 - span.leading_zeros();
        CloseQueue::new(shift, bits)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn bucket(&self, e: &T) -> u64 {
        e.time() >> self.shift
    }

    #[inline]
    pub fn push(&mut self, e: T) {
        self.len += 1;
        let b = self.bucket(&e);
        if b <= self.cur {
            // Sorted insert: few events share the bucket being served.
            let at = self.front.partition_point(|x| *x > e);
            self.front.insert(at, e);
        } else if b - self.cur <= self.mask {
            self.link(b, e);
        } else {
            self.overflow.push(Reverse(e));
        }
    }

    /// The smallest event, turning the wheel to it if `front` is empty.
    #[inline]
    pub fn peek(&mut self) -> Option<&T> {
        if self.front.is_empty() && !self.turn() {
            return None;
        }
        self.front.last()
    }

    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.front.is_empty() && !self.turn() {
            return None;
        }
        self.len -= 1;
        self.front.pop()
    }

    /// The smallest event if it is at or before `t`.
    #[inline]
    pub fn pop_at_or_before(&mut self, t: Nanos) -> Option<T> {
        if self.front.is_empty() && !self.turn() {
            return None;
        }
        if self.front.last()?.time() > t {
            return None;
        }
        self.len -= 1;
        self.front.pop()
    }

    /// Moves `cur` to the first non-empty bucket and sorts it into `front`; false when empty.
    fn turn(&mut self) -> bool {
        if self.len == 0 {
            return false;
        }
        let next_ring = self.next_occupied();
        let next_overflow = self.overflow.peek().map(|Reverse(e)| self.bucket(e));
        let target = match (next_ring, next_overflow) {
            (Some(r), Some(o)) => r.min(o),
            (Some(r), None) => r,
            (None, Some(o)) => o,
            (None, None) => unreachable!("len > 0 but nothing queued"),
        };
        self.cur = target;
        if next_ring == Some(target) {
            let slot = (target & self.mask) as usize;
            self.occupied[slot / 64] &= !(1 << (slot % 64));
            let mut n = std::mem::replace(&mut self.heads[slot], NIL);
            while n != NIL {
                let node = self.nodes[n as usize];
                self.front.push(node.event);
                self.nodes[n as usize].next = self.free;
                self.free = n;
                n = node.next;
            }
        }
        // The window moved: overflow events now within it go to the ring (or to `front`).
        while let Some(Reverse(e)) = self.overflow.peek().copied() {
            let b = self.bucket(&e);
            if b - self.cur > self.mask {
                break;
            }
            self.overflow.pop();
            if b == self.cur {
                self.front.push(e);
            } else {
                self.link(b, e);
            }
        }
        if self.front.len() > 1 {
            self.front.sort_unstable_by(|a, b| b.cmp(a));
        }
        true
    }

    /// Puts `e` on the list of bucket `b`'s slot (`b` within the ring's window).
    #[inline]
    fn link(&mut self, b: u64, e: T) {
        let slot = (b & self.mask) as usize;
        let node = Node { event: e, next: self.heads[slot] };
        let n = if self.free != NIL {
            let n = self.free;
            self.free = self.nodes[n as usize].next;
            self.nodes[n as usize] = node;
            n
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        };
        self.heads[slot] = n;
        self.occupied[slot / 64] |= 1 << (slot % 64);
    }

    /// The absolute bucket of the first occupied ring slot after `cur`, if any.
    fn next_occupied(&self) -> Option<u64> {
        let slots = self.mask + 1;
        let start = (self.cur + 1) & self.mask;
        let words = self.occupied.len();
        let (w0, b0) = ((start / 64) as usize, start % 64);
        // The first word from bit b0, then whole words around the ring, then the first word's
        // low bits again (slots that come after the wrap).
        let first = self.occupied[w0] & (u64::MAX << b0);
        let found = if first != 0 {
            Some(w0 as u64 * 64 + u64::from(first.trailing_zeros()))
        } else {
            (1..=words).find_map(|i| {
                let w = (w0 + i) % words;
                let bits = if i == words { self.occupied[w] & !(u64::MAX << b0) } else { self.occupied[w] };
                (bits != 0).then(|| w as u64 * 64 + u64::from(bits.trailing_zeros()))
            })
        }?;
        let ahead = (found + slots - start) % slots;
        Some(self.cur + 1 + ahead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct Ev(Nanos, u64);

    impl Timed for Ev {
        fn time(&self) -> Nanos {
            self.0
        }
    }

    #[test]
    fn pops_in_time_then_sequence_order_across_ring_and_overflow() {
        // 16-ns buckets, 64 of them: 1,024 ns of ring, the rest overflows.
        let mut q = CloseQueue::new(4, 6);
        for (i, t) in [5_000u64, 17, 17, 3, 1_023, 1_024, 90_000, 17, 0].iter().enumerate() {
            q.push(Ev(*t, i as u64));
        }
        let out: Vec<Ev> = std::iter::from_fn(|| q.pop()).collect();
        let want = vec![
            Ev(0, 8),
            Ev(3, 3),
            Ev(17, 1),
            Ev(17, 2),
            Ev(17, 7),
            Ev(1_023, 4),
            Ev(1_024, 5),
            Ev(5_000, 0),
            Ev(90_000, 6),
        ];
        assert_eq!(out, want);
        assert!(q.is_empty() && q.peek().is_none());
    }

    proptest! {
        /// Against a binary heap: the same pops, in the same order, for any interleaving of
        /// pushes (never below the last pop) and pops, and any wheel shape.
        #[test]
        fn matches_a_binary_heap(
            shift in 0u32..12,
            bits in 6u32..9,
            ops in proptest::collection::vec((0u64..4, 0u64..20_000, 0u8..3), 1..600),
        ) {
            let mut q: CloseQueue<Ev> = CloseQueue::new(shift, bits);
            let mut h = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for (scale, delay, op) in ops {
                if op == 0 {
                    let a = q.pop();
                    let b = h.pop().map(|Reverse(e)| e);
                    prop_assert_eq!(a, b);
                    if let Some(e) = a { now = e.0; }
                } else {
                    seq += 1;
                    let e = Ev(now + delay * 10u64.pow(scale as u32), seq);
                    q.push(e);
                    h.push(Reverse(e));
                    prop_assert_eq!(q.peek().copied(), h.peek().map(|Reverse(e)| *e));
                }
                prop_assert_eq!(q.len(), h.len());
            }
            while let Some(Reverse(e)) = h.pop() {
                prop_assert_eq!(q.pop(), Some(e));
            }
            prop_assert!(q.pop().is_none());
        }
    }
}
