//! The gateway's event loop: inside hosts open connections through their own stacks, the
//! gateway translates each SYN with its allocator, confirms the entry after `confirm_window`,
//! and keeps it after the close for its state's timer.
//!
//! The insert race (net/netfilter/nf_conntrack_core.c `__nf_conntrack_confirm()`): a new entry
//! is invisible to other allocations until it is confirmed, so two SYNs translated within the
//! window can pick the same external tuple; the second to confirm finds it taken,
//! `insert_failed` counts it and the packet is dropped. Its host retransmits the SYN after
//! `TCP_TIMEOUT_INIT` (1 s, include/net/tcp.h), doubling each time, up to `tcp_syn_retries`.
//! UDP is dropped the same way: `nf_ct_resolve_clash()` lets a UDP loser live only when the
//! winner has the same original tuple (`__nf_ct_resolve_clash()`, one socket's packets racing
//! on two CPUs) or when only the original direction clashes (`nf_ct_resolve_clash_harder()`);
//! two inside sources on one reply tuple are neither, so `insert_failed` and a drop, and the
//! flow fails (its application's own retry is not modelled).
//!
//! A SYN on the original tuple of an entry that is closing (conntrack TIME_WAIT or CLOSE) ends
//! that entry and starts a new one: nf_conntrack_proto_tcp.c `nf_conntrack_tcp_packet()` kills
//! the old connection (`nf_ct_kill`, `-NF_REPEAT`) when a SYN reopens it.
//!
//! Every event is ordered by (time, sequence number); every draw comes from RNGs seeded by the
//! run seed and the host or allocator, so a run's bytes depend on nothing else.

use super::alloc::{NatAllocator, NatRequest, TupleCheck};
use super::metrics::{NatRun, Recorder};
use crate::scenario::nat::{Mapping, NatAllocatorSpec, NatSettings, Protocol};
use crate::scenario::{Arrivals, Scenario};
use crate::sim::{Arrival, DestinationTable, Workload};
use crate::stack::{Closer, Flow, Stack, StackConfig, TimeWaitTicket, TupleKey};
use crate::strategy::{PortSelector, Request, SocketMode, StackCheck};
use crate::time::{NANOS_PER_SEC, Nanos};
use rand::RngExt;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hasher;

/// The base of the inside hosts' addresses: RFC 6598's shared address space, the one carriers
/// put behind CGN.
pub const INSIDE_BASE: u32 = 0x6440_0001; // 100.64.0.1

/// UDP flows active for longer than this get the stream timeout (nf_conntrack_proto_udp.c:
/// `stream_ts = jiffies + 2 * HZ`).
const UDP_STREAM_AFTER: Nanos = 2 * NANOS_PER_SEC;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Host `h`'s next connection.
    Arrival(u32),
    /// A SYN (first or retransmitted) of connection `c` reaches the gateway.
    Syn(u32),
    /// Connection `c`'s entry is confirmed.
    Confirm(u32),
    /// Connection `c` closes.
    Close(u32),
    /// Connection `c`'s entry times out (generation).
    Expire(u32, u32),
    /// Host `h`'s TIME_WAIT ticket `t` ends.
    HostTimeWait(u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Waiting for a SYN to get through (the inside port is held).
    Connecting,
    /// Translated, not yet confirmed.
    Unconfirmed,
    Live,
    /// Closed; the entry holds its tuple until its timer.
    Closing,
    Free,
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    host: u32,
    dest: u32,
    inside_port: u16,
    udp: bool,
    rst: bool,
    closer: Closer,
    lifetime: Nanos,
    first_syn: Nanos,
    retries: u32,
    ext: (u16, u16),
    state: State,
    generation: u32,
}

/// One inside host: its stack, its port picker, its workload.
struct Host {
    stack: Stack,
    strategy: Box<dyn PortSelector>,
    workload: Workload,
    pending: Option<Arrival>,
    addr: u32,
    udp: bool,
    rst_fraction: f64,
    time_wait: Nanos,
    tickets: Vec<Option<TimeWaitTicket>>,
    free_tickets: Vec<u32>,
    forget_at: usize,
}

