#!/usr/bin/env bash
# A sharded sweep on a real, single-node Slurm cluster, compared byte for byte with the same
# sweep on one machine. Starts munged, slurmctld and slurmd itself (as root, from a slurm.conf
# in a temporary folder), submits `sbatch --wait --array=0-3` of `portsim sweep --shard auto`
# and a merge job that depends on it (`--dependency=afterok:`), checks the merged files against
# the unsharded sweep's, reruns two deleted shards as `--array=1,3` and prints both wall times. Every daemon it started is stopped by its
# PID on the way out, whether the test passed, failed or was interrupted.
#
#   tests/cluster/slurm.sh                 # uses target/release/portsim (builds it if absent)
#   PORTSIM=path/to/portsim tests/cluster/slurm.sh
#
# Needs root and Debian's slurmctld, slurmd, slurm-client and munge packages; it installs them
# with apt-get when they are missing and skips, saying why, only where they cannot be installed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

SCENARIO=scenarios/sweep-rate.toml
VARY=workload.arrivals.rate=300..450:6
SEEDS=4
SHARDS=4
CTLD_PORT=${PORTSIM_SLURMCTLD_PORT:-16817}
SLURMD_PORT=${PORTSIM_SLURMD_PORT:-16818}

skip() {
  echo "SKIPPED the Slurm test: $*"
  exit 0
}

need=(slurmctld slurmd sbatch squeue scancel sinfo munged mungekey)
missing() {
  for c in "${need[@]}"; do
    PATH="$PATH:/usr/sbin:/sbin" command -v "$c" >/dev/null || return 0
  done
  return 1
}
if missing; then
  [ "$(id -u)" = 0 ] || skip "Slurm is not installed and installing it needs root"
  command -v apt-get >/dev/null || skip "Slurm is not installed and there is no apt-get to install it"
  echo "== installing slurmctld, slurmd, slurm-client and munge"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null; }; then
    skip "apt-get could not install slurmctld, slurmd, slurm-client and munge"
  fi
fi
export PATH="$PATH:/usr/sbin:/sbin"
[ "$(id -u)" = 0 ] || skip "the daemons are started as root and this is not root"

PORTSIM=${PORTSIM:-$repo/target/release/portsim}
if [ ! -x "$PORTSIM" ]; then
  cargo build --release --locked
fi
PORTSIM=$(cd "$(dirname "$PORTSIM")" && pwd)/$(basename "$PORTSIM")
export PORTSIM

work=$(mktemp -d /tmp/portsim-slurm.XXXXXX)
chmod 755 "$work"
munge_pid="" ctld_pid="" slurmd_pid="" array_pid=""

