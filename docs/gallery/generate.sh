#!/bin/sh
# Regenerates the chart gallery of README.md. Run from the repository root:
#
#   sh docs/gallery/generate.sh
#
# It builds portsim (or uses $PORTSIM), runs two shipped scenarios and the arrival-rate sweep
# (a few minutes on two cores, the sweep being most of it) and copies seven PNGs here.
set -eu
if [ -z "${PORTSIM:-}" ]; then
    cargo build --release --quiet
    PORTSIM=target/release/portsim
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PORTSIM" run scenarios/rfc-compare.toml --out "$out/rfc-compare" >/dev/null
"$PORTSIM" run scenarios/burst-exhaustion.toml --out "$out/burst" >/dev/null
"$PORTSIM" sweep scenarios/sweep-rate.toml --vary workload.arrivals.rate=300..650:8 --out "$out/sweep" >/dev/null
dest=docs/gallery
for c in candidates_cdf reuse_interval_cdf port_usage; do
    cp "$out/rfc-compare/charts/$c.png" "$dest/$c.png"
done
for c in failures_over_time occupancy_over_time; do
    cp "$out/burst/charts/$c.png" "$dest/$c.png"
done
for c in failure_fraction mean_candidates; do
    cp "$out/sweep/charts/$c.png" "$dest/sweep_$c.png"
done
echo "wrote $(ls "$dest"/*.png | wc -l) charts to $dest/"