/// The gateway's table, as the allocator may see it.
struct Table {
    mapping: Mapping,
    /// Confirmed reply tuples: `slot(ip, port, udp) << 32 | dest` -> connection.
    confirmed: HashMap<u64, u32>,
    /// Endpoint-independent bindings, confirmed: `slot` -> (host, inside port, entries).
    bindings: HashMap<u32, (u32, u16, u32)>,
    /// Every entry, confirmed or not, by inside source: `(host, port, udp)` -> (ext, entries).
    by_source: HashMap<u64, ((u16, u16), u32)>,
    /// Entries toward each destination per external address: `(ip, dest)` -> count.
    toward: HashMap<u64, u32>,
    /// Original tuples: `(host, port, udp, dest)` -> connection.
    original: HashMap<u128, u32>,
}

fn slot(ip: u16, port: u16, udp: bool) -> u32 {
    (u32::from(ip) << 17) | (u32::from(udp) << 16) | u32::from(port)
}

fn source_key(host: u32, port: u16, udp: bool) -> u64 {
    (u64::from(host) << 17) | (u64::from(udp) << 16) | u64::from(port)
}

fn original_key(c: &Conn) -> u128 {
    (u128::from(source_key(c.host, c.inside_port, c.udp)) << 32) | u128::from(c.dest)
}

/// The check one request sees.
struct View<'a> {
    t: &'a Table,
    req: &'a NatRequest,
}

impl TupleCheck for View<'_> {
    fn used(&self, ip: u16, port: u16) -> bool {
        self.t.used(ip, port, self.req)
    }
    fn source_mapping(&self) -> Option<(u16, u16)> {
        self.t.by_source.get(&source_key(self.req.host, self.req.inside_port, self.req.udp)).map(|e| e.0)
    }
    fn toward_destination(&self, ip: u16) -> u32 {
        self.t.toward.get(&((u64::from(ip) << 32) | u64::from(self.req.dest))).copied().unwrap_or(0)
    }
}

impl Table {
    fn used(&self, ip: u16, port: u16, req: &NatRequest) -> bool {
        let s = slot(ip, port, req.udp);
        match self.mapping {
            Mapping::PerTuple => self.confirmed.contains_key(&((u64::from(s) << 32) | u64::from(req.dest))),
            Mapping::EndpointIndependent => {
                self.bindings.get(&s).is_some_and(|&(h, p, _)| (h, p) != (req.host, req.inside_port))
            }
        }
    }
}

/// A per-host RNG from the run seed.
fn seeded(seed: u64, what: &[u8], index: u64) -> rand::rngs::ChaCha8Rng {
    use rand::SeedableRng;
    let mut h = siphasher::sip::SipHasher24::new_with_keys(0x706f_7274_7369_6d00, seed);
    h.write(what);
    h.write_u64(index);
    rand::rngs::ChaCha8Rng::seed_from_u64(h.finish())
}

/// The scenario one host group's workload is drawn from: the scenario's, with the group's rate
/// and lifetime.
fn group_scenario(s: &Scenario, g: &crate::scenario::nat::HostGroup) -> Scenario {
    let mut x = s.clone();
    x.nat = None;
    if let Some(rate) = g.rate {
        x.arrivals = match x.arrivals {
            Arrivals::Constant { .. } => Arrivals::Constant { rate },
            Arrivals::OnOff { on, off, off_rate, .. } => Arrivals::OnOff { rate, on, off, off_rate },
            _ => Arrivals::Poisson { rate },
        };
    }
    if g.lifetime.is_some() {
        x.lifetime = g.lifetime;
    }
    x
}

type Queue = BinaryHeap<Reverse<(Nanos, u64, Event)>>;

/// Everything one run mutates.
struct Sim<'a> {
    nat: &'a NatSettings,
    dests: DestinationTable,
    table: Table,
    conns: Vec<Conn>,
    free_conns: Vec<u32>,
    hosts: Vec<Host>,
    rec: Recorder,
    queue: Queue,
    seq: u64,
}

