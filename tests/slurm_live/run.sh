#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Checks tandem's SLURM support against a real one-node SLURM started here, as root:
#   tests/slurm_live/run.sh [--accounting slurmdbd|none] [--keep] TANDEM
# Installs slurm-wlm and munge with apt-get when missing (plus slurmdbd and mariadb-server for
# --accounting slurmdbd, the default; `none` leaves sacct off so that tandem falls back on
# squeue), starts munged (unless one runs), mariadb, slurmdbd, slurmctld and slurmd on their own
# ports with their files under one temporary directory, runs `tandem map --executor slurm`, `tandem
# status`, `tandem cancel`, Ctrl-C, --resume, SLURM's time and memory limits and `--shard slurm`
# under `sbatch --array`, prints "N passed, M failed" and stops every daemon it started. Not part of
# CI (.ci/run): it needs root, apt and a few minutes. --keep leaves the directory for a look.
set -u

accounting=slurmdbd
keep=0
tandem=
while [ $# -gt 0 ]; do
  case "$1" in
    --accounting) accounting=${2:-}; shift 2 ;;
    --accounting=*) accounting=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '3,11p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) tandem=$1; shift ;;
  esac
done
case "$accounting" in slurmdbd|none) ;; *) echo "run.sh: --accounting slurmdbd|none" >&2; exit 2 ;; esac
if [ -z "$tandem" ] || [ ! -x "$tandem" ]; then
  echo "usage: run.sh [--accounting slurmdbd|none] [--keep] TANDEM (an executable tandem)" >&2
  exit 2
fi
tandem=$(cd "$(dirname "$tandem")" && pwd)/$(basename "$tandem")
if [ "$(id -u)" != 0 ]; then
  echo "run.sh: must run as root (it installs packages and starts the SLURM daemons)" >&2
  exit 2
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
check() {  # check DESCRIPTION COMMAND...: passes when the command succeeds
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
note() { echo "---- $*"; }

# ---- packages -----------------------------------------------------------------------------------
need=()
for p in slurm-wlm munge; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ "$accounting" = slurmdbd ]; then
  for p in slurmdbd mariadb-server; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
