//! `portsim predict`: how predictable each strategy's ports are to an off-path observer
//! ([`observer`]), the 2022 device-tracking attack against Linux's Algorithm 4 ([`tracker`]),
//! the CVE-2022-32296 tester's verdicts ([`classifier`]) and the bits a DNS spoofer faces
//! ([`dns`]). Every figure comes from simulated hosts running the real strategies
//! ([`device`]); the closed forms are reported beside them as checks.

pub mod adapter;
pub(crate) mod charts;
pub mod classifier;
pub mod device;
pub mod dns;
pub mod observer;
pub mod output;
pub mod tracker;

use crate::scenario::Scenario;
use crate::strategy::StrategySpec;
use crate::time::{NANOS_PER_SEC, Nanos};
use device::Device;
use observer::{StrategyGuess, Traffic};
use rayon::prelude::*;
use serde::Serialize;

/// Caller destinations a tracked device needs room for: the tracker's pool and the loopback
/// ports.
const ATTACK_DESTINATIONS: usize = 16_384 + 64 + 8;

/// The attack against one strategy under one traffic setting, over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct AttackRow {
    pub label: String,
    pub name: &'static str,
    pub traffic: Traffic,
    /// The host's own traffic: `idle`, `scenario` (its workload) or `poisson R/s`.
    pub background: String,
    /// Its mean rate in connections per second, where the arrival process has one.
    pub background_rate: Option<f64>,
    pub devices: u32,
    /// Devices whose two visits gave the same, non-empty ID.
    pub identified: u32,
    pub success_rate: f64,
    /// Devices that got the same ID as another device (IDs that do not tell devices apart).
    pub shared_ids: u32,
    /// Mean over first visits: connections the page made, and simulated seconds.
    pub mean_connections: f64,
    pub mean_duration_s: f64,
    /// Per device: the first visit's connections and seconds, and whether it was identified.
    pub per_device: Vec<DeviceAttack>,
    /// First-visit failures by the proof of concept's name for them.
    pub failures: Vec<(String, u32)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct DeviceAttack {
    pub connections: u64,
    pub duration_s: f64,
    pub identified: bool,
    pub fingerprint: Option<String>,
    pub failure: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct VerdictRow {
    pub label: String,
    pub name: &'static str,
    pub traffic: Traffic,
    pub verdict: &'static str,
}

/// Everything `predict` measured.
#[derive(Clone, Debug, Serialize)]
pub struct PredictReport {
    pub guesses: Vec<StrategyGuess>,
    pub attacks: Vec<AttackRow>,
    pub verdicts: Vec<VerdictRow>,
    pub dns: Vec<dns::DnsRow>,
}

/// The strategies the tracking attack runs against: `[predict.attack] strategies`, else every
/// Linux profile of the scenario.
pub fn attack_targets(s: &Scenario) -> Vec<&StrategySpec> {
    let names = &s.predict.attack.strategies;
    s.strategies
        .iter()
        .filter(|spec| {
            if names.is_empty() {
                adapter::is_linux_profile(&spec.config)
            } else {
                names.iter().any(|n| n == &spec.label || n == spec.config.name())
            }
        })
        .collect()
}

/// A stage of the run, for the progress line.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Runs every measurement of `s` with `seed`.
pub fn run(s: &Scenario, seed: u64, progress: Progress<'_>) -> PredictReport {
    let mut guesses = Vec::new();
    for spec in &s.strategies {
        progress(&format!("observer: {}", spec.label));
        for traffic in [Traffic::Idle, Traffic::Busy] {
            guesses.push(observer::measure(s, spec, seed, traffic));
        }
    }
    let mut attacks = Vec::new();
    for spec in attack_targets(s) {
        progress(&format!("tracking attack: {}", spec.label));
        for traffic in [Traffic::Idle, Traffic::Busy] {
            attacks.push(attack(s, spec, seed, traffic));
        }
        for &rate in &s.predict.attack.background_rates {
            let mut busier = s.clone();
            busier.arrivals = crate::scenario::Arrivals::Poisson { rate };
            let mut row = attack(&busier, spec, seed, Traffic::Busy);
            row.background = format!("poisson {rate}/s");
            row.background_rate = Some(rate);
            attacks.push(row);
        }
    }
    progress("CVE-2022-32296 tester");
    let verdicts = s
        .strategies
        .par_iter()
        .flat_map_iter(|spec| {
            [Traffic::Idle, Traffic::Busy].into_iter().map(move |traffic| {
                let id = 3_000_000 + u64::from(traffic == Traffic::Busy);
                let sel = adapter::selector(&spec.config, seed, &spec.label, id);
                let mut dev = Device::new(
                    s,
                    spec,
                    sel,
                    traffic == Traffic::Busy,
                    adapter::device_seed(seed ^ 0xc1a5, id),
                    None,
                    300,
                );
                let verdict = classifier::classify(&mut dev, NANOS_PER_SEC, adapter::device_seed(seed, id));
                VerdictRow {
                    label: spec.label.clone(),
                    name: spec.config.name(),
                    traffic,
                    verdict: verdict.text(),
                }
            })
        })
        .collect();
    progress("DNS view");
    let dns = s.strategies.iter().map(|spec| dns::measure(s, spec, seed)).collect();
    PredictReport { guesses, attacks, verdicts, dns }
}

/// The tracking attack against `devices` devices running `spec`: each is visited twice,
/// `revisit` apart, while its own traffic runs as `traffic` says.
pub fn attack(s: &Scenario, spec: &StrategySpec, seed: u64, traffic: Traffic) -> AttackRow {
    let a = &s.predict.attack;
    let pace = tracker::AttackPace {
        rate: a.rate,
        rtt: a.rtt,
        max_batches: a.max_batches,
        tracker: u32::from(a.tracker),
    };
    let salt = u64::from(traffic == Traffic::Busy);
    let per_device: Vec<DeviceAttack> = (0..u64::from(a.seeds))
        .into_par_iter()
        .map(|i| {
            let id = 2_000_000 + i * 2 + salt;
            let sel = adapter::selector(&spec.config, seed, &spec.label, id);
            let mut dev = Device::new(
                s,
                spec,
                sel,
                traffic == Traffic::Busy,
                adapter::device_seed(seed ^ 0x7ac4, id),
                None,
                ATTACK_DESTINATIONS,
            );
            let start: Nanos = NANOS_PER_SEC;
            let first = tracker::visit(&mut dev, start, pace, adapter::device_seed(seed ^ 0xa77a, id));
            let again = start + first.duration + a.revisit;
            let second = tracker::visit(&mut dev, again, pace, adapter::device_seed(seed ^ 0xa77b, id));
            let identified = first.fingerprint.is_some() && first.fingerprint == second.fingerprint;
            DeviceAttack {
                connections: first.connections,
                duration_s: crate::time::secs(first.duration),
                identified,
                fingerprint: first.fingerprint.clone(),
                failure: first.failure.as_ref().or(second.failure.as_ref()).map(|f| f.name().to_string()),
            }
        })
        .collect();
    let devices = a.seeds;
    let identified = per_device.iter().filter(|d| d.identified).count() as u32;
    let shared_ids = per_device
        .iter()
        .filter(|d| {
            d.identified
                && per_device.iter().filter(|e| e.identified && e.fingerprint == d.fingerprint).count() > 1
        })
        .count() as u32;
    let mut failures: Vec<(String, u32)> = Vec::new();
    for f in per_device.iter().filter_map(|d| d.failure.clone()) {
        match failures.iter_mut().find(|(n, _)| *n == f) {
            Some((_, c)) => *c += 1,
            None => failures.push((f, 1)),
        }
    }
    failures.sort();
    let n = f64::from(devices);
    let (background, background_rate) = match (traffic, &s.arrivals) {
        (Traffic::Idle, _) => ("idle".to_string(), Some(0.0)),
        (
            Traffic::Busy,
            crate::scenario::Arrivals::Poisson { rate } | crate::scenario::Arrivals::Constant { rate },
        ) => ("scenario".to_string(), Some(*rate)),
        (Traffic::Busy, _) => ("scenario".to_string(), None),
    };
    AttackRow {
        label: spec.label.clone(),
        name: spec.config.name(),
        traffic,
        background,
        background_rate,
        devices,
        identified,
        success_rate: f64::from(identified) / n,
        shared_ids,
        mean_connections: per_device.iter().map(|d| d.connections as f64).sum::<f64>() / n,
        mean_duration_s: per_device.iter().map(|d| d.duration_s).sum::<f64>() / n,
        per_device,
        failures,
    }
}
