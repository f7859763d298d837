//! The queue of scheduled closes (and, on the one-event path, releases): a calendar queue
//! (Brown, "Calendar queues: a fast O(1) priority queue implementation for the simulation event
//! set problem", CACM 31(10), 1988) in the shape of a one-level timer wheel, popping in exact
//! `Ord` order, which for the engine's events is (time, sequence number).
//!
//! Why not the binary heap it replaces: closes are scheduled at `now + lifetime` and come out
//! within a few lifetimes; a heap pays `log2(live)` cache-missing sift steps per push and pop
//! (22 % of the speed run's profile), where the wheel pays an insert into a short sorted list.
//!
//! Layout: time is cut into buckets of `2^shift` ns. Each of the ring's `2^bits` slots holds a
//! list of the events of one bucket, kept sorted by `Ord` as they are inserted, in one slab of
//! nodes; anything farther than the ring goes to an overflow heap and moves into the ring as
//! the wheel turns. The list of bucket `cur`, the one being served, is `front`. Invariant: every
//! event in `front` has bucket `<= cur`, every event in the ring a bucket in
//! `(cur, cur + 2^bits)`, every event in the overflow a bucket `>= cur + 2^bits`; and `front` is
//! empty only when the whole queue is (the wheel turns as soon as a pop empties it). So the
//! smallest event is always `front`'s head, and "is anything due by `t`" is one compare with
//! its cached time. Order is exact whatever the bucket width: the width only sets the speed.
//!
//! Why sorted lists and an eager turn rather than unsorted lists sorted at each turn (the
//! previous version): on the speed scenario's 20-minute copy (bsd, callgrind) that queue cost
//! 143 instructions per connection, 92 of them in the turn's copy into a vector and its sort
//! of about three events; inserting in order costs a compare or two per push, and a turn is
//! then a short slot scan and a pointer move.

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
    /// The bucket (`time >> shift`) whose events are in `front`; `u64::MAX` while the queue is
    /// empty, so that the next push, whatever its time, goes to `front` and sets it.
    cur: u64,
    /// The first node of the sorted list of bucket `cur` and earlier ([`NIL`] only when the
    /// queue is empty).
    front: u32,
    /// The time of `front`'s first event, [`Nanos::MAX`] when the queue is empty: the answer to
    /// "anything due?" without touching a node.
    front_time: Nanos,
    /// Per ring slot, the first node of its sorted list ([`NIL`] when empty; the slot of `cur`
    /// is always empty, its list being `front`). The lists live in one slab whose freed nodes
    /// are reused, so the queue's memory is proportional to what it holds and stays hot in the
    /// cache (one vector per slot scattered its events over the heap and cost more than the
    /// binary heap it replaced).
    heads: Vec<u32>,
    nodes: Vec<Node<T>>,
    free: u32,
    overflow: BinaryHeap<Reverse<T>>,
    /// The bucket of the overflow's smallest event, `u64::MAX` when it is empty: checked at
    /// every turn without a look into the heap.
    overflow_next: u64,
    /// How many events are queued: the turn's test for "none left".
    len: usize,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Node<T> {
    event: T,
    next: u32,
}

impl<T: Timed> CloseQueue<T> {
    /// A wheel of `2^bits` buckets of `2^shift` ns each (`bits` in 6..=20, `shift` in 1..=62:
    /// no bucket is then `u64::MAX`, which marks "none").
    pub fn new(shift: u32, bits: u32) -> CloseQueue<T> {
        let bits = bits.clamp(6, 20);
        let slots = 1usize << bits;
        CloseQueue {
            shift: shift.clamp(1, 62),
            mask: slots as u64 - 1,
            cur: u64::MAX,
            front: NIL,
            front_time: Nanos::MAX,
            heads: vec![NIL; slots],
            nodes: Vec::new(),
            free: NIL,
            overflow: BinaryHeap::new(),
            overflow_next: u64::MAX,
            len: 0,
        }
    }