fi
if [ ${#need[@]} -gt 0 ]; then
  note "apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null ||
    { echo "run.sh: apt-get install ${need[*]} failed" >&2; exit 2; }
fi

# ---- cluster ------------------------------------------------------------------------------------
W=$(mktemp -d /tmp/tandem-slurm-live.XXXXXX)
chmod 755 "$W"
node=$(hostname -s)
etc=$W/etc
mkdir -p "$etc" "$W/state" "$W/spool" "$W/log" "$W/munge" "$W/study"
export SLURM_CONF=$etc/slurm.conf

teardown() {
  set +e
  if [ -e "$W/slurmctld.pid" ]; then
    scancel --full --quiet --user=root 2>/dev/null
    sleep 1
  fi
  # One at a time, each by the pid it recorded, and each gone before the next (slurmdbd before
  # its database, munged last).
  local f p
  for f in slurmd slurmctld slurmdbd mysql/mariadb munge/munged; do
    p=$(cat "$W/$f.pid" 2>/dev/null) || continue
    kill "$p" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$p" 2>/dev/null
  done
  if [ "$keep" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi
}
trap teardown EXIT
trap 'exit 130' INT TERM

wait_for() {  # wait_for SECONDS COMMAND...: until the command succeeds
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" 2>/dev/null; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.5
  done
}

# munge on its default socket (sacctmgr ignores AuthInfo=socket=...): the one running, or ours.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -e /etc/munge/munge.key ] || mungekey --create >/dev/null 2>&1 ||
    { echo "run.sh: no /etc/munge/munge.key and mungekey failed" >&2; exit 1; }
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge: /run/munge /var/log/munge /var/lib/munge /etc/munge/munge.key "$W/munge"
  runuser -u munge -- /usr/sbin/munged --pid-file="$W/munge/munged.pid" ||
    { echo "run.sh: munged did not start" >&2; exit 1; }
  wait_for 10 sh -c 'munge -n | unmunge' >/dev/null || { echo "run.sh: munged did not start" >&2; exit 1; }
fi

# Ports beside SLURM's defaults (6817-6819), so a cluster already on this machine is untouched.
port=$((16817 + RANDOM % 1000 * 4))
acct_lines="AccountingStorageType=accounting_storage/none"
if [ "$accounting" = slurmdbd ]; then
  db_port=$((port + 3))
  # mariadbd runs as mysql: its socket, pid file and log live in a directory it owns.
  my=$W/mysql
  mkdir -p "$my/data"
  chown -R mysql: "$my"
  mariadb-install-db --user=mysql --datadir="$my/data" --auth-root-authentication-method=socket \
    >"$W/log/mariadb-install.log" 2>&1 || { echo "run.sh: mariadb-install-db failed" >&2; exit 1; }
  /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$my/data" --socket="$my/mysql.sock" \
    --port="$db_port" --bind-address=127.0.0.1 --pid-file="$my/mariadb.pid" \
    --log-error="$my/mariadb.log" &
  wait_for 60 mariadb --socket="$my/mysql.sock" -e 'select 1' >/dev/null ||
    { echo "run.sh: mariadb did not start (see $my/mariadb.log)" >&2; exit 1; }
  mariadb --socket="$my/mysql.sock" -e "
    CREATE USER 'slurm'@'localhost' IDENTIFIED BY 'tandem';
    CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'tandem';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  cat >"$etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$((port + 2))
SlurmUser=root
PidFile=$W/slurmdbd.pid
LogFile=$W/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=tandem
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$etc/slurmdbd.conf"
  # slurmdbd reads slurmdbd.conf beside $SLURM_CONF.
  /usr/sbin/slurmdbd || { echo "run.sh: slurmdbd did not start" >&2; exit 1; }
  acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$((port + 2))"
fi

cat >"$SLURM_CONF" <<EOF
ClusterName=tandemlive
SlurmctldHost=$node
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$W/state
SlurmdSpoolDir=$W/spool
SlurmctldPidFile=$W/slurmctld.pid
SlurmdPidFile=$W/slurmd.pid
SlurmctldLogFile=$W/log/slurmctld.log
SlurmdLogFile=$W/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
# Memory is a consumable resource so that --mem becomes the step's limit (a task that asks for
# none gets DefMemPerCPU: two 1-CPU tasks still run side by side). No cgroups here: jobacct_gather
# reads each step's RSS every second and OverMemoryKill kills a step over its limit.
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=900
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=1
JobAcctGatherParams=OverMemoryKill
$acct_lines
MpiDefault=none
ReturnToService=2
KillWait=5
MinJobAge=300
# Start tasks within seconds of a free CPU, not at the next backfill pass (30 s by default).
SchedulerParameters=bf_interval=1
NodeName=$node CPUs=2 RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
if [ "$accounting" = slurmdbd ]; then
  wait_for 30 sacctmgr -i add cluster tandemlive >/dev/null ||
    { echo "run.sh: sacctmgr add cluster failed (see $W/log/slurmdbd.log)" >&2; exit 1; }
fi
/usr/sbin/slurmctld -f "$SLURM_CONF" || { echo "run.sh: slurmctld did not start" >&2; exit 1; }
/usr/sbin/slurmd -f "$SLURM_CONF" || { echo "run.sh: slurmd did not start" >&2; exit 1; }

node_idle() { [ "$(sinfo -h -n "$node" -o %t 2>/dev/null)" = idle ]; }
check "sinfo: node $node idle" wait_for 60 node_idle
check "srun hostname" test "$(timeout 60 srun hostname 2>/dev/null)" = "$(hostname)"

# job_gone JOBID: squeue lists nothing of the job still pending or running.
job_gone() { [ -z "$(squeue -h -j "$1" -t PD,R,CG,S 2>/dev/null)" ]; }
job_id=$(sbatch --parsable --wrap 'echo wrapped' -o "$W/wrap.out")
wrapped() { wait_for 60 job_gone "$job_id" && grep -q wrapped "$W/wrap.out"; }
check "sbatch --wrap" wrapped

# ---- tandem map --executor slurm ----------------------------------------------------------------
cd "$W/study" || exit 1
export TANDEM_SLURM_POLL=1
cat >job.sh <<'EOF'
#!/bin/sh
# job.sh SUBJECT: writes out/SUBJECT.txt after a second; bad fails and slow sleeps past --timeout,
# unless fixed/SUBJECT exists; sleepy sleeps a minute.
mkdir -p out
if [ ! -e "fixed/$1" ]; then
  case "$1" in
    bad) echo "bad input for $1" >&2; exit 3 ;;
    slow) sleep 120 ;;
  esac
fi
case "$1" in sleepy*) sleep 61 ;; esac
sleep 1
echo "$1 on $(hostname)" >"out/$1.txt"
EOF
chmod +x job.sh
printf 's1\ns2\nbad\ns3\nslow\ns4\n' >subjects.txt
T() { "$tandem" "$@"; }
json() { /usr/bin/python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }

