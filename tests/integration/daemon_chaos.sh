#!/usr/bin/env bash
# ctest-timeout: 120
# The master among misbehaving modules (tests/integration/testd.c): one segfaults, one hangs
# past its timeout ignoring SIGTERM, one leaks memory, one leaks descriptors, one exits 3, one
# fails, one overruns its interval, a service crashes 200ms after each start. For ~4 s the
# master must keep running, kill and reap each child on time, start the well-behaved module
# on its schedule, and leave no zombie; SIGTERM then stops everything, children included.
# Expected values are the config below worked by hand (intervals, timeout + grace).
. "$(dirname "$0")/../lib/common.sh"
TESTD=${TIP_TESTD:-$TIP_BUILDDIR/tests/tip-testd}
cat >> "$T/tip.conf" <<CONF
grace_ms = 100
max_children = 12
[module quick]
interval = 200ms
[module segv]
interval = 150ms
[module hang]
interval = 300ms
timeout = 100ms
[module leak]
interval = 100ms
[module fdleak]
interval = 100ms
[module exit3]
interval = 150ms
[module fail]
interval = 200ms
backoff = 20ms
[module overrun]
interval = 100ms
timeout = 2s
[module first]
interval = 300ms
[module second]
interval = 100ms
[module crashsvc]
interval = 400ms
backoff = 50ms
CONF
for m in quick2 echo hog spin; do printf '[module %s]\nenabled = no\n' $m >> "$T/tip.conf"; done
q() { sqlite3 -cmd ".timeout 5000" "$T/tip.db" "$1"; }

assert_rc 0 "init" -- "$TESTD" init
"$TESTD" run --foreground 2> "$T/log" &
P=$!
at_exit "kill -9 $P 2>/dev/null"
for _ in $(seq 50); do grep -q started "$T/log" && break; sleep 0.1; done
assert_match "$(cat "$T/log")" "started \(pid $P, 15 modules" "the master started with the test module table"

# zombies: a child is a zombie for the moment between its exit and the master's reaping;
# one still a zombie 300ms later was not reaped
zombies_kept=0
for _ in 1 2 3 4 5 6; do
	z1=$(ps --ppid $P -o pid=,stat= | awk '$2 ~ /^Z/ {print $1}' | sort)
	sleep 0.3
	z2=$(ps --ppid $P -o pid=,stat= | awk '$2 ~ /^Z/ {print $1}' | sort)
	kept=$(comm -12 <(echo "$z1") <(echo "$z2") | grep -c . || true)
	zombies_kept=$((zombies_kept + kept))
done
assert_eq "$zombies_kept" 0 "no child stayed a zombie for 300ms (sampled 6 times over ~2 s)"
sleep 1.5
assert_rc 0 "the master is still running after ~4 s of crashes" -- kill -0 $P