/// Runs allocator `spec` of `s`'s gateway with `seed`.
pub fn run(s: &Scenario, nat: &NatSettings, spec: &NatAllocatorSpec, seed: u64) -> NatRun {
    let started = std::time::Instant::now();
    let dests = DestinationTable::of(s);
    let n_hosts = nat.host_count();
    let addr_values: Vec<u32> = nat.addrs.iter().map(|a| u32::from(*a)).collect();
    let mut allocator: Box<dyn NatAllocator> =
        spec.config.build(&addr_values, n_hosts, seeded(seed, b"nat-allocator", 0));
    let mut hosts: Vec<Host> = Vec::with_capacity(n_hosts as usize);
    let mut group_of = Vec::with_capacity(n_hosts as usize);
    for (gi, g) in nat.hosts.iter().enumerate() {
        let gs = group_scenario(s, g);
        let strat = s.strategies.iter().find(|x| x.label == g.strategy).expect("validated label");
        let eff = s.effective(strat);
        for _ in 0..g.count {
            let h = hosts.len() as u64;
            let host_seed = {
                let mut x = siphasher::sip::SipHasher24::new_with_keys(seed, 0x6e61_7468_6f73_7400);
                x.write_u64(h);
                x.finish() >> 1
            };
            let stack = Stack::new(StackConfig {
                range: eff.range,
                reserved: eff.reserved.clone(),
                scope: eff.scope,
                tw_reuse: eff.tw_reuse,
                tw_reuse_delay: eff.tw_reuse_delay,
                tw_reuse_ms_clock: false,
                timestamps: eff.timestamps,
                bind_conflict: eff.bind_conflict,
                local_addrs: 1,
                destinations: dests.len(),
            })
            // Many light hosts: a hash table grows with each one's few 4-tuples, where dense
            // pools would cost 1.5 MiB a host (100 hosts: 97 MB resident became 248 MB).
            .with_tuple_layout(Some(false));
            let mut workload = Workload::new(&gs, host_seed);
            let pending = workload.next_arrival();
            hosts.push(Host {
                stack,
                strategy: strat
                    .config
                    .build(crate::strategy::registry::strategy_rng(host_seed, &strat.label)),
                workload,
                pending,
                addr: INSIDE_BASE + h as u32,
                udp: g.protocol == Protocol::Udp,
                rst_fraction: g.rst_fraction,
                time_wait: eff.time_wait,
                tickets: Vec::new(),
                free_tickets: Vec::new(),
                forget_at: 1 << 12,
            });
            group_of.push(gi as u32);
        }
    }
    let quotas: Vec<Option<u32>> = (0..n_hosts).map(|h| allocator.quota(h)).collect();
    let rec = Recorder::new(s, nat, &quotas, &group_of);
    let table = Table {
        mapping: spec.mapping,
        confirmed: HashMap::new(),
        bindings: HashMap::new(),
        by_source: HashMap::new(),
        toward: HashMap::new(),
        original: HashMap::new(),
    };
    let mut sim = Sim {
        nat,
        dests,
        table,
        conns: Vec::new(),
        free_conns: Vec::new(),
        hosts,
        rec,
        queue: BinaryHeap::new(),
        seq: 0,
    };
    for h in 0..sim.hosts.len() {
        if let Some(a) = sim.hosts[h].pending {
            sim.push(a.time, Event::Arrival(h as u32));
        }
    }
    let mut close_rng = seeded(seed, b"nat-close", 0);
    let timeouts = spec.timeouts;
    let mut events = 0u64;

    while let Some(Reverse((now, _, event))) = sim.queue.pop() {
        if now >= s.duration {
            break;
        }
        sim.rec.advance(now);
        events += 1;
        match event {
            Event::Arrival(h) => {
                let host = &mut sim.hosts[h as usize];
                let a = host.pending.take().expect("scheduled");
                host.pending = host.workload.next_arrival();
                let next = host.pending.map(|n| n.time);
                if host.stack.remembered() >= host.forget_at {
                    host.stack.forget_closed(now, now.saturating_sub(s.metrics.reuse_threshold));
                    host.forget_at = (1 << 12).max(2 * host.stack.remembered());
                }
                let flow = Flow {
                    local_index: 0,
                    local_addr: host.addr,
                    dest_index: a.dest,
                    remote_addr: sim.dests.addrs[a.dest as usize],
                    remote_port: sim.dests.ports[a.dest as usize],
                };
                let range = host.stack.range();
                let req =
                    Request { flow: &flow, now, range, mode: SocketMode::Connect, per_socket_range: false };
                let sel =
                    host.strategy.select_stack(&req, &StackCheck { stack: &host.stack, flow: &flow, now });
                let port = sel.port.filter(|&p| !sel.forced || !host.stack.tuple_in_use(&flow, p));
                if let Some(port) = port {
                    host.stack.open(&flow, port, now, false);
                }
                let rst = !host.udp && host.rst_fraction > 0.0 && close_rng.random_bool(host.rst_fraction);
                let udp = host.udp;
                if let Some(t) = next {
                    sim.push(t, Event::Arrival(h));
                }
                sim.rec.attempt(now);
                let Some(port) = port else {
                    sim.rec.inside_failed(now, h);
                    continue;
                };
                let c = Conn {
                    host: h,
                    dest: a.dest,
                    inside_port: port,
                    udp,
                    rst,
                    closer: a.closer,
                    lifetime: a.lifetime,
                    first_syn: now,
                    retries: 0,
                    ext: (0, 0),
                    state: State::Connecting,
                    generation: 0,
                };
                let id = sim.new_conn(c);
                sim.push(now, Event::Syn(id));
            }
            Event::Syn(id) => sim.syn(id, now, allocator.as_mut()),
            Event::Confirm(id) => sim.confirm(id, now),
            Event::Close(id) => {
                let c = sim.conns[id as usize];
                let key = sim.flow_key(&c);
                let host = &mut sim.hosts[c.host as usize];
                let (closer, tw) =
                    if c.udp || c.rst { (Closer::Server, 0) } else { (c.closer, host.time_wait) };
                if let Some(ticket) = host.stack.close(key, now, closer, tw) {
                    let t = match host.free_tickets.pop() {
                        Some(t) => {
                            host.tickets[t as usize] = Some(ticket);
                            t
                        }
                        None => {
                            host.tickets.push(Some(ticket));
                            (host.tickets.len() - 1) as u32
                        }
                    };
                    sim.push(now + tw, Event::HostTimeWait(c.host, t));
                }
                let hold = if c.udp {
                    if c.lifetime > UDP_STREAM_AFTER { timeouts.udp_stream } else { timeouts.udp }
                } else if c.rst {
                    timeouts.close
                } else {
                    timeouts.time_wait
                };
                sim.conns[id as usize].state = State::Closing;
                sim.push(now + hold, Event::Expire(id, c.generation));
            }
            Event::Expire(id, generation) => {
                let c = sim.conns[id as usize];
                if c.generation == generation && c.state == State::Closing {
                    sim.release(id, now);
                }
            }
            Event::HostTimeWait(h, t) => {
                let host = &mut sim.hosts[h as usize];
                if let Some(ticket) = host.tickets[t as usize].take() {
                    host.stack.expire_time_wait(ticket);
                    host.free_tickets.push(t);
                }
            }
        }
    }
    sim.rec.finish(s.duration, &spec.label, &spec.name, started.elapsed().as_secs_f64(), events)
}

