//! The discrete-event loop of one run: one scenario, one strategy, one seed.
//!
//! Three event sources, merged by (time, sequence number) so equal times are handled in the
//! order the events were scheduled: the next arrival (drawn lazily, one at a time), connection
//! closes (a binary heap: lifetimes vary) and TIME_WAIT expiries (a FIFO: every TIME_WAIT lasts
//! the same, so they come out in the order they went in). Time-series rows close before any
//! event at their boundary.

use super::workload::{Arrival, DestinationTable, Workload};
use crate::metrics::{Collector, Outcome, Sample, StrategySummary};
use crate::scenario::{Effective, Scenario};
use crate::stack::{Closer, Flow, Stack, StackConfig, TimeWaitTicket, TupleKey};
use crate::strategy::registry::strategy_rng;
use crate::strategy::{BindCheck, PortSelector, Request, SocketMode, StackCheck, StrategySpec};
use crate::time::Nanos;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

/// One connection attempt, for `connections.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnRecord {
    pub time: Nanos,
    pub local: u16,
    pub dest: u32,
    pub port: Option<u16>,
    pub candidates: u32,
    /// How long it stays open (the workload's draw; the close is `time + lifetime`).
    pub lifetime: Nanos,
    /// It took a 4-tuple used before (`reuse.count` counts these after the warm-up).
    pub reused: bool,
}

/// What a run produces.
#[derive(Clone, Debug)]
pub struct RunOutput {
    pub summary: StrategySummary,
    pub samples: Vec<Sample>,
    pub log: Vec<ConnRecord>,
}

/// Options that do not change what is simulated.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    pub log_connections: bool,
    /// Called now and then with how much simulated time has passed since the last call.
    pub progress: Option<&'a (dyn Fn(Nanos) + Sync)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    None,
    Arrival,
    Close,
    Expiry,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct CloseEvent {
    time: Nanos,
    seq: u64,
    key: TupleKey,
    client_closes: bool,
}

/// Remembered 4-tuples (about 40 MB) below which none is ever forgotten: one-backend runs hold at
/// most range x local addresses and never reach it, so their reuse counts are exact.
const FORGET_FLOOR: usize = 1 << 20;

/// The default time-series interval: about 200 rows, rounded to 1, 2 or 5 times a power of ten.
pub fn default_interval(duration: Nanos) -> Nanos {
    let raw = (duration / 200).max(1_000_000);
    let mut unit = 1u64;
    while unit * 10 <= raw {
        unit *= 10;
    }
    [1, 2, 5, 10].iter().map(|m| m * unit).find(|v| *v >= raw).unwrap_or(10 * unit)
}

