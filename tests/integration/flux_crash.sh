#!/usr/bin/env bash
# Crash consistency of pass 1's writes and of the answer log's fold: flux-resolve passes and
# pass 2 (`tip flux classify`, which folds the log first) are killed with SIGKILL at random
# moments, over and over, against a real knotd on loopback; in between, knotd's zone moves a
# tenth of the names to another second address (fast flux: changed sets), the rest stay (their
# rounds go to the log). Whatever moment a kill hits, what a committed transaction wrote must
# be whole and counted once:
#   - PRAGMA integrity_check is ok;
#   - every name's rounds R (round_all, which decodes the log in SQL) are its records' counts:
#     the first address is in every answer, so its count is R, and exactly one of the other two
#     is in each answer, so their counts add up to R. Counts are read by `tip lookup --json`
#     (the C reader, which merges the log) for sampled names after each kill, and for every
#     name from the pdns table after a last, whole pass and fold;
#   - a name's watch row is updated in the transaction of its answer or a later one, so its
#     rounds count is at most R and at least R minus the passes killed so far;
#   - the first pass, killed, leaves the pdns_value index to the next pass, which builds it.
# Expected values come from the zone this test generates (which addresses each name has), not
# from the store. The kill moments are random; TIP_CRASH_SEED repeats a run (printed).
# ctest-labels: needs-knot
# ctest-timeout: 300
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

q() { sqlite3 -cmd '.timeout 10000' "$T/tip.db" "$1"; }
N=40000 # names: a pass commits after its first BATCH (32,768) answers and at its end
F=4000  # of them fast flux: the second address alternates between 10.8.x.y and 10.9.x.y
SEED=${TIP_CRASH_SEED:-$$}
RANDOM=$SEED
echo "# seed $SEED (TIP_CRASH_SEED=$SEED repeats the kill moments)"

# the zone in generation g: name i has 10.4.x.y and, for i < F, 10.8.x.y in even generations
# and 10.9.x.y in odd ones, else 10.5.x.y
zone() {
	awk -v n=$N -v f=$F -v g="$1" 'BEGIN {
		printf "$ORIGIN c.test.\n$TTL 60\n@ SOA ns1 hostmaster %d 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n", g + 1
		for (i = 0; i < n; i++) {
			x = int(i / 256); y = i % 256
			s = i >= f ? 5 : (g % 2 ? 9 : 8)
			printf "n%05d 1 A 10.4.%d.%d\nn%05d 1 A 10.%d.%d.%d\n", i, x, y, i, s, x, y
		}
	}' > "$T/zones/c.test.zone"
}
mkdir -p "$T/zones"
zone 0
knot_start "$T/zones" c.test
GEN=0
next_zone() {
	GEN=$((GEN + 1))
	zone $GEN
	knotc -c "$KNOT_CONF" -s "$KNOT_SOCK" -b zone-reload c.test. > /dev/null || fail "zone reload $GEN"
}
cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
timeout_ms = 1000
retries = 3
min_interval = 0
qps = 30000
rrtypes = A
[enrich]
locdb =
[flux]
min_rounds = 1
C
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "n%05d.c.test\n", i }' > "$T/names"
assert_rc 0 "init" -- tip init
assert_rc 0 "watch add" -- tip watch add --file "$T/names"

# whole_pass MSG: a pass left to its end (every name due again first: TTL 1 s)
whole_pass() {
	sleep 1.1
	assert_rc 0 "$1" -- tip resolve
}

KILLED=0 # resolve passes killed so far (each may leave a name's round without its watch update)
HITS=""  # the moments the kills hit, by name
# run_kill WHAT SQL MAX_MS CMD...: starts CMD (every name due again first: TTL 1 s); polls the
# store with SQL until its value differs from the one before the start (a commit of CMD's), or,
# with SQL empty, not at all; then SIGKILLs it after a random 0..MAX_MS ms. A kill that came
# after CMD's end is not a crash; a kill that did is added to HITS as WHAT.
run_kill() {
	local what=$1 sql=$2 max=$3 v0 ms
	shift 3
	sleep 1.1
	[ -n "$sql" ] && v0=$(q "$sql")
	"$TIP" "$@" > /dev/null 2> "$T/kill.err" &
	local pid=$!
	if [ -n "$sql" ]; then
		while kill -0 $pid 2> /dev/null && [ "$(q "$sql")" = "$v0" ]; do sleep 0.01; done
	fi
	ms=$((RANDOM % (max + 1)))
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	if kill -9 $pid 2> /dev/null; then
		wait $pid 2> /dev/null
		[ "$1" = resolve ] && KILLED=$((KILLED + 1))
		HITS="$HITS $what"
		echo "# $what: $* killed ${ms} ms after $([ -n "$sql" ] && echo "a commit" || echo "its start") (log rows now: $(q "SELECT count(*) FROM answer_log"))"
	else
		wait $pid
		echo "# $what: $* ended before its kill (exit $?)"
	fi
}
# what tells a commit: a pass's (its rounds counted in the watch rows, or the log emptied by its
# fold first) and classify's fold (the log emptied)
PASS_SQL="SELECT (SELECT sum(rounds) FROM watch) || ' ' || (SELECT count(*) FROM answer_log)"
FOLD_SQL="SELECT coalesce(sum(n), 0) FROM answer_log"

