//! Exhaustion without scanning (issue 16, item 5).
//!
//! When the stack knows that no port of the request's range would pass the check (its
//! free-port counts, [`Stack::no_free_port`] and [`Stack::no_free_port_for_bind`]), a strategy
//! whose scan would examine every candidate in vain can answer at once: it reports the same
//! failure with the same candidate count, and leaves its counters and RNG exactly where the
//! full scan would have left them ([`PortSelector::select_exhausted`]). The candidate counts a
//! run reports stay the kernel's: the ports the kernel would have examined.
//!
//! A strategy whose scan draws a fixed number of 32-bit words skips them in O(1) by moving
//! ChaCha's word position ([`SkipDraws`]); one whose draws decide where the counter ends up
//! (Algorithm 5's increments) still draws each one, but looks at no port.

use super::{BindCheck, PortSelector, Request, Selection, SocketMode, StackCheck, StrategyRng};
use crate::stack::Stack;
use rand::Rng;

/// An RNG that can skip `n` calls of `next_u32` without making them.
///
/// ChaCha8 produces a stream of 32-bit words and `next_u32` takes exactly one, so skipping `n`
/// draws is moving the word position by `n` (`set_word_pos`, as the `chacha20` crate
/// documents it). Other RNGs (the recording tape, scripted tests) draw and discard, so a tape
/// still records every word a scan would have taken.
pub trait SkipDraws: Rng {
    /// Advances the RNG as `n` calls of `next_u32` would.
    fn skip_u32(&mut self, n: u64) {
        for _ in 0..n {
            self.next_u32();
        }
    }

    /// Fills `out` with what `out.len()` calls of `next_u32` would return, in order.
    fn fill_u32(&mut self, out: &mut [u32]) {
        for w in out {
            *w = self.next_u32();
        }
    }
}

/// Words [`SkipDraws::fill_u32`] takes at a time from ChaCha.
const FILL_CHUNK: usize = 256;

impl SkipDraws for StrategyRng {
    #[inline]
    fn skip_u32(&mut self, n: u64) {
        let pos = self.get_word_pos();
        self.set_word_pos(pos + u128::from(n));
    }

    /// `fill_bytes` takes whole words from the same stream, each little-endian, so a
    /// multiple of four bytes is exactly as many `next_u32` calls.
    fn fill_u32(&mut self, out: &mut [u32]) {
        let mut bytes = [0u8; 4 * FILL_CHUNK];
        for chunk in out.chunks_mut(FILL_CHUNK) {
            let bytes = &mut bytes[..4 * chunk.len()];
            self.fill_bytes(bytes);
            for (w, b) in chunk.iter_mut().zip(bytes.chunks_exact(4)) {
                *w = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }
}

/// The wrapping sum of `draws` increments `random() % n + 1` (RFC 6056 Algorithm 5's), drawn
/// from `rng` exactly as one `next_u32` per increment would draw them.
pub(crate) fn sum_increments<R: SkipDraws>(rng: &mut R, draws: u32, n: FastMod) -> u32 {
    let mut buf = [0u32; FILL_CHUNK];
    let mut sum = 0u32;
    let mut left = draws as usize;
    while left > 0 {
        let k = left.min(FILL_CHUNK);
        rng.fill_u32(&mut buf[..k]);
        for &r in &buf[..k] {
            sum = sum.wrapping_add(n.rem(r));
        }
        left -= k;
    }
    // The `+ 1` of every increment, added once.
    sum.wrapping_add(draws)
}

/// RFC 9415's one pass of Algorithm 5 over a budget of `num_ephemeral`: draws increments
/// until they sum to the budget. Returns the draws made and their wrapping sum. Words are
/// taken in chunks no longer than the draws still certain to come (each increment is at most
/// `n`, so at least `ceil(budget / n)` more), so the RNG never runs ahead of the scan.
pub(crate) fn one_pass_increments<R: SkipDraws>(rng: &mut R, num_ephemeral: u32, n: FastMod) -> (u32, u32) {
    let mut buf = [0u32; FILL_CHUNK];
    let (mut sum, mut draws) = (0u32, 0u32);
    let mut budget = i64::from(num_ephemeral);
    while budget > 0 {
        let certain = (budget as u64).div_ceil(u64::from(n.d)).min(FILL_CHUNK as u64) as usize;
        rng.fill_u32(&mut buf[..certain]);
        for &r in &buf[..certain] {
            let inc = n.rem(r) + 1;
            sum = sum.wrapping_add(inc);
            draws += 1;
            budget -= i64::from(inc);
        }
    }
    (draws, sum)
}

impl SkipDraws for super::TapeRng {}

impl SkipDraws for super::ScriptedRng {}

/// The selection the engine makes for one attempt: the strategy's exhaustion answer when the
/// stack knows that the check it would use finds no free port in `req.range`, the strategy's
/// scan otherwise (and whenever the strategy has no exact answer).
#[inline]
pub fn select_on_stack(strategy: &mut dyn PortSelector, req: &Request<'_>, stack: &Stack) -> Selection {
    if req.mode == SocketMode::BindThenConnect {
        let local_index = req.flow.local_index;
        if stack.no_free_port_for_bind(local_index, req.range)
            && let Some(sel) = strategy.select_exhausted(req)
        {
            return sel;
        }
        strategy.select_bind(req, &BindCheck { stack, local_index })
    } else {
        if stack.no_free_port(req.flow, req.range)
            && let Some(sel) = strategy.select_exhausted(req)
        {
            return sel;
        }
        strategy.select_stack(req, &StackCheck { stack, flow: req.flow, now: req.now })
    }
}

/// Precomputed `a % d` for a fixed `d` (Lemire, Kaser and Kurz, "Faster remainder by direct
/// computation", 2019): exact for every 32-bit `a` and `d >= 1`, two multiplications instead of
/// a division, which is what an increment-summing loop spends its time on.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FastMod {
    m: u64,
    d: u32,
}

impl FastMod {
    pub(crate) fn new(d: u32) -> FastMod {
        debug_assert!(d >= 1);
        FastMod { m: (u64::MAX / u64::from(d)).wrapping_add(1), d }
    }

