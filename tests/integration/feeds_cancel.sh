#!/usr/bin/env bash
# A feed run stopped half-way (SIGTERM while the parse thread and the store are both busy with a
# big feed): the parse thread is stopped and joined, the transaction rolled back, nothing of the
# feed is stored, the run is recorded as stopped (not ok), and the next fetch stores it whole.
# The feed is 600,000 generated domains (seq + awk), so the expected count is the line count.
# Then runs killed with SIGKILL at random moments: each leaves the state before it or its own,
# whole (below).
# ctest-timeout: 300
. "$(dirname "$0")/../lib/common.sh"

n=600000
seq 1 $n | awk '{ printf "d%d.example\n", $1 }' > "$T/big.txt"
cat >> "$T/tip.conf" <<EOF
[feed big]
url = file://$T/big.txt
format = plain
EOF
assert_rc 0 "tip init" -- tip init

q() { sqlite3 -cmd '.timeout 5000' "$T/tip.db" "$1"; }
count() { q "SELECT count(*) FROM sighting; SELECT count(*) FROM indicator"; }
"$TIP" feed fetch big > /dev/null 2> "$T/stop.err" &
pid=$!
# stop it once the pass is inside its transaction (the feed's run recorded, the parse going)
for _ in $(seq 1 100); do
	[ "$(q "SELECT count(*) FROM run WHERE module = 'feeds'")" = 1 ] && break
	sleep 0.02
done
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
assert_eq "$([ $rc -ne 0 ] && echo failed)" "failed" "the stopped fetch exits non-zero (exit $rc)"
assert_eq "$(count | tr '\n' ' ')" "0 0 " "nothing of the stopped run is stored"
assert_eq "$(q "SELECT status FROM run WHERE module = 'feeds' ORDER BY id DESC LIMIT 1")" "killed" \
	"the run is recorded as stopped, not ok"
assert_match "$(tip feed list --json | jq -r '.[] | select(.name == "big") | "\(.total) \(.last_success)"')" '^0 null$' \
	"the feed has no successful fetch"

assert_rc 0 "the next fetch" -- tip feed fetch big
assert_eq "$(count | tr '\n' ' ')" "$n $n " "it stores the whole feed: $n sightings (the line count)"

# SIGKILL at random moments of a feed run: no rollback runs, SQLite drops the uncommitted part
# at the next open. The feed alternates between two snapshots, A (k1..k200000) and B (a tenth of
# A gone, a tenth new); after each kill the store must hold exactly the state of the run before
# (killed before its commit) or of the killed run (killed after it), nothing between: the
# (value, active) pairs of the feed's sightings. The expected pairs come from the files (sort,
# comm), not from the store: every value ever listed, active if the last whole run listed it.
m=200000
seq 1 $m | awk '{ printf "k%d.example\n", $1 }' | LC_ALL=C sort > "$T/A"
seq $((m / 10 + 1)) $((m + m / 10)) | awk '{ printf "k%d.example\n", $1 }' | LC_ALL=C sort > "$T/B"
printf '[feed kfeed]\nurl = file://%s/cur.txt\nformat = plain\n' "$T" >> "$T/tip.conf"
pairs() {
	q "SELECT i.value || ' ' || (s.removed IS NULL) FROM sighting s
		JOIN indicator i ON i.id = s.indicator_id JOIN source f ON f.id = s.source_id
		WHERE f.name = 'kfeed' ORDER BY i.value" | md5sum
}
# the pairs expected when FILE's run was the last whole one; SEEN: every value listed so far
expect() { { sed 's/$/ 1/' "$1"; LC_ALL=C comm -23 "$2" "$1" | sed 's/$/ 0/'; } | LC_ALL=C sort | md5sum; }
cp "$T/A" "$T/cur.txt"
assert_rc 0 "kfeed: the first whole fetch (A)" -- tip feed fetch kfeed
cp "$T/A" "$T/seen"
assert_eq "$(pairs)" "$(expect "$T/A" "$T/seen")" "kfeed: A stored"
prev=$T/A
SEED=${TIP_CRASH_SEED:-$$}
RANDOM=$SEED
echo "# seed $SEED (TIP_CRASH_SEED=$SEED repeats the kill moments)"
before=0
for k in 1 2 3 4 5 6; do
	if [ $((k % 2)) = 1 ]; then next=$T/B; else next=$T/A; fi
	cp "$next" "$T/cur.txt"
	runs=$(q "SELECT count(*) FROM run")
	"$TIP" feed fetch kfeed > /dev/null 2>&1 &
	pid=$!
	# from the run's start (its row), a random moment: within 100-400 ms for odd kills (the
	# runs take about a second: inside the transaction), within 1.5 s for even ones
	while kill -0 $pid 2> /dev/null &&
		[ "$(q "SELECT count(*) FROM run")" = "$runs" ]; do
		sleep 0.01
	done
	if [ $((k % 2)) = 1 ]; then ms=$((100 + RANDOM % 300)); else ms=$((RANDOM % 1500)); fi
	sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
	kill -9 $pid 2> /dev/null && killed=killed || killed="ended first"
	wait $pid 2> /dev/null
	got=$(pairs)
	assert_eq "$(q "PRAGMA integrity_check")" "ok" "kill $k: integrity_check"
	LC_ALL=C sort -u "$T/seen" "$next" > "$T/seen.next"
	if [ "$got" = "$(expect "$next" "$T/seen.next")" ]; then
		pass "kill $k ($killed, ${ms} ms): the killed run's state, whole"
		prev=$next
		mv "$T/seen.next" "$T/seen"
	elif [ "$got" = "$(expect "$prev" "$T/seen")" ]; then
		pass "kill $k ($killed, ${ms} ms): the state before it, whole"
		before=$((before + 1))
	else
		fail "kill $k ($killed, ${ms} ms): neither the state before nor the killed run's"
	fi
done
assert_match "$before" "^[1-9]" "some kills came before the commit ($before of 6)"
cp "$T/B" "$T/cur.txt"
assert_rc 0 "kfeed: a whole fetch (B) after the kills" -- tip feed fetch kfeed
LC_ALL=C sort -u "$T/seen" "$T/B" -o "$T/seen"
assert_eq "$(pairs)" "$(expect "$T/B" "$T/seen")" "kfeed: B stored, every value of A not in B removed"
assert_eq "$(tip feed list --json | jq -r '.[] | select(.name == "kfeed") | .total')" "$m" \
	"kfeed: the feed's total is B's line count"
done_testing
