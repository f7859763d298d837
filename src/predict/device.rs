//! One simulated host for the observer, the tracker and the classifier: a real strategy over a
//! real [`Stack`], the scenario's own traffic running in the background, and a clock the
//! caller drives. The caller's connections go through exactly the path the simulator's do:
//! `select()` with the stack's `check_suitable_port`, then `open()`.

use crate::scenario::Scenario;
use crate::sim::{Arrival, Workload};
use crate::stack::{
    Closer, Flow, PortRange, ReservedPorts, Scope, Stack, StackConfig, TimeWaitTicket, TupleKey,
};
use crate::strategy::{PortSelector, Request, StackCheck, StrategySpec};
use crate::time::Nanos;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

/// How a caller's connection ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hold {
    /// Refused or reset at once (a SYN to a closed port, or the tracker's RST): the port is free
    /// again immediately and nobody holds TIME_WAIT.
    Reset,
    /// Open for this long, then closed by the client (which holds TIME_WAIT).
    ClientCloses(Nanos),
}

/// The stack settings a device runs with, when the caller overrides the scenario's.
#[derive(Clone, Debug)]
pub struct StackSettings {
    pub range: PortRange,
    pub reserved: ReservedPorts,
    pub scope: Scope,
    pub time_wait: Nanos,
}

/// A host: strategy, stack, background traffic and clock.
pub struct Device {
    selector: Box<dyn PortSelector>,
    stack: Stack,
    time_wait: Nanos,
    now: Nanos,
    addrs: Vec<u32>,
    base: u32,
    extra_max: usize,
    extra: HashMap<(u32, u16), u32>,
    closes: BinaryHeap<Reverse<(Nanos, u64, TupleKey, bool)>>,
    expiries: VecDeque<(Nanos, TimeWaitTicket)>,
    background: Option<Workload>,
    next_bg: Option<Arrival>,
    bg_dests: Vec<(u32, u16)>,
    seq: u64,
    /// Background connections made so far (the host's own traffic).
    pub background_made: u64,
    /// Background attempts that found no port.
    pub background_failed: u64,
}

const LOOPBACK: u32 = 0x7f00_0001;

impl Device {
    /// A host running `spec` from `scenario` (its effective range, scope, TIME_WAIT), with the
    /// scenario's workload as background traffic when `background`, seeded by `workload_seed`;
    /// `extra_destinations` bounds how many distinct destinations the caller will connect to.
    pub fn new(
        scenario: &Scenario,
        spec: &StrategySpec,
        selector: Box<dyn PortSelector>,
        background: bool,
        workload_seed: u64,
        stack: Option<StackSettings>,
        extra_destinations: usize,
    ) -> Device {
        let eff = scenario.effective(spec);
        let dests = crate::sim::DestinationTable::of(scenario);
        let settings = stack.unwrap_or(StackSettings {
            range: eff.range,
            reserved: scenario.ports.reserved.clone(),
            scope: eff.scope,
            time_wait: eff.time_wait,
        });
        let stack = Stack::new(StackConfig {
            range: settings.range,
            reserved: settings.reserved,
            scope: settings.scope,
            tw_reuse: eff.tw_reuse,
            tw_reuse_delay: eff.tw_reuse_delay,
            // The observer's view needs no TIME_WAIT grid: its hosts' TIME_WAITs are exact.
            tw_reuse_ms_clock: false,
            timestamps: eff.timestamps,
            bind_conflict: eff.bind_conflict,
            local_addrs: scenario.addrs.len(),
            destinations: dests.len() + extra_destinations,
        });
        let mut workload = background.then(|| Workload::new(scenario, workload_seed));
        let next_bg = workload.as_mut().and_then(|w| w.next_arrival());
        Device {
            selector,
            stack,
            time_wait: settings.time_wait,
            now: 0,
            addrs: scenario.addrs.iter().map(|a| u32::from(*a)).collect(),
            base: dests.len() as u32,
            extra_max: extra_destinations,
            extra: HashMap::new(),
            closes: BinaryHeap::new(),
            expiries: VecDeque::new(),
            background: workload,
            next_bg,
            bg_dests: dests.addrs.iter().copied().zip(dests.ports.iter().copied()).collect(),
            seq: 0,
            background_made: 0,
            background_failed: 0,
        }
    }