note "map: 6 subjects, one fails, one times out"
T map --executor slurm --run-dir run1 --subjects subjects.txt --timeout 8s --joblog jobs.log \
  --report report.json --output 'out/{}.txt' -- ./job.sh {} >map1.out 2>map1.err
code=$?
check "map exits 1 when a subject failed" test $code = 1
check "map: outputs of the 4 good subjects, none of the failed" \
  test "$(ls out | tr '\n' ' ')" = "s1.txt s2.txt s3.txt s4.txt "
check "map: summary names the failure and the timeout" \
  sh -c "grep -q '4 ok, 2 failed' map1.err && grep -q 'bad: exit 3' map1.err &&
    grep -q 'slow: timeout' map1.err"
check "map: joblog has 6 attempts, Host = $node" \
  test "$(tail -n +2 jobs.log | cut -f2 | sort | uniq -c | tr -s ' ')" = " 6 $node"
check "map: report outcomes" test "$(json report.json \
  "' '.join(s['outcome'] for s in d['subjects'])")" = "ok ok exit ok timeout ok"
T status run1 >status1.out 2>&1
check "status after the run exits 1" test $? = 1
check "status after the run counts 4 ok, 2 failed" grep -q '6 tasks: 4 ok, 2 failed, 0 running, 0 pending' status1.out
check "status does not append the joblog twice" test "$(wc -l <jobs.log)" = 7

note "map --resume: only the failed subjects again"
mkdir -p fixed && touch fixed/bad fixed/slow
T map --executor slurm --run-dir run2 --resume --subjects subjects.txt --timeout 8s \
  --joblog jobs.log --output 'out/{}.txt' -- ./job.sh {} >map2.out 2>map2.err
check "resume exits 0" test $? = 0
check "resume submits only bad and slow" \
  test "$(json run2/tasks.json "' '.join(t['subject'] for t in d['tasks'])")" = "bad slow"
check "resume: all 6 outputs" test "$(ls out | wc -l)" = 6

note "map --no-wait, status while running, then done"
T map --executor slurm --no-wait --run-dir run3 --args n1 n2 n3 -j 2 --joblog jobs3.log \
  -- sh -c 'sleep 4; echo {}' >nowait.out 2>nowait.err
check "no-wait prints RUNDIR<TAB>JOBID" grep -qP "^$W/study/run3\t[0-9]+$" nowait.out
status_running() { T status run3 >s3.out 2>&1; [ $? = 3 ] && grep -q ' [12] running' s3.out; }
check "status while running exits 3 and counts running tasks" wait_for 30 status_running
status_done() { T status run3 >s3.out 2>&1; }
check "status once done exits 0" wait_for 60 status_done
check "status once done: 3 ok" grep -q '3 tasks: 3 ok, 0 failed, 0 running, 0 pending' s3.out
check "status appended the joblog" test "$(wc -l <jobs3.log)" = 4

# No job process outlived its task: neither job.sh nor the sleep it started.
no_sleepers() { ! pgrep -f 'job.sh sleepy' >/dev/null && ! pgrep -fx 'sleep 61' >/dev/null; }
note "tandem cancel mid-run"
T map --executor slurm --no-wait --run-dir run4 --grace 1 --joblog jobs4.log \
  --args sleepy1 sleepy2 sleepy3 sleepy4 sleepy5 -- ./job.sh {} >cancel.out 2>cancel.err
