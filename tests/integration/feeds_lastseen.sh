#!/usr/bin/env bash
# last_seen and attributes under the listing snapshot (a feed pass writes only what changed,
# store_sqlite_feeds.c): an entry still listed shows the time of the last successful fetch as
# its last_seen, a removed one the time of the last fetch that listed it; a failed fetch
# changes neither; an attribute change of a listed entry is stored; a lost snapshot is rebuilt
# from the sightings with the same diff. The expected times come from `tip feed list --json`
# (the feed's own last_success, written by another statement than the sightings), the
# expected counts are worked out by hand from the snapshots below.
. "$(dirname "$0")/../lib/common.sh"

f=$T/feed.csv
cat >> "$T/tip.conf" <<EOF
[feed ls]
url = file://$f
format = csv
field = 1
category_field = 2
EOF
assert_rc 0 "tip init" -- tip init

success() { tip feed list --json | jq -r '.[] | select(.name == "ls") | .last_success'; }
fetched() { tip feed list --json | jq -r '.[] | select(.name == "ls") | .last_fetch'; }
get() { tip lookup "$1" --json | jq -r --arg k "$2" '.sightings[] | select(.source == "ls") | .[$k]'; }

printf 'a.example,spam\nb.example,spam\nc.example,spam\n' > "$f"
assert_rc 0 "fetch 1" -- tip feed fetch ls
assert_match "$OUT" "3 listed, 3 new, 0 removed" "fetch 1: three new"
t1=$(success)
assert_eq "$(get a.example first_seen) $(get a.example last_seen)" "$t1 $t1" "new: first_seen = last_seen = fetch 1"

# times are shown to the second: a fetch a second later is told apart
# fetch 2: the same list; nothing is rewritten, last_seen follows the fetch
sleep 1.1
assert_rc 0 "fetch 2" -- tip feed fetch ls
assert_match "$OUT" "3 listed, 0 new, 0 removed" "fetch 2: unchanged"
t2=$(success)
assert_eq "$([[ "$t2" > "$t1" ]] && echo later)" "later" "fetch 2 is a later time than fetch 1"
assert_eq "$(get a.example first_seen) $(get a.example last_seen)" "$t1 $t2" \
	"unchanged entry: first_seen of fetch 1, last_seen of fetch 2"
assert_eq "$(sqlite3 "$T/tip.db" 'SELECT count(*) FROM sighting_history')" "3" "no events for unchanged entries"

sleep 1.1
# fetch 3: b gone, c's category changed, d new
printf 'a.example,spam\nc.example,phishing\nd.example,spam\n' > "$f"
assert_rc 0 "fetch 3" -- tip feed fetch ls
assert_match "$OUT" "3 listed, 1 new, 1 removed" "fetch 3: d new, b removed"
t3=$(success)
assert_eq "$(get b.example removed) $(get b.example last_seen)" "$t3 $t2" \
	"removed entry: removed at fetch 3, last seen at fetch 2"
assert_eq "$(get a.example last_seen) $(get c.example last_seen)" "$t3 $t3" "listed entries: last_seen = fetch 3"
assert_eq "$(get c.example category)" "phishing" "the changed category is stored"

# a failed fetch (file gone) changes no last_seen
sleep 1.1
mv "$f" "$f.away"
tip feed fetch ls >/dev/null 2>&1
mv "$f.away" "$f"
assert_eq "$([[ "$(fetched)" > "$t3" ]] && echo later)" "later" "the failed fetch is recorded"
assert_eq "$(success) $(get a.example last_seen) $(get b.example last_seen)" "$t3 $t3 $t2" \
	"after a failed fetch: last_success and every last_seen as before"

# the snapshot is derived data: without it the next pass rebuilds it from the sightings and
# diffs the same way (b back, d gone)
sleep 1.1
sqlite3 "$T/tip.db" 'DELETE FROM listing_snapshot'
printf 'a.example,spam\nb.example,spam\nc.example,phishing\n' > "$f"
assert_rc 0 "fetch 5 (snapshot rebuilt)" -- tip feed fetch ls
assert_match "$OUT" "3 listed, 1 new, 1 removed" "fetch 5: b back (counted new), d removed"
t5=$(success)
assert_eq "$(get b.example removed) $(get b.example last_seen) $(get d.example removed)" "null $t5 $t5" \
	"b re-activated, last seen now; d removed now"
assert_eq "$(sqlite3 "$T/tip.db" "SELECT group_concat(event, ',') FROM (SELECT event FROM sighting_history se JOIN indicator i ON i.id = se.indicator_id WHERE i.value = 'b.example' ORDER BY at)")" \
	"listed,removed,returned" "b's history"
assert_rc 0 "fetch 6" -- tip feed fetch ls
assert_match "$OUT" "3 listed, 0 new, 0 removed" "fetch 6 after the rebuild: unchanged"

done_testing
