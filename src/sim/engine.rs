//! The discrete-event loop of one run: one scenario, one strategy, one seed.
//!
//! Three event sources, merged by (time, sequence number) so equal times are handled in the
//! order the events were scheduled: the next arrival (drawn lazily, one at a time), connection
//! closes (a calendar queue, [`super::close_queue`]: lifetimes vary) and TIME_WAIT expiries (one
//! FIFO per TIME_WAIT length: within one length, exact or rounded up on the timer wheel, they
//! come out in the order they went in). Time-series rows close before any event at their
//! boundary.
//!
//! **One event per connection.** When every client closes first and no TIME_WAIT can be
//! recycled (tw_reuse off, or the peer sends no timestamps), a close changes nothing an arrival
//! can see: live and TIME_WAIT both hold the 4-tuple and both refuse it (`is_suitable`), and the
//! TIME_WAIT's end is known at open. Such runs touch the stack once per connection, at the
//! release; the close only moves the connection from the close queue to its TIME_WAIT FIFO (in
//! release order, which a queue keyed by release time would give only at the price of holding
//! every TIME_WAIT: measured slower, its memory falls out of the cache). The time series'
//! live/TIME_WAIT split is derived from the close times
//! ([`crate::metrics::Collector::close_at`]). Runs where a close is visible (the
//! server or a coin decides who closes, tw_reuse may recycle) keep the two events. Both give the
//! same bytes (`one_event_and_two_event_paths_agree` below).

use super::close_queue::{CloseQueue, Timed};
use super::workload::{Arrival, DestinationTable, Workload};
use crate::metrics::{Collector, Outcome, Sample, StrategySummary};
use crate::scenario::{Effective, Scenario};
use crate::stack::{Closer, Flow, Stack, StackConfig, TimeWaitTicket, TimeWaitTimer, TimerWheel, TupleKey};
use crate::strategy::registry::strategy_rng;
use crate::strategy::{PortSelector, Request, SocketMode, StrategySpec, select_on_stack};
use crate::time::Nanos;
use std::collections::VecDeque;
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
    pub log: super::ConnLog,
}

/// Options that do not change what is simulated.
#[derive(Clone, Copy, Default)]
pub struct RunOptions<'a> {
    pub log_connections: bool,
    /// Called now and then with how much simulated time has passed since the last call.
    pub progress: Option<&'a (dyn Fn(Nanos) + Sync)>,
    /// With `log_connections`: spill the log into a temporary file in this folder, not memory.
    pub spill_log_in: Option<&'a std::path::Path>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    None,
    Arrival,
    Close,
    Expiry,
}

/// A scheduled close, 24 bytes: the sequence number shifted left once, its low bit set when the
/// client closes first. Ordering by `(time, tagged)` is ordering by `(time, seq)`, `seq` being
/// unique. (A bool of its own made the event 32 bytes, a third more to move and sort.)
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct CloseEvent {
    time: Nanos,
    tagged: u64,
    key: TupleKey,
}

impl CloseEvent {
    fn new(time: Nanos, seq: u64, key: TupleKey, client_closes: bool) -> CloseEvent {
        CloseEvent { time, tagged: (seq << 1) | u64::from(client_closes), key }
    }

    #[inline]
    fn seq(&self) -> u64 {
        self.tagged >> 1
    }

    #[inline]
    fn client_closes(&self) -> bool {
        self.tagged & 1 == 1
    }
}

/// A TIME_WAIT's end in its FIFO. Two-event path: `seq` from the close that scheduled it and
/// `aux` the ticket's generation. One-event path: `seq` is the close's own (from the open) and
/// `aux` the close time, the 4-tuple never having left `Live` in the stack.
#[derive(Clone, Copy)]
struct Expiry {
    time: Nanos,
    seq: u64,
    key: TupleKey,
    aux: u64,
}

impl Timed for CloseEvent {
    #[inline]
    fn time(&self) -> Nanos {
        self.time
    }
}

