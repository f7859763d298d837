//! The BSD `in_pcb` allocator: FreeBSD's `in_pcb_lport_dest()` (and `in_pcb_lport()` before
//! 13.x), OpenBSD's `in_pcbpickport()` and XNU's `in_pcbbind()` share one loop, described in
//! `operating-systems.md` §3, §4 and §6:
//!
//! ```text
//! if randomized: start = first + draw(last - first)      # the three systems draw differently
//! count = last - first
//! loop: if count-- < 0: EADDRNOTAVAIL                    # so n = last - first + 1 candidates
//!       ++start; if start < first or start > last: start = first
//!       until the candidate is free
//! ```
//!
//! So the first candidate is one past the draw, and where the start is global (`ipi_lastport`:
//! FreeBSD, XNU) a sequential pick continues from the last one. FreeBSD <= 12 switches to that
//! sequential mode under load: [`RateFallback`] is its `ipport_tick()` (randomcps / randomtime).
//! Uniqueness is the stack's business (four-tuple for current FreeBSD, local for the others).

use super::keyed_hash::Rekey;
use super::{PortCheck, PortSelector, Request, Selection, StrategyRng, random32};
use crate::time::{NANOS_PER_SEC, Nanos};
use rand::Rng;
use serde::Serialize;

/// How the start of the scan is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartDraw {
    /// No draw: `++lastport` from wherever the last pick left it (FreeBSD `randomized = 0`, XNU's
    /// default `net.inet.tcp.randomize_ports = 0`).
    Sequential,
    /// FreeBSD: `first + arc4random() % (last - first)` (so `last` is never the draw, and the
    /// first candidate is never `first` unless it wraps).
    Modulo,
    /// OpenBSD: `lower + arc4random_uniform(higher - lower)`, the rejection-sampled uniform draw.
    Uniform,
    /// XNU with `randomize_ports = 1`: a 16-bit `read_frandom()` value `% (last - first)`.
    Modulo16,
}

/// OpenBSD's `arc4random_uniform(upper)`: redraw while the draw is below `2^32 mod upper`, then
/// reduce; 0 when `upper < 2`.
pub(crate) fn arc4random_uniform<R: Rng>(rng: &mut R, upper: u32) -> u32 {
    if upper < 2 {
        return 0;
    }
    let min = upper.wrapping_neg() % upper;
    loop {
        let r = random32(rng);
        if r >= min {
            return r % upper;
        }
    }
}

/// FreeBSD <= 12's `ipport_tick()`, run lazily: the callout fires once a second (at a random
/// phase, like boot time); if more than `randomcps` ports were allocated since the previous tick,
/// `stoprandom = randomtime`, otherwise `stoprandom` counts down by one. While `stoprandom > 0`
/// TCP allocation is sequential. Every allocation attempt counts (`ipport_tcpallocs++` comes
/// before the scan), failed ones too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateFallback {
    /// `net.inet.ip.portrange.randomcps`.
    pub randomcps: u32,
    /// `net.inet.ip.portrange.randomtime`.
    pub randomtime: u32,
    ticks: Rekey,
    /// The tick window the last request fell in; `None` before the first request.
    window: Option<u64>,
    tcpallocs: u64,
    lastcount: u64,
    stoprandom: u32,
}

impl RateFallback {
    /// Draws the tick phase (one `u64`) from `rng`.
    pub fn new<R: Rng>(randomcps: u32, randomtime: u32, rng: &mut R) -> RateFallback {
        RateFallback {
            randomcps,
            randomtime,
            ticks: Rekey::new(Some(NANOS_PER_SEC), rng),
            window: None,
            tcpallocs: 0,
            lastcount: 0,
            stoprandom: 0,
        }
    }

    /// Runs the ticks due by `now` (the first with the allocations since the previous one, the
    /// rest quiet), then counts this allocation. Returns whether it may be random.
    pub fn allocate(&mut self, now: Nanos) -> bool {
        let w = self.ticks.window(now);
        match self.window {
            Some(last) if w > last => {
                if self.tcpallocs <= self.lastcount + u64::from(self.randomcps) {
                    self.stoprandom = self.stoprandom.saturating_sub(1);
                } else {
                    self.stoprandom = self.randomtime;
                }
                self.lastcount = self.tcpallocs;
                let quiet = (w - last - 1).min(u64::from(u32::MAX)) as u32;
                self.stoprandom = self.stoprandom.saturating_sub(quiet);
                self.window = Some(w);
            }
            Some(_) => {}
            // Ticks before the first allocation saw nothing: stoprandom stays 0.
            None => self.window = Some(w),
        }
        self.tcpallocs += 1;
        self.stoprandom == 0
    }

    /// Seconds of sequential allocation left (the kernel's `ipport_stoprandom`).
    pub fn stoprandom(&self) -> u32 {
        self.stoprandom
    }
}

