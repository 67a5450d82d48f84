#!/usr/bin/env bash
# The answer log (schema 10): in a real pass (tip resolve of the due list, batched writer),
# an unchanged answer set is appended to answer_log instead of updating its set row; a changed
# set takes its entries first; pass 2 and a pass that finds 8 passes' rounds in the log fold them
# into the set rows. What users read must not change. Real knotd on loopback, 300 watched names
# with a 1 s TTL (due again after a second); the answers of three names are changed between
# rounds with a knotc zone transaction. Expected counts are the rounds this test ran (each
# record was served in every one of them, or from the round the zone changed), not what the
# store computes; times come from round_all (decoded in SQL, the log's entries included: not
# the C reader that `tip lookup` uses).
# ctest-labels: needs-knot
# ctest-timeout: 180
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

q() { sqlite3 "$T/tip.db" "$1"; }
N=300

mkdir -p "$T/zones"
{
	printf '$ORIGIN t.test.\n$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1\n'
	for i in $(seq 0 $((N - 1))); do
		printf 'm%03d 1 A 10.4.%d.%d\nm%03d 1 A 10.5.%d.%d\n' "$i" $((i / 256)) $((i % 256)) "$i" $((i / 256)) $((i % 256))
	done
} > "$T/zones/t.test.zone"
knot_start "$T/zones" t.test
cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
timeout_ms = 500
retries = 2
min_interval = 0
rrtypes = A
[enrich]
locdb =
[flux]
min_rounds = 1
C
for i in $(seq 0 $((N - 1))); do printf 'm%03d.t.test\n' "$i"; done > "$T/names"
assert_rc 0 "init" -- tip init
assert_rc 0 "watch add" -- tip watch add --file "$T/names"

# pass: every due name resolved by the batched writer (the names are due again after 1 s)
resolve_pass() {
	sleep 1.1
	assert_rc 0 "pass $1" -- tip resolve
	assert_match "$ERR" "$N answers" "pass $1 answered every name"
}
resolve_pass 1
assert_eq "$(q "SELECT count(*) FROM answer_log")" "0" "pass 1: new sets, nothing logged"
resolve_pass 2
resolve_pass 3
# passes 2 and 3 answered every set unchanged: each such round is a log entry, or counted in
# its set row when it went one by one (a writer batch of a single answer: the idle flush)
tot() { q "SELECT (SELECT coalesce(sum(n), 0) FROM answer_log) + (SELECT sum(pending) FROM answer_set)"; }
assert_eq "$(tot)" "$((2 * N))" "passes 2-3: 2 unchanged rounds a set, logged or counted"
assert_match "$(q "SELECT sum(n) > $N FROM answer_log")" "^1$" "passes 2-3: most of them in the log"
assert_eq "$(q "SELECT count(*) FROM round_all")" "$((3 * N))" "round_all: 3 rounds a name, the log's included"

sec() { date -u -d "@$(( $1 / 1000000 ))" +%Y-%m-%dT%H:%M:%S; }
ats() { q "SELECT at FROM round_all WHERE domain = '$1' ORDER BY at"; }
# "value first_seen last_seen count" of NAME's records, by `tip lookup NAME --json`
rows() {
	tip lookup "$1" --json | jq -r '.resolutions[] | "\(.value) \(.first_seen[0:19]) \(.last_seen[0:19]) \(.count)"' | sort
}
mapfile -t AT < <(ats m007.t.test)
assert_eq "$(rows m007.t.test)" "10.4.0.7 $(sec "${AT[0]}") $(sec "${AT[2]}") 3
10.5.0.7 $(sec "${AT[0]}") $(sec "${AT[2]}") 3" "lookup m007 after 3 passes (2 of them in the log)"
assert_eq "$(tip lookup 10.5.1.9 --json | jq -r '.resolutions[] | "\(.domain) \(.count)"')" "m265.t.test 3" \
	"lookup by address after 3 passes"

# pass 4: three names answer a changed set (10.5.x.y -> 10.6.x.y): they take their log entries
# first, then are written as changed sets (the batch's changed-set path: more than one)
knot_update t.test "unset m005 A
set m005 1 A 10.4.0.5
set m005 1 A 10.6.0.5
unset m006 A
set m006 1 A 10.4.0.6
set m006 1 A 10.6.0.6
unset m150 A
set m150 1 A 10.4.0.150
set m150 1 A 10.6.0.150"
assert_eq "$(knot_dig m150.t.test A | sort | tr '\n' ' ')" "10.4.0.150 10.6.0.150 " "knotd serves the changed set"
resolve_pass 4
mapfile -t AT < <(ats m150.t.test)
assert_eq "${#AT[@]}" "4" "m150: 4 rounds"
assert_eq "$(rows m150.t.test)" "10.4.0.150 $(sec "${AT[0]}") $(sec "${AT[3]}") 4
10.5.0.150 $(sec "${AT[0]}") $(sec "${AT[2]}") 3
10.6.0.150 $(sec "${AT[3]}") $(sec "${AT[3]}") 1" "lookup m150 after its set changed in pass 4"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE domain = 'm150.t.test' AND value = '10.5.0.150' AND count = 3")" "1" \
	"the changed set's log rounds were folded into its old records"

# pass 2 (flux classify) folds the log first: empty after, the same reads
before=$(rows m007.t.test; rows m150.t.test; tip lookup 10.4.0.5 --json | jq -c '.resolutions')
rounds_before=$(q "SELECT count(*) FROM round_all")
assert_rc 0 "classify" -- tip flux classify
assert_eq "$(q "SELECT count(*) FROM answer_log")" "0" "classify folded the log"
assert_eq "$(rows m007.t.test; rows m150.t.test; tip lookup 10.4.0.5 --json | jq -c '.resolutions')" "$before" \
	"the same lookups after the fold"
assert_eq "$(q "SELECT count(*) FROM round_all")" "$rounds_before" "the same rounds after the fold"
assert_eq "$rounds_before" "$((4 * N))" "4 rounds a name"
assert_eq "$(q "SELECT pending FROM answer_set s JOIN watch w ON s.id = w.id * 4 + 1 WHERE w.domain = 'm007.t.test'")" "3" \
	"m007's set row counts its 3 unchanged rounds"

# eight more passes leave 8 rounds a set in the log (RESOLVE_FOLD_PER_SET): the next pass
# folds them first
P0=$(tot)
for p in 5 6 7 8 9 10 11 12; do resolve_pass $p; done
assert_eq "$(( $(tot) - P0 ))" "$((8 * N))" "passes 5-12: 8 unchanged rounds a set, logged or counted"
if [[ "$ERR" =~ "answer log:" ]]; then fail "pass 12 folded before 8 passes' rounds"; else pass "no fold before 8 passes' rounds"; fi
L=$(q "SELECT sum(n) FROM answer_log")
P1=$(tot)
resolve_pass 13
assert_match "$ERR" "answer log: $L rounds taken into their set rows first" "pass 13 folded the log ($L entries) first"
assert_eq "$(( $(tot) - P1 ))" "$N" "pass 13: one unchanged round a set, logged or counted"
assert_match "$(q "SELECT sum(n) <= $N FROM answer_log")" "^1$" "only pass 13's entries left in the log"
mapfile -t AT < <(ats m007.t.test)
assert_eq "${#AT[@]}" "13" "m007: 13 rounds"
assert_eq "$(rows m007.t.test)" "10.4.0.7 $(sec "${AT[0]}") $(sec "${AT[12]}") 13
10.5.0.7 $(sec "${AT[0]}") $(sec "${AT[12]}") 13" "lookup m007 after 13 passes"

done_testing