/// Which engine paths a run takes; `None` lets the scenario's shape decide. Tests force each to
/// show both give the same bytes.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Paths {
    pub one_event: Option<bool>,
    /// On the one-event path: closes moved to their FIFOs ahead of each pick (`true` where
    /// every TIME_WAIT is longer than zero), or handled as events of their own.
    pub drain: Option<bool>,
    /// The stack's 4-tuples in dense arrays (`Some(true)`) or the hash table (`Some(false)`).
    pub dense: Option<bool>,
}

/// About how far apart closes come and how long they stay queued, for the calendar queue's
/// shape (speed only: the order is exact whatever the shape).
fn queue_shape(scenario: &Scenario) -> (Nanos, Nanos) {
    use crate::scenario::Arrivals;
    let rate = match &scenario.arrivals {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } | Arrivals::OnOff { rate, .. } => *rate,
        Arrivals::Ramp { from, to } => from.max(*to),
        Arrivals::Trace { trace, .. } => {
            trace.rows.len() as f64 / crate::time::secs(scenario.duration.max(1)).max(1e-9)
        }
    };
    let spacing = if rate > 0.0 { (1e9 / rate).clamp(1.0, 1e12) as Nanos } else { 1_000_000 };
    let lifetime = scenario.lifetime.map(|l| l.mean_s()).filter(|m| m.is_finite()).unwrap_or(1.0);
    let hold = crate::time::from_secs_f64(lifetime.clamp(0.0, 1e6));
    (spacing, hold)
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

/// The RNG of the run's timer-wheel phase: from the seed alone, so every strategy of a run sees
/// the same host clock.
fn wheel_rng(seed: u64) -> rand::rngs::ChaCha8Rng {
    use rand::SeedableRng;
    use std::hash::Hasher;
    let mut h = siphasher::sip::SipHasher24::new_with_keys(0x706f_7274_7369_6d00, seed);
    h.write(b"timer-wheel");
    rand::rngs::ChaCha8Rng::seed_from_u64(h.finish())
}

/// Which TIME_WAIT length a connection gets: 0 remote, 1 on-link, 2 from 127.0.0.1, 3 to the
/// host itself. NetBSD's `tcp_established()` takes the loopback MSL when the local address is
/// exactly 127.0.0.1 and the local MSL when `in_localaddr()` finds the destination on one of
/// the host's subnets (the loopback interface's 127/8 included); FreeBSD's `nolocaltimewait`
/// asks `in_localip()`, the destination being one of the host's addresses or in 127/8. Class 3
/// is only asked for when `to_self` (its length differs).
fn time_wait_class(
    local_addr: u32,
    remote_addr: u32,
    host: &[u32],
    subnets: &[(u32, u32)],
    to_self: bool,
) -> usize {
    let loopback_net = remote_addr >> 24 == 127;
    if to_self && (loopback_net || host.contains(&remote_addr)) {
        3
    } else if local_addr == u32::from(std::net::Ipv4Addr::LOCALHOST) {
        2
    } else if loopback_net || subnets.iter().any(|&(net, mask)| remote_addr & mask == net) {
        1
    } else {
        0
    }
}

/// Runs `spec` through `scenario` with `seed`.
pub fn run(
    scenario: &Scenario,
    dests: &DestinationTable,
    spec: &StrategySpec,
    seed: u64,
    opts: RunOptions<'_>,
) -> RunOutput {
    run_paths(scenario, dests, spec, seed, opts, Paths::default())
}