# what each misbehaviour was recorded as
assert_match "$(q "SELECT DISTINCT status || ' ' || signal FROM run WHERE module='segv' AND status <> 'killed'")" "^crashed 11$" "segv: crashed, signal 11"
assert_match "$(q "SELECT DISTINCT status || ' ' || exit_code FROM run WHERE module='exit3' AND status <> 'killed'")" "^failed 3$" "exit3: failed, exit code 3"
assert_match "$(q "SELECT DISTINCT error FROM run WHERE module='fail' AND status='failed'")" "source unreachable" "fail: failed, with the module's own error text"
assert_match "$(q "SELECT DISTINCT status || ' ' || signal FROM run WHERE module='hang' AND status <> 'killed'")" "^timeout 9$" "hang (ignores SIGTERM): timeout, ended by SIGKILL"
assert_match "$(q "SELECT DISTINCT status || ' ' || signal FROM run WHERE module='crashsvc' AND status <> 'killed'")" "^crashed 6$" "crashsvc: crashed, SIGABRT"
# killed on time: timeout 100ms + grace 100ms = 200ms. The typical run (the median) must end
# within 450ms (250ms of slack for a busy 2-core box); a box so starved that the master's
# timers fire late (measured: 4 CPU hogs on 2 cores, ASan build: up to ~1 s) may stretch a few,
# but none may live past 2 s, and none may end before timeout + grace (less a few ms: the run's
# times are wall-clock stamps taken around the fork and the reap, the timers are monotonic;
# 194ms was seen, and 172ms once in an ASan build under load: the bound is 150ms, which a kill
# that skipped the grace period (100ms) still fails)
worst=$(q "SELECT max(ended - started) / 1000 FROM run WHERE module='hang' AND status='timeout'")
least=$(q "SELECT min(ended - started) / 1000 FROM run WHERE module='hang' AND status='timeout'")
n_hang=$(q "SELECT count(*) FROM run WHERE module='hang' AND status='timeout'")
median=$(q "SELECT (ended - started) / 1000 FROM run WHERE module='hang' AND status='timeout' ORDER BY 1 LIMIT 1 OFFSET $((n_hang / 2))")
echo "# hang: $n_hang runs killed, lived ${least}..${worst}ms, median ${median}ms (timeout 100 + grace 100)"
assert_eq "$([ "$least" -ge 150 ] && [ "$median" -le 450 ] && echo yes)" yes "hang killed 200ms after its start, typically within 450ms (least ${least}ms, median ${median}ms)"
assert_eq "$([ "$worst" -le 2000 ] && echo yes)" yes "no hang run lived past 2 s (longest ${worst}ms)"
assert_eq "$([ "$n_hang" -ge 8 ] && echo yes)" yes "hang was run again after each kill ($n_hang runs; every 300ms ≈ 13 in 4 s)"
# the service: restarted after each crash (200ms life + back-off 50, 100, 200, 400…)
n_svc=$(q "SELECT count(*) FROM run WHERE module='crashsvc'")
assert_eq "$([ "$n_svc" -ge 5 ] && echo yes)" yes "crashsvc restarted after its crashes ($n_svc runs)"
# leaks did not stop anything: each leaking run ended ok
assert_eq "$(q "SELECT count(*) > 20 FROM run WHERE module='leak' AND status='ok'")" 1 "leak: its runs end ok (the child's exit frees the leak)"
assert_eq "$(q "SELECT DISTINCT items FROM run WHERE module='fdleak' AND status='ok'")" 64 "fdleak: 64 descriptors opened and left open in each run"
# overrun takes 250ms on a 100ms interval: never two at once, skipped slots logged
assert_eq "$(q "SELECT count(*) FROM run a JOIN run b ON a.module=b.module AND a.id<b.id AND b.started < a.ended WHERE a.module IN ('overrun','quick','hang','segv','leak','second')")" 0 "no module ever had two runs at once"
assert_match "$(grep 'module overrun: overran' "$T/log" | head -1)" "overran its interval \(100ms\): [2-9] slot\(s\) skipped" "overrun's skipped slots are logged"
# the after-dependency: every 'second' run started after a 'first' run ended ok, after
# second's previous start
bad=$(q "SELECT count(*) FROM run s WHERE s.module='second' AND NOT EXISTS (SELECT 1 FROM run f WHERE f.module='first' AND f.status='ok' AND f.ended <= s.started AND f.ended > coalesce((SELECT max(p.started) FROM run p WHERE p.module='second' AND p.started < s.started), 0))")
assert_eq "$bad" 0 "second only ever started after a new ok run of first"
# quick starts on its schedule: slots every 200ms from its first start (no drift): every
# start lies within 100ms of a slot (measured from the first start, itself a little late;
# the bound leaves room for a loaded 2-core box), and every slot without a run is one the
# master logged as skipped (a run that overran it) — none goes missing silently
q "SELECT started FROM run WHERE module='quick' ORDER BY started" > "$T/quick"
late=$(awk 'NR==1 {s0=$1} {off=($1-s0)%200000; if (off>100000) off=200000-off; if (off>m) m=off} END {print int(m/1000)}' "$T/quick")
nq=$(wc -l < "$T/quick")
echo "# quick: $nq runs, the latest start ${late}ms from its slot; longest run $(q "SELECT max(ended-started)/1000 FROM run WHERE module='quick'")ms"
assert_eq "$([ "$late" -le 100 ] && echo yes)" yes "every quick run started within 100ms of its 200ms slot (latest ${late}ms)"
span=$(awk 'NR==1 {s0=$1} {l=$1} END {print int((l-s0+100000)/200000)}' "$T/quick")
skipped=$(grep -oE 'module quick: .* ([0-9]+) slot\(s\) skipped' "$T/log" | grep -oE '[0-9]+ slot' | awk '{s+=$1} END {print s+0}')
echo "# quick: $((span + 1)) slots, $nq runs, $skipped skipped and logged"
assert_eq "$([ $((nq + skipped)) -ge $((span + 1)) ] && echo yes)" yes "every quick slot got a run or a logged skip ($nq runs + $skipped skipped ≥ $((span + 1)) slots)"
assert_rc 0 "status --json beside the running master" -- "$TESTD" status --json
assert_eq "$(echo "$OUT" | jq -r '.master.pid')" "$P" "status names the master's pid"
assert_eq "$(echo "$OUT" | jq -r '.modules[] | select(.name=="segv") | .last_result')" crashed "status: segv's last result"
assert_eq "$(echo "$OUT" | jq -r '[.modules[] | select(.enabled and .state != "running" and .next_run == null)] | length')" 0 "status: every idle enabled module has a next run"

# stop: SIGTERM; children get grace_ms, then SIGKILL; nothing left behind
children=$(ps --ppid $P -o pid= | tr -d ' ')
t0=$(date +%s%N)
kill -TERM $P
wait $P
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
assert_eq "$rc" 0 "the master exits 0 on SIGTERM"
echo "# stopped in ${ms}ms"
assert_eq "$([ "$ms" -lt 2000 ] && echo yes)" yes "stopped within 2 s (grace 100ms; took ${ms}ms)"
left=0
for c in $children; do [ -e /proc/$c ] && grep -q "tip-testd" /proc/$c/cmdline 2>/dev/null && left=$((left + 1)); done
assert_eq "$left" 0 "none of the children it had survives it"
assert_eq "$(q "SELECT count(*) FROM run WHERE status='running' OR ended IS NULL")" 0 "every run has an end recorded"
assert_eq "$([ -e "$T/tip.pid" ] && echo present || echo removed)" removed "the pidfile is removed on a clean stop"
done_testing
