//! Strategy-level closed forms from RFC 6056 and shared/reference/rfc6056.md §5.

use portsim::stack::{Flow, PortRange};
use portsim::strategy::*;
use rand::SeedableRng;
use std::net::Ipv4Addr;

fn flow() -> Flow {
    Flow::new(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(192, 0, 2, 1), 443)
}

/// How often Algorithm 1 picks each port, over every possible start (random() % n = 0..n-1,
/// each once): exact, no sampling.
fn alg1_choice_counts(range: PortRange, busy: &BusyPorts) -> Vec<u32> {
    let n = range.len();
    let mut s = RandomStart::new(ScriptedRng::new(0..n));
    let f = flow();
    let mut counts = vec![0; n as usize];
    for _ in 0..n {
        let sel = s.select(&Request::connect(&f, 0, range), busy);
        counts[(sel.port.unwrap() - range.lo()) as usize] += 1;
    }
    counts
}

#[test]
fn algorithm_1_picks_a_port_after_l_busy_ports_with_probability_1_plus_l_over_n() {
    // n = 10, busy run 1001..1003 (L = 3) before 1004: starts 1001, 1002, 1003 and 1004 all
    // land on 1004, so P = 4/10; 1000 has L = 0 (1009 before it is free), so P = 1/10.
    let range = PortRange::new(1000, 1009).unwrap();
    let counts = alg1_choice_counts(range, &BusyPorts::new([1001, 1002, 1003]));
    assert_eq!(counts, vec![1, 0, 0, 0, 4, 1, 1, 1, 1, 1]);
}

#[test]
fn algorithm_1_gives_the_rfc_500_times_bias_after_499_reserved_ports() {
    // RFC 6056 §5: "certain ports may result with 500 times the probability of other ports".
    // n = 2000; 499 ports 1500..1998 unusable, so port 1999 is chosen by 500 starts of 2000.
    let range = PortRange::new(1000, 2999).unwrap();
    let counts = alg1_choice_counts(range, &BusyPorts::new(1500..=1998));
    assert_eq!(counts[999], 500);
    assert_eq!(counts[0], 1);
    let free: Vec<u32> = counts.iter().copied().filter(|&c| c > 0).collect();
    assert_eq!(free.len(), 2000 - 499);
    assert_eq!(free.iter().filter(|&&c| c == 1).count(), 2000 - 499 - 1);
    assert_eq!(counts.iter().sum::<u32>(), 2000);
}

/// Mean candidates of `random-pick` over `draws` selections with the first `busy` ports of a
/// 1000-port range unsuitable.
fn alg2_mean_candidates(busy: u16, draws: u32) -> f64 {
    let range = PortRange::new(10_000, 10_999).unwrap();
    let occupied = BusyPorts::new(10_000..10_000 + busy);
    let mut s = RandomPick::new(StrategyRng::seed_from_u64(42));
    let f = flow();
    let mut total = 0u64;
    for _ in 0..draws {
        let sel = s.select(&Request::connect(&f, 0, range), &occupied);
        assert!(sel.port.is_some());
        total += u64::from(sel.candidates);
    }
    total as f64 / f64::from(draws)
}

#[test]
fn algorithm_2_candidates_average_one_over_one_minus_rho() {
    // Candidates are Geometric(1 - rho): mean 1/(1-rho), sd sqrt(rho)/(1-rho). Over 100,000
    // draws the standard error is 0.45% of the mean at rho = 0.9 (0.22% at 0.5), so a 2%
    // tolerance is more than 4 standard errors: it fails only if the algorithm is wrong.
    for (busy, rho) in [(500u16, 0.5f64), (900, 0.9)] {
        let mean = alg2_mean_candidates(busy, 100_000);
        let expected = 1.0 / (1.0 - rho);
        eprintln!("random-pick at rho {rho}: mean candidates {mean:.4}, 1/(1-rho) = {expected}");
        assert!((mean - expected).abs() / expected < 0.02, "rho {rho}: mean {mean:.4}, expected {expected}");
    }
}
