//! Turns a scenario's workload into a stream of connection attempts. Every draw comes from one
//! RNG seeded by the run seed alone and is made in the same order whatever happens to the
//! connections, so every strategy of a scenario faces the same arrivals, destinations,
//! lifetimes and closers (common random numbers).

use crate::scenario::{
    ActiveClose, AddrChoice, Arrivals, DestGroup, Lifetime, Popularity, Scenario, SocketSpec,
};
use crate::stack::Closer;
use crate::time::{Nanos, from_secs_f64};
use rand::distr::Bernoulli;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, LogNormal, Pareto, Zipf};
use std::hash::Hasher;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// One connection attempt, fully drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival {
    pub time: Nanos,
    pub dest: u32,
    /// The local address index from the workload's choice (round-robin or random); with
    /// `fallback` it is 0 and the simulator moves on when an address is exhausted.
    pub local: u16,
    pub lifetime: Nanos,
    pub closer: Closer,
}

/// The workload's RNG for a run seeded with `seed`.
pub fn workload_rng(seed: u64) -> rand::rngs::ChaCha8Rng {
    let mut h = siphasher::sip::SipHasher24::new_with_keys(0x706f_7274_7369_6d00, seed);
    h.write(b"workload");
    rand::rngs::ChaCha8Rng::seed_from_u64(h.finish())
}

/// Waits spanning more on-off periods than this jump over them (see `Timing::OnOff`).
const JUMP_AFTER_PERIODS: f64 = 1000.0;

enum Timing {
    /// Exponential gaps of mean `1 / rate`: rand_distr's `Exp::new(rate)` stores that inverse
    /// and `Exp::sample` multiplies an `Exp1` draw by it; doing the same here keeps every gap
    /// bit for bit while the draw inlines (through `Rng::sample` it was a call, 59 instructions
    /// per connection with its prologue in callgrind's count).
    Poisson {
        mean_s: f64,
    },
    Constant {
        interval_s: f64,
        k: u64,
    },
    /// `phase` counts half-periods (even: on, odd: off); `phase_end` is when this one ends.
    OnOff {
        rate: f64,
        on_s: f64,
        off_s: f64,
        off_rate: f64,
        phase: u64,
        phase_end: f64,
        /// Waits spanning more whole periods than this jump over them at once.
        jump_after: f64,
    },
    Ramp {
        from: f64,
        slope: f64,
    },
    Trace {
        rows: Arc<crate::scenario::Trace>,
        next: usize,
    },
}

enum LifetimeDraw {
    Constant(Nanos),
    Exponential(f64),
    Lognormal(LogNormal<f64>),
    Pareto(Pareto<f64>),
    Uniform(Nanos, Nanos),
}

enum Within {
    One,
    Uniform(u32),
    Zipf(Zipf<f64>),
}

struct Group {
    first: u32,
    within: Within,
}

/// How an attempt's destination is drawn: a scenario with a single destination draws nothing.
enum DestDraw {
    Fixed(u32),
    Groups,
}

/// Who closes first: a fixed side draws nothing; a probability draws one Bernoulli, built once
/// (`random_bool(p)` built the same distribution for every draw: the same words, the same
/// outcomes).
enum CloserDraw {
    Always(Closer),
    Probability(Bernoulli),
}

/// The local address index: with one address, or `fallback` (the simulator moves on when an
/// address is exhausted), it is 0.
enum LocalDraw {
    First,
    Random(u16),
    /// In turn (`round-robin`, and `route` for the sockets that bind an address themselves).
    RoundRobin(u16),
}

/// The destinations by index: where each connection goes and how its sockets ask for ports.
#[derive(Clone, Debug)]
pub struct DestinationTable {
    pub addrs: Vec<u32>,
    pub ports: Vec<u16>,
    /// Index into `sockets` per destination.
    pub socket: Vec<u8>,
    pub sockets: Vec<SocketSpec>,
}