/// [`run`], with the engine's paths forced where `paths` says.
pub(crate) fn run_paths(
    scenario: &Scenario,
    dests: &DestinationTable,
    spec: &StrategySpec,
    seed: u64,
    opts: RunOptions<'_>,
    paths: Paths,
) -> RunOutput {
    let started = Instant::now();
    let eff = scenario.effective(spec);
    let wheel = match eff.timer {
        TimeWaitTimer::Wheel { hz } => Some(TimerWheel::with_random_phase(hz, &mut wheel_rng(seed))),
        TimeWaitTimer::Exact => None,
    };
    let mut stack = Stack::new(StackConfig {
        range: eff.range,
        reserved: eff.reserved.clone(),
        scope: eff.scope,
        tw_reuse: eff.tw_reuse,
        tw_reuse_delay: eff.tw_reuse_delay,
        // The jiffy-era clock and the millisecond TCP clock belong to the same kernel model.
        tw_reuse_ms_clock: wheel.is_some(),
        timestamps: eff.timestamps,
        bind_conflict: eff.bind_conflict,
        local_addrs: scenario.addrs.len(),
        destinations: dests.len(),
    })
    .with_tuple_layout(paths.dense);
    let mut strategy: Box<dyn PortSelector> = spec.config.build(strategy_rng(seed, &spec.label));
    let mut workload = Workload::new(scenario, seed);
    let interval = scenario.metrics.sample_interval.unwrap_or_else(|| default_interval(scenario.duration));
    let mut metrics = Collector::new(scenario.warmup, scenario.metrics.reuse_threshold, interval);
    metrics.track_pools(scenario.addrs.len(), dests.len());
    let addrs: Vec<u32> = scenario.addrs.iter().map(|a| u32::from(*a)).collect();
    let fallback = scenario.addr_choice == crate::scenario::AddrChoice::Fallback;
    let route = scenario.addr_choice == crate::scenario::AddrChoice::Route;
    let time_wait = [eff.time_wait, eff.time_wait_on_link, eff.time_wait_loopback, eff.time_wait_to_self];
    let classed = time_wait[1..].iter().any(|&t| t != time_wait[0]);
    let to_self = time_wait[3] != time_wait[0];
    let subnets: Vec<(u32, u32)> = scenario
        .addrs
        .iter()
        .zip(&scenario.prefixes)
        .filter_map(|(a, p)| {
            let mask = match (*p)? {
                0 => 0,
                len => u32::MAX << (32 - u32::from(len)),
            };
            Some((u32::from(*a) & mask, mask))
        })
        .collect();

    // One event per connection where no arrival can see the close (see the module's doc).
    let one_event = paths.one_event.unwrap_or_else(|| {
        scenario.tcp.active_close == crate::scenario::ActiveClose::Client && !stack.may_recycle_time_wait()
    });
    if one_event {
        metrics.derive_time_wait();
    }
    // The FIFOs a close can go to: the remote class alone unless the lengths differ.
    let classes = if !classed {
        1
    } else if to_self {
        4
    } else {
        3
    };
    // On the one-event path with every TIME_WAIT longer than zero, a close is never an event:
    // closes move to their FIFOs ahead of the picks (in batches, below), so the loop turns once
    // per arrival and once per release, not once per close as well. The FIFOs fill in close
    // order either way, and a close not yet moved releases after the pending arrival.
    let drain = one_event && paths.drain.unwrap_or(true) && time_wait[..classes].iter().all(|&t| t > 0);
    // Closes move to their FIFOs in batches, whenever an arrival passes a multiple of
    // `drain_step`, not before every arrival: the test per arrival is then one compare that
    // nearly always fails, not a look into the close queue (callgrind, bsd, the speed
    // scenario's 20-minute copy: 6.2 M instructions fewer, 1.5 %). Exact while a close stays
    // queued less than its TIME_WAIT: every release due before an arrival then comes from a
    // close already moved (unmoved ones are after the last multiple, less than `drain_step`
    // before the arrival, and release at least a TIME_WAIT later, less a nanosecond on the
    // timer wheel's grid), and the FIFOs still fill in close order (later closes are after the
    // arrival). The largest power of two up to half the shortest TIME_WAIT, at most 2^26 ns
    // (67 ms: about 20 closes a batch at 300/s).
    let drain_step: Nanos = {
        let shortest = time_wait[..classes].iter().copied().min().unwrap_or(0) / 2;
        if shortest == 0 { 1 } else { 1 << (63 - shortest.leading_zeros()).min(26) }
    };
    let mut drain_at: Nanos = 0;
    // Every destination's socket alike (the common case): no two lookups per arrival.
    let one_socket = match dests.sockets[..] {
        [s] => Some(s),
        _ => None,
    };
    let (spacing, hold) = queue_shape(scenario);
    let mut seq: u64 = 0;
    let mut closes: CloseQueue<CloseEvent> = CloseQueue::sized_for(spacing, hold);
    // The processing key (time, seq) of the last arrival: on the one-event path a release
    // at the same instant as the pending arrival goes first exactly when its close (key
    // (closed_at, seq)) would have been handled before that arrival was scheduled, as on the
    // two-event path, where the expiry's sequence number is drawn at the close.
    let mut last_arrival: (Nanos, u64) = (0, 0);
    let mut expiries: [VecDeque<Expiry>; 4] = Default::default();
    let mut pending: Option<(Arrival, u64)> = workload.next_arrival().map(|a| (a, 0));
    let mut log = super::ConnLog::new(opts.spill_log_in.filter(|_| opts.log_connections));
    let mut events: u64 = 0;
    // Memory stays bounded on runs over many destinations: past `forget_at` remembered
    // 4-tuples, those closed longer than the reuse threshold ago are forgotten (one pass,
    // amortised over as many arrivals as the table held).
    let mut forget_at: usize = FORGET_FLOOR;
    let mut forgotten: u64 = 0;
    let mut reported: Nanos = 0;
    // Progress moves on simulated time (a thousandth of the run), however rare the events.
    let (report_step, mut report_at) = ((scenario.duration / 1000).max(1), 0);

    loop {
        // Set when the pending arrival is known to come next (its releases done just below).
        let mut arrival_next = false;
        if drain && pending.as_ref().is_none_or(|(a, _)| a.time >= drain_at) {
            // Every close before the last multiple of `drain_step` at or before the pending
            // arrival (every close up to the run's end after the last arrival).
            let horizon = match &pending {
                Some((a, _)) => {
                    let boundary = a.time - a.time % drain_step;
                    drain_at = boundary.saturating_add(drain_step);
                    boundary.checked_sub(1)
                }
                None => Some(scenario.duration),
            };
            while let Some(h) = horizon
                && let Some(c) = closes.pop_at_or_before(h)
            {
                // The close branch's class and end, spelled out again: closures shared by both
                // cost 4.3 M more instructions (bsd, the speed scenario's 20-minute copy).
                let class = if classed {
                    let local = addrs[usize::from(c.key.local_index())];
                    time_wait_class(
                        local,
                        dests.addrs[c.key.dest_index() as usize],
                        &addrs,
                        &subnets,
                        to_self,
                    )
                } else {
                    0
                };
                let end = match wheel {
                    Some(w) => w.expiry(c.time, time_wait[class]),
                    None => c.time.saturating_add(time_wait[class]),
                };
                expiries[class].push_back(Expiry { time: end, seq: c.seq(), key: c.key, aux: c.time });
            }
        }
        if drain {
            // With one FIFO, every release due before the pending arrival, in a loop of its
            // own: the three-way choice below then runs once per arrival, not once per event.
            // (The arrival is before the run's end, so its releases are too.)
            if classes == 1
                && let Some((a, _)) = &pending
                && a.time < scenario.duration
            {
                let arrival = a.time;
                while let Some(e) = expiries[0].front()
                    && (e.time < arrival || (e.time == arrival && (e.aux, e.seq) < last_arrival))
                {
                    let (now, key, closed_at) = (e.time, e.key, e.aux);
                    expiries[0].pop_front();
                    while metrics.next_sample() <= now {
                        metrics.sample(&mut stack);
                    }
                    events += 1;
                    stack.end_time_wait_unseen(key, closed_at);
                }
                arrival_next = true;
            }
        }
        // The earliest of the three sources by (time, sequence number). Spelled out: an
        // iterator over the three options cost half the loop's time in store-forwarding stalls.
        let mut next = Source::None;
        let mut at = (u64::MAX, u64::MAX);
        if let Some((a, s)) = &pending {
            at = (a.time, *s);
            next = Source::Arrival;
        }
        let mut expiring = 0;
        // With the arrival known to come next (no close queued up to its time, no release
        // before it), neither the close queue nor the FIFOs need a look.
        if !arrival_next {
            if !drain
                && let Some(c) = closes.peek()
                && (c.time, c.seq()) < at
            {
                at = (c.time, c.seq());
                next = Source::Close;
            }
            for (class, fifo) in expiries[..classes].iter().enumerate() {
                if let Some(e) = fifo.front() {
                    let first = if one_event && next == Source::Arrival && e.time == at.0 {
                        (e.aux, e.seq) < last_arrival
                    } else {
                        (e.time, e.seq) < at
                    };
                    if first {
                        at = (e.time, e.seq);
                        next = Source::Expiry;
                        expiring = class;
                    }
                }
            }
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
        if now >= report_at
            && let Some(p) = opts.progress
        {
            p(now - reported);
            (reported, report_at) = (now, now.saturating_add(report_step));
        }
        if next == Source::Expiry {
            let e = expiries[expiring].pop_front().expect("peeked");
            if one_event {
                stack.end_time_wait_unseen(e.key, e.aux);
            } else {
                stack.expire_time_wait(TimeWaitTicket { key: e.key, generation: e.aux as u32 });
            }
        } else if next == Source::Close {
            let c = closes.pop().expect("peeked");
            let class = if classed {
                let local = addrs[usize::from(c.key.local_index())];
                time_wait_class(local, dests.addrs[c.key.dest_index() as usize], &addrs, &subnets, to_self)
            } else {
                0
            };
            let length = time_wait[class];
            let end = || match wheel {
                Some(w) => w.expiry(now, length),
                None => now.saturating_add(length),
            };
            if one_event && length > 0 {
                // The close only moves the connection to its FIFO, in release order: the stack
                // and the metrics never see it (not counted as an event).
                events -= 1;
                expiries[class].push_back(Expiry { time: end(), seq: c.seq(), key: c.key, aux: now });
            } else if one_event {
                stack.end_time_wait_unseen(c.key, now);
            } else {
                let closer = if c.client_closes() { Closer::Client } else { Closer::Server };
                if let Some(ticket) = stack.close(c.key, now, closer, length) {
                    seq += 1;
                    let aux = u64::from(ticket.generation);
                    expiries[class].push_back(Expiry { time: end(), seq, key: c.key, aux });
                }
            }
        } else {
            if stack.remembered() >= forget_at {
                forgotten += stack.forget_closed(now, now.saturating_sub(scenario.metrics.reuse_threshold));
                forget_at = FORGET_FLOOR.max(2 * stack.remembered());
            }
            let (a, _) = pending.take().expect("peeked");
            let socket = match one_socket {
                Some(s) => s,
                None => dests.sockets[usize::from(dests.socket[a.dest as usize])],
            };
            // A plain connect() takes the route's source address: one per destination.
            let mut local = if route && socket.mode == SocketMode::Connect {
                (a.dest % addrs.len() as u32) as u16
            } else {
                a.local
            };
            // Linux inet_sk_get_local_port_range(): IP_LOCAL_PORT_RANGE, clamped to the system's.
            let range = match socket.local_range {
                Some(own) => eff.range.clamp_socket_range(own),
                None => eff.range,
            };
            let mut candidates = 0u32;
            let outcome = loop {
                let flow = Flow {
                    local_index: local,
                    local_addr: addrs[usize::from(local)],
                    dest_index: a.dest,
                    remote_addr: dests.addrs[a.dest as usize],
                    remote_port: dests.ports[a.dest as usize],
                };
                let req = Request {
                    flow: &flow,
                    now,
                    range,
                    mode: socket.mode,
                    per_socket_range: socket.local_range.is_some(),
                };
                let bind_first = socket.mode == SocketMode::BindThenConnect;
                // O(1) when the stack knows the pool has no free port (issue 16, item 5).
                let sel = select_on_stack(&mut *strategy, &req, &stack);
                candidates = candidates.saturating_add(sel.candidates);
                // A forced port opens unless its own 4-tuple is taken: the SYN would then land
                // on a connection the server already has.
                let port = sel.port.filter(|&p| !sel.forced || !stack.tuple_in_use(&flow, p));
                if let Some(port) = port {
                    let mut opened = stack.open(&flow, port, now, bind_first);
                    opened.forced_reuse = sel.forced;
                    seq += 1;
                    let time = now.saturating_add(a.lifetime);
                    if one_event {
                        metrics.close_at(time);
                    }
                    closes.push(CloseEvent::new(time, seq, flow.key(port), a.closer == Closer::Client));
                    break Outcome::Established { port, opened, held_toward_dest: stack.held_toward(a.dest) };
                }
                if fallback && usize::from(local) + 1 < addrs.len() {
                    local += 1;
                    continue;
                }
                break Outcome::Failed;
            };
            metrics.attempt(now, candidates, outcome);
            metrics.pool_attempt(now, local, a.dest, outcome == Outcome::Failed, || {
                stack.held_in_pool(local, a.dest)
            });
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
            last_arrival = at;
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
    let usable = eff.range.len() - eff.reserved.count_in(eff.range);
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
        hold_s(scenario, time_wait.iter().copied().max().unwrap_or(0)),
    );
    summary.name = spec.label.clone();
    summary.strategy = spec.config.name().to_string();
    summary.settings = settings_json(spec, &eff);
    RunOutput { summary, samples, log: log.finish() }
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
fn settings_json(spec: &StrategySpec, eff: &Effective) -> serde_json::Value {
    let mut v = serde_json::json!({
        "range": eff.range.to_string(),
        "ports": eff.range.len(),
        "reserved": eff.reserved.count_in(eff.range),
        "scope": eff.scope.name(),
        "time_wait_s": crate::time::secs(eff.time_wait),
        "tw_reuse": eff.tw_reuse.name(),
        "tw_reuse_delay_s": crate::time::secs(eff.tw_reuse_delay),
    });
    // Only what differs from portsim's first model is written, so the RFC strategies' summaries
    // keep their bytes.
    if let Some(obj) = v.as_object_mut() {
        if let TimeWaitTimer::Wheel { hz } = eff.timer {
            obj.insert("time_wait_timer".into(), serde_json::json!({ "wheel_hz": hz }));
        }
        if eff.time_wait_on_link != eff.time_wait || eff.time_wait_loopback != eff.time_wait {
            obj.insert("time_wait_on_link_s".into(), crate::time::secs(eff.time_wait_on_link).into());
            obj.insert("time_wait_loopback_s".into(), crate::time::secs(eff.time_wait_loopback).into());
        }
        if eff.time_wait_to_self != eff.time_wait {
            obj.insert("time_wait_to_self_s".into(), crate::time::secs(eff.time_wait_to_self).into());
        }
        if eff.bind_conflict != crate::stack::BindConflict::AddressPort {
            obj.insert("bind_conflict".into(), eff.bind_conflict.name().into());
        }
        if !eff.timestamps {
            obj.insert("timestamps".into(), false.into());
        }
    }
    if let (Some(obj), serde_json::Value::Object(params)) = (v.as_object_mut(), spec.config.settings()) {
        obj.insert("parameters".into(), serde_json::Value::Object(params));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(text: &str) -> Scenario {
        crate::scenario::parse(text, "t", Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios")))
            .expect("valid scenario")
    }

    /// Every strategy of `s`, on the paths `a` and on the paths `b`: the same summary (less its
    /// `run` block, which counts events), time series and connection log.
    fn same_bytes(s: &Scenario, a: Paths, b: Paths) {
        let dests = DestinationTable::of(s);
        let opts = RunOptions { log_connections: true, progress: None, spill_log_in: None };
        for spec in &s.strategies {
            let run = |p| run_paths(s, &dests, spec, s.seed, opts, p);
            let (x, y) = (run(a), run(b));
            let json = |o: &RunOutput| {
                let mut v = serde_json::to_value(&o.summary).unwrap();
                v.as_object_mut().unwrap().remove("run");
                v
            };
            assert_eq!(json(&x), json(&y), "{}: summary", spec.label);
            assert_eq!(x.samples, y.samples, "{}: time series", spec.label);
            assert_eq!(&x.log[..], &y.log[..], "{}: connections", spec.label);
            assert!(x.log.len() > 10, "{}: the run did something", spec.label);
        }
    }

    const ONE: Paths = Paths { one_event: Some(true), drain: None, dense: None };
    const ONE_UNDRAINED: Paths = Paths { one_event: Some(true), drain: Some(false), dense: None };
    const TWO: Paths = Paths { one_event: Some(false), drain: None, dense: None };

    #[test]
    fn the_one_event_path_is_chosen_only_where_no_close_is_visible() {
        let chosen = |tcp: &str| {
            let s = scenario(&format!(
                "name = \"p\"\nduration = \"10s\"\n[tcp]\n{tcp}\n[[destinations]]\naddr = \"192.0.2.1:80\"\n\
                 [workload]\narrivals = {{ process = \"constant\", rate = 5.0 }}\n\
                 lifetime = {{ dist = \"constant\", value = \"1s\" }}\n[[strategies]]\nname = \"bsd\"\n"
            ));
            let dests = DestinationTable::of(&s);
            // Two-event runs handle a close and an expiry per connection, one-event runs one
            // release: 50 arrivals (0, 0.2, ..., 9.8 s), 45 of them closed within the 10 s
            // (opened before 9 s), 40 of those also out of their 1 s TIME_WAIT (before 8 s).
            run(&s, &dests, &s.strategies[0], 1, RunOptions::default()).summary.run.events
        };
        assert_eq!(chosen("time_wait = \"1s\"\nactive_close = \"client\""), 50 + 40);
        assert_eq!(chosen("time_wait = \"1s\"\nactive_close = \"server\""), 50 + 45);
        assert_eq!(chosen("time_wait = \"1s\"\nactive_close = \"client\"\ntw_reuse = \"on\""), 50 + 45 + 40);
        assert_eq!(chosen("time_wait = \"1s\"\nactive_close = 0.999"), 50 + 45 + 40);
    }

    #[test]
    fn one_event_and_two_event_paths_agree_on_the_shipped_scenarios() {
        // Shortened: the OS profiles (timer wheels, TIME_WAIT classes, bind rules, two
        // addresses), a burst to exhaustion, and a trace.
        for (file, from, to) in [
            ("os-compare.toml", "duration = \"75s\"", "duration = \"30s\""),
            ("burst-exhaustion.toml", "duration = \"5m\"", "duration = \"40s\""),
            ("time-wait-wheel.toml", "", ""),
            ("trace-replay.toml", "", ""),
            ("busy-backend.toml", "duration = \"10m\"", "duration = \"150s\""),
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file);
            let text = std::fs::read_to_string(path).unwrap().replace(from, to);
            let s = scenario(&text);
            same_bytes(&s, ONE, TWO);
            same_bytes(&s, ONE_UNDRAINED, TWO);
        }
    }

    #[test]
    fn closes_moved_in_batches_keep_the_release_order_when_time_wait_is_short() {
        // TIME_WAIT 6 ms (closes move in batches of 2^21 ns, 2.1 ms), lifetimes about 1 ms, 3,000 conn/s on
        // 16 ports: a batch holds closes that release within a few batches of being moved,
        // and every attempt's outcome depends on the releases before it. Also on Linux's
        // timer wheel (TIME_WAIT of 8 ms rounded up to its grid).
        for (extra, time_wait) in [("", "6ms"), ("stack = { time_wait_timer = \"wheel\" }", "8ms")] {
            let s = scenario(&format!(
                "name = \"short\"\nduration = \"2s\"\n[ports]\nrange = \"40000-40015\"\n\
                 [tcp]\ntime_wait = \"{time_wait}\"\nactive_close = \"client\"\n\
                 [[destinations]]\naddr = \"192.0.2.1:80\"\n[workload]\n\
                 arrivals = {{ process = \"poisson\", rate = 3000.0 }}\n\
                 lifetime = {{ dist = \"exponential\", mean = \"1ms\" }}\n\
                 [[strategies]]\nname = \"bsd\"\n[[strategies]]\nname = \"random-pick\"\n\
                 [[strategies]]\nname = \"linux\"\n{extra}\n"
            ));
            same_bytes(&s, ONE, TWO);
            same_bytes(&s, ONE_UNDRAINED, TWO);
            let dests = DestinationTable::of(&s);
            let out = run(&s, &dests, &s.strategies[0], 1, RunOptions::default());
            assert!(out.summary.connections.failed > 100, "{time_wait}: the range runs out now and then");
        }
    }

    #[test]
    fn a_release_and_an_arrival_at_the_same_instant_keep_the_two_event_order() {
        // Arrivals every second exactly (0, 1, ..., 29 s), one port. Lifetime 1 s, TIME_WAIT
        // 1 s: the release at k + 2 comes before the arrival at k + 2 (its close at k + 1 was
        // handled before the arrival at k + 1 scheduled it), so every other attempt succeeds (a
        // release after the arrival would let only every third through). Lifetime 0, TIME_WAIT
        // 1 s: the close at k comes after the arrival at k scheduled the next one, so the
        // release at k + 1 comes after that arrival: again every other attempt (a release
        // first would let every attempt through).
        for (lifetime, failed) in [("1s", 15), ("0s", 15)] {
            let s = scenario(&format!(
                "name = \"tie\"\nduration = \"30s\"\n[ports]\nrange = \"40000\"\n\
                 [tcp]\ntime_wait = \"1s\"\nactive_close = \"client\"\n\
                 [[destinations]]\naddr = \"192.0.2.1:80\"\n[workload]\n\
                 arrivals = {{ process = \"constant\", rate = 1.0 }}\n\
                 lifetime = {{ dist = \"constant\", value = \"{lifetime}\" }}\n\
                 [[strategies]]\nname = \"bsd\"\n[[strategies]]\nname = \"random-pick\"\n"
            ));
            same_bytes(&s, ONE, TWO);
            same_bytes(&s, ONE_UNDRAINED, TWO);
            let dests = DestinationTable::of(&s);
            let opts = RunOptions { log_connections: true, progress: None, spill_log_in: None };
            let out = run(&s, &dests, &s.strategies[0], 1, opts);
            assert_eq!(out.log.len(), 30);
            assert_eq!(out.log.iter().filter(|r| r.port.is_none()).count(), failed, "lifetime {lifetime}");
        }
    }

    #[test]
    fn dense_and_hashed_tuples_agree_on_the_shipped_scenarios() {
        // Shortened; every scenario whose pools (addresses x destinations) fit dense arrays in a
        // test's memory: two addresses and bind rules, TIME_WAIT classes and wheels, tw_reuse,
        // server-first closes, reserved ports, exhaustion, a trace.
        let dense = Paths { one_event: None, drain: None, dense: Some(true) };
        let hashed = Paths { one_event: None, drain: None, dense: Some(false) };
        for (file, duration) in [
            ("os-compare.toml", "30s"),
            ("burst-exhaustion.toml", "40s"),
            ("time-wait-wheel.toml", "60s"),
            ("trace-replay.toml", "2m"),
            ("busy-backend.toml", "150s"),
            ("tw-reuse.toml", "150s"),
            ("server-closes-first.toml", "150s"),
            ("reserved-ports.toml", "90s"),
            ("rfc-compare.toml", "90s"),
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file);
            let text = std::fs::read_to_string(path).unwrap();
            let text: String = text
                .lines()
                .map(|l| {
                    if l.starts_with("duration = ") { format!("duration = \"{duration}\"") } else { l.into() }
                })
                .collect::<Vec<_>>()
                .join("\n");
            same_bytes(&scenario(&text), dense, hashed);
        }
    }
}