    /// A wheel sized for events spaced about `spacing` ns apart that stay queued about `hold`
    /// ns: buckets of two to four spacings (a few events per sorted list), a ring spanning
    /// about eight holds. Measured on the speed scenario's 20-minute copy (bsd, callgrind, one
    /// build read both from the environment): a ring of four holds sent 1.3 % of the closes
    /// (Exp(2 s) lifetimes past 8 s) through the overflow heap and cost 1.0 M instructions more
    /// (442.3 M against 441.2 M; sixteen holds gave no more); buckets half or twice as wide
    /// cost 0.6 M and 2.0 M more (shorter lists but twice the turns, or the reverse).
    pub fn sized_for(spacing: Nanos, hold: Nanos) -> CloseQueue<T> {
        let shift = 63 - spacing.max(1).leading_zeros() + 2;
        let span = (hold.saturating_mul(8) >> shift).max(1);
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
        let b = self.bucket(&e);
        self.len += 1;
        if b <= self.cur {
            if self.front == NIL {
                // The queue was empty (`cur` was `u64::MAX`): the wheel jumps to the event. A
                // later push may still be below it (at or after the last pop): it goes to
                // `front` too, in order.
                self.cur = b;
            }
            self.front = self.insert(self.front, e);
            self.front_time = self.front_time.min(e.time());
        } else if b - self.cur <= self.mask {
            let slot = (b & self.mask) as usize;
            self.heads[slot] = self.insert(self.heads[slot], e);
        } else {
            self.overflow_next = self.overflow_next.min(b);
            self.overflow.push(Reverse(e));
        }
    }

    /// The smallest event.
    #[inline]
    pub fn peek(&self) -> Option<&T> {
        self.nodes.get(self.front as usize).map(|n| &n.event)
    }