id4=$(cut -f2 cancel.out)
two_running() { [ "$(squeue -h -j "$id4" -t R | wc -l)" = 2 ]; }
check "cancel: two tasks start" wait_for 90 two_running
T cancel run4 >cancel2.out 2>&1
check "cancel exits 0" test $? = 0
check "cancel: nothing of the job left in squeue" wait_for 30 job_gone "$id4"
check "cancel: no job process left" wait_for 15 no_sleepers
status_final() { T status "$1" >"$1.status" 2>&1; [ $? != 3 ]; }
check "status after cancel ends (no task pending forever)" wait_for 30 status_final run4
check "status after cancel: 5 failed" grep -q '5 tasks: 0 ok, 5 failed, 0 running, 0 pending' run4.status
check "status after cancel: cancelled, not killed by a signal" \
  sh -c "grep -q 'cancelled' run4.status && ! grep -q 'killed by signal' run4.status"

note "Ctrl-C while map waits"
"$tandem" map --executor slurm --run-dir run5 --grace 1 --joblog jobs5.log --report r5.json \
  --args sleepy6 sleepy7 sleepy8 -- ./job.sh {} >int.out 2>int.err &
map_pid=$!
id5() { cat run5/job_id 2>/dev/null; }
two_running5() { [ -n "$(id5)" ] && [ "$(squeue -h -j "$(id5)" -t R | wc -l)" = 2 ]; }
check "ctrl-c: two tasks start" wait_for 90 two_running5
kill -INT $map_pid
wait $map_pid
check "ctrl-c: map exits 130" test $? = 130
check "ctrl-c: nothing of the job left in squeue" wait_for 30 job_gone "$(id5)"
check "ctrl-c: no job process left" wait_for 15 no_sleepers
check "ctrl-c: the started tasks are in the joblog" test "$(tail -n +2 jobs5.log | wc -l)" = 2
check "ctrl-c: report says interrupted" test "$(json r5.json "d['summary']['interrupted']")" = True
check "status after ctrl-c ends" wait_for 30 status_final run5

note "SLURM's own time limit (takes a minute or two)"
T map --executor slurm --run-dir run6 --grace 1 --slurm-arg=--time=1 --report r6.json \
  --args sleepy9 -- sh -c 'sleep 600 # {}' >tl.out 2>tl.err
check "time limit: map exits 1" test $? = 1
check "time limit: the task is a timeout that names --time" \
  test "$(json r6.json "d['subjects'][0]['outcome']")" = timeout
check "time limit: the message says how to give it more time" grep -q -- "--time" tl.err
no_sleeper600() { ! pgrep -f 'sleep 600' >/dev/null; }
check "time limit: no job process left" wait_for 15 no_sleeper600

note "SLURM's memory limit: one subject holds 400 MB under --mem-per-job 100M"
# OverMemoryKill kills the whole step, tandem's slurm-task too: no status file, and SLURM 22.05
# records the task FAILED (ExitCode 0:9), not OUT_OF_MEMORY; slurmstepd says why in its --output.
mkdir -p mem
cat >mem/job.sh <<'EOF'
#!/bin/sh
# job.sh SUBJECT: writes mem/out/SUBJECT.txt; big first holds 400 MB for 10 s, unless
# mem/fixed/big exists.
mkdir -p mem/out
if [ "$1" = big ] && [ ! -e mem/fixed/big ]; then
  /usr/bin/python3 -c 'import time; b = b"x" * (400 << 20); time.sleep(10)'
fi
sleep 1
echo "$1" >"mem/out/$1.txt"
EOF
chmod +x mem/job.sh
printf 's1\nbig\ns2\n' >mem/subjects.txt
T map --executor slurm --run-dir run7 --subjects mem/subjects.txt --mem-per-job 100M \
  --joblog mem/jobs.log --report r7.json --output 'mem/out/{}.txt' -- mem/job.sh {} \
  >mem.out 2>mem.err
check "memory: map exits 1" test $? = 1
id7=$(cat run7/job_id)
note "memory: SLURM recorded $( (sacct -j "$id7" --parsable2 --noheader \
  --format=JobID,State,ExitCode 2>/dev/null ||
  squeue -j "$id7" --states=all --array --noheader --format='%i|%T|%r') | grep "^${id7}_2" |
  tr '\n' ' ')"
check "memory: slurmstepd killed big for its memory" \
  grep -q 'exceeded memory limit' "run7/slurm/${id7}_2.out"
check "memory: the other 2 subjects succeed" test "$(ls mem/out | tr '\n' ' ')" = "s1.txt s2.txt "
check "memory: report outcomes" \
  test "$(json r7.json "' '.join(s['outcome'] for s in d['subjects'])")" = "ok oom ok"