/// Runs `spec` through `scenario` with `seed`.
pub fn run(
    scenario: &Scenario,
    dests: &DestinationTable,
    spec: &StrategySpec,
    seed: u64,
    opts: RunOptions<'_>,
) -> RunOutput {
    let started = Instant::now();
    let eff = scenario.effective(spec);
    let mut stack = Stack::new(StackConfig {
        range: eff.range,
        reserved: scenario.ports.reserved.clone(),
        scope: eff.scope,
        tw_reuse: eff.tw_reuse,
        tw_reuse_delay: eff.tw_reuse_delay,
        local_addrs: scenario.addrs.len(),
        destinations: dests.len(),
    });
    let mut strategy: Box<dyn PortSelector> = spec.config.build(strategy_rng(seed, &spec.label));
    let mut workload = Workload::new(scenario, seed);
    let interval = scenario.metrics.sample_interval.unwrap_or_else(|| default_interval(scenario.duration));
    let mut metrics = Collector::new(scenario.warmup, scenario.metrics.reuse_threshold, interval);
    metrics.track_pools(scenario.addrs.len(), dests.len());
    let addrs: Vec<u32> = scenario.addrs.iter().map(|a| u32::from(*a)).collect();
    let fallback = scenario.addr_choice == crate::scenario::AddrChoice::Fallback;
    let time_wait = eff.time_wait;

    let mut seq: u64 = 0;
    let mut closes: BinaryHeap<Reverse<CloseEvent>> = BinaryHeap::new();
    let mut expiries: VecDeque<(Nanos, u64, TimeWaitTicket)> = VecDeque::new();
    let mut pending: Option<(Arrival, u64)> = workload.next_arrival().map(|a| (a, 0));
    let mut log = Vec::new();
    let mut events: u64 = 0;
    // Memory stays bounded on runs over many destinations: past `forget_at` remembered
    // 4-tuples, those closed longer than the reuse threshold ago are forgotten (one pass,
    // amortised over as many arrivals as the table held).
    let mut forget_at: usize = FORGET_FLOOR;
    let mut forgotten: u64 = 0;
    let mut reported: Nanos = 0;

    loop {
        // The earliest of the three sources by (time, sequence number). Spelled out: an
        // iterator over the three options cost half the loop's time in store-forwarding stalls.
        let mut next = Source::None;
        let mut at = (u64::MAX, u64::MAX);
        if let Some((a, s)) = &pending {
            at = (a.time, *s);
            next = Source::Arrival;
        }
        if let Some(Reverse(c)) = closes.peek()
            && (c.time, c.seq) < at
        {
            at = (c.time, c.seq);
            next = Source::Close;
        }
        if let Some(&(t, s, _)) = expiries.front()
            && (t, s) < at
        {
            at = (t, s);
            next = Source::Expiry;
        }
        if next == Source::None {
            break;
        }
        let now = at.0;
        if now >= scenario.duration {
            break;
        }
        while metrics.next_sample() <= now {
            metrics.sample(&mut stack);
        }
        events += 1;
        if events & 0xffff == 0
            && let Some(p) = opts.progress
        {
            p(now - reported);
            reported = now;
        }
        if next == Source::Expiry {
            let (_, _, ticket) = expiries.pop_front().expect("peeked");
            stack.expire_time_wait(ticket);
        } else if next == Source::Close {
            let Reverse(c) = closes.pop().expect("peeked");
            let closer = if c.client_closes { Closer::Client } else { Closer::Server };
            if let Some(ticket) = stack.close(c.key, now, closer, time_wait) {
                seq += 1;
                expiries.push_back((now.saturating_add(time_wait), seq, ticket));
            }
        } else {
            if stack.remembered() >= forget_at {
                forgotten += stack.forget_closed(now, now.saturating_sub(scenario.metrics.reuse_threshold));
                forget_at = FORGET_FLOOR.max(2 * stack.remembered());
            }
            let (a, _) = pending.take().expect("peeked");
            let mut local = a.local;
            let mut candidates = 0u32;
            let outcome = loop {
                let flow = Flow {
                    local_index: local,
                    local_addr: addrs[usize::from(local)],
                    dest_index: a.dest,
                    remote_addr: dests.addrs[a.dest as usize],
                    remote_port: dests.ports[a.dest as usize],
                };
                let socket = dests.sockets[usize::from(dests.socket[a.dest as usize])];
                let req = Request {
                    flow: &flow,
                    now,
                    range: socket.local_range.unwrap_or(eff.range),
                    mode: socket.mode,
                    per_socket_range: socket.local_range.is_some(),
                };
                let bind_first = socket.mode == SocketMode::BindThenConnect;
                let sel = if bind_first {
                    strategy.select(&req, &BindCheck { stack: &stack, local_index: local })
                } else {
                    strategy.select(&req, &StackCheck { stack: &stack, flow: &flow, now })
                };
                candidates = candidates.saturating_add(sel.candidates);
                if let Some(port) = sel.port {
                    let opened = stack.open(&flow, port, now, bind_first);
                    seq += 1;
                    closes.push(Reverse(CloseEvent {
                        time: now.saturating_add(a.lifetime),
                        seq,
                        key: flow.key(port),
                        client_closes: a.closer == Closer::Client,
                    }));
                    break Outcome::Established { port, opened, held_toward_dest: stack.held_toward(a.dest) };
                }
                if fallback && usize::from(local) + 1 < addrs.len() {
                    local += 1;
                    continue;
                }
                break Outcome::Failed;
            };
            metrics.attempt(now, candidates, outcome);
            metrics.pool_attempt(
                now,
                local,
                a.dest,
                outcome == Outcome::Failed,
                stack.held_in_pool(local, a.dest),
            );
            if opts.log_connections {
                let (port, reused) = match outcome {
                    Outcome::Established { port, opened, .. } => {
                        (Some(port), opened.previous_close.is_some())
                    }
                    Outcome::Failed => (None, false),
                };
                log.push(ConnRecord {
                    time: now,
                    local,
                    dest: a.dest,
                    port,
                    candidates,
                    lifetime: a.lifetime,
                    reused,
                });
            }
            seq += 1;
            pending = workload.next_arrival().map(|a| (a, seq));
        }
    }
    while metrics.next_sample() <= scenario.duration {
        metrics.sample(&mut stack);
    }
    if let Some(p) = opts.progress {
        p(scenario.duration - reported.min(scenario.duration));
    }
    let usable = eff.range.len() - scenario.ports.reserved.count_in(eff.range);
    let wall = started.elapsed().as_secs_f64();
    let (mut summary, samples) = metrics.finish(scenario.duration, usable, wall, events);
    summary.reuse.forgotten = forgotten;
    for p in summary.pools.all.iter_mut().chain(summary.pools.top.iter_mut()) {
        let d = p.index.1 as usize;
        p.local_addr = scenario.addrs[usize::from(p.index.0)].to_string();
        p.destination = format!("{}:{}", std::net::Ipv4Addr::from(dests.addrs[d]), dests.ports[d]);
    }
    summary.steady = crate::metrics::steady::judge(
        &samples,
        crate::time::secs(scenario.warmup),
        crate::time::secs(scenario.duration),
        hold_s(scenario, time_wait),
    );
    summary.name = spec.label.clone();
    summary.strategy = spec.config.name().to_string();
    summary.settings = settings_json(spec, &eff, scenario);
    RunOutput { summary, samples, log }
}