/// The allocator with its global `lastport`.
#[derive(Debug)]
pub struct PcbScan<R = StrategyRng> {
    draw: StartDraw,
    fallback: Option<RateFallback>,
    /// `ipi_lastport`: an `unsigned short`, zero at boot (so the first sequential pick is `first`).
    lastport: u16,
    rng: R,
}

impl<R: Rng + Send> PcbScan<R> {
    /// Without a rate fallback: draws nothing at construction.
    pub fn new(draw: StartDraw, rng: R) -> Self {
        PcbScan { draw, fallback: None, lastport: 0, rng }
    }

    /// FreeBSD <= 12: draws the tick phase first.
    pub fn with_fallback(draw: StartDraw, randomcps: u32, randomtime: u32, mut rng: R) -> Self {
        let fallback = RateFallback::new(randomcps, randomtime, &mut rng);
        PcbScan { draw, fallback: Some(fallback), lastport: 0, rng }
    }

    /// FreeBSD <= 12's rate fallback, when it has one.
    pub fn fallback(&self) -> Option<&RateFallback> {
        self.fallback.as_ref()
    }
}

impl<R: Rng + Send> PortSelector for PcbScan<R> {
    select_via_generic!();

    /// The rate fallback counts the attempt and the start is drawn as in the scan (OpenBSD's
    /// rejection-sampled draw included: it is made, not skipped). Then `last - first + 1`
    /// candidates: the first step puts `lastport` in the range (one past the start, or `first`),
    /// and the remaining `n - 1` steps go round the cycle of `n` ports to the port just before
    /// that first candidate.
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let (first, last) = (req.range.lo(), req.range.hi());
        self.draw_start(req);
        let mut p = self.lastport.wrapping_add(1);
        if p < first || p > last {
            p = first;
        }
        self.lastport = if p == first { last } else { p - 1 };
        Some(Selection::exhausted(u32::from(last - first) + 1))
    }
}

impl<R: Rng + Send> PcbScan<R> {
    /// Counts the allocation (FreeBSD <= 12's fallback) and, when random, draws the start.
    fn draw_start(&mut self, req: &Request<'_>) {
        let (first, last) = (req.range.lo(), req.range.hi());
        let allowed = match &mut self.fallback {
            Some(f) => f.allocate(req.now),
            None => true,
        };
        // "It makes no sense to do random port allocation if we have the only port available."
        if allowed && first != last {
            let span = u32::from(last - first);
            let d = match self.draw {
                StartDraw::Sequential => None,
                StartDraw::Modulo => Some(random32(&mut self.rng) % span),
                StartDraw::Uniform => Some(arc4random_uniform(&mut self.rng, span)),
                StartDraw::Modulo16 => Some(u32::from(random32(&mut self.rng) as u16) % span),
            };
            if let Some(d) = d {
                self.lastport = first + d as u16;
            }
        }
    }

    /// The selection, generic over the check: the engine's calls are monomorphised, so no
    /// candidate pays a dynamic call (issue 16).
    pub(crate) fn select_generic<C: PortCheck + ?Sized>(
        &mut self,
        req: &Request<'_>,
        check: &C,
    ) -> Selection {
        let (first, last) = (req.range.lo(), req.range.hi());
        self.draw_start(req);
        let mut count = i64::from(last - first);
        let mut candidates = 0;
        loop {
            if count < 0 {
                return Selection::exhausted(candidates);
            }
            count -= 1;
            self.lastport = self.lastport.wrapping_add(1);
            if self.lastport < first || self.lastport > last {
                self.lastport = first;
            }
            candidates += 1;
            if check.is_suitable(self.lastport) {
                return Selection::found(self.lastport, candidates);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::ScriptedRng;

    #[test]
    fn arc4random_uniform_rejects_below_two_to_the_32_mod_upper() {
        // upper 10: min = 2^32 mod 10 = 6; draws 3 and 5 are rejected, 27 gives 7.
        let mut rng = ScriptedRng::new([3, 5, 27]);
        assert_eq!(arc4random_uniform(&mut rng, 10), 7);
        assert_eq!(arc4random_uniform(&mut ScriptedRng::new([]), 1), 0);
    }

    #[test]
    fn rate_fallback_follows_ipport_tick() {
        // Phase 0 (draws 0, 0): ticks at every whole second.
        let s = NANOS_PER_SEC;
        let mut f = RateFallback::new(2, 3, &mut ScriptedRng::new([0, 0]));
        // Second 0: three allocations, all random (no tick yet).
        assert!(f.allocate(0) && f.allocate(s / 3) && f.allocate(s / 2));
        // Tick at 1 s: 3 > 0 + 2 -> stoprandom = 3: sequential.
        assert!(!f.allocate(s));
        assert_eq!(f.stoprandom(), 3);
        // Tick at 2 s saw 1 allocation (quiet) -> 2; the ticks at 3 s and 4 s are quiet too
        // (run lazily at 4.5 s) -> 0: random again.
        assert!(!f.allocate(2 * s));
        assert_eq!(f.stoprandom(), 2);
        assert!(f.allocate(4 * s + s / 2));
        assert_eq!(f.stoprandom(), 0);
    }
}
