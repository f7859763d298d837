#!/bin/sh
# Regenerates the predictability charts of README.md ("How predictable is each algorithm?").
# Run from the repository root:
#
#   sh docs/gallery/generate-predict.sh
#
# It builds portsim (or uses $PORTSIM), runs `portsim predict scenarios/predictability.toml`
# (under a minute on two cores) and copies two PNGs here.
set -eu
if [ -z "${PORTSIM:-}" ]; then
    cargo build --release --quiet
    PORTSIM=target/release/portsim
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PORTSIM" predict scenarios/predictability.toml --out "$out/p" >/dev/null
for c in predict-guess predict-attack; do
    cp "$out/p/charts/$c.png" "docs/gallery/$c.png"
done
echo "wrote docs/gallery/predict-guess.png and docs/gallery/predict-attack.png"
