#!/usr/bin/env bash
# Starts a one-node SLURM cluster on this machine (Debian's slurm-wlm and munge), for
# tests/slurm/sweep_test.sh. Needs root. Installs the packages if they are missing.
set -euo pipefail
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2/1024) - 512}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge /var/lib/munge /var/log/munge
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=psychrnn-test
SlurmctldHost=${host}
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
NodeName=${host} CPUs=${cpus} RealMemory=${mem} State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP
CONF
if [ ! -f /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
fi
chown -R munge:munge /etc/munge /var/lib/munge /var/log/munge /run/munge 2>/dev/null || true
chmod 400 /etc/munge/munge.key
up() { timeout 5 sinfo -h -o '%T' 2>/dev/null | grep -qE 'idle|mixed|allocated'; }
if up; then
  echo "SLURM is already up: $(timeout 5 sinfo -h -o '%P %D %T')"
  exit 0
fi
# Start from a clean slate: stop whatever is left of earlier daemons.
pkill -x slurmd 2>/dev/null || true
pkill -x slurmctld 2>/dev/null || true
pkill -x munged 2>/dev/null || true
for _ in $(seq 1 20); do
  pgrep -x slurmd >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x munged >/dev/null || break
  sleep 0.5
done
for d in slurmd slurmctld munged; do pkill -9 -x "$d" 2>/dev/null || true; done
rm -f /run/munge/munge.socket.2* /run/slurmctld.pid /run/slurmd.pid
su -s /bin/sh munge -c "munged" || munged --force
slurmctld
slurmd
for _ in $(seq 1 60); do
  if up; then
    echo "SLURM is up: $(timeout 5 sinfo -h -o '%P %D %T')"
    exit 0
  fi
  sleep 1
done
echo "SLURM did not come up; logs:" >&2
tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
