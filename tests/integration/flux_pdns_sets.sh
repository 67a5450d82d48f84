#!/usr/bin/env bash
# Passive DNS of unchanged answer sets (schema 6, keyed by integer with their rounds since
# schema 8): pass 1 does not rewrite the pdns rows of an answer whose set is the previous round's
# nor write a round row for it, and keeps a pending count and the round's time and TTL in the
# set row (answer_set) instead. What users and pass 2 read must not change: `tip lookup --json` (first/last seen,
# count, TTL range per record) and the flux features. Real knotd on loopback; the answers are
# changed between rounds with knotc zone transactions. Expected values are worked out below from
# the rounds this test served (their times from the round table, the sets and TTLs from the zone
# edits), and pass 2's features are compared with those of a copy of the store where the
# pending rounds were folded into pdns and the listed rounds written into `round` by hand (SQL
# written here, not the store's; the rounds decoded by the round_all view, not by the C reader).
# ctest-labels: needs-knot
# ctest-timeout: 120
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

q() { sqlite3 "$T/tip.db" "$1"; }

mkdir -p "$T/zones"
cat > "$T/zones/t.test.zone" <<'Z'
$ORIGIN t.test.
$TTL 60
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
s 30 A 10.3.0.1
s 30 A 10.3.0.2
Z
knot_start "$T/zones" t.test
cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
timeout_ms = 300
retries = 1
min_interval = 0
rrtypes = A
[enrich]
locdb =
[flux]
min_rounds = 1
C
assert_rc 0 "init" -- tip init
assert_rc 0 "watch s.t.test" -- tip watch add s.t.test

# round 1: {10.3.0.1, 10.3.0.2} TTL 30 (both new)
assert_rc 0 "round 1" -- tip resolve s.t.test
sleep 1.1
# round 2: the same set, TTL 20 (unchanged set, another TTL)
knot_update t.test "unset s A
set s 20 A 10.3.0.1
set s 20 A 10.3.0.2"
assert_eq "$(knot_dig s.t.test A | sort | tr '\n' ' ')" "10.3.0.1 10.3.0.2 " "knotd serves round 2's set"
assert_rc 0 "round 2" -- tip resolve s.t.test
sleep 1.1
# round 3: the same set and TTL again
assert_rc 0 "round 3" -- tip resolve s.t.test

# the skip: after rounds 2 and 3 the pdns rows are still round 1's; the set row counts 2 rounds
assert_eq "$(q "SELECT group_concat(value || ':' || count, ' ') FROM (SELECT * FROM pdns WHERE domain = 's.t.test' ORDER BY value)")" \
	"10.3.0.1:1 10.3.0.2:1" "unchanged set: pdns rows not rewritten"
SET="(SELECT id FROM watch WHERE domain = 's.t.test') * 4 + 1" # its A set row
assert_eq "$(q "SELECT pending || '/' || min_ttl || '/' || max_ttl || '/' || n_rounds FROM answer_set WHERE id = $SET")" \
	"2/20/20/3" "the set row counts the two unchanged rounds and their TTLs, and lists all three"
assert_eq "$(q "SELECT count(*) FROM round WHERE domain = 's.t.test'")" "0" "no round row written"

mapfile -t AT < <(q "SELECT at FROM round_all WHERE domain = 's.t.test' AND rrtype = 'A' ORDER BY at")
assert_eq "${#AT[@]}" "3" "three rounds"
sec() { date -u -d "@$(( $1 / 1000000 ))" +%Y-%m-%dT%H:%M:%S; }
# lookup row of VALUE as "first_seen last_seen count min_ttl max_ttl" (times to the second)
row() {
	tip lookup s.t.test --json >"$T/lk.json" || { echo "lookup failed"; return; }
	jq -r --arg v "$1" '.resolutions[] | select(.value == $v) |
		"\(.first_seen[0:19]) \(.last_seen[0:19]) \(.count) \(.min_ttl) \(.max_ttl)"' "$T/lk.json"
}
# by hand: both records seen in rounds 1-3, TTLs 30, 20, 20
assert_eq "$(row 10.3.0.1)" "$(sec "${AT[0]}") $(sec "${AT[2]}") 3 20 30" "lookup 10.3.0.1 after rounds 1-3 (pending rounds added on read)"
assert_eq "$(row 10.3.0.2)" "$(sec "${AT[0]}") $(sec "${AT[2]}") 3 20 30" "lookup 10.3.0.2 after rounds 1-3"

