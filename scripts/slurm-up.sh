#!/usr/bin/env bash
# Bring up a single-node Slurm on this machine for the tests marked `slurm` (docs/replication.md#tests).
#
# Idempotent: installs Debian's slurm-wlm and munge when missing, writes a minimal slurm.conf for this host
# (its real CPUs and memory, no accounting, no cgroups), and starts munged, slurmctld and slurmd unless they
# already answer; then waits until the node is idle. Run it as root: sudo scripts/slurm-up.sh
# A slurm.conf that this script did not write is left alone (the script stops with a message instead).
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by claimtrack's scripts/slurm-up.sh"
LOGS=/var/log/slurm
say() { echo "slurm-up: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  say "run me as root (it installs packages and starts daemons): sudo $0"
  exit 2
fi

if ! command -v sbatch >/dev/null || ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
  || ! command -v munged >/dev/null; then
  say "installing slurm-wlm and munge from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# --- munge: the key and the daemon ---------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  say "starting munged"
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

# --- slurm.conf for this host ----------------------------------------------------------------------------
HOST=$(hostname -s)
NODE=$(slurmd -C | head -1)  # NodeName=<host> CPUs=.. Boards=.. SocketsPerBoard=.. ... RealMemory=..
WANTED=$(cat <<EOF
$MARK
ClusterName=claimtrack-test
SlurmctldHost=$HOST
AuthType=auth/munge
SlurmUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=5
$NODE State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE OverSubscribe=FORCE:4 State=UP
EOF
)
if [ -e "$CONF" ] && ! head -1 "$CONF" | grep -qxF "$MARK"; then
  say "$CONF exists and was not written by this script; leaving it (and the cluster) alone"
  exit 2
fi
install -d -m 0755 /var/spool/slurmctld /var/spool/slurmd "$LOGS"
RESTART=0
if [ ! -e "$CONF" ] || [ "$(cat "$CONF")" != "$WANTED" ]; then
  printf '%s\n' "$WANTED" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
  RESTART=1
fi

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if [ "$RESTART" = 1 ]; then
  for pid in /run/slurmd.pid /run/slurmctld.pid; do
    if running "$pid"; then kill "$(cat "$pid")"; fi
  done
  sleep 1
fi

# --- the daemons -----------------------------------------------------------------------------------------
if ! running /run/slurmctld.pid; then
  say "starting slurmctld"
  /usr/sbin/slurmctld
fi
if ! running /run/slurmd.pid; then
  say "starting slurmd (under nice 10: test jobs yield to interactive work)"
  nice -n 10 /usr/sbin/slurmd
fi

for _ in $(seq 120); do
  STATE=$(sinfo -h -n "$HOST" -o %t 2>/dev/null || true)
  case "$STATE" in
    idle | mix | alloc) say "node $HOST is $STATE; the cluster is up"; exit 0 ;;
    down* | drain* | inval*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
  esac
  sleep 1
done
say "node $HOST did not become idle within 2 minutes (state: ${STATE:-none}); see $LOGS/"
exit 1
