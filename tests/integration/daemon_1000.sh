#!/usr/bin/env bash
# ctest-timeout: 180
# The master's own resources stay flat over 1,000 child runs: four modules every 10ms (one
# leaks 4 MiB a run, one leaks 64 descriptors a run) — the leaks die with each child. The
# master's RSS (VmRSS) and open descriptors are read from /proc after a warm-up (100 runs; 500
# under ASan) and again 1,000 runs later (descriptors minus one socket per child it has at that
# moment). The test prints both and asserts: descriptors unchanged, RSS grown by at most 1 MiB
# (a leak of even 1 KiB a run would show as more).
. "$(dirname "$0")/../lib/common.sh"
TESTD=${TIP_TESTD:-$TIP_BUILDDIR/tests/tip-testd}
asan=no
grep -q '^TIP_SANITIZE:BOOL=ON' "$TIP_BUILDDIR/CMakeCache.txt" 2>/dev/null && asan=yes
warm=100
if [ $asan = yes ]; then
	# ASan's allocator takes its regions and fills its quarantine over the first few hundred
	# runs (RSS +1 MB by run 500, then flat): measure after that
	warm=500
	# freed blocks wait in ASan's quarantine (256 MiB by default) before reuse, so RSS would
	# grow by design; a small quarantine keeps the figure about the master, not the sanitizer
	export ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
fi
sed -i 's/^log_level = .*/log_level = warn/' "$T/tip.conf"
cat >> "$T/tip.conf" <<CONF
max_children = 4
grace_ms = 200
[module quick]
interval = 10ms
[module quick2]
interval = 10ms
[module leak]
interval = 10ms
[module fdleak]
interval = 10ms
CONF
for m in echo segv hang exit3 fail overrun hog spin first second crashsvc; do
	printf '[module %s]\nenabled = no\n' $m >> "$T/tip.conf"
done
q() { sqlite3 -cmd ".timeout 5000" "$T/tip.db" "$1"; }
rss() { awk '/^VmRSS/ {print $2}' /proc/$1/status; }
# The master's descriptors, read with it stopped (SIGSTOP: it can neither fork nor reap):
# "own" counts all but sockets (each child has one socket to the master, and nothing else of
# the master's is a socket: libevent's signal channel is a pipe); "extra" is how many sockets
# exceed its children (0, or 1 when it was stopped just after a fork() with the child's end
# not yet closed; a leaked socket would make it grow).
fds() {
	local own socks kids
	kill -STOP $1
	for _ in $(seq 100); do [ "$(awk '{print $3}' /proc/$1/stat)" = T ] && break; sleep 0.01; done
	own=$(find /proc/$1/fd -mindepth 1 -printf '%l\n' | grep -vc '^socket:')
	socks=$(find /proc/$1/fd -mindepth 1 -printf '%l\n' | grep -c '^socket:')
	kids=$(ps --ppid $1 -o pid= | wc -l)
	kill -CONT $1
	echo "$own $((socks - kids))"
}
# The same, sampled up to five times 50 ms apart, with the fewest extra sockets. A child just
# reaped counts too until its run's end is written (sched/child.c ended(): waitpid, the store,
# then close); +2 was seen once on a loaded machine. A leaked socket stays in every sample.
fds_min() {
	local own extra o e
	read -r own extra < <(fds $1)
	for _ in 1 2 3 4; do
		[ "$extra" -le 1 ] && break
		sleep 0.05
		read -r o e < <(fds $1)
		[ "$e" -lt "$extra" ] && own=$o extra=$e
	done
	echo "$own $extra"
}
wait_runs() { # wait_runs N: until the store holds N ended runs (at most 120 s)
	for _ in $(seq 1200); do
		[ "$(q "SELECT count(*) FROM run WHERE ended IS NOT NULL")" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

assert_rc 0 "init" -- "$TESTD" init
"$TESTD" run --foreground 2> "$T/log" &
P=$!
at_exit "kill -9 $P 2>/dev/null"
t0=$(date +%s%N)
wait_runs $warm
read -r fds0 extra0 < <(fds_min $P)
rss0=$(rss $P) n0=$(q "SELECT count(*) FROM run WHERE ended IS NOT NULL")
wait_runs $((warm + 1000))
read -r fds1 extra1 < <(fds_min $P)
rss1=$(rss $P) n1=$(q "SELECT count(*) FROM run WHERE ended IS NOT NULL")
secs=$(( ($(date +%s%N) - t0) / 1000000 ))
if [ "$fds1" != "$fds0" ]; then # say what they are, for whoever reads the failure
	kill -STOP $P; sleep 0.1
	echo "# descriptors of the master:"; ls -l /proc/$P/fd | sed 's/^/#   /'
	echo "# children:"; ps --ppid $P -o pid=,stat= | sed 's/^/#   /'
	kill -CONT $P
fi
kill -TERM $P
wait $P
assert_eq "$?" 0 "the master stops cleanly after the runs"
echo "# master after $n0 runs: RSS ${rss0} kB, ${fds0} fds + ${extra0} socket(s) beyond its children; after $n1 runs: RSS ${rss1} kB, ${fds1} fds + ${extra1} (asan: $asan; $n1 runs in ${secs}ms)"
assert_eq "$fds1" "$fds0" "the master's own descriptors are unchanged over $((n1 - n0)) runs ($fds0)"
assert_eq "$([ "$extra1" -le 1 ] && [ "$extra1" -ge 0 ] && echo yes)" yes "one socket per child, no more (+$extra1: 1 only just after a fork or a reap; the fewest of up to 5 samples)"
grow=$((rss1 - rss0))
assert_eq "$([ "$grow" -le 1024 ] && echo yes)" yes "the master's RSS grew by ${grow} kB over $((n1 - n0)) runs (bound 1024 kB)"
assert_eq "$(q "SELECT count(*) FROM run WHERE status <> 'ok' AND status <> 'killed'")" 0 "every run ended ok (leaks included)"
assert_eq "$(q "SELECT count(DISTINCT module) FROM run")" 4 "all four modules ran"
# no module starved: each got at least a fifth of the runs
assert_eq "$(q "SELECT min(c) * 5 >= sum(c) / 4 FROM (SELECT count(*) c FROM run GROUP BY module)")" 1 "runs are shared among the modules"
done_testing