/// The hold a port sees, for the steady-state test: the 99th-percentile lifetime (a trace's
/// longest), plus TIME_WAIT when the client may close first.
fn hold_s(scenario: &Scenario, time_wait: Nanos) -> f64 {
    let trace_longest = match &scenario.arrivals {
        crate::scenario::Arrivals::Trace { trace, .. } => {
            trace.rows.iter().filter_map(|r| r.lifetime).max().map(crate::time::secs)
        }
        _ => None,
    };
    let lifetime = scenario.lifetime.map(|l| l.p99_s()).into_iter().chain(trace_longest).fold(0.0, f64::max);
    let client_may_close = !matches!(scenario.tcp.active_close, crate::scenario::ActiveClose::Server)
        && !matches!(scenario.tcp.active_close, crate::scenario::ActiveClose::ClientProbability(p) if p == 0.0);
    lifetime + if client_may_close { crate::time::secs(time_wait) } else { 0.0 }
}

/// The strategy's parameters and the stack it ran on, for `summary.json`.
fn settings_json(spec: &StrategySpec, eff: &Effective, scenario: &Scenario) -> serde_json::Value {
    let mut v = serde_json::json!({
        "range": eff.range.to_string(),
        "ports": eff.range.len(),
        "reserved": scenario.ports.reserved.count_in(eff.range),
        "scope": eff.scope.name(),
        "time_wait_s": crate::time::secs(eff.time_wait),
        "tw_reuse": eff.tw_reuse.name(),
        "tw_reuse_delay_s": crate::time::secs(eff.tw_reuse_delay),
    });
    if let (Some(obj), serde_json::Value::Object(params)) = (v.as_object_mut(), spec.config.settings()) {
        obj.insert("parameters".into(), serde_json::Value::Object(params));
    }
    v
}