    pub fn now(&self) -> Nanos {
        self.now
    }

    pub fn range(&self) -> PortRange {
        self.stack.range()
    }

    /// Runs the host's own traffic (arrivals, closes, TIME_WAIT expiries) up to `t`.
    pub fn advance(&mut self, t: Nanos) {
        loop {
            let bg = self.next_bg.map_or(u64::MAX, |a| a.time);
            let close = self.closes.peek().map_or(u64::MAX, |Reverse(c)| c.0);
            let exp = self.expiries.front().map_or(u64::MAX, |e| e.0);
            let at = bg.min(close).min(exp);
            if at > t || at == u64::MAX {
                break;
            }
            self.now = self.now.max(at);
            if exp == at {
                let (_, ticket) = self.expiries.pop_front().expect("peeked");
                self.stack.expire_time_wait(ticket);
            } else if close == at {
                let Reverse((_, _, key, client)) = self.closes.pop().expect("peeked");
                let closer = if client { Closer::Client } else { Closer::Server };
                if let Some(ticket) = self.stack.close(key, at, closer, self.time_wait) {
                    self.expiries.push_back((at.saturating_add(self.time_wait), ticket));
                }
            } else {
                let a = self.next_bg.take().expect("peeked");
                self.next_bg = self.background.as_mut().and_then(|w| w.next_arrival());
                let (addr, port) = self.bg_dests[a.dest as usize];
                let flow = Flow {
                    local_index: a.local,
                    local_addr: self.addrs[usize::from(a.local)],
                    dest_index: a.dest,
                    remote_addr: addr,
                    remote_port: port,
                };
                self.background_made += 1;
                match self.pick(&flow) {
                    Some(p) => {
                        self.stack.open(&flow, p, at, false);
                        let client = a.closer == Closer::Client;
                        self.seq += 1;
                        self.closes.push(Reverse((
                            at.saturating_add(a.lifetime),
                            self.seq,
                            flow.key(p),
                            client,
                        )));
                    }
                    None => self.background_failed += 1,
                }
            }
        }
        self.now = self.now.max(t);
    }

    fn pick(&mut self, flow: &Flow) -> Option<u16> {
        let req = Request::connect(flow, self.now, self.stack.range());
        let check = StackCheck { stack: &self.stack, flow, now: self.now };
        self.selector.select_stack(&req, &check).port
    }

    /// The host connects to `addr:port` at time `at` (after running its own traffic up to
    /// then); returns the local port the strategy chose, `None` on exhaustion. A loopback
    /// destination is reached from 127.0.0.1, anything else from the host's first address.
    pub fn connect(&mut self, at: Nanos, addr: u32, port: u16, hold: Hold) -> Option<u16> {
        self.advance(at);
        let next = self.base + self.extra.len() as u32;
        let dest_index = *self.extra.entry((addr, port)).or_insert(next);
        assert!(
            ((dest_index - self.base) as usize) < self.extra_max,
            "the device was built for {} caller destinations",
            self.extra_max
        );
        let local_addr = if addr >> 24 == 127 { LOOPBACK } else { self.addrs[0] };
        let flow = Flow { local_index: 0, local_addr, dest_index, remote_addr: addr, remote_port: port };
        let p = self.pick(&flow)?;
        self.stack.open(&flow, p, self.now, false);
        match hold {
            Hold::Reset => {
                self.stack.close(flow.key(p), self.now, Closer::Server, 0);
            }
            Hold::ClientCloses(d) => {
                self.seq += 1;
                self.closes.push(Reverse((self.now.saturating_add(d), self.seq, flow.key(p), true)));
            }
        }
        Some(p)
    }
}