# round 4: a changed set {10.3.0.2, 10.3.0.3} TTL 10: the pending rounds are folded, then written
sleep 1.1
knot_update t.test "unset s A
set s 10 A 10.3.0.2
set s 10 A 10.3.0.3"
assert_eq "$(knot_dig s.t.test A | sort | tr '\n' ' ')" "10.3.0.2 10.3.0.3 " "knotd serves round 4's set"
assert_rc 0 "round 4" -- tip resolve s.t.test
mapfile -t AT < <(q "SELECT at FROM round_all WHERE domain = 's.t.test' AND rrtype = 'A' ORDER BY at")
assert_eq "$(q "SELECT group_concat(n_records || '/' || n_new, ' ') FROM (SELECT * FROM round_all WHERE domain = 's.t.test' AND rrtype = 'A' ORDER BY at)")" \
	"2/2 2/0 2/0 2/1" "rounds: 2 new, 2 known twice, then 1 new"
# by hand: .1 seen in rounds 1-3 (TTL 30, 20, 20); .2 in rounds 1-4 (30, 20, 20, 10); .3 in round 4 (10)
assert_eq "$(row 10.3.0.1)" "$(sec "${AT[0]}") $(sec "${AT[2]}") 3 20 30" "lookup 10.3.0.1 after round 4 (dropped in round 4)"
assert_eq "$(row 10.3.0.2)" "$(sec "${AT[0]}") $(sec "${AT[3]}") 4 10 30" "lookup 10.3.0.2 after round 4"
assert_eq "$(row 10.3.0.3)" "$(sec "${AT[3]}") $(sec "${AT[3]}") 1 10 10" "lookup 10.3.0.3 after round 4"
assert_eq "$(q "SELECT group_concat(value || ':' || count, ' ') FROM (SELECT * FROM pdns WHERE domain = 's.t.test' ORDER BY value)")" \
	"10.3.0.1:3 10.3.0.2:4 10.3.0.3:1" "the changed set folded the pending rounds into pdns"

# round 5: unchanged again (pending on the new base), then pass 2 on this store and on a copy
# where the pending rounds are folded by hand: the same features
sleep 1.1
assert_rc 0 "round 5" -- tip resolve s.t.test
assert_eq "$(q "SELECT pending || '/' || n_rounds FROM answer_set WHERE id = $SET")" "1/2" "one pending round; rounds 4 and 5 listed"
assert_eq "$(q "SELECT count(*) || '/' || group_concat(n_records || '/' || n_new, ' ') FROM (SELECT * FROM round WHERE domain = 's.t.test' ORDER BY at)")" \
	"3/2/2 2/0 2/0" "rounds 1-3 written into round when the set changed"
cp "$T/tip.db" "$T/folded.db"
sqlite3 "$T/folded.db" "UPDATE pdns SET count = count + s.pending, last_seen = s.last_seen,
	min_ttl = min(pdns.min_ttl, s.min_ttl), max_ttl = max(pdns.max_ttl, s.max_ttl)
	FROM answer_set s JOIN watch w ON s.id = w.id * 4 + 1
	WHERE w.domain = pdns.domain AND pdns.rrtype = 'A' AND s.base_at = pdns.last_seen AND s.pending > 0;
	CREATE TEMP TABLE r AS SELECT * FROM round_all; DELETE FROM round; INSERT INTO round SELECT * FROM r;
	DELETE FROM answer_set;"
assert_eq "$(sqlite3 "$T/folded.db" "SELECT count(*) FROM round WHERE domain = 's.t.test'")" "5" "the hand-written copy has its 5 round rows"
assert_eq "$(sqlite3 "$T/folded.db" "SELECT group_concat(value || ':' || count, ' ') FROM (SELECT * FROM pdns WHERE domain = 's.t.test' ORDER BY value)")" \
	"10.3.0.1:3 10.3.0.2:5 10.3.0.3:2" "the hand-folded copy"
feat() { jq -c '[.[] | del(.at, .since)]'; }
assert_rc 0 "classify" -- tip flux classify
assert_rc 0 "flux --all --json" -- tip flux --all --json
got=$(echo "$OUT" | feat)
assert_match "$got" '"domain":"s.t.test"' "the domain has a verdict"
sed "s#^url = .*#url = sqlite://$T/folded.db#" "$T/tip.conf" >"$T/folded.conf"
grep -q "folded.db" "$T/folded.conf" || fail "no store url line to point at the copy"
TIP_CONFIG=$T/folded.conf tip flux classify >/dev/null || fail "classify the copy"
want=$(TIP_CONFIG=$T/folded.conf tip flux --all --json | feat)
assert_eq "$got" "$want" "pass 2's features equal those of the hand-folded store"
assert_eq "$(row 10.3.0.2 | cut -d' ' -f3-)" "5 10 30" "lookup 10.3.0.2 after round 5"

done_testing