    /// `a % d`: the high 64 bits of `d` times the low 64 bits of `m * a` (one 64-bit
    /// multiplication and one widening one).
    #[inline]
    pub(crate) fn rem(self, a: u32) -> u32 {
        let low = self.m.wrapping_mul(u64::from(a));
        ((u128::from(low) * u128::from(self.d)) >> 64) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn fast_mod_is_the_remainder() {
        for d in [1u32, 2, 3, 7, 10, 255, 500, 28232, 65535, 65536, 1 << 31, u32::MAX - 1, u32::MAX] {
            let f = FastMod::new(d);
            for a in [0u32, 1, 2, d - 1, d, d.wrapping_add(1), 12345, 1 << 31, u32::MAX - 1, u32::MAX] {
                assert_eq!(f.rem(a), a % d, "{a} % {d}");
            }
        }
        let mut rng = StrategyRng::seed_from_u64(3);
        for _ in 0..100_000 {
            let (a, d) = (rng.next_u32(), rng.next_u32() >> (rng.next_u32() % 32));
            let d = d.max(1);
            assert_eq!(FastMod::new(d).rem(a), a % d, "{a} % {d}");
        }
    }

    #[test]
    fn skipping_moves_chacha_as_the_draws_would() {
        for (before, skip) in [(0u64, 0u64), (0, 1), (3, 13), (15, 1), (16, 16), (5, 28232), (63, 65)] {
            let mut a = StrategyRng::seed_from_u64(9);
            let mut b = StrategyRng::seed_from_u64(9);
            for _ in 0..before {
                a.next_u32();
                b.next_u32();
            }
            for _ in 0..skip {
                a.next_u32();
            }
            b.skip_u32(skip);
            assert_eq!((a.next_u32(), a.next_u64()), (b.next_u32(), b.next_u64()), "{before} then {skip}");
        }
    }

    #[test]
    fn filling_takes_the_words_next_u32_would() {
        for (before, len) in [(0usize, 0usize), (0, 1), (1, 63), (15, 64), (63, 300), (7, 1000)] {
            let mut a = StrategyRng::seed_from_u64(4);
            let mut b = StrategyRng::seed_from_u64(4);
            for _ in 0..before {
                a.next_u32();
                b.next_u32();
            }
            let expected: Vec<u32> = (0..len).map(|_| a.next_u32()).collect();
            let mut got = vec![0; len];
            b.fill_u32(&mut got);
            assert_eq!(got, expected);
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn increments_sum_as_drawn_one_by_one() {
        for (n, draws) in [(1u32, 5u32), (500, 28232), (65535, 300), (7, 0)] {
            let mut a = StrategyRng::seed_from_u64(n.into());
            let mut b = StrategyRng::seed_from_u64(n.into());
            let expected = (0..draws).fold(0u32, |s, _| s.wrapping_add(a.next_u32() % n + 1));
            assert_eq!(sum_increments(&mut b, draws, FastMod::new(n)), expected);
            assert_eq!(a.next_u32(), b.next_u32());
        }
        for (n, budget) in [(1u32, 10u32), (500, 28232), (65535, 16384), (3, 1)] {
            let mut a = StrategyRng::seed_from_u64(7);
            let mut b = StrategyRng::seed_from_u64(7);
            let (mut left, mut draws, mut sum) = (i64::from(budget), 0, 0u32);
            while left > 0 {
                let inc = a.next_u32() % n + 1;
                (draws, sum, left) = (draws + 1, sum.wrapping_add(inc), left - i64::from(inc));
            }
            assert_eq!(one_pass_increments(&mut b, budget, FastMod::new(n)), (draws, sum));
            assert_eq!(a.next_u32(), b.next_u32(), "no word drawn ahead");
        }
    }

    #[test]
    fn skipping_after_a_u64_draw_lands_on_the_same_word() {
        let mut a = StrategyRng::seed_from_u64(1);
        let mut b = StrategyRng::seed_from_u64(1);
        a.next_u32();
        b.next_u32();
        a.next_u64();
        b.next_u64();
        for _ in 0..77 {
            a.next_u32();
        }
        b.skip_u32(77);
        assert_eq!(a.next_u64(), b.next_u64());
    }
}