    /// Unlinks the smallest event, turning the wheel if that empties `front`.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let n = self.front;
        let node = *self.nodes.get(n as usize)?;
        self.nodes[n as usize].next = self.free;
        self.free = n;
        self.len -= 1;
        self.front = node.next;
        match self.nodes.get(node.next as usize) {
            Some(next) => self.front_time = next.event.time(),
            None => self.turn(),
        }
        Some(node.event)
    }

    /// The smallest event if it is at or before `t`. Most calls on the speed path answer
    /// "nothing due", from `front_time` alone.
    #[inline]
    pub fn pop_at_or_before(&mut self, t: Nanos) -> Option<T> {
        if self.front_time > t {
            return None;
        }
        self.pop()
    }

    /// `front` is empty: moves `cur` to the first non-empty bucket (ring or overflow) and makes
    /// its list `front`, or marks the queue empty.
    ///
    /// The ring is scanned slot by slot, without a bitmap of the occupied ones: the scan never
    /// looks past the bucket the wheel then moves to (the first occupied slot, or the overflow's
    /// first bucket when the ring is empty up to it), so over a run it checks at most one slot
    /// per bucket of simulated time (two to four arrival spacings with `sized_for`), and near
    /// `cur`, where the pending closes are densest, almost every slot is occupied. A bitmap (a
    /// bit set per push, a clear and a word scan per turn) cost more: bsd on the speed
    /// scenario's 20-minute copy ran 448.8 M instructions with it, 444.0 M without.
    fn turn(&mut self) {
        if self.len == 0 {
            self.cur = u64::MAX;
            self.front_time = Nanos::MAX;
            return;
        }
        // Ring events are in (cur, cur + mask]. A ring slot at the overflow's first bucket is
        // found first, and the refill below merges the overflow's events of that bucket into it.
        let last = self.cur + (self.overflow_next - self.cur).min(self.mask);
        let mut target = self.overflow_next;
        let mut b = self.cur + 1;
        while b <= last {
            if self.heads[(b & self.mask) as usize] != NIL {
                target = b;
                break;
            }
            b += 1;
        }
        self.cur = target;
        // The target's slot is empty when the target is the overflow's (the ring had nothing
        // before it).
        self.front = std::mem::replace(&mut self.heads[(target & self.mask) as usize], NIL);
        // The window moved: overflow events now within it go to the ring (or to `front`).
        if self.overflow_next - self.cur <= self.mask {
            self.refill();
        }
        self.front_time = self.nodes[self.front as usize].event.time();
    }

    /// Moves the overflow's events within the ring's window (`cur` having moved) into it.
    #[cold]
    fn refill(&mut self) {
        while let Some(&Reverse(e)) = self.overflow.peek() {
            let b = self.bucket(&e);
            if b - self.cur > self.mask {
                self.overflow_next = b;
                return;
            }
            self.overflow.pop();
            if b == self.cur {
                self.front = self.insert(self.front, e);
            } else {
                let slot = (b & self.mask) as usize;
                self.heads[slot] = self.insert(self.heads[slot], e);
            }
        }
        self.overflow_next = u64::MAX;
    }

    /// Inserts `e` into the sorted list starting at `head`, after any equal event (first in,
    /// first out among equals), and returns the list's new head. Times decide first (one
    /// compare for almost every step; the full `Ord` only on a tie), and `nodes.get(NIL)` is
    /// `None`, so the end of the list and the bounds check are one test.
    #[inline(always)]
    fn insert(&mut self, head: u32, e: T) -> u32 {
        let t = e.time();
        let (mut prev, mut at) = (NIL, head);
        while let Some(node) = self.nodes.get(at as usize) {
            let nt = node.event.time();
            if t < nt || (t == nt && e < node.event) {
                break;
            }
            prev = at;
            at = node.next;
        }
        let node = Node { event: e, next: at };
        let n = match self.nodes.get_mut(self.free as usize) {
            Some(slot) => {
                let n = self.free;
                self.free = slot.next;
                *slot = node;
                n
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        match self.nodes.get_mut(prev as usize) {
            Some(p) => {
                p.next = n;
                head
            }
            None => n,
        }
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

    /// Pops everything due by `t` (what the engine's drain does before an arrival).
    fn due(q: &mut CloseQueue<Ev>, t: Nanos) -> Vec<Ev> {
        std::iter::from_fn(|| q.pop_at_or_before(t)).collect()
    }

    #[test]
    fn equal_times_pop_by_sequence_whatever_the_push_order() {
        let mut q = CloseQueue::new(4, 6);
        for seq in [5, 1, 4, 2, 3, 0] {
            q.push(Ev(40, seq));
            q.push(Ev(2_000, seq)); // the same, in the overflow
        }
        let out: Vec<Ev> = std::iter::from_fn(|| q.pop()).collect();
        let want: Vec<Ev> = (0..6).map(|s| Ev(40, s)).chain((0..6).map(|s| Ev(2_000, s))).collect();
        assert_eq!(out, want);
    }

    #[test]
    fn pop_at_or_before_stops_at_the_first_later_event() {
        let mut q = CloseQueue::new(4, 6);
        for (i, t) in [30u64, 10, 20, 20, 5_000].iter().enumerate() {
            q.push(Ev(*t, i as u64));
        }
        assert_eq!(due(&mut q, 9), vec![]);
        assert_eq!(due(&mut q, 20), vec![Ev(10, 1), Ev(20, 2), Ev(20, 3)]);
        assert_eq!(due(&mut q, 4_999), vec![Ev(30, 0)]);
        assert_eq!(q.peek(), Some(&Ev(5_000, 4)));
        assert_eq!(due(&mut q, Nanos::MAX), vec![Ev(5_000, 4)]);
        assert!(q.is_empty() && q.peek().is_none() && q.pop_at_or_before(Nanos::MAX).is_none());
    }

    #[test]
    fn a_push_behind_the_turned_wheel_still_pops_first() {
        // 16-ns buckets. Popping bucket 0's only event turns the wheel to bucket 10 (time 160);
        // a push at 48 (bucket 3, after the last pop) lands in `front`, ahead of it.
        let mut q = CloseQueue::new(4, 6);
        q.push(Ev(1, 0));
        q.push(Ev(170, 1));
        q.push(Ev(160, 2));
        assert_eq!(q.pop(), Some(Ev(1, 0)));
        q.push(Ev(48, 3));
        q.push(Ev(165, 4));
        let out: Vec<Ev> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, vec![Ev(48, 3), Ev(160, 2), Ev(165, 4), Ev(170, 1)]);
    }

    #[test]
    fn far_future_events_cross_many_windows_in_order() {
        // 1,024 ns of ring; events up to a thousand windows ahead, the ring empty in between
        // (the wheel jumps to the overflow), an empty queue jumping ahead and pushes behind it.
        let mut q = CloseQueue::new(4, 6);
        let times = [1_000_000u64, 3, 1_000_001, 500_000, 1_030, 1_000_000 + 1_023, 1_000_000 + 1_024];
        for (i, t) in times.iter().enumerate() {
            q.push(Ev(*t, i as u64));
        }
        assert_eq!(due(&mut q, 1_030), vec![Ev(3, 1), Ev(1_030, 4)]);
        assert_eq!(q.pop(), Some(Ev(500_000, 3)));
        q.push(Ev(500_001, 7));
        assert_eq!(due(&mut q, 999_999), vec![Ev(500_001, 7)]);
        let rest: Vec<Ev> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(rest, vec![Ev(1_000_000, 0), Ev(1_000_001, 2), Ev(1_001_023, 5), Ev(1_001_024, 6)]);
        assert!(q.is_empty());
        // Empty: the wheel jumps to a far push, and one nearer (still after the last pop) goes
        // ahead of it.
        q.push(Ev(90_000_000, 8));
        q.push(Ev(2_000_000, 9));
        q.push(Ev(90_000_000 - 16, 10));
        let out: Vec<Ev> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(out, vec![Ev(2_000_000, 9), Ev(89_999_984, 10), Ev(90_000_000, 8)]);
    }

    #[test]
    fn an_event_at_the_end_of_time_is_due_only_then() {
        // A saturated `now + lifetime`: its time equals the "nothing queued" mark of
        // `front_time`, and its bucket is the largest there is.
        // Pushed first (into `front`) or second (into the overflow, the ring empty up to it).
        for first in [true, false] {
            let mut q = CloseQueue::new(1, 6);
            if first {
                q.push(Ev(Nanos::MAX, 0));
            }
            q.push(Ev(7, 1));
            if !first {
                q.push(Ev(Nanos::MAX, 0));
            }
            assert_eq!(due(&mut q, Nanos::MAX - 1), vec![Ev(7, 1)]);
            assert_eq!(q.peek(), Some(&Ev(Nanos::MAX, 0)));
            assert_eq!(due(&mut q, Nanos::MAX - 1), vec![]);
            q.push(Ev(Nanos::MAX - 1, 2));
            assert_eq!(due(&mut q, Nanos::MAX), vec![Ev(Nanos::MAX - 1, 2), Ev(Nanos::MAX, 0)]);
            assert!(q.is_empty() && q.pop().is_none());
        }
    }

    proptest! {
        /// Against a binary heap: the same pops, in the same order, for any interleaving of
        /// pushes (never below the last pop; near, clustered on a few times, or far beyond the
        /// ring), pops and drains up to a time, and any wheel shape.
        #[test]
        fn matches_a_binary_heap(
            shift in 0u32..12,
            bits in 6u32..9,
            ops in proptest::collection::vec((0u64..6, 0u64..20_000, 0u8..5), 1..600),
        ) {
            let mut q: CloseQueue<Ev> = CloseQueue::new(shift, bits);
            let mut h = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            for (scale, delay, op) in ops {
                match op {
                    0 => {
                        let a = q.pop();
                        let b = h.pop().map(|Reverse(e)| e);
                        prop_assert_eq!(a, b);
                        if let Some(e) = a { now = e.0; }
                    }
                    1 => {
                        let t = now + delay * 10u64.pow(scale as u32);
                        let a = due(&mut q, t);
                        let mut b = Vec::new();
                        while h.peek().is_some_and(|Reverse(e): &Reverse<Ev>| e.0 <= t) {
                            b.push(h.pop().unwrap().0);
                        }
                        prop_assert_eq!(&a, &b);
                        if let Some(e) = a.last() { now = e.0; }
                    }
                    _ => {
                        seq += 1;
                        // Scale 5: a few times shared by many events.
                        let delay = if scale == 5 { delay % 4 * 100 } else { delay * 10u64.pow(scale as u32) };
                        let e = Ev(now + delay, seq);
                        q.push(e);
                        h.push(Reverse(e));
                    }
                }
                prop_assert_eq!(q.peek().copied(), h.peek().map(|Reverse(e)| *e));
                prop_assert_eq!(q.is_empty(), h.is_empty());
            }
            while let Some(Reverse(e)) = h.pop() {
                prop_assert_eq!(q.pop(), Some(e));
            }
            prop_assert!(q.pop().is_none());
        }
    }
}