# every name's rounds R, "domain R" sorted by domain, into $T/rounds (round_all decodes the log
# in SQL: one query for all)
rounds_all() {
	q "SELECT domain, count(*) FROM round_all WHERE outcome = 'ok' GROUP BY domain ORDER BY domain" |
		tr '|' ' ' > "$T/rounds"
}
# a name's counts by the C reader: "first-count other-counts-summed rounds" must be "R R R"
lookup_check() {
	local name=$1 r got
	r=$(awk -v d="$name" '$1 == d { print $2 }' "$T/rounds")
	got=$(tip lookup "$name" --json | jq -r '[.resolutions[] | select(.value | startswith("10.4."))] as $a
		| [.resolutions[] | select(.value | startswith("10.4.") | not)] as $b
		| "\([$a[].count] | add // 0) \([$b[].count] | add // 0)"' 2>&1)
	assert_eq "$got ${r:-0}" "${r:-0} ${r:-0} ${r:-0}" "$2: $name's counts by tip lookup are its ${r:-0} rounds"
}
store_check() {
	local what=$1 bad
	assert_eq "$(q "PRAGMA integrity_check")" "ok" "$what: integrity_check"
	rounds_all
	# watch.rounds <= R <= watch.rounds + passes killed
	bad=$(q "SELECT domain, rounds FROM watch ORDER BY domain" | tr '|' ' ' |
		LC_ALL=C join -a 1 - "$T/rounds" | awk -v k=$KILLED '{ r = NF > 2 ? $3 : 0 } $2 > r || r > $2 + k' | head -3)
	assert_eq "$bad" "" "$what: every name's rounds are within its watch row's count and the kills"
	for i in $((RANDOM % F)) $((RANDOM % F)) $((F + RANDOM % (N - F))) $((F + RANDOM % (N - F))); do
		lookup_check "$(printf 'n%05d.c.test' "$i")" "$what"
	done
}

# the first pass, killed after its first commit (BATCH answers): every record new, the
# pdns_value index left out until the pass's end
run_kill first-pass "$PASS_SQL" 50 resolve
store_check "first pass killed"
whole_pass "the first pass again, whole"
assert_eq "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'pdns_value'")" "1" \
	"the whole pass built the pdns_value index"
store_check "after the first whole pass"

# cycles: the zone moves the fast-flux names. Cycles 1-6: a pass killed after its first commit
# (every third a whole pass); every third a classify killed after its fold committed, every
# fourth one at a random moment. Cycles 7-18: whole passes and no classify, until the log holds
# more than 7 rounds a set: the next pass folds it first (RESOLVE_FOLD_PER_SET in
# src/flux/resolve.c) and is killed after that fold committed. (About 36,000 rounds a pass go
# to the log, so that is after 8 passes, in cycle 15: three cycles to spare.)
for c in $(seq 1 18); do
	h0=$HITS
	next_zone
	if [ $c -le 6 ] && [ $((c % 3)) != 0 ]; then
		run_kill mid-pass "$PASS_SQL" 50 resolve
	elif [ $c -gt 6 ] && [ "$(q "$FOLD_SQL")" -gt $((7 * N)) ]; then
		run_kill pass-fold "$PASS_SQL" 50 resolve
	else
		whole_pass "cycle $c: a whole pass"
	fi
	[ $((c % 3)) = 0 ] && [ $c -le 6 ] && run_kill classify-folded "$FOLD_SQL" 20 flux classify
	[ $((c % 4)) = 0 ] && [ $c -le 6 ] && run_kill classify "" 400 flux classify
	# (round_all over every name takes seconds: the store is checked after the cycles that
	# killed something)
	[ "$HITS" != "$h0" ] && store_check "cycle $c"
done
for h in first-pass mid-pass classify-folded pass-fold; do
	assert_match "$HITS" " $h( |$)" "a kill hit: $h"
done

# the end: a whole pass and a whole classify (the fold): every name checked from the pdns table
next_zone
whole_pass "the last pass"
assert_rc 0 "the last classify" -- tip flux classify
assert_eq "$(q "SELECT count(*) FROM answer_log")" "0" "classify folded the log"
store_check "the end"
# with the log folded, a record's count is its pdns row's, plus its set row's pending rounds
# when the row is of the set's base round (docs/flux.md, "Answer sets")
bad=$(q "SELECT w.domain, sum(CASE WHEN p.value LIKE '10.4.%' THEN p.count + CASE WHEN
		p.last_seen = s.base_at THEN s.pending ELSE 0 END END),
	sum(CASE WHEN p.value NOT LIKE '10.4.%' THEN p.count + CASE WHEN
		p.last_seen = s.base_at THEN s.pending ELSE 0 END END)
	FROM watch w JOIN pdns p ON p.domain = w.domain AND p.rrtype = 'A'
	LEFT JOIN answer_set s ON s.id = w.id * 4 + 1 GROUP BY w.domain ORDER BY w.domain" | tr '|' ' ' |
	LC_ALL=C join - "$T/rounds" | awk '$2 != $4 || $3 != $4' | head -3)
assert_eq "$bad" "" "the end: every name's pdns counts (with its set row's pending rounds) are its rounds"
assert_eq "$(wc -l < "$T/rounds")" "$N" "the end: every name has rounds"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE value LIKE '10.9.%'")" "$F" \
	"the end: every fast-flux name was seen with its odd-generation address"
echo "# passes killed: $KILLED; kills:$HITS"

done_testing
