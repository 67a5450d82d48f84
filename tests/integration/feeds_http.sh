#!/usr/bin/env bash
# Feeds over real HTTP (tests/lib/feed_server.py on 127.0.0.1, a free port, stopped by PID):
# conditional GET (ETag, then Last-Modified alone) answered 304 changes nothing but the fetch
# time and status; gzip; and every failure — slow server past the timeout, truncated body,
# oversized body, redirect to file://, HTTP 500, an HTML page instead of the list — leaves the
# previous state intact and records the error on the feed.
# ctest-labels: needs-http
# ctest-timeout: 180
. "$(dirname "$0")/../lib/common.sh"

port=$(free_port) || { fail "no free port"; done_testing; }
www=$T/www
mkdir -p "$www"
printf '# test feed\na.example\nb.example\n192.0.2.1\n' > "$www/feed.txt"
echo normal > "$www/.mode"
python3 "$TIP_SRCDIR/tests/lib/feed_server.py" "$port" "$www" &
srv=$!
at_exit "stop_pid $srv"
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/feed.txt" && break; sleep 0.1; done
: > "$www/.log"

url=http://127.0.0.1:$port/feed.txt
assert_rc 0 "tip init" -- tip init
assert_rc 0 "feed add over http" -- tip feed add web "$url" --format plain --set timeout=3 --set max_size=4096
assert_rc 0 "first fetch" -- tip feed fetch web
# expected: the non-comment lines of the file (grep), all new
want=$(grep -vc '^#' "$www/feed.txt")
feed() { tip feed list --json | jq -r ".[] | select(.name == \"web\") | $1"; }
assert_eq "$(feed '"\(.last_status) \(.total) \(.new) \(.rejected)"')" "200 $want $want 0" "200, $want listed, all new"
assert_match "$(feed .etag)" '^"[0-9a-f]{16}"$' "the ETag is kept"

state() { sqlite3 "$T/tip.db" "SELECT group_concat(indicator_id || ':' || first_seen || ':' || last_seen || ':' || coalesce(removed, '-'), ' ') FROM sighting; SELECT count(*) FROM sighting_event; SELECT n_total, n_new, n_removed, n_rejected, etag FROM source WHERE name = 'web'"; }
s0=$(state)

# 304 by ETag: nothing changes but last_fetch and the status
sleep 0.01
assert_rc 0 "second fetch, unchanged" -- tip feed fetch web
assert_match "$OUT" "not modified" "reported as not modified"
assert_match "$(tail -1 "$www/.log")" '^GET /feed.txt 304 "[0-9a-f]{16}"$' "the request carried If-None-Match and got 304"
assert_eq "$(state)" "$s0" "a 304 changed no sighting, event or count"
assert_eq "$(feed .last_status)" "304" "last_status 304"

# 304 by Last-Modified alone (the ETag forgotten)
sqlite3 "$T/tip.db" "UPDATE source SET etag = NULL WHERE name = 'web'"
s0=$(state)
assert_rc 0 "fetch with If-Modified-Since only" -- tip feed fetch web
assert_match "$(tail -1 "$www/.log")" '^GET /feed.txt 304 -$' "If-Modified-Since alone got 304"
assert_eq "$(state)" "$s0" "unchanged"

# a change, served gzip-encoded
printf 'a.example\nc.example\n192.0.2.1\n' > "$www/feed.txt"
touch -d '+2 seconds' "$www/feed.txt"
echo gzip > "$www/.mode"
assert_rc 0 "fetch gzip-encoded change" -- tip feed fetch web
assert_eq "$(feed '"\(.last_status) \(.total) \(.new) \(.removed_entries)"')" "200 3 1 1" "gzip body: 3 listed, c new, b removed"
good=$(state)

check_failure() { # MODE WHAT ERROR-REGEX
	echo "$1" > "$www/.mode"
	assert_rc 1 "$2: fetch fails" -- tip feed fetch web
	assert_match "$(feed .last_error)" "$3" "$2: the error is recorded on the feed"
	assert_eq "$(state)" "$good" "$2: previous state intact"
}
printf 'a.example\nd.example\n' > "$www/feed.txt" # would change the state if it got through
touch -d '+4 seconds' "$www/feed.txt"
start=$(date +%s)
check_failure slow "slow server" "timed out"
assert_match "$(( $(date +%s) - start ))" '^([3-9]|1[0-9]|2[0-5])$' "the 3 s timeout hit (well before the server's 30 s)"
check_failure truncated "truncated body" "transfer closed|Partial|partial"
check_failure big "oversized body" "larger than max_size"
check_failure redirect "redirect to file://" "redirect refused|Protocol"
check_failure error "HTTP 500" "HTTP status 500"
check_failure html "HTML page instead of the list" "no entry parsed"
assert_match "$(feed .last_status)" "200" "status of the HTML answer recorded"
# no place for the spool: $TMPDIR is a directory that does not exist (the error names it)
echo normal > "$www/.mode"
assert_rc 1 "no temporary directory: fetch fails" -- env TMPDIR="$T/no-such-dir" "$TIP" feed fetch web
assert_match "$(feed .last_error)" "spool: cannot create a temporary file in $T/no-such-dir" \
	"the error names the directory"
assert_eq "$(state)" "$good" "no temporary directory: previous state intact"

# and back to normal: the change goes through
echo normal > "$www/.mode"
assert_rc 0 "fetch after the failures" -- tip feed fetch web
assert_eq "$(feed '"\(.total) \(.new) \(.removed_entries) \(.last_error)"')" "2 1 2 null" "d new; c and 192.0.2.1 removed"

# feed list shows it; rm keeps the history
assert_rc 0 "feed list" -- tip feed list
assert_match "$OUT" "web +plain +yes" "human list"
assert_rc 0 "feed rm" -- tip feed rm web
assert_eq "$(sqlite3 "$T/tip.db" "SELECT count(*) FROM sighting WHERE removed IS NULL; SELECT count(*) > 0 FROM sighting")" "0
1" "rm marks the entries removed and keeps them"
assert_rc 1 "rm again fails" -- tip feed rm web
assert_rc 0 "list --all shows it removed" -- tip feed list --all --json
assert_match "$(jq -r '.[0].removed' <<< "$OUT")" "^20" "removed time"

done_testing
