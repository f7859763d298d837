//! `portsim capacity --nat`: the gateway sizing users do by hand, from closed forms.
//!
//! Through a per-connection-tuple NAT, an external (address, port) serves one connection per
//! destination at a time and is held `H` = lifetime + the gateway's post-close hold (conntrack
//! and GCP TIME_WAIT 120 s, Azure's 65 s): toward one destination an address sustains `n / H`
//! new connections a second, and a VM with a quota of `q` ports `q / H` (GCP's default: 64 /
//! 120 s = 0.53 a second). With Poisson arrivals the ports held toward a destination are
//! Poisson with mean `a = λ H` (M/G/∞); the P99 of that count, rounded up, is the headroom the
//! addresses and quotas are sized for. Blocking at a quota is Erlang B.

use crate::cli::CapacityArgs;
use crate::closed_form::erlang_b;
use crate::commands::Status;
use crate::time::{parse_duration, secs};
use anyhow::{Result, bail};
use serde::Serialize;

/// The smallest `k` with P(Poisson(a) <= k) >= q: exact summation up to a = 1,000, the normal
/// approximation (with continuity correction) above, where it is within one port.
pub fn poisson_quantile(a: f64, q: f64) -> u64 {
    if a <= 0.0 {
        return 0;
    }
    if a > 1000.0 {
        let z = normal_quantile(q);
        return (a + z * a.sqrt() + 0.5).ceil().max(0.0) as u64;
    }
    let mut p = (-a).exp();
    let mut cdf = p;
    let mut k = 0u64;
    while cdf < q {
        k += 1;
        p *= a / k as f64;
        cdf += p;
        if k > 100_000 {
            break;
        }
    }
    k
}

