//! Exhaustion without scanning (issue 16, item 5): the stack's "no free port" is exactly "every
//! candidate fails the check", and a strategy's `select_exhausted` answers what its full scan
//! answers and leaves the same state.

use portsim::params::Params;
use portsim::stack::{
    BindConflict, Closer, Flow, PortRange, ReservedPorts, Scope, Stack, StackConfig, TimeWaitTicket, TwReuse,
};
use portsim::strategy::registry::{STRATEGIES, strategy_rng};
use portsim::strategy::{BusyPorts, PortSelector, Request, Selection, SocketMode};
use proptest::prelude::*;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Each built-in strategy's parameters and the values the property draws from: every knob that
/// changes how a scan moves its counters or draws.
fn parameter_choices(name: &str) -> &'static [(&'static str, &'static [&'static str])] {
    const HASH: (&str, &[&str]) = ("hash", &["\"siphash24\"", "\"siphash13\""]);
    const REKEY: (&str, &[&str]) = ("rekey_period", &["\"none\"", "\"3s\"", "\"10s\""]);
    match name {
        "bsd" => &[("start", &["\"first\"", "\"random\""]), ("direction", &["\"up\"", "\"down\""])],
        "hash" => &[("next_ephemeral_init", &["\"zero\"", "\"random\""]), HASH, REKEY],
        "double-hash" => &[
            ("table_length", &["1", "10", "4096"]),
            ("entry_width", &["16", "32"]),
            ("increment", &["\"rfc\"", "\"linux-5.12\"", "\"linux\""]),
            ("index", &["\"independent\"", "\"same-hash\"", "\"xor-offset\""]),
            HASH,
            REKEY,
        ],
        "random-increments" => {
            &[("n", &["1", "7", "500", "65535"]), ("termination", &["\"rfc6056\"", "\"one-pass\""])]
        }
        "linux" => &[
            ("table_length", &["1", "256", "65536"]),
            REKEY,
            ("so_reuseaddr", &["false", "true"]),
            ("step_width", &["0", "1", "3", "1000"]),
        ],
        "linux-5.12" => &[("table_length", &["1", "256"]), ("skip_one_in", &["0", "1", "16"])],
        "linux-legacy" => &[("era", &["\"4.6\"", "\"4.2\"", "\"<= 4.1\""])],
        "freebsd" => &[("randomized", &["true", "false"]), ("require_unique_port", &["false", "true"])],
        "freebsd-12" => &[
            ("randomized", &["true", "false"]),
            ("randomcps", &["0", "10", "1000"]),
            ("randomtime", &["0", "45"]),
        ],
        "netbsd" => &[
            (
                "algorithm",
                &[
                    "\"bsd\"",
                    "\"random_start\"",
                    "\"random_pick\"",
                    "\"hash\"",
                    "\"doublehash\"",
                    "\"randinc\"",
                ],
            ),
            ("per_call_secret", &["true", "false"]),
            ("n", &["1", "500", "65535"]),
            ("table_length", &["1", "8"]),
        ],
        "macos" => &[("randomize_ports", &["false", "true"])],
        _ => &[],
    }
}