# Stops one process we started: TERM, then KILL after 5 s; reaps it either way.
stop() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  (sleep 5 && kill -KILL "$pid" 2>/dev/null) &
  local killer=$!
  wait "$pid" 2>/dev/null || true
  kill "$killer" 2>/dev/null || true
  wait "$killer" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    # Our cluster's jobs only: SLURM_CONF points every client at it.
    squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true
  fi
  stop "$array_pid"
  stop "$slurmd_pid"
  stop "$ctld_pid"
  stop "$munge_pid"
  if [ "$rc" != 0 ]; then
    echo "the Slurm test failed (exit $rc); the daemons' logs:"
    for f in "$work"/*.log "$work"/run/*.out; do
      [ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== starting munged, slurmctld and slurmd in $work"
mungekey -c -k "$work/munge.key"
chmod 400 "$work/munge.key"
munged -F --force -S "$work/munge.socket" --key-file="$work/munge.key" --pid-file="$work/munged.pid" \
  --log-file="$work/munged.log" --seed-file="$work/munged.seed" >"$work/munged.out.log" 2>&1 &
munge_pid=$!
for _ in $(seq 50); do [ -S "$work/munge.socket" ] && break; sleep 0.1; done
[ -S "$work/munge.socket" ] || { echo "munged did not start"; exit 1; }

node=$(hostname -s)
mkdir -p "$work/state" "$work/spool" "$work/run"
cat >"$work/slurm.conf" <<EOF
ClusterName=portsim-ci
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$work/munge.socket
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=10 State=UP
EOF
export SLURM_CONF="$work/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" >"$work/slurmctld.out.log" 2>&1 &
ctld_pid=$!
slurmd -D -N "$node" -f "$SLURM_CONF" >"$work/slurmd.out.log" 2>&1 &
slurmd_pid=$!
for _ in $(seq 100); do
  [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && break
  sleep 0.2
done
[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] || { echo "the Slurm node did not come up"; sinfo || true; exit 1; }

cd "$work/run"
cp "$repo/$SCENARIO" sweep-rate.toml
now() { date +%s.%N; }

echo "== the sweep on one machine: portsim sweep --threads $(nproc)"
t0=$(now)
"$PORTSIM" sweep sweep-rate.toml --vary "$VARY" --seeds "$SEEDS" --threads "$(nproc)" --out unsharded >/dev/null
t1=$(now)

echo "== the same sweep as a Slurm array of $SHARDS shards (1 CPU each) and a dependent merge"
cat >shard.sbatch <<EOF
#!/bin/bash
#SBATCH --job-name=portsim-shard
#SBATCH --cpus-per-task=1
#SBATCH --time=5
#SBATCH --output=shard-%a.out
exec "\$PORTSIM" sweep sweep-rate.toml --vary "$VARY" --seeds $SEEDS --threads 1 --shard auto --out shards
EOF
t2=$(now)
timeout 100 sbatch --parsable --wait --array=0-$((SHARDS - 1)) shard.sbatch >array.id &
array_pid=$!
for _ in $(seq 100); do [ -s array.id ] && break; sleep 0.1; done
array_id=$(head -n 1 array.id)
[ -n "$array_id" ] || { echo "sbatch did not submit the array"; exit 1; }
timeout 100 sbatch --wait --dependency=afterok:"$array_id" --job-name=portsim-merge --time=5 \
  --output=merge.out --wrap "\"\$PORTSIM\" merge shards --out merged && date +%s.%N >merge.end" >/dev/null
t3=$(now)
wait "$array_pid"
array_pid=""

for k in $(seq 0 $((SHARDS - 1))); do
  [ -f "shards/shard-$k-of-$SHARDS.json" ] || { echo "shard $k/$SHARDS was not written"; exit 1; }
done
# The merged files are the unsharded sweep's, byte for byte (sweep.json's timing block aside,
# should it ever have one).
same() {
  if cmp -s "$1" "$2"; then return 0; fi
  [ "$(basename "$1")" = sweep.json ] && command -v python3 >/dev/null || return 1
  python3 - "$1" "$2" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    d.pop("timing", None)
sys.exit(0 if a == b else 1)
PY
}
count=0
while IFS= read -r f; do
  same "unsharded/$f" "merged/$f" || { echo "merged/$f differs from the unsharded sweep's"; exit 1; }
  count=$((count + 1))
done < <(cd unsharded && find . -type f | sort)
extra=$(cd merged && find . -type f | sort | wc -l)
[ "$extra" = "$count" ] || { echo "the merge wrote $extra files, the sweep $count"; exit 1; }

echo "== rerunning two lost shards as docs/cluster.md says: sbatch --array=1,3 with PORTSIM_SHARDS=$SHARDS"
rm "shards/shard-1-of-$SHARDS.json" "shards/shard-3-of-$SHARDS.json"
if "$PORTSIM" merge shards --out remerged 2>merge.err; then
  echo "merge did not notice the missing shards"
  exit 1
fi
grep -q -- "--shard 1/$SHARDS and --shard 3/$SHARDS" merge.err || { cat merge.err; exit 1; }
PORTSIM_SHARDS=$SHARDS timeout 100 sbatch --wait --array=1,3 shard.sbatch >/dev/null
"$PORTSIM" merge shards --out remerged >/dev/null 2>&1
while IFS= read -r f; do
  same "unsharded/$f" "remerged/$f" || { echo "remerged/$f differs from the unsharded sweep's"; exit 1; }
done < <(cd unsharded && find . -type f | sort)

printf 'one machine, %s threads: %.2f s\n' "$(nproc)" "$(awk "BEGIN{print $t1 - $t0}")"
# sbatch --wait polls: it sleeps 2 s, then 8 s, then 32 s between looks (_job_wait in Slurm's
# src/sbatch/sbatch.c), so the time it returns is rounded up; the merge job's own clock says
# when the merged files were there.
t4=$(cat merge.end)
printf 'Slurm, %s array tasks of 1 CPU + merge job: %.2f s from the first sbatch to the merged files (sbatch --wait returned after %.2f s)\n' \
  "$SHARDS" "$(awk "BEGIN{print $t4 - $t2}")" "$(awk "BEGIN{print $t3 - $t2}")"
echo "Slurm: the merge of $SHARDS shards, and again after rerunning shards 1 and 3, is byte-identical to the unsharded sweep ($count files)"
