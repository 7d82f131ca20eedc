#!/usr/bin/env bash
# A one-node Slurm on this machine, for the tests that submit to a real Slurm (they skip, with a
# message, where it cannot start). Needs root (or sudo).
#   install-slurm.sh          install Debian's slurm-wlm and munge, configure, start, check (default)
#   install-slurm.sh start    configure and start the daemons (packages installed already)
#   install-slurm.sh stop     cancel every job, stop slurmctld, slurmd and munged
# Configuration: slurmctld and slurmd on localhost, proctrack/linuxproc, task/none, select/cons_tres,
# no accounting; one partition `debug` holding this machine.
set -uo pipefail
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
fail() { echo "== slurm: FAILED: $*" >&2; exit 1; }

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null && command -v sbatch >/dev/null; then
    echo "== slurm: slurm-wlm and munge present"
    return
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq slurm-wlm munge >/dev/null || { $sudo apt-get update -qq && $sudo apt-get install -y -qq slurm-wlm munge >/dev/null; } ||
    fail "apt-get install slurm-wlm munge"
}

configure() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
  $sudo mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  if [ ! -s /etc/munge/munge.key ]; then
    $sudo dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none || fail "writing /etc/munge/munge.key"
  fi
  $sudo chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  $sudo chmod 0700 /etc/munge && $sudo chmod 0400 /etc/munge/munge.key
  $sudo tee /etc/slurm/slurm.conf >/dev/null <<CONF
# written by cpc-lab scripts/install-slurm.sh: a one-node test cluster
ClusterName=cpclab
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
KillWait=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  configure
  if ! pgrep -x munged >/dev/null; then
    $sudo runuser -u munge -- /usr/sbin/munged || fail "munged did not start (see /var/log/munge/munged.log)"
  fi
  munge -n | unmunge >/dev/null || fail "munge round trip"
  pgrep -x slurmctld >/dev/null || $sudo slurmctld || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
  pgrep -x slurmd >/dev/null || $sudo slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"
  for _ in $(seq 1 30); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -1)
    case "$state" in
      idle|mixed|allocated) echo "== slurm: up, node $(hostname -s) $state"; return 0 ;;
      down*|drain*) $sudo scontrol update nodename="$(hostname -s)" state=resume 2>/dev/null ;;
    esac
    sleep 1
  done
  fail "the node did not become idle within 30 s (sinfo: '${state:-no answer}'; see /var/log/slurm/)"
}

stop() {
  # jobs still running would leave their slurmstepd behind, waiting for a slurmd that is gone
  squeue -h -o %A 2>/dev/null | sort -u | xargs -r scancel 2>/dev/null
  for _ in $(seq 1 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
  scontrol shutdown >/dev/null 2>&1
  for _ in $(seq 1 10); do { pgrep -x slurmctld || pgrep -x slurmd; } >/dev/null || break; sleep 1; done
  for d in slurmctld slurmd; do [ -s /run/$d.pid ] && $sudo kill "$(cat /run/$d.pid)" 2>/dev/null; done
  [ -s /run/munge/munged.pid ] && $sudo kill "$(cat /run/munge/munged.pid)" 2>/dev/null
  echo "== slurm: stopped"
}

case "${1:-install}" in
  install) install_packages && start ;;
  start) start ;;
  stop) stop ;;
  *) fail "usage: $0 [install|start|stop]" ;;
esac
