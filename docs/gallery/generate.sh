#!/bin/sh
# Regenerates the chart gallery of README.md. Run from the repository root:
#
#   sh docs/gallery/generate.sh
#
# It builds portsim (or uses $PORTSIM), runs five shipped scenarios, the arrival-rate sweep
# and a two-value socket sweep (a few minutes on two cores, the rate sweep being most of it)
# and copies twelve PNGs here.
set -eu
if [ -z "${PORTSIM:-}" ]; then
    cargo build --release --quiet
    PORTSIM=target/release/portsim
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PORTSIM" run scenarios/rfc-compare.toml --out "$out/rfc-compare" >/dev/null
"$PORTSIM" run scenarios/burst-exhaustion.toml --out "$out/burst" >/dev/null
"$PORTSIM" run scenarios/quickstart.toml --out "$out/quickstart" >/dev/null
"$PORTSIM" run scenarios/os-compare.toml --out "$out/os-compare" >/dev/null
"$PORTSIM" run scenarios/reserved-ports.toml --out "$out/reserved" >/dev/null
"$PORTSIM" sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..650:8 --out "$out/sweep" >/dev/null
"$PORTSIM" sweep scenarios/sweep-rate.toml --vary workload.socket=connect,bind-then-connect \
    --out "$out/socket" >/dev/null
dest=docs/gallery
for c in candidates_cdf reuse_interval_cdf port_usage; do
    cp "$out/rfc-compare/charts/$c.png" "$dest/$c.png"
done
for c in failures_over_time occupancy_over_time; do
    cp "$out/burst/charts/$c.png" "$dest/$c.png"
done
cp "$out/quickstart/charts/candidates_cdf.png" "$dest/candidates_cdf_quickstart.png"
cp "$out/os-compare/charts/failures_over_time.png" "$dest/failures_os_compare.png"
cp "$out/os-compare/charts/occupancy_over_time.png" "$dest/occupancy_pools.png"
cp "$out/reserved/charts/port_usage.png" "$dest/port_usage_reserved.png"
for c in failure_fraction mean_candidates; do
    cp "$out/sweep/charts/$c.png" "$dest/sweep_$c.png"
done
cp "$out/socket/charts/mean_candidates.png" "$dest/sweep_socket.png"
echo "wrote $(ls "$dest"/*.png | wc -l) charts to $dest/"
