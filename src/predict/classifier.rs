//! Item 3: the verdicts of the CVE-2022-32296 tester (`CVE-2022-32296_tester.py` of
//! github.com/0xkol/rfc6056-device-tracker, MIT), its procedure re-derived and run against a
//! simulated host: a server on 127.1.2.3:12345 that answers each connection with its source
//! port.
//!
//! 1. Sanity: 10 connections; an odd source port means "not Linux" (Linux's connect() takes
//!    even ports first).
//! 2. Algorithm 3: four times, a port to the server, 50 connections to random closed ports
//!    12361-12617, a port to the server again; if every difference is at least 100 (= 2·50) one
//!    counter is shared by all destinations: Algorithm 3.
//! 3. Algorithm 4: 210 connections to the server over 21 s (one per 0.1 s); a difference of 100
//!    or more between two consecutive ones is a re-keying (the fixed kernel's 10 s salt): "not
//!    vulnerable"; otherwise "vulnerable".

use super::device::{Device, Hold};
use crate::time::{NANOS_PER_SEC, Nanos};
use rand::{RngExt, SeedableRng};
use serde::Serialize;

const SERVER: (u32, u16) = (0x7f01_0203, 12345);
const ALG3_CONNECTIONS: u32 = 50;
const ALG3_ATTEMPTS: u32 = 4;
const ALG4_MEASUREMENTS: u32 = 210;
const MONITOR_S: u64 = 21;
const SANITY_MEASUREMENTS: u32 = 10;

/// The tester's possible outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    #[serde(rename = "RFC 6056 Algorithm 3 (Not Vulnerable)")]
    Algorithm3,
    #[serde(rename = "RFC 6056 Algorithm 4 (Vulnerable)")]
    Algorithm4Vulnerable,
    #[serde(rename = "RFC 6056 Algorithm 4 (Not Vulnerable)")]
    Algorithm4NotVulnerable,
    /// The sanity test saw an odd port: "Is this a Linux machine?"
    #[serde(rename = "not Linux (odd source port)")]
    NotLinux,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Algorithm3 => "RFC 6056 Algorithm 3 (Not Vulnerable)",
            Verdict::Algorithm4Vulnerable => "RFC 6056 Algorithm 4 (Vulnerable)",
            Verdict::Algorithm4NotVulnerable => "RFC 6056 Algorithm 4 (Not Vulnerable)",
            Verdict::NotLinux => "not Linux (odd source port)",
        }
    }
}

/// Runs the tester against `dev` from time `start`; `seed` drives its `random.randint`.
pub fn classify(dev: &mut Device, start: Nanos, seed: u64) -> Verdict {
    let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let range = dev.range();
    let n = i64::from(range.len());
    let diff = |a: u16, b: u16| ((i64::from(b) - i64::from(a)) % n + n) % n;
    // Python's socket calls are fast next to the sleeps: 1 ms apart.
    let step = NANOS_PER_SEC / 1000;
    let mut now = start;
    let port = |dev: &mut Device, now: &mut Nanos, dport: u16| {
        *now += step;
        dev.connect(*now, SERVER.0, dport, Hold::ClientCloses(step / 2)).unwrap_or(0)
    };
    for _ in 0..SANITY_MEASUREMENTS {
        if port(dev, &mut now, SERVER.1) % 2 != 0 {
            return Verdict::NotLinux;
        }
    }
    let mut all = true;
    for _ in 0..ALG3_ATTEMPTS {
        let s0 = port(dev, &mut now, SERVER.1);
        for _ in 0..ALG3_CONNECTIONS {
            let p = rng.random_range(SERVER.1 + 16..=SERVER.1 + 16 + 256);
            now += step;
            dev.connect(now, SERVER.0, p, Hold::Reset);
        }
        let s1 = port(dev, &mut now, SERVER.1);
        if diff(s0, s1) < i64::from(ALG3_CONNECTIONS) * 2 {
            all = false;
        }
    }
    if all {
        return Verdict::Algorithm3;
    }
    let sleep = MONITOR_S * NANOS_PER_SEC / u64::from(ALG4_MEASUREMENTS);
    let mut s0 = port(dev, &mut now, SERVER.1);
    for _ in 0..ALG4_MEASUREMENTS {
        let s1 = port(dev, &mut now, SERVER.1);
        if diff(s0, s1) >= 100 {
            return Verdict::Algorithm4NotVulnerable;
        }
        s0 = s1;
        now += sleep;
    }
    Verdict::Algorithm4Vulnerable
}