/// The standard normal quantile (Peter Acklam's rational approximation, relative error 1.15e-9).
#[allow(clippy::excessive_precision)]
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let plow = 0.02425;
    if p < plow {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - plow {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NatCapacity {
    pub vms: u64,
    pub destinations: u64,
    pub ports_per_ip: u64,
    pub hold_s: f64,
    /// `n / H`: new connections a second one address sustains toward one destination.
    pub rate_per_ip_per_destination: f64,
    pub ports_per_vm: Option<u64>,
    /// `q / H` toward one destination, with a per-VM quota.
    pub rate_per_vm_per_destination: Option<f64>,
    pub at_rate: Vec<NatAtRate>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NatAtRate {
    /// New connections a second per VM.
    pub rate_per_vm: f64,
    pub fleet_rate: f64,
    /// Mean ports held toward one destination: fleet, and one VM.
    pub ports_held_per_destination: f64,
    pub ports_held_per_vm_per_destination: f64,
    pub p99_ports_per_destination: u64,
    /// Addresses for the fleet's P99 toward one destination.
    pub ips_needed: u64,
    pub p99_ports_per_vm: u64,
    /// The power of two (at least 32) at or above the VM's P99: GCP dynamic allocation's
    /// `max_ports_per_vm`, or a static `min_ports_per_vm`.
    pub ports_per_vm_power_of_two: u64,
    /// Erlang-B blocking at the given per-VM quota.
    pub blocking_at_quota: Option<f64>,
}

/// The calculation from validated numbers.
pub fn nat_capacity(
    vms: u64,
    destinations: u64,
    ports_per_ip: u64,
    hold_s: f64,
    quota: Option<u64>,
    rates: &[f64],
) -> NatCapacity {
    let at_rate = rates
        .iter()
        .map(|&r| {
            let fleet = r * vms as f64;
            let a = fleet / destinations as f64 * hold_s;
            let a_vm = r / destinations as f64 * hold_s;
            let p99 = poisson_quantile(a, 0.99);
            let p99_vm = poisson_quantile(a_vm, 0.99);
            NatAtRate {
                rate_per_vm: r,
                fleet_rate: fleet,
                ports_held_per_destination: a,
                ports_held_per_vm_per_destination: a_vm,
                p99_ports_per_destination: p99,
                ips_needed: p99.div_ceil(ports_per_ip).max(1),
                p99_ports_per_vm: p99_vm,
                ports_per_vm_power_of_two: p99_vm.max(32).next_power_of_two(),
                blocking_at_quota: quota.map(|q| erlang_b(q, a_vm)),
            }
        })
        .collect();
    NatCapacity {
        vms,
        destinations,
        ports_per_ip,
        hold_s,
        rate_per_ip_per_destination: ports_per_ip as f64 / hold_s,
        ports_per_vm: quota,
        rate_per_vm_per_destination: quota.map(|q| q as f64 / hold_s),
        at_rate,
    }
}

/// `portsim capacity --nat`.
pub fn execute(args: &CapacityArgs) -> Result<Status> {
    let d =
        |flag: &str, text: &str| parse_duration(text).map_err(|e| anyhow::anyhow!("--{flag} {text}: {e}"));
    let hold = secs(d("lifetime", &args.lifetime)?) + secs(d("nat-time-wait", &args.nat_time_wait)?);
    if hold <= 0.0 {
        bail!("--lifetime and --nat-time-wait are both 0: no port is ever held");
    }
    if args.vms == 0 {
        bail!("--vms 0: give at least one inside host");
    }
    if args.destinations == 0 {
        bail!("--destinations 0: there must be at least one destination");
    }
    if args.nat_ports == 0 || args.nat_ports > 65535 {
        bail!("--nat-ports {}: give 1 to 65535 ports per external address", args.nat_ports);
    }
    if args.ports_per_vm == Some(0) {
        bail!("--ports-per-vm 0: give the quota in ports (GCP's default is 64)");
    }
    for &r in &args.rate {
        if !(r.is_finite() && r > 0.0) {
            bail!("--rate {r}: a rate is a positive number of connections per second");
        }
    }
    let c = nat_capacity(args.vms, args.destinations, args.nat_ports, hold, args.ports_per_vm, &args.rate);
    if args.json {
        crate::report::stdout::print(&format!("{}\n", serde_json::to_string_pretty(&c)?));
    } else {
        crate::report::stdout::print(&render(&c));
    }
    Ok(Status::Ok)
}

pub fn render(c: &NatCapacity) -> String {
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<30}{v}\n"));
    line("hold time H", format!("{:.1} s (lifetime + the gateway's hold after the close)", c.hold_s));
    line(
        "per address, one destination",
        format!("{} ports / H = {:.2} new conn/s", c.ports_per_ip, c.rate_per_ip_per_destination),
    );
    if let (Some(q), Some(r)) = (c.ports_per_vm, c.rate_per_vm_per_destination) {
        line("per VM, one destination", format!("{q} ports / H = {r:.3} new conn/s"));
    }
    for r in &c.at_rate {
        out.push_str(&format!(
            "\nat {} conn/s per VM ({} VMs, {:.1} conn/s in all, over {} destination{})\n",
            r.rate_per_vm,
            c.vms,
            r.fleet_rate,
            c.destinations,
            if c.destinations == 1 { "" } else { "s" }
        ));
        out.push_str(&format!(
            "  ports held per destination  mean {:.1}, P99 {}: {} external address{}\n",
            r.ports_held_per_destination,
            r.p99_ports_per_destination,
            r.ips_needed,
            if r.ips_needed == 1 { "" } else { "es" }
        ));
        out.push_str(&format!(
            "  ports held per VM           mean {:.1}, P99 {}: {} ports per VM (power of two)\n",
            r.ports_held_per_vm_per_destination, r.p99_ports_per_vm, r.ports_per_vm_power_of_two
        ));
        if let Some(b) = r.blocking_at_quota {
            out.push_str(&format!(
                "  at the quota                {b:.3e} of connections find no port (Erlang B)\n"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcp_default_ceiling_is_64_over_120() {
        let c = nat_capacity(1, 1, 64512, 120.0, Some(64), &[0.5]);
        assert!((c.rate_per_vm_per_destination.unwrap() - 0.5333).abs() < 1e-3);
        // 0.5/s x 120 s = 60 ports on average: the P99 is above 64.
        let r = &c.at_rate[0];
        assert_eq!(r.ports_held_per_vm_per_destination, 60.0);
        assert!(r.p99_ports_per_vm > 64);
        assert_eq!(r.ports_per_vm_power_of_two, 128);
        assert!(r.blocking_at_quota.unwrap() > 0.01);
    }

    #[test]
    fn poisson_quantiles() {
        assert_eq!(poisson_quantile(0.0, 0.99), 0);
        // P(Poisson(1) <= 3) = 0.981, <= 4 = 0.9963.
        assert_eq!(poisson_quantile(1.0, 0.99), 4);
        // Normal regime: a + 2.326 sqrt(a).
        let q = poisson_quantile(10_000.0, 0.99);
        assert!((10_232..=10_234).contains(&q), "{q}");
    }
}