check "memory: the summary says big used more memory than asked and how to give it more" \
  sh -c "grep -q '2 ok, 1 failed' mem.err &&
    grep -q '^  big: oom: SLURM killed the task for using more memory than it asked for' mem.err &&
    grep -q 'exceeded memory limit ([0-9]* > 104857600)' mem.err &&
    grep -q -- '--mem-per-job or --slurm-arg=--mem=' mem.err"
check "memory: joblog has big as failed" \
  test "$(tail -n +2 mem/jobs.log | cut -f1,7 | tr '\t\n' ': ')" = "1:0 2:-1 3:0 "
T status run7 >run7.status 2>&1
code=$?
check "memory: status exits 1 and says big used more memory than asked" \
  sh -c "[ $code = 1 ] && grep -q '3 tasks: 2 ok, 1 failed' run7.status &&
    grep -q 'FAILED big: oom: SLURM killed the task for using more memory' run7.status"
mkdir -p mem/fixed && touch mem/fixed/big
T map --executor slurm --run-dir run8 --resume --subjects mem/subjects.txt --mem-per-job 100M \
  --joblog mem/jobs.log --output 'mem/out/{}.txt' -- mem/job.sh {} >mem2.out 2>mem2.err
check "memory: resume exits 0" test $? = 0
check "memory: resume submits only big" \
  test "$(json run8/tasks.json "' '.join(t['subject'] for t in d['tasks'])")" = big
check "memory: resume: all 3 outputs" test "$(ls mem/out | wc -l)" = 3

# ---- --shard slurm under sbatch --array ---------------------------------------------------------
note "svd --shard slurm in sbatch --array=1-3"
mkdir -p svd/data svd/res svd/logs
/usr/bin/python3 -c "
import numpy as np
for i in range(6):
    np.save('svd/data/m%d.npy' % i, np.random.default_rng(i).standard_normal((3, 7, 5)))"
cat >svd/array.sh <<EOF
#!/bin/sh
exec "$tandem" svd --shard slurm data/ -o res/ --report 'logs/report-{shard}.json'
EOF
id=$(cd svd && sbatch --parsable --array=1-3 -o 'logs/%A_%a.out' array.sh)
check "svd array finishes" wait_for 120 job_gone "$id"
check "svd: 6 outputs" test "$(ls svd/res | tr '\n' ' ')" = \
  "m0.npz m1.npz m2.npz m3.npz m4.npz m5.npz "
check "svd: each output written exactly once" \
  test "$(cat svd/logs/*.out | grep -c '^wrote ')$(cat svd/logs/*.out | grep '^wrote ' | sort -u | wc -l)" = 66
check "svd: each task did 2 of 6 files" \
  test "$(cat svd/logs/*.out | grep -c 'svd: shard [123]/3: 2 of 6 input files')" = 3
check "svd: one report per task" test "$(ls svd/logs/report-*-of-3.json | wc -l)" = 3
id=$(cd svd && sbatch --parsable --array=1-5:2 -o 'logs/step-%a.out' \
  --wrap "\"$tandem\" svd --shard slurm data/ -o res2/; echo exit=\$?")
refused() {
  wait_for 60 job_gone "$id" && [ "$(cat svd/logs/step-*.out | grep -c exit=2)" = 3 ] &&
    [ ! -e svd/res2 ]
}
check "svd: an array with gaps is refused (exit 2)" refused

note "map --shard slurm in sbatch --array=0-1"
cat >shard.sh <<EOF
#!/bin/sh
exec "$tandem" map --shard slurm --args a b c d e --joblog 'shard/jobs-{shard}.log' \
  -- sh -c 'echo {} >> shard/done.txt'
EOF
mkdir -p shard
id=$(sbatch --parsable --array=0-1 -o 'shard/%a.out' shard.sh)
check "map shard array finishes" wait_for 60 job_gone "$id"
check "map shard: each subject exactly once" test "$(sort shard/done.txt | tr '\n' ' ')" = "a b c d e "
check "map shard: one joblog per task" \
  test "$(ls shard/jobs-1-of-2.log shard/jobs-2-of-2.log 2>/dev/null | wc -l)" = 2

echo "$passed passed, $failed failed (accounting: $accounting)"
[ "$failed" = 0 ]
