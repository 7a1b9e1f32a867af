#!/usr/bin/env bash
# npm run test:slurm — a real Slurm job array on this machine. Installs Debian's slurm-wlm and
# munge with apt-get when missing (root or sudo), starts munged, slurmctld and slurmd on
# localhost with a private configuration (SLURM_CONF in a temp folder, ports 16817/16818, nothing
# under /etc/slurm is touched), emits the sbatch script of a 3-point sweep with
# `xbarc sweep --emit slurm`, submits it, waits, and asserts `xbarc merge` finds every point.
# Only the daemons this script started are stopped at the end (by PID).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$(pwd)"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "test:slurm: needs root or sudo (to install and start munge and Slurm)" >&2; exit 1; }
  SUDO="sudo"
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  echo "test:slurm: installing slurm-wlm and munge with apt-get" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends slurm-wlm munge
fi

npx tsc -p tsconfig.json

WORK="$(mktemp -d "${TMPDIR:-/tmp}/xbarc-slurm.XXXXXX")"
chmod 755 "$WORK"
STARTED_PIDS=()
cleanup() {
  local status=$?
  for pid in "${STARTED_PIDS[@]}"; do $SUDO kill "$pid" 2>/dev/null || true; done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 100); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  if [ $status -ne 0 ]; then
    echo "test:slurm: FAILED; logs in $WORK" >&2
    for f in "$WORK"/slurmctld.log "$WORK"/slurmd.log "$WORK"/out/slurm/*.out; do
      [ -f "$f" ] && { echo "----- $f" >&2; tail -n 30 "$f" >&2; }
    done
  else
    $SUDO rm -rf "$WORK"
  fi
  exit $status
}
trap cleanup EXIT

# ---- munge: a key, and a daemon unless one already answers ------------------------------------
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    $SUDO sh -c 'dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null && chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key'
  fi
  $SUDO install -d -o munge -g munge -m 0755 /run/munge
  MUNGE_PID_FILE=/run/munge/xbarc-test-munged.pid
  $SUDO runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID_FILE"
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  [ -s "$MUNGE_PID_FILE" ] && STARTED_PIDS+=("$(cat "$MUNGE_PID_FILE")")
  munge -n | unmunge >/dev/null || { echo "test:slurm: munged does not answer" >&2; exit 1; }
fi

# ---- a one-node cluster on localhost ------------------------------------------------------------
NODE="$(hostname -s)"
CPUS="$(nproc)"
MEM_MB="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)"
mkdir -p "$WORK/state" "$WORK/spool"
export SLURM_CONF="$WORK/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=xbarctest
SlurmctldHost=$NODE
SlurmUser=root
SlurmdUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SlurmdParameters=config_overrides
ReturnToService=2
NodeName=$NODE CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=xbarc Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF

$SUDO env SLURM_CONF="$SLURM_CONF" slurmctld -i -c
for _ in $(seq 1 50); do [ -s "$WORK/slurmctld.pid" ] && break; sleep 0.1; done
STARTED_PIDS+=("$(cat "$WORK/slurmctld.pid")")
$SUDO env SLURM_CONF="$SLURM_CONF" slurmd
for _ in $(seq 1 50); do [ -s "$WORK/slurmd.pid" ] && break; sleep 0.1; done
STARTED_PIDS+=("$(cat "$WORK/slurmd.pid")")

state=""
for _ in $(seq 1 60); do
  state="$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)"
  case "$state" in idle*|mix*|alloc*) break ;; drain*|down*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;; esac
  sleep 1
done
case "$state" in idle*|mix*|alloc*) ;; *) echo "test:slurm: node $NODE never became idle (state: ${state:-none})" >&2; exit 1 ;; esac
echo "test:slurm: slurmctld + slurmd up, node $NODE $state ($CPUS CPUs, $MEM_MB MB)"

# ---- the sweep: emit, submit, wait, merge --------------------------------------------------------
cat > "$WORK/tiny.xbar" <<'SPEC'
import { MLP } from "std/networks"

experiment slurm_tiny {
  data     = mnist(train = 300, test = 100)
  model    = MLP(hidden1 = 16, hidden2 = 8)
  fidelity = ideal
  train { epochs = 1, batch = 32, optimizer = sgd(lr = 0.05) }
  sweep    train.optimizer.lr in [0.01, 0.05, 0.1]
  seed     = 1
}
SPEC

OUT="$WORK/out"
node bin/xbarc.js sweep "$WORK/tiny.xbar" --emit slurm --out "$OUT" --cpus 1 --mem 1G --time 00:10:00 --partition xbarc
SCRIPT="$OUT/slurm_tiny.sbatch"
grep -q '^#SBATCH --array=0-2$' "$SCRIPT"
JOB="$(sbatch --parsable "$SCRIPT")"
JOB="${JOB%%;*}"
echo "test:slurm: submitted array job $JOB"

for i in $(seq 1 300); do
  [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break
  [ "$i" -eq 300 ] && { echo "test:slurm: job $JOB still queued/running after 300 s" >&2; squeue -j "$JOB" >&2 || true; exit 1; }
  sleep 1
done
ls "$OUT/slurm"/*.out >/dev/null 2>&1 || { echo "test:slurm: no array task logs in $OUT/slurm" >&2; exit 1; }
[ "$(ls "$OUT/slurm"/*.out | wc -l)" -eq 3 ] || { echo "test:slurm: expected 3 array task logs" >&2; ls "$OUT/slurm" >&2; exit 1; }

node bin/xbarc.js merge "$OUT"
node --input-type=module -e '
  import { readFileSync } from "node:fs";
  const s = JSON.parse(readFileSync(process.argv[1], "utf8"));
  const ok = s.counts.total === 3 && s.counts.done === 3 && s.points.map((p) => p.index).join() === "0,1,2" && s.points.every((p) => p.status === "done" && p.testAccuracy >= 0);
  if (!ok) { console.error("test:slurm: unexpected sweep.json", JSON.stringify(s.counts)); process.exit(1); }
' "$OUT/sweep.json"
echo "test:slurm: PASS — 3 array tasks ran under Slurm and merge found every point ($OUT)"
