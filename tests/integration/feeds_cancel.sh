#!/usr/bin/env bash
# A feed run stopped half-way (SIGTERM while the parse thread and the store are both busy with a
# big feed): the parse thread is stopped and joined, the transaction rolled back, nothing of the
# feed is stored, the run is recorded as stopped (not ok), and the next fetch stores it whole.
# The feed is 600,000 generated domains (seq + awk), so the expected count is the line count.
# ctest-timeout: 240
. "$(dirname "$0")/../lib/common.sh"

n=600000
seq 1 $n | awk '{ printf "d%d.example\n", $1 }' > "$T/big.txt"
cat >> "$T/tip.conf" <<EOF
[feed big]
url = file://$T/big.txt
format = plain
EOF
assert_rc 0 "tip init" -- tip init

count() { sqlite3 -cmd '.timeout 5000' "$T/tip.db" "SELECT count(*) FROM sighting; SELECT count(*) FROM indicator"; }
"$TIP" feed fetch big > /dev/null 2> "$T/stop.err" &
pid=$!
# stop it once the pass is inside its transaction (the feed's run recorded, the parse going)
for _ in $(seq 1 100); do
	[ "$(sqlite3 -cmd '.timeout 5000' "$T/tip.db" "SELECT count(*) FROM run WHERE module = 'feeds'")" = 1 ] && break
	sleep 0.02
done
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
assert_eq "$([ $rc -ne 0 ] && echo failed)" "failed" "the stopped fetch exits non-zero (exit $rc)"
assert_eq "$(count | tr '\n' ' ')" "0 0 " "nothing of the stopped run is stored"
assert_eq "$(sqlite3 "$T/tip.db" "SELECT status FROM run WHERE module = 'feeds' ORDER BY id DESC LIMIT 1")" "killed" \
	"the run is recorded as stopped, not ok"
assert_match "$(tip feed list --json | jq -r '.[] | select(.name == "big") | "\(.total) \(.last_success)"')" '^0 null$' \
	"the feed has no successful fetch"

assert_rc 0 "the next fetch" -- tip feed fetch big
assert_eq "$(count | tr '\n' ' ')" "$n $n " "it stores the whole feed: $n sightings (the line count)"
done_testing