/// Two identical selectors of strategy `name`, parameters picked by `picks`.
fn twins(name: &str, picks: &[usize], seed: u64) -> (Box<dyn PortSelector>, Box<dyn PortSelector>, String) {
    let text: String = parameter_choices(name)
        .iter()
        .zip(picks)
        .map(|((key, values), pick)| format!("{key} = {}\n", values[pick % values.len()]))
        .collect();
    let params = Params::from_toml("s", &text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let info = STRATEGIES.iter().find(|s| s.name == name).expect("built-in");
    let cfg = info.configure(params).unwrap_or_else(|e| panic!("{name} {text}: {e}"));
    (cfg.build(strategy_rng(seed, name)), cfg.build(strategy_rng(seed, name)), text.replace('\n', " "))
}

/// A check rejecting every port of one range and nothing else: a port outside it that a scan
/// looked at would be found free, and the two answers would differ.
fn all_busy(range: PortRange) -> BusyPorts {
    BusyPorts::new(range.iter())
}

/// A partly busy range: each port busy with probability about 3/4, from `salt`.
fn partly_busy(range: PortRange, salt: u64) -> BusyPorts {
    BusyPorts::new(range.iter().filter(|&p| {
        let h = (u64::from(p) ^ salt).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (h >> 62) != 0
    }))
}

fn range_strategy() -> impl Strategy<Value = PortRange> {
    let lo = prop_oneof![1u16..=12, 30_000u16..=33_000, 65_400u16..=65_535];
    let len = prop_oneof![1u32..=8, 1u32..=80, 1u32..=3_000];
    (lo, len).prop_map(|(lo, len)| {
        let hi = (u32::from(lo) + len - 1).min(65_535) as u16;
        PortRange::new(lo, hi).unwrap()
    })
}

/// One call of the property's sequence.
#[derive(Clone, Debug)]
struct Call {
    /// No port of the range is free (the fast path's case); otherwise a partly busy range.
    exhausted: bool,
    salt: u64,
    dest: u8,
    mode: u8,
    per_socket_range: bool,
    /// Simulated time advanced before the call, in milliseconds.
    advance_ms: u32,
}

fn call_strategy() -> impl Strategy<Value = Call> {
    (any::<bool>(), any::<u64>(), 0u8..3, 0u8..3, any::<bool>(), 0u32..4_000).prop_map(
        |(exhausted, salt, dest, mode, per_socket_range, advance_ms)| Call {
            exhausted,
            salt,
            dest,
            mode,
            per_socket_range,
            advance_ms,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every built-in strategy, with random parameters, range and seed: over a random sequence
    /// of calls on exhausted and partly busy ranges, the twin answering exhaustion through
    /// `select_exhausted` gives the same selections (port, candidate count, forced flag) as the
    /// one scanning, and so do the next calls on a partly freed range, which see whatever state
    /// the two left (counters, tables, RNG positions).
    #[test]
    fn the_exhaustion_shortcut_answers_and_leaves_state_as_the_scan(
        seed in any::<u64>(),
        picks in proptest::collection::vec(0usize..16, 6),
        range in range_strategy(),
        calls in proptest::collection::vec(call_strategy(), 1..12),
        after in proptest::collection::vec(any::<u64>(), 6),
    ) {
        let flows: Vec<Flow> = (0..3u8)
            .map(|d| {
                let mut f = Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, d + 1), 443);
                f.dest_index = u32::from(d);
                f
            })
            .collect();
        let full = all_busy(range);
        for info in STRATEGIES {
            let (mut scan, mut fast, params) = twins(info.name, &picks, seed);
            let mut now = 0u64;
            for (i, c) in calls.iter().enumerate() {
                now += u64::from(c.advance_ms) * 1_000_000;
                let mode = [SocketMode::Connect, SocketMode::BindThenConnect, SocketMode::BindNoPort]
                    [usize::from(c.mode)];
                let req = Request {
                    flow: &flows[usize::from(c.dest)],
                    now,
                    range,
                    mode,
                    per_socket_range: c.per_socket_range,
                };
                if c.exhausted {
                    let a = scan.select(&req, &full);
                    let b = fast.select_exhausted(&req);
                    prop_assert_eq!(Some(a), b, "{} ({}) call {} on {}", info.name, params, i, range);
                    prop_assert!(a.port.is_none() || a.forced, "{}: an exhausted range gave {:?}", info.name, a);
                } else {
                    let busy = partly_busy(range, c.salt);
                    let (a, b) = (scan.select(&req, &busy), fast.select(&req, &busy));
                    prop_assert_eq!(a, b, "{} ({}) call {} on {}", info.name, params, i, range);
                }
            }
            for (k, salt) in after.iter().enumerate() {
                let req = Request::connect(&flows[k % 3], now, range);
                let busy = partly_busy(range, *salt);
                let (a, b): (Selection, Selection) = (scan.select(&req, &busy), fast.select(&req, &busy));
                prop_assert_eq!(a, b, "{} ({}) selection {} after the sequence", info.name, params, k);
            }
        }
    }
}

/// A random stack: scope, bind rule, tw_reuse, addresses, destinations (one of them on
/// loopback), a small range and a few reserved ports (one may lie outside the range).
#[derive(Clone, Debug)]
struct StackShape {
    scope: Scope,
    bind_conflict: BindConflict,
    tw_reuse: TwReuse,
    timestamps: bool,
    local_addrs: usize,
    destinations: usize,
    range: PortRange,
    reserved: Vec<u16>,
}

fn shape_strategy() -> impl Strategy<Value = StackShape> {
    (
        prop_oneof![Just(Scope::FourTuple), Just(Scope::LocalPort), Just(Scope::HostWide)],
        prop_oneof![Just(BindConflict::Port), Just(BindConflict::AddressPort), Just(BindConflict::FourTuple)],
        prop_oneof![Just(TwReuse::Off), Just(TwReuse::On), Just(TwReuse::Loopback)],
        any::<bool>(),
        1usize..=3,
        1usize..=3,
        1u16..=10,
        proptest::collection::vec(995u16..=1012, 0..3),
    )
        .prop_map(
            |(scope, bind_conflict, tw_reuse, timestamps, local_addrs, destinations, len, reserved)| {
                StackShape {
                    scope,
                    bind_conflict,
                    tw_reuse,
                    timestamps,
                    local_addrs,
                    destinations,
                    range: PortRange::new(1000, 1000 + len - 1).unwrap(),
                    reserved,
                }
            },
        )
}

/// One change to the stack.
#[derive(Clone, Debug)]
enum Op {
    /// A connection of (address, destination) on its `pick`-th suitable port (bind() first:
    /// exclusive, on a port free for bind()).
    Open { local: u8, dest: u8, pick: u8, bind: bool },
    /// NetBSD's forced port: any port whose 4-tuple is not in use, reserved or outside the
    /// range included.
    Force { local: u8, dest: u8, port: u16 },
    /// The `pick`-th live connection closes; the client closing first holds TIME_WAIT.
    Close { pick: u8, client: bool },
    /// The `pick`-th TIME_WAIT ends.
    Expire { pick: u8 },
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 0u8..3, any::<u8>(), prop::bool::weighted(0.15))
            .prop_map(|(local, dest, pick, bind)| Op::Open { local, dest, pick, bind }),
        1 => (0u8..3, 0u8..3, 995u16..=1012).prop_map(|(local, dest, port)| Op::Force { local, dest, port }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(pick, client)| Op::Close { pick, client }),
        1 => any::<u8>().prop_map(|pick| Op::Expire { pick }),
    ]
}