impl DestinationTable {
    pub fn of(s: &Scenario) -> DestinationTable {
        let mut t = DestinationTable {
            addrs: Vec::new(),
            ports: Vec::new(),
            socket: Vec::new(),
            sockets: vec![s.socket],
        };
        match &s.arrivals {
            Arrivals::Trace { trace, .. } => trace.destinations.iter().for_each(|&d| t.push(d, 0)),
            _ => {
                for g in &s.destinations {
                    let spec = g.socket().unwrap_or(s.socket);
                    let k = match t.sockets.iter().position(|x| *x == spec) {
                        Some(k) => k,
                        None => {
                            t.sockets.push(spec);
                            t.sockets.len() - 1
                        }
                    };
                    (0..g.len()).for_each(|i| t.push(g.get(i), k.min(255) as u8));
                }
            }
        }
        t
    }

    fn push(&mut self, (a, p): (Ipv4Addr, u16), socket: u8) {
        self.addrs.push(u32::from(a));
        self.ports.push(p);
        self.socket.push(socket);
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

/// A drawn lifetime in seconds, capped at 1e9 s (31 years, beyond any run): `secs.min(1e9)`
/// for every input, NaN included (both give 1e9), but one `minsd` where `f64::min`'s NaN
/// handling costs four instructions more per connection.
#[inline(always)]
fn cap_lifetime(secs: f64) -> f64 {
    if secs < 1e9 { secs } else { 1e9 }
}

/// Draws arrivals until the end of the run.
pub struct Workload {
    rng: rand::rngs::ChaCha8Rng,
    timing: Timing,
    /// Arrival-process clock, in seconds (the process is continuous; times are rounded to ns).
    clock_s: f64,
    end: Nanos,
    lifetime: Option<LifetimeDraw>,
    dest: DestDraw,
    groups: Vec<Group>,
    cumulative: Vec<f64>,
    closer: CloserDraw,
    local: LocalDraw,
    round_robin: u16,
}

impl Workload {
    pub fn new(s: &Scenario, seed: u64) -> Workload {
        let timing = match &s.arrivals {
            Arrivals::Poisson { rate } => Timing::Poisson { mean_s: 1.0 / *rate },
            Arrivals::Constant { rate } => Timing::Constant { interval_s: 1.0 / rate, k: 0 },
            Arrivals::OnOff { rate, on, off, off_rate } => Timing::OnOff {
                rate: *rate,
                on_s: crate::time::secs(*on),
                off_s: crate::time::secs(*off),
                off_rate: *off_rate,
                phase: 0,
                phase_end: crate::time::secs(*on),
                jump_after: JUMP_AFTER_PERIODS,
            },
            Arrivals::Ramp { from, to } => {
                Timing::Ramp { from: *from, slope: (to - from) / crate::time::secs(s.duration) }
            }
            Arrivals::Trace { trace, .. } => Timing::Trace { rows: trace.clone(), next: 0 },
        };
        let lifetime = s.lifetime.map(|l| match l {
            Lifetime::Constant { value } => LifetimeDraw::Constant(value),
            Lifetime::Exponential { mean } => LifetimeDraw::Exponential(crate::time::secs(mean)),
            Lifetime::Lognormal { median, sigma } => LifetimeDraw::Lognormal(
                LogNormal::new(crate::time::secs(median).ln(), sigma).expect("validated lognormal"),
            ),
            Lifetime::Pareto { scale, shape } => {
                LifetimeDraw::Pareto(Pareto::new(crate::time::secs(scale), shape).expect("validated pareto"))
            }
            Lifetime::Uniform { min, max } => LifetimeDraw::Uniform(min, max),
        });
        let mut groups = Vec::new();
        let mut cumulative = Vec::new();
        let mut first = 0u32;
        let mut total = 0.0;
        for g in &s.destinations {
            let within = match *g {
                DestGroup::One { .. } => Within::One,
                DestGroup::Generated { count, popularity: Popularity::Uniform, .. } => Within::Uniform(count),
                DestGroup::Generated { count, popularity: Popularity::Zipf(e), .. } => {
                    Within::Zipf(Zipf::new(f64::from(count), e).expect("validated zipf"))
                }
            };
            groups.push(Group { first, within });
            total += g.weight();
            cumulative.push(total);
            first += g.len();
        }
        let dest = match groups.as_slice() {
            [Group { first, within: Within::One }] => DestDraw::Fixed(*first),
            _ => DestDraw::Groups,
        };
        let client_prob = match s.tcp.active_close {
            ActiveClose::Client => 1.0,
            ActiveClose::Server => 0.0,
            ActiveClose::ClientProbability(p) => p,
        };
        let closer = if client_prob >= 1.0 {
            CloserDraw::Always(Closer::Client)
        } else if client_prob <= 0.0 {
            CloserDraw::Always(Closer::Server)
        } else {
            CloserDraw::Probability(Bernoulli::new(client_prob).expect("validated active_close"))
        };
        let addrs = s.addrs.len() as u16;
        let local = match s.addr_choice {
            AddrChoice::Fallback => LocalDraw::First,
            _ if addrs <= 1 => LocalDraw::First,
            AddrChoice::Random => LocalDraw::Random(addrs),
            // Route: the simulator gives connect() sockets their route's address; the sockets
            // that bind an address themselves take them in turn.
            AddrChoice::RoundRobin | AddrChoice::Route => LocalDraw::RoundRobin(addrs),
        };
        Workload {
            rng: workload_rng(seed),
            timing,
            clock_s: 0.0,
            end: s.duration,
            lifetime,
            dest,
            groups,
            cumulative,
            closer,
            local,
            round_robin: 0,
        }
    }

    /// The next attempt, or `None` once the run's duration is reached.
    ///
    /// Why it is shaped so: this runs once per connection, and callgrind on the speed scenario
    /// (bsd, 20 min, 359,870 connections) counted 255 instructions per call in it. The common
    /// case (Poisson arrivals, exponential lifetimes, one destination, a fixed closer, one
    /// address) is inlined into the loop, with no draw or branch where the scenario leaves no
    /// choice; the other processes and distributions are out of line, each making the draws it
    /// always made, in the same order: time, destination, lifetime, closer, local address. With
    /// `from_secs_f64` without libm, the run took 102 instructions fewer per connection
    /// (576.8 M to 540.1 M in all); what is left is mostly the two draws themselves (ChaCha8's
    /// block, `BlockRng`'s word reads, the ziggurat) and the two conversions to nanoseconds.
    #[inline(always)]
    pub fn next_arrival(&mut self) -> Option<Arrival> {
        let time = match &self.timing {
            Timing::Poisson { mean_s } => {
                let e: f64 = Exp1.sample(&mut self.rng);
                self.clock_s += e * *mean_s;
                from_secs_f64(self.clock_s)
            }
            Timing::Trace { .. } => return self.next_trace_arrival(),
            _ => from_secs_f64(self.next_time_s()?),
        };
        if time >= self.end {
            return None;
        }
        let dest = match self.dest {
            DestDraw::Fixed(d) => d,
            DestDraw::Groups => self.draw_dest(),
        };
        let lifetime = self.draw_lifetime();
        Some(self.finish(time, dest, lifetime))
    }

    /// A trace row's attempt: its own time and destination, its lifetime or a drawn one.
    #[inline(never)]
    fn next_trace_arrival(&mut self) -> Option<Arrival> {
        let Timing::Trace { rows, next } = &mut self.timing else { unreachable!("a trace workload") };
        let (start, dest, lifetime) = rows.rows.get(*next).map(|r| (r.start, r.dest, r.lifetime))?;
        *next += 1;
        if start >= self.end {
            return None;
        }
        let lifetime = match lifetime {
            Some(l) => l,
            None => self.draw_lifetime(),
        };
        Some(self.finish(start, dest, lifetime))
    }

    /// The closer and the local address, drawn after the time, destination and lifetime.
    #[inline(always)]
    fn finish(&mut self, time: Nanos, dest: u32, lifetime: Nanos) -> Arrival {
        let closer = match &self.closer {
            CloserDraw::Always(c) => *c,
            CloserDraw::Probability(b) => {
                if b.sample(&mut self.rng) {
                    Closer::Client
                } else {
                    Closer::Server
                }
            }
        };
        let local = match self.local {
            LocalDraw::First => 0,
            LocalDraw::Random(n) => self.rng.random_range(0..n),
            LocalDraw::RoundRobin(n) => {
                let l = self.round_robin;
                self.round_robin = (l + 1) % n;
                l
            }
        };
        Arrival { time, dest, local, lifetime, closer }
    }

    /// The next arrival time in seconds for the processes other than Poisson and a trace.
    #[inline(never)]
    fn next_time_s(&mut self) -> Option<f64> {
        let t = match &mut self.timing {
            Timing::Poisson { .. } | Timing::Trace { .. } => unreachable!("next_arrival draws these"),
            Timing::Constant { interval_s, k } => {
                let t = *k as f64 * *interval_s;
                *k += 1;
                t
            }
            Timing::OnOff { rate, on_s, off_s, off_rate, phase, phase_end, jump_after } => {
                // A Poisson process with a piecewise-constant rate: spend an Exp(1) budget of
                // cumulative intensity across the on and off phases.
                let end_s = crate::time::secs(self.end);
                let mut budget: f64 = Exp1.sample(&mut self.rng);
                loop {
                    let r = if *phase % 2 == 0 { *rate } else { *off_rate };
                    if r > 0.0 && self.clock_s + budget / r <= *phase_end {
                        self.clock_s += budget / r;
                        break;
                    }
                    budget -= (*phase_end - self.clock_s) * r;
                    self.clock_s = *phase_end;
                    *phase += 1;
                    *phase_end += if *phase % 2 == 0 { *on_s } else { *off_s };
                    if self.clock_s >= end_s {
                        return None;
                    }
                    // A wait over many whole periods (on = off = 1 ns: 1.8e12 phases in an
                    // hour) jumps over them: each period spends the same intensity, so k of
                    // them spend k times it. All but the last are jumped, parity kept; the
                    // rest is stepped as before, so a wait of fewer periods is unchanged.
                    let per = *rate * *on_s + *off_rate * *off_s;
                    let periods = budget / per;
                    if per > 0.0 && periods > *jump_after {
                        let k =
                            (periods.floor() - 1.0).min(((end_s - self.clock_s) / (*on_s + *off_s)).ceil());
                        budget -= k * per;
                        self.clock_s += k * (*on_s + *off_s);
                        *phase_end += k * (*on_s + *off_s);
                        *phase += 2 * k as u64;
                        if self.clock_s >= end_s {
                            return None;
                        }
                    }
                }
                self.clock_s
            }
            Timing::Ramp { from, slope } => {
                // Cumulative intensity L(t) = from*t + slope*t^2/2; solve L(t') = L(t) + E.
                let (b, a): (f64, f64) = (*from, *slope / 2.0);
                let e: f64 = Exp1.sample(&mut self.rng);
                let target = b * self.clock_s + a * self.clock_s * self.clock_s + e;
                let disc = b * b + 4.0 * a * target;
                let denom = b + disc.max(0.0).sqrt();
                if disc < 0.0 || denom <= 0.0 {
                    return None;
                }
                self.clock_s = 2.0 * target / denom;
                self.clock_s
            }
        };
        Some(t)
    }

    fn draw_dest(&mut self) -> u32 {
        let g = if self.groups.len() == 1 {
            0
        } else {
            let total = *self.cumulative.last().expect("destinations");
            let x = self.rng.random::<f64>() * total;
            self.cumulative.partition_point(|&c| c <= x).min(self.groups.len() - 1)
        };
        let group = &self.groups[g];
        let within = match &group.within {
            Within::One => 0,
            Within::Uniform(count) => self.rng.random_range(0..*count),
            Within::Zipf(z) => (z.sample(&mut self.rng) as u32).saturating_sub(1),
        };
        group.first + within
    }

    #[inline(always)]
    fn draw_lifetime(&mut self) -> Nanos {
        match self.lifetime {
            Some(LifetimeDraw::Exponential(mean)) => {
                let e: f64 = Exp1.sample(&mut self.rng);
                from_secs_f64(cap_lifetime(e * mean))
            }
            _ => self.draw_other_lifetime(),
        }
    }

    #[inline(never)]
    fn draw_other_lifetime(&mut self) -> Nanos {
        let secs = match self.lifetime.as_ref().expect("validated: lifetime or trace lifetimes") {
            LifetimeDraw::Constant(v) => return *v,
            LifetimeDraw::Uniform(lo, hi) => return self.rng.random_range(*lo..=*hi),
            LifetimeDraw::Exponential(mean) => {
                let e: f64 = Exp1.sample(&mut self.rng);
                e * mean
            }
            LifetimeDraw::Lognormal(d) => d.sample(&mut self.rng),
            LifetimeDraw::Pareto(d) => d.sample(&mut self.rng),
        };
        from_secs_f64(cap_lifetime(secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::NANOS_PER_SEC as S;

    fn workload(arrivals: &str, lifetime: &str, extra: &str) -> (Scenario, Workload) {
        let text = format!(
            "name = \"w\"\nseed = 3\nduration = \"1000s\"\n{extra}\n[[destinations]]\naddr = \"192.0.2.1:1\"\n\
             [[destinations]]\ncount = 100\nprefix = \"198.51.100.0/24\"\nport = 2\nweight = 3.0\n\
             popularity = {{ zipf = 1.2 }}\n[workload]\narrivals = {arrivals}\nlifetime = {lifetime}\n\
             [[strategies]]\nname = \"bsd\"\n"
        );
        let s = crate::scenario::parse(&text, "t", std::path::Path::new(".")).unwrap();
        let w = Workload::new(&s, s.seed);
        (s, w)
    }

    fn drain(w: &mut Workload) -> Vec<Arrival> {
        std::iter::from_fn(|| w.next_arrival()).collect()
    }

    /// The same workload with the on-off jump turned off: every phase stepped.
    fn stepping(mut w: Workload) -> Workload {
        if let Timing::OnOff { jump_after, .. } = &mut w.timing {
            *jump_after = f64::INFINITY;
        }
        w
    }

    #[test]
    fn on_off_jumps_give_the_stepped_arrivals() {
        // Ordinary on/off values never wait 1000 periods: the same arrivals, bit for bit.
        for arrivals in [
            "{ process = \"on-off\", rate = 50.0, on = \"2s\", off = \"3s\" }",
            "{ process = \"on-off\", rate = 0.5, on = \"100ms\", off = \"100ms\", off_rate = 0.1 }",
        ] {
            let (s, mut jumping) = workload(arrivals, "{ dist = \"constant\", value = \"1s\" }", "");
            let mut stepped = stepping(Workload::new(&s, s.seed));
            let (a, b) = (drain(&mut jumping), drain(&mut stepped));
            assert!(a.len() > 10, "{arrivals}: {}", a.len());
            assert_eq!(a, b, "{arrivals}");
        }
        // Waits over some 20,000 periods of 10 us: the jump lands within float rounding of the
        // stepped clock (itself a sum of millions of additions), the same draws giving the same
        // attempts a microsecond apart at most, but for the rare one on a phase boundary.
        let (s, mut jumping) = workload(
            "{ process = \"on-off\", rate = 5.0, on = \"10us\", off = \"10us\" }",
            "{ dist = \"constant\", value = \"1s\" }",
            "",
        );
        let mut stepped = stepping(Workload::new(&s, s.seed));
        let (a, b) = (drain(&mut jumping), drain(&mut stepped));
        assert_eq!(a.len(), b.len());
        assert!(a.len() > 100, "{}", a.len());
        // An arrival within rounding of a phase boundary may fall in the next on phase on one
        // side: one period (20 us) at most. The stepped clock, a sum of some 4e7 additions,
        // drifts by its own rounding, so a few percent do (69 of 2433 here).
        let mut moved = 0;
        for (x, y) in a.iter().zip(&b) {
            let d = x.time.abs_diff(y.time);
            assert!(d <= 20_000, "{} vs {}", x.time, y.time);
            moved += usize::from(d > 1000);
            assert_eq!((x.dest, x.lifetime), (y.dest, y.lifetime));
        }
        assert!(moved * 10 < a.len(), "{moved} of {} moved by a phase", a.len());
    }

    #[test]
    fn one_nanosecond_phases_finish_at_once() {
        // 1000 s of 1 ns phases: 1e12 of them, stepped one by one they took hours.
        let started = std::time::Instant::now();
        let (_, mut w) = workload(
            "{ process = \"on-off\", rate = 100.0, on = \"1ns\", off = \"1ns\" }",
            "{ dist = \"constant\", value = \"1s\" }",
            "",
        );
        let n = drain(&mut w).len() as f64;
        // Half the time on at 100/s: 50,000 expected, Poisson.
        assert!((n - 50_000.0).abs() < 5.0 * 50_000f64.sqrt(), "{n}");
        assert!(started.elapsed().as_secs() < 20);
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_and_stop_at_the_end() {
        let (_, mut w) =
            workload("{ process = \"constant\", rate = 4.0 }", "{ dist = \"constant\", value = \"1s\" }", "");
        let a = drain(&mut w);
        assert_eq!(a.len(), 4000);
        assert!(a.windows(2).all(|p| p[1].time - p[0].time == S / 4));
        assert!(a.iter().all(|x| x.lifetime == S && x.closer == Closer::Client));
    }

    #[test]
    fn poisson_rate_and_destination_weights() {
        let (_, mut w) = workload(
            "{ process = \"poisson\", rate = 50.0 }",
            "{ dist = \"exponential\", mean = \"2s\" }",
            "",
        );
        let a = drain(&mut w);
        // 50,000 expected; Poisson sd 224: within 1 % is 2.2 sd.
        assert!((a.len() as f64 - 50_000.0).abs() < 500.0, "{}", a.len());
        // Group weights 1 : 3, so a quarter go to the single destination (index 0); binomial sd
        // 0.2 %, tolerance 1 %.
        let first = a.iter().filter(|x| x.dest == 0).count() as f64 / a.len() as f64;
        assert!((first - 0.25).abs() < 0.01, "{first}");
        // Zipf 1.2 within the group: rank 1 (index 1) beats rank 2 by 2^1.2 = 2.3.
        let r1 = a.iter().filter(|x| x.dest == 1).count() as f64;
        let r2 = a.iter().filter(|x| x.dest == 2).count() as f64;
        assert!((r1 / r2 - 2f64.powf(1.2)).abs() < 0.2, "{}", r1 / r2);
        assert!(a.iter().all(|x| x.dest < 101));
        let mean = a.iter().map(|x| x.lifetime as f64).sum::<f64>() / a.len() as f64 / S as f64;
        assert!((mean - 2.0).abs() < 0.05, "{mean}");
    }

    #[test]
    fn on_off_arrives_only_when_on() {
        let (_, mut w) = workload(
            "{ process = \"on-off\", rate = 100.0, on = \"10s\", off = \"40s\" }",
            "{ dist = \"constant\", value = \"1s\" }",
            "",
        );
        let a = drain(&mut w);
        assert!(a.iter().all(|x| x.time % (50 * S) < 10 * S));
        // 20 on-periods of 10 s at 100/s: 20,000 expected, sd 141.
        assert!((a.len() as f64 - 20_000.0).abs() < 600.0, "{}", a.len());
    }

    #[test]
    fn ramp_rate_rises_linearly() {
        let (_, mut w) = workload(
            "{ process = \"ramp\", from = 0.0, to = 100.0 }",
            "{ dist = \"constant\", value = \"1s\" }",
            "",
        );
        let a = drain(&mut w);
        // Intensity t/10 per second over 1000 s: 50,000 in all, a quarter in the first half.
        assert!((a.len() as f64 - 50_000.0).abs() < 700.0, "{}", a.len());
        let first_half = a.iter().filter(|x| x.time < 500 * S).count() as f64;
        assert!((first_half / a.len() as f64 - 0.25).abs() < 0.01);
    }

    #[test]
    fn closers_addresses_and_lifetime_distributions() {
        let (_, mut w) = workload(
            "{ process = \"constant\", rate = 20.0 }",
            "{ dist = \"uniform\", min = \"1s\", max = \"3s\" }",
            "[tcp]\nactive_close = 0.25\n[host]\naddrs = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]",
        );
        let a = drain(&mut w);
        let client = a.iter().filter(|x| x.closer == Closer::Client).count() as f64 / a.len() as f64;
        assert!((client - 0.25).abs() < 0.02, "{client}");
        assert!(a.iter().take(6).map(|x| x.local).eq([0, 1, 2, 0, 1, 2]), "round robin");
        assert!(a.iter().all(|x| (S..=3 * S).contains(&x.lifetime)));
        for (lifetime, mean) in [
            ("{ dist = \"lognormal\", median = \"1s\", sigma = 0.5 }", (0.125f64).exp()),
            ("{ dist = \"pareto\", scale = \"1s\", shape = 3.0 }", 1.5),
        ] {
            let (_, mut w) = workload("{ process = \"constant\", rate = 50.0 }", lifetime, "");
            let a = drain(&mut w);
            let m = a.iter().map(|x| x.lifetime as f64).sum::<f64>() / a.len() as f64 / S as f64;
            assert!((m - mean).abs() / mean < 0.03, "{lifetime}: {m} vs {mean}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_workload() {
        let (s, mut a) = workload(
            "{ process = \"poisson\", rate = 5.0 }",
            "{ dist = \"exponential\", mean = \"2s\" }",
            "",
        );
        let mut b = Workload::new(&s, s.seed);
        let mut c = Workload::new(&s, s.seed + 1);
        let (x, y, z) = (drain(&mut a), drain(&mut b), drain(&mut c));
        assert_eq!(x, y);
        assert_ne!(x, z);
    }

    #[test]
    fn poisson_gaps_are_rand_distrs_exp_bit_for_bit() {
        // `Timing::Poisson` multiplies an `Exp1` draw by `1 / rate` itself, as `Exp::sample`
        // does: the same gaps from the same stream, for ordinary and extreme rates.
        for rate in [300.0f64, 3.33, 0.1, 1e-9, 1e9, 7.0e300] {
            let exp = rand_distr::Exp::new(rate).unwrap();
            let (mut a, mut b) = (workload_rng(5), workload_rng(5));
            for _ in 0..20_000 {
                let e: f64 = Exp1.sample(&mut b);
                assert_eq!(exp.sample(&mut a).to_bits(), (e * (1.0 / rate)).to_bits(), "{rate}");
            }
        }
    }

    #[test]
    fn the_lifetime_cap_is_f64_min() {
        let edges =
            [0.0, -0.0, 1e9, 1e9 - 1e-7, 1e9 + 1.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN];
        let mut rng = workload_rng(9);
        let random = (0..100_000).map(|_| f64::from_bits(rng.random::<u64>()));
        for x in edges.into_iter().chain(random) {
            assert_eq!(cap_lifetime(x).to_bits(), x.min(1e9).to_bits(), "{x:e}");
        }
    }

    /// A digest of every field of every attempt a workload draws (FNV-1a over the fields).
    fn digest(text: &str) -> (usize, u64) {
        let s = crate::scenario::parse(text, "t", std::path::Path::new(".")).unwrap();
        let mut w = Workload::new(&s, s.seed);
        let a = drain(&mut w);
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for x in &a {
            let closer = u64::from(x.closer == Closer::Client);
            for v in [x.time, u64::from(x.dest), u64::from(x.local), x.lifetime, closer] {
                for b in v.to_le_bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
            }
        }
        (a.len(), h)
    }

    #[test]
    fn every_shape_draws_the_arrivals_it_drew_before_the_fast_path() {
        // Digests taken from the build before `next_arrival`'s fast path (main at 779807d): the
        // same times, destinations, local addresses, lifetimes and closers, bit for bit, for
        // each arrival process, lifetime distribution, destination draw, closer and address
        // choice.
        let one = "[[destinations]]\naddr = \"192.0.2.1:1\"\n";
        let groups = "[[destinations]]\naddr = \"192.0.2.1:1\"\n[[destinations]]\ncount = 100\n\
                      prefix = \"198.51.100.0/24\"\nport = 2\nweight = 3.0\npopularity = { zipf = 1.2 }\n";
        let uniform = "[[destinations]]\ncount = 50\nprefix = \"198.51.100.0/24\"\nport = 2\n";
        let cases = [
            (one, "{ process = \"poisson\", rate = 300.0 }", "{ dist = \"exponential\", mean = \"2s\" }", ""),
            (
                groups,
                "{ process = \"poisson\", rate = 50.0 }",
                "{ dist = \"exponential\", mean = \"2s\" }",
                "[tcp]\nactive_close = 0.25\n[host]\naddrs = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]\naddr_choice = \"random\"",
            ),
            (
                one,
                "{ process = \"constant\", rate = 20.0 }",
                "{ dist = \"uniform\", min = \"1s\", max = \"3s\" }",
                "[tcp]\nactive_close = \"server\"\n[host]\naddrs = [\"10.0.0.1\", \"10.0.0.2\", \"10.0.0.3\"]",
            ),
            (
                uniform,
                "{ process = \"on-off\", rate = 80.0, on = \"7s\", off = \"13s\", off_rate = 5.0 }",
                "{ dist = \"lognormal\", median = \"1s\", sigma = 0.5 }",
                "[host]\naddrs = [\"10.0.0.1\", \"10.0.0.2\"]\naddr_choice = \"round-robin\"",
            ),
            (
                groups,
                "{ process = \"ramp\", from = 1.0, to = 60.0 }",
                "{ dist = \"pareto\", scale = \"1s\", shape = 3.0 }",
                "[tcp]\nactive_close = 0.5\n[host]\naddrs = [\"10.0.0.1\", \"10.0.0.2\"]\naddr_choice = \"fallback\"",
            ),
            (one, "{ process = \"poisson\", rate = 10.0 }", "{ dist = \"constant\", value = \"1s\" }", ""),
        ];
        let got: Vec<(usize, u64)> = cases
            .iter()
            .map(|(dests, arrivals, lifetime, extra)| {
                digest(&format!(
                    "name = \"w\"\nseed = 7\nduration = \"1000s\"\n{extra}\n{dests}[workload]\n\
                     arrivals = {arrivals}\nlifetime = {lifetime}\n[[strategies]]\nname = \"bsd\"\n"
                ))
            })
            .collect();
        assert_eq!(got, EXPECTED_DIGESTS);
    }

    const EXPECTED_DIGESTS: [(usize, u64); 6] = [
        (300_655, 3_584_379_087_903_002_086),
        (50_001, 16_420_917_522_337_977_599),
        (20_000, 7_446_546_119_887_570_124),
        (31_145, 15_169_991_406_926_165_205),
        (30_308, 14_588_881_271_356_339_161),
        (9_950, 11_128_396_722_195_264_230),
    ];
}
