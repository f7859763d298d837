//! Turns a scenario's workload into a stream of connection attempts. Every draw comes from one
//! RNG seeded by the run seed alone and is made in the same order whatever happens to the
//! connections, so every strategy of a scenario faces the same arrivals, destinations,
//! lifetimes and closers (common random numbers).

use crate::scenario::{
    ActiveClose, AddrChoice, Arrivals, DestGroup, Lifetime, Popularity, Scenario, SocketSpec, TraceRow,
};
use crate::stack::Closer;
use crate::time::{Nanos, from_secs_f64};
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp, Exp1, LogNormal, Pareto, Zipf};
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

enum Timing {
    Poisson(Exp<f64>),
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

/// Draws arrivals until the end of the run.
pub struct Workload {
    rng: rand::rngs::ChaCha8Rng,
    timing: Timing,
    /// Arrival-process clock, in seconds (the process is continuous; times are rounded to ns).
    clock_s: f64,
    end: Nanos,
    lifetime: Option<LifetimeDraw>,
    groups: Vec<Group>,
    cumulative: Vec<f64>,
    client_prob: f64,
    addrs: u16,
    choice: AddrChoice,
    round_robin: u16,
}

impl Workload {
    pub fn new(s: &Scenario, seed: u64) -> Workload {
        let timing = match &s.arrivals {
            Arrivals::Poisson { rate } => Timing::Poisson(Exp::new(*rate).expect("validated rate")),
            Arrivals::Constant { rate } => Timing::Constant { interval_s: 1.0 / rate, k: 0 },
            Arrivals::OnOff { rate, on, off, off_rate } => Timing::OnOff {
                rate: *rate,
                on_s: crate::time::secs(*on),
                off_s: crate::time::secs(*off),
                off_rate: *off_rate,
                phase: 0,
                phase_end: crate::time::secs(*on),
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
        let client_prob = match s.tcp.active_close {
            ActiveClose::Client => 1.0,
            ActiveClose::Server => 0.0,
            ActiveClose::ClientProbability(p) => p,
        };
        Workload {
            rng: workload_rng(seed),
            timing,
            clock_s: 0.0,
            end: s.duration,
            lifetime,
            groups,
            cumulative,
            client_prob,
            addrs: s.addrs.len() as u16,
            choice: s.addr_choice,
            round_robin: 0,
        }
    }

    /// The next attempt, or `None` once the run's duration is reached.
    pub fn next_arrival(&mut self) -> Option<Arrival> {
        let (time, trace_row) = self.next_time()?;
        if time >= self.end {
            return None;
        }
        let dest = match &trace_row {
            Some(row) => row.dest,
            None => self.draw_dest(),
        };
        let lifetime = match trace_row.as_ref().and_then(|r| r.lifetime) {
            Some(l) => l,
            None => self.draw_lifetime(),
        };
        let closer = if self.client_prob >= 1.0 {
            Closer::Client
        } else if self.client_prob <= 0.0 {
            Closer::Server
        } else if self.rng.random_bool(self.client_prob) {
            Closer::Client
        } else {
            Closer::Server
        };
        let local = match self.choice {
            AddrChoice::Fallback => 0,
            _ if self.addrs <= 1 => 0,
            AddrChoice::Random => self.rng.random_range(0..self.addrs),
            AddrChoice::RoundRobin => {
                let l = self.round_robin;
                self.round_robin = (l + 1) % self.addrs;
                l
            }
        };
        Some(Arrival { time, dest, local, lifetime, closer })
    }

    fn next_time(&mut self) -> Option<(Nanos, Option<TraceRow>)> {
        let t = match &mut self.timing {
            Timing::Poisson(exp) => {
                self.clock_s += exp.sample(&mut self.rng);
                self.clock_s
            }
            Timing::Constant { interval_s, k } => {
                let t = *k as f64 * *interval_s;
                *k += 1;
                t
            }
            Timing::OnOff { rate, on_s, off_s, off_rate, phase, phase_end } => {
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
            Timing::Trace { rows, next } => {
                let row = rows.rows.get(*next)?.clone();
                *next += 1;
                return Some((row.start, Some(row)));
            }
        };
        Some((from_secs_f64(t), None))
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

    fn draw_lifetime(&mut self) -> Nanos {
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
        from_secs_f64(secs.min(1e9))
    }
}