fn flow_of(local: usize, dest: usize) -> Flow {
    // Destination 2 is on loopback: tw_reuse = loopback recycles its TIME_WAITs only.
    let remote = if dest == 2 { Ipv4Addr::LOCALHOST } else { Ipv4Addr::new(192, 0, 2, dest as u8 + 1) };
    Flow {
        local_index: local as u16,
        local_addr: u32::from(Ipv4Addr::new(10, 0, 0, local as u8 + 1)),
        dest_index: dest as u32,
        remote_addr: u32::from(remote),
        remote_port: 443,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Over random opens (bound ones too), forced ports, closes by either side and TIME_WAIT
    /// expiries, for every pool: when the stack says no port is free, no port of the range is
    /// suitable (for `connect()` and for `bind()`); and wherever the counts decide (no
    /// recyclable TIME_WAIT, no `bind()` that could block ports a pool does not hold) it says
    /// so exactly when no port is. A narrower range is never answered.
    #[test]
    fn no_free_port_is_exactly_every_candidate_rejected(
        shape in shape_strategy(),
        ops in proptest::collection::vec(op_strategy(), 1..120),
    ) {
        let mut reserved = ReservedPorts::new();
        for p in &shape.reserved {
            reserved.insert(*p);
        }
        let mut cfg = StackConfig::simple(shape.range);
        cfg.scope = shape.scope;
        cfg.bind_conflict = shape.bind_conflict;
        cfg.tw_reuse = shape.tw_reuse;
        cfg.tw_reuse_delay = 1_000_000_000;
        cfg.timestamps = shape.timestamps;
        cfg.local_addrs = shape.local_addrs;
        cfg.destinations = shape.destinations;
        cfg.reserved = reserved;
        let mut stack = Stack::new(cfg);
        let range = shape.range;
        let mut live: Vec<(Flow, u16)> = Vec::new();
        let mut time_wait: Vec<TimeWaitTicket> = Vec::new();
        let mut bound = false;
        let mut now = 0u64;
        for op in &ops {
            now += 300_000_000;
            match *op {
                Op::Open { local, dest, pick, bind } => {
                    let f = flow_of(usize::from(local) % shape.local_addrs, usize::from(dest) % shape.destinations);
                    let free: Vec<u16> = range
                        .iter()
                        .filter(|&p| if bind { stack.is_free_for_bind(f.local_index, p) } else { stack.is_suitable(&f, p, now) })
                        .collect();
                    if !free.is_empty() {
                        let port = free[usize::from(pick) % free.len()];
                        stack.open(&f, port, now, bind);
                        bound |= bind;
                        live.push((f, port));
                    }
                }
                Op::Force { local, dest, port } => {
                    let f = flow_of(usize::from(local) % shape.local_addrs, usize::from(dest) % shape.destinations);
                    if !stack.tuple_in_use(&f, port) {
                        stack.open(&f, port, now, false);
                        live.push((f, port));
                    }
                }
                Op::Close { pick, client } => {
                    if !live.is_empty() {
                        let (f, port) = live.swap_remove(usize::from(pick) % live.len());
                        let closer = if client { Closer::Client } else { Closer::Server };
                        if let Some(t) = stack.close(f.key(port), now, closer, 60_000_000_000) {
                            time_wait.push(t);
                        }
                    }
                }
                Op::Expire { pick } => {
                    if !time_wait.is_empty() {
                        let t = time_wait.swap_remove(usize::from(pick) % time_wait.len());
                        stack.expire_time_wait(t);
                    }
                }
            }
            // A recycled TIME_WAIT's connection is live again: keep the lists true.
            live.retain(|(f, p)| stack.tuple_in_use(f, *p));
            for local in 0..shape.local_addrs {
                let bind_none = range.iter().all(|p| !stack.is_free_for_bind(local as u16, p));
                prop_assert_eq!(stack.no_free_port_for_bind(local as u16, range), bind_none, "bind() on address {}", local);
                for dest in 0..shape.destinations {
                    let f = flow_of(local, dest);
                    let none = range.iter().all(|p| !stack.is_suitable(&f, p, now));
                    let said = stack.no_free_port(&f, range);
                    prop_assert!(!said || none, "pool ({}, {}) said full with a free port", local, dest);
                    let recyclable = match shape.tw_reuse {
                        TwReuse::Off => false,
                        TwReuse::On => true,
                        TwReuse::Loopback => f.is_loopback(),
                    } && shape.timestamps;
                    let decided = match shape.scope {
                        Scope::FourTuple => {
                            let bind_blocks = bound && shape.bind_conflict != BindConflict::FourTuple;
                            !(recyclable || bind_blocks)
                        }
                        Scope::LocalPort if shape.bind_conflict == BindConflict::Port && shape.local_addrs > 1 => !bound,
                        _ => true,
                    };
                    if decided {
                        prop_assert_eq!(said, none, "pool ({}, {})", local, dest);
                    }
                    if range.len() > 1 {
                        let narrower = PortRange::new(range.lo(), range.hi() - 1).unwrap();
                        prop_assert!(!stack.no_free_port(&f, narrower));
                    }
                }
            }
        }
    }
}

/// A built-in strategy with its exhaustion shortcut taken away: the engine then scans every
/// failing attempt, as it did before the shortcut.
#[derive(Debug, PartialEq)]
struct Scanning(portsim::StrategyConfig);

struct ScanningSelector(Box<dyn PortSelector>);

impl PortSelector for ScanningSelector {
    fn select(&mut self, req: &Request<'_>, check: &dyn portsim::PortCheck) -> Selection {
        self.0.select(req, check)
    }
    fn select_stack(&mut self, req: &Request<'_>, check: &portsim::strategy::StackCheck<'_>) -> Selection {
        self.0.select_stack(req, check)
    }
    fn select_bind(&mut self, req: &Request<'_>, check: &portsim::strategy::BindCheck<'_>) -> Selection {
        self.0.select_bind(req, check)
    }
}

impl portsim::ConfiguredStrategy for Scanning {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn os_defaults(&self) -> portsim::OsDefaults {
        self.0.os_defaults()
    }
    fn settings(&self) -> serde_json::Value {
        self.0.settings()
    }
    fn build(&self, rng: portsim::StrategyRng) -> Box<dyn PortSelector> {
        Box::new(ScanningSelector(self.0.build(rng)))
    }
}

/// A built-in strategy counting the attempts its exhaustion shortcut answered.
#[derive(Debug)]
struct Counted(portsim::StrategyConfig, Arc<AtomicU64>);

impl PartialEq for Counted {
    fn eq(&self, other: &Counted) -> bool {
        self.0 == other.0
    }
}

struct CountedSelector(Box<dyn PortSelector>, Arc<AtomicU64>);

impl PortSelector for CountedSelector {
    fn select(&mut self, req: &Request<'_>, check: &dyn portsim::PortCheck) -> Selection {
        self.0.select(req, check)
    }
    fn select_stack(&mut self, req: &Request<'_>, check: &portsim::strategy::StackCheck<'_>) -> Selection {
        self.0.select_stack(req, check)
    }
    fn select_bind(&mut self, req: &Request<'_>, check: &portsim::strategy::BindCheck<'_>) -> Selection {
        self.0.select_bind(req, check)
    }
    fn select_exhausted(&mut self, req: &Request<'_>) -> Option<Selection> {
        let sel = self.0.select_exhausted(req);
        if sel.is_some() {
            self.1.fetch_add(1, Ordering::Relaxed);
        }
        sel
    }
}

impl portsim::ConfiguredStrategy for Counted {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn os_defaults(&self) -> portsim::OsDefaults {
        self.0.os_defaults()
    }
    fn settings(&self) -> serde_json::Value {
        self.0.settings()
    }
    fn build(&self, rng: portsim::StrategyRng) -> Box<dyn PortSelector> {
        Box::new(CountedSelector(self.0.build(rng), self.1.clone()))
    }
}

/// Every built-in strategy (and the variants whose exhaustion differs) through the simulator on
/// a 200-port range run well past its ceiling, with a bind-then-connect destination beside a
/// connect() one and tw_reuse on for one run: with the shortcut and without it, every figure
/// of the summary (but the wall time), every time-series row and every attempt's port and
/// candidate count are the same.
#[test]
fn runs_give_the_same_results_with_and_without_the_shortcut() {
    let mut text = String::from(
        r#"
name = "exhaustion-twins"
seed = 21
duration = "90s"
[ports]
range = "40000-40199"
[tcp]
time_wait = "30s"
active_close = "client"
[[destinations]]
addr = "192.0.2.10:443"
weight = 3.0
[[destinations]]
addr = "192.0.2.11:443"
socket = "bind-then-connect"
[workload]
arrivals = { process = "poisson", rate = 40.0 }
lifetime = { dist = "exponential", mean = "2s" }
"#,
    );
    for info in STRATEGIES {
        text += &format!("[[strategies]]\nname = \"{}\"\n", info.name);
    }
    text += r#"
[[strategies]]
name = "random-increments"
label = "alg5-one-pass"
termination = "one-pass"
[[strategies]]
name = "netbsd"
label = "netbsd-randinc"
algorithm = "randinc"
[[strategies]]
name = "netbsd"
label = "netbsd-doublehash"
algorithm = "doublehash"
[[strategies]]
name = "double-hash"
label = "alg4-tw-reuse"
stack = { tw_reuse = "on" }
"#;
    let mut fast = portsim::scenario::parse(&text, "exhaustion-twins.toml", std::path::Path::new("."))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut slow = fast.clone();
    for spec in &mut slow.strategies {
        spec.config = portsim::StrategyConfig::new(Scanning(spec.config.clone()));
    }
    let shortcuts: Vec<Arc<AtomicU64>> = fast.strategies.iter().map(|_| Arc::default()).collect();
    for (spec, count) in fast.strategies.iter_mut().zip(&shortcuts) {
        spec.config = portsim::StrategyConfig::new(Counted(spec.config.clone(), count.clone()));
    }
    let opts = portsim::RunOptions { log_connections: true, progress: None, spill_log_in: None };
    let (a, b) = (portsim::sim::run_all(&fast, 4, opts), portsim::sim::run_all(&slow, 4, opts));
    assert_eq!(a.len(), b.len());
    let without_run = |s: &portsim::StrategySummary| {
        let mut v = serde_json::to_value(s).unwrap();
        v.as_object_mut().unwrap().remove("run");
        v
    };
    let mut failed = 0;
    for ((x, y), count) in a.iter().zip(&b).zip(&shortcuts) {
        assert_eq!(without_run(&x.summary), without_run(&y.summary), "{}", x.summary.name);
        assert_eq!(x.samples, y.samples, "{}", x.summary.name);
        assert_eq!(&x.log[..], &y.log[..], "{}", x.summary.name);
        failed += x.log.iter().filter(|c| c.port.is_none()).count();
        // The tw_reuse run may recycle TIME_WAITs: its stack never claims a pool is full.
        let taken = count.load(Ordering::Relaxed);
        if x.summary.name != "alg4-tw-reuse" {
            assert!(taken > 100, "{}: the shortcut answered only {taken} attempts", x.summary.name);
        }
    }
    assert!(failed > 10_000, "the runs must be exhausted often: {failed} failures");
}
