#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the tests of `hvaerl reproduce --executor slurm` (tests/test_slurm.py).
#   scripts/slurm_local.sh start DIR   install Debian's slurmctld, slurmd, slurm-client and munge when missing (root: apt),
#                                      write DIR/slurm.conf for this machine (one node, every core, 90% of its memory,
#                                      one partition `debug`), start munged, slurmctld and slurmd with their state, logs
#                                      and sockets under DIR, and wait until `sinfo` shows the node idle (60 s at most);
#                                      prints `export SLURM_CONF=DIR/slurm.conf`, which the Slurm commands read
#   scripts/slurm_local.sh stop DIR    stop the three daemons by the PIDs they wrote under DIR, and wait for them to exit
# No accounting database: submitit reads job states with `sacct`, which fails without one ("Bypassing sacct error"),
# but hvaerl watches its jobs with `squeue` and their result files, and needs nothing else. Exit status 3: Slurm cannot
# run here (not root and not installed, or no systemd-free way to start it); the tests skip with the reason then.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)

stop() {
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
  if [ "$(id -u)" != 0 ]; then echo "Slurm is not installed and this is not root: apt-get install slurmctld slurmd slurm-client munge" >&2; exit 3; fi
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge) >"$dir/apt.log" 2>&1 \
    || { tail -5 "$dir/apt.log" >&2; echo "apt-get install of Slurm failed (see $dir/apt.log)" >&2; exit 3; }
fi
[ "$(id -u)" = 0 ] || { echo "the local cluster runs its daemons as root (SlurmUser=root): run as root" >&2; exit 3; }

stop  # a cluster left by an earlier run in the same folder
host=$(hostname -s)
# two free TCP ports on this machine: a cluster of another folder (or a real one) may hold Slurm's defaults
read -r ctld_port d_port < <(python3 -c "import socket
s = [socket.socket() for _ in range(2)]
[x.bind(('127.0.0.1', 0)) for x in s]
print(*(x.getsockname()[1] for x in s))")
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) * 9 / 10 / 1024 ))
mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
# munge: its own key, socket and files here, so that nothing of the machine's own munge is touched
[ -f "$dir/munge/munge.key" ] || { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none; chmod 400 "$dir/munge/munge.key"; }
chmod 700 "$dir/munge"
cat >"$dir/slurm.conf" <<EOF
# written by scripts/slurm_local.sh: a one-node cluster for hvaerl's tests
ClusterName=hvaerl-test
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=2
SlurmctldParameters=enable_configless
KillWait=5
MinJobAge=30
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munged.pid" \
  --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"
slurmctld -c -f "$SLURM_CONF" -L "$dir/log/slurmctld.log"  # -c: a clean start, no jobs of an earlier cluster
slurmd -f "$SLURM_CONF" -L "$dir/log/slurmd.log"
for _ in $(seq 120); do
  if [ "$(sinfo -h -N -o %t 2>/dev/null | head -1)" = idle ]; then
    echo "export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "the node did not become idle within 60 s: $(sinfo -h -N -o '%t %E' 2>&1 | head -1); logs in $dir/log" >&2
stop
exit 3