impl Sim<'_> {
    fn push(&mut self, t: Nanos, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((t, self.seq, e)));
    }

    fn new_conn(&mut self, c: Conn) -> u32 {
        match self.free_conns.pop() {
            Some(id) => {
                let g = self.conns[id as usize].generation;
                self.conns[id as usize] = Conn { generation: g.wrapping_add(1), ..c };
                id
            }
            None => {
                self.conns.push(c);
                (self.conns.len() - 1) as u32
            }
        }
    }

    fn flow_key(&self, c: &Conn) -> TupleKey {
        Flow {
            local_index: 0,
            local_addr: self.hosts[c.host as usize].addr,
            dest_index: c.dest,
            remote_addr: self.dests.addrs[c.dest as usize],
            remote_port: self.dests.ports[c.dest as usize],
        }
        .key(c.inside_port)
    }

    fn request(&self, c: &Conn) -> NatRequest {
        NatRequest {
            host: c.host,
            inside_addr: self.hosts[c.host as usize].addr,
            inside_port: c.inside_port,
            dest: c.dest,
            dest_addr: self.dests.addrs[c.dest as usize],
            dest_port: self.dests.ports[c.dest as usize],
            udp: c.udp,
        }
    }

    /// A SYN (or a UDP flow's first packet) reaches the gateway: translate it.
    fn syn(&mut self, id: u32, now: Nanos, allocator: &mut dyn NatAllocator) {
        let c = self.conns[id as usize];
        // A SYN on a closing entry's original tuple ends that entry.
        if let Some(&old) = self.table.original.get(&original_key(&c))
            && old != id
            && self.conns[old as usize].state == State::Closing
        {
            self.release(old, now);
            self.rec.reopened(now);
        }
        let req = self.request(&c);
        let existing = match self.table.mapping {
            Mapping::EndpointIndependent => {
                self.table.by_source.get(&source_key(c.host, c.inside_port, c.udp)).map(|e| e.0)
            }
            Mapping::PerTuple => None,
        };
        let (ext, candidates) = match existing {
            Some(ext) => (Some(ext), 0),
            None => {
                let a = allocator.allocate(&req, &View { t: &self.table, req: &req });
                (a.ext, a.candidates)
            }
        };
        let free = ext.filter(|&(ip, port)| !self.table.used(ip, port, &req));
        let preserved = free.is_some_and(|(_, p)| p == c.inside_port);
        self.rec.allocation(now, candidates, preserved, free.is_none(), existing.is_some());
        let Some(ext) = free else {
            self.drop_syn(id, now);
            return;
        };
        let conn = &mut self.conns[id as usize];
        conn.ext = ext;
        conn.state = State::Unconfirmed;
        self.table.by_source.entry(source_key(c.host, c.inside_port, c.udp)).or_insert((ext, 0)).1 += 1;
        self.table.original.insert(original_key(&c), id);
        if self.nat.confirm_window == 0 {
            self.confirm(id, now);
        } else {
            self.push(now + self.nat.confirm_window, Event::Confirm(id));
        }
    }

    /// The SYN is dropped: retransmit after the backoff, or give up.
    fn drop_syn(&mut self, id: u32, now: Nanos) {
        let c = &mut self.conns[id as usize];
        if !c.udp && c.retries < self.nat.syn_retries {
            // One RTO after the previous SYN, the RTO doubling each time: the n-th
            // retransmission leaves RTO * (2^n - 1) after the first SYN.
            let next = c.first_syn + self.nat.syn_timeout * ((1u64 << (c.retries + 1)) - 1);
            c.retries += 1;
            c.state = State::Connecting;
            self.rec.retransmit(now);
            self.push(next.max(now), Event::Syn(id));
            return;
        }
        // Given up: the socket closes with no TIME_WAIT (it never connected).
        let c = *c;
        let key = self.flow_key(&c);
        self.hosts[c.host as usize].stack.close(key, now, Closer::Server, 0);
        self.conns[id as usize].state = State::Free;
        self.free_conns.push(id);
        self.rec.failed(now, c.host);
    }

    /// `__nf_conntrack_confirm()`: insert the entry, unless its reply tuple is taken by now.
    fn confirm(&mut self, id: u32, now: Nanos) {
        let c = self.conns[id as usize];
        let req = self.request(&c);
        let (ip, port) = c.ext;
        if self.table.used(ip, port, &req) {
            // insert_failed: the entry goes, the packet is dropped.
            unsource(&mut self.table, &c);
            if self.table.original.get(&original_key(&c)) == Some(&id) {
                self.table.original.remove(&original_key(&c));
            }
            self.rec.clash(now);
            self.drop_syn(id, now);
            return;
        }
        let s = slot(ip, port, c.udp);
        self.table.confirmed.insert((u64::from(s) << 32) | u64::from(c.dest), id);
        if self.table.mapping == Mapping::EndpointIndependent {
            self.table.bindings.entry(s).or_insert((c.host, c.inside_port, 0)).2 += 1;
        }
        *self.table.toward.entry((u64::from(ip) << 32) | u64::from(c.dest)).or_insert(0) += 1;
        self.conns[id as usize].state = State::Live;
        self.rec.established(now, c.host, ip, port, c.udp, c.first_syn);
        self.push(now + c.lifetime, Event::Close(id));
    }

    /// A closing entry ends (its timer, or a SYN reopening it): its tuple is free again.
    fn release(&mut self, id: u32, now: Nanos) {
        let c = self.conns[id as usize];
        let (ip, port) = c.ext;
        let s = slot(ip, port, c.udp);
        let t = &mut self.table;
        t.confirmed.remove(&((u64::from(s) << 32) | u64::from(c.dest)));
        if t.mapping == Mapping::EndpointIndependent
            && let Some(b) = t.bindings.get_mut(&s)
        {
            b.2 -= 1;
            if b.2 == 0 {
                t.bindings.remove(&s);
            }
        }
        let tk = (u64::from(ip) << 32) | u64::from(c.dest);
        if let Some(n) = t.toward.get_mut(&tk) {
            *n -= 1;
            if *n == 0 {
                t.toward.remove(&tk);
            }
        }
        unsource(t, &c);
        if t.original.get(&original_key(&c)) == Some(&id) {
            t.original.remove(&original_key(&c));
        }
        self.conns[id as usize].state = State::Free;
        self.free_conns.push(id);
        self.rec.released(now, c.host, ip, port, c.udp);
    }
}

fn unsource(table: &mut Table, c: &Conn) {
    let k = source_key(c.host, c.inside_port, c.udp);
    if let Some(e) = table.by_source.get_mut(&k) {
        e.1 -= 1;
        if e.1 == 0 {
            table.by_source.remove(&k);
        }
    }
}
