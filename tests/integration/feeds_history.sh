#!/usr/bin/env bash
# Diff semantics over three snapshots of one file:// feed (add, keep, remove, come back), the
# history events they leave, the watch policy (all / none / by category, registrable domains of
# URLs; applied to the entries written, and to all once when it changes), bad lines counted and reported with their line numbers, and config errors naming
# file, line and key. Expected values are worked out by hand from the snapshots below.
. "$(dirname "$0")/../lib/common.sh"

f=$T/feed.txt
cat >> "$T/tip.conf" <<EOF
[feed hist]
url = file://$f
format = plain
watch = all
EOF
assert_rc 0 "tip init" -- tip init

ev() { sqlite3 "$T/tip.db" "SELECT group_concat(e.event, ',') FROM (SELECT event FROM sighting_history se JOIN indicator i ON i.id = se.indicator_id WHERE i.value = '$1' ORDER BY at, event) e"; }
removed() { tip lookup "$1" --json | jq -r '[.sightings[] | select(.source == "hist") | (.removed != null)] | .[0]'; }
first() { tip lookup "$1" --json | jq -r '.sightings[] | select(.source == "hist") | .first_seen'; }

# snapshot 1: a, b, an address, a network, a URL; one bad line (line 6); a.example again,
# spelled differently (line 7: the same indicator once normalised, listed once)
printf 'a.example\nb.example\n192.0.2.1\n198.51.100.0/24\nhttp://www.shop.example.co.uk/x\nbad..name\nA.Example.\n' > "$f"
assert_rc 0 "snapshot 1" -- tip feed fetch hist
assert_match "$OUT" "5 listed, 5 new, 0 removed, 1 lines rejected" "5 listed, the bad line counted, the duplicate once"
assert_match "$(tip feed list --json | jq -r '.[0].rejected_sample')" "^line 6: 'bad\.\.name': empty label" \
	"the rejected line is reported with its number"
fa=$(first a.example)
# -v and -q reach the run's child process (the feeds module logs there): its debug lines with
# -v; with -q its warnings (the rejected line) but not its info line
assert_rc 0 "fetch again with -v" -- tip -v feed fetch hist
assert_match "$ERR" "feeds: listing begin: [0-9.]+ s: snapshot of 5 read" "-v: the child's debug lines"
assert_rc 0 "fetch again with -q" -- tip -q feed fetch hist
assert_eq "$(grep -c ' listed (' <<< "$ERR") $(grep -c 'feeds: feed hist: 1 entries rejected' <<< "$ERR")" "0 1" \
	"-q: the child's info line gone, its warning kept"
assert_match "$OUT" "5 listed, 0 new, 0 removed, 1 lines rejected" "the result still on stdout"

# snapshot 2: b and the network gone, c new, a and the address kept
printf 'a.example\n192.0.2.1\nc.example\nhttp://www.shop.example.co.uk/x\n' > "$f"
assert_rc 0 "snapshot 2" -- tip feed fetch hist
assert_match "$OUT" "4 listed, 1 new, 2 removed, 0 lines rejected" "c new; b and the network removed"
assert_eq "$(removed b.example) $(removed a.example)" "true false" "b removed, a still listed"
assert_eq "$(first a.example)" "$fa" "a keeps its first_seen"

# snapshot 3: b and the network come back, the address goes
printf 'a.example\nb.example\nc.example\n198.51.100.0/24\nhttp://www.shop.example.co.uk/x\n' > "$f"
assert_rc 0 "snapshot 3" -- tip feed fetch hist
assert_match "$OUT" "5 listed, 2 new, 1 removed" "b and the network back (counted new), the address removed"
assert_eq "$(removed b.example) $(removed 192.0.2.1)" "false true" "b re-activated, the address removed"
assert_eq "$(ev b.example)" "listed,removed,returned" "b's history: listed, removed, returned"
assert_eq "$(ev a.example)" "listed" "a's history: listed once"
assert_eq "$(ev 198.51.100.0/24)" "listed,removed,returned" "the network's history"
assert_eq "$(sqlite3 "$T/tip.db" 'SELECT count(*) FROM indicator')" "6" "nothing deleted: 6 indicators ever"

# lookup IP: the listed network that holds it
assert_rc 0 "lookup 198.51.100.77" -- tip lookup 198.51.100.77 --json
assert_eq "$(jq -r '.networks[] | "\(.source) \(.value) \(.removed)"' <<< "$OUT")" "hist 198.51.100.0/24 null" \
	"lookup IP lists the network from the feed"

# watch policy all: domains, and the registrable domain of the URL (not the host)
assert_eq "$(tip watch list --json | jq -r '[.[] | "\(.domain)=\(.source)"] | join(" ")')" \
	"a.example=feed:hist b.example=feed:hist c.example=feed:hist example.co.uk=feed:hist" \
	"watched: the domains and example.co.uk (registrable domain of the URL, per the PSL)"
# the feed parser leaves the registrable domain for later (only written entries need it): the
# stored column must still hold it, as the PSL says (co.uk is a public suffix)
assert_eq "$(sqlite3 "$T/tip.db" "SELECT group_concat(registrable, ' ') FROM (SELECT coalesce(registrable, '-') AS registrable FROM indicator WHERE type = 5 ORDER BY value)")" \
	"example.co.uk" "the URL's registrable domain stored"
# a domain that is its own host and registrable domain (example is not a public suffix:
# a.example is registrable) stores neither (schema 9: NULL where equal to the value); the URL
# stores its host
assert_eq "$(sqlite3 "$T/tip.db" "SELECT coalesce(host, '-') || ' ' || coalesce(registrable, '-') FROM indicator WHERE value = 'a.example'")" \
	"- -" "a domain that is its own host and registrable domain stores neither"
assert_eq "$(sqlite3 "$T/tip.db" "SELECT host FROM indicator WHERE type = 5")" \
	"www.shop.example.co.uk" "the URL's host stored"

# policy by category and none
cat > "$T/cat.csv" <<EOF
phish.example,phishing
mal.example,malware
http://x.evil.example/a,phishing
EOF
cat >> "$T/tip.conf" <<EOF
[feed cats]
url = file://$T/cat.csv
format = csv
field = 1
category_field = 2
watch = phishing
[feed quiet]
url = file://$T/cat.csv
format = csv
watch = none
EOF
assert_rc 0 "category feed" -- tip feed fetch cats quiet
assert_eq "$(tip watch list --json | jq -r '[.[] | select(.source == "feed:cats") | .domain] | join(" ")')" \
	"evil.example phish.example" "watch = phishing: only the phishing rows (URL by its registrable domain)"
assert_eq "$(tip watch list --json | jq -r '[.[] | select(.source == "feed:quiet")] | length')" "0" "watch = none adds nothing"

# the policy is applied to the entries a pass writes: a domain the user took off the watch list
# stays off while the feed lists it unchanged (run.c)
assert_rc 0 "watch rm a.example" -- tip watch rm a.example
assert_rc 0 "snapshot 3 again" -- tip feed fetch hist
assert_match "$OUT" "5 listed, 0 new, 0 removed" "nothing changed in the feed"
assert_eq "$(tip watch list --json | jq -r '[.[] | select(.source == "feed:hist") | .domain] | join(" ")')" \
	"b.example c.example example.co.uk" "a.example stays off the watch list"
# ... until the feed drops it and lists it again: written again, so watched again
printf 'b.example\nc.example\n198.51.100.0/24\nhttp://www.shop.example.co.uk/x\n' > "$f"
assert_rc 0 "snapshot 3 without a" -- tip feed fetch hist
printf 'a.example\nb.example\nc.example\n198.51.100.0/24\nhttp://www.shop.example.co.uk/x\n' > "$f"
assert_rc 0 "snapshot 3 with a again" -- tip feed fetch hist
assert_match "$OUT" "5 listed, 1 new, 0 removed" "a back in the feed"
assert_eq "$(tip watch list --json | jq -r '[.[] | select(.source == "feed:hist") | .domain] | join(" ")')" \
	"a.example b.example c.example example.co.uk" "a.example watched again"
# ... and a changed policy is applied to every entry once, though none of them changed: quiet
# (none -> all) adds mal.example (phish.example and evil.example are watched already, from cats)
sed -i 's/^watch = none$/watch = all/' "$T/tip.conf"
assert_rc 0 "quiet, watch = all now" -- tip feed fetch quiet
assert_match "$OUT" "3 listed, 0 new, 0 removed" "quiet's list unchanged"
assert_eq "$(tip watch list --json | jq -r '[.[] | select(.source == "feed:quiet") | .domain] | join(" ")')" \
	"mal.example" "the new policy applied to the unchanged entries"

# config errors name file, line and key
cp "$T/tip.conf" "$T/good.conf"
printf '[feed broken]\nurl = file:///dev/null\nformat = plain\nfeild = 3\n' >> "$T/tip.conf"
n=$(grep -n '^feild' "$T/tip.conf" | cut -d: -f1)
assert_rc 1 "unknown key" -- tip feed fetch hist
assert_match "$ERR" "tip.conf:$n: \[feed broken\] feild: unknown key" "unknown key named with file and line $n"
cp "$T/good.conf" "$T/tip.conf"
printf '[feed broken]\nurl = gopher://x/\nformat = plain\n' >> "$T/tip.conf"
assert_rc 1 "bad url scheme" -- tip config check
assert_rc 1 "bad url scheme (feed fetch checks)" -- tip feed fetch hist
assert_match "$ERR" "\[feed broken\] url: 'gopher://x/' is not http" "names the url"
cp "$T/good.conf" "$T/tip.conf"

# CLI: add with options, usage errors, unknown names
assert_rc 0 "feed add with --set" -- tip feed add clifeed "file://$T/cat.csv" --format csv --set field=1 --set threat_field=2 --interval 15m
assert_rc 0 "fetch the added feed" -- tip feed fetch clifeed
assert_match "$OUT" "clifeed: 3 listed" "3 rows"
assert_rc 1 "add an existing feed" -- tip feed add clifeed "file://$T/cat.csv" --format csv
assert_rc 1 "add with an unknown option key" -- tip feed add x "file://$T/cat.csv" --format csv --set colour=red
assert_match "$ERR" "colour: unknown key" "names the key"
assert_rc 1 "add a feed the config defines" -- tip feed add hist "file://$f" --format plain
assert_rc 2 "add without --format" -- tip feed add y "file://$f"
assert_rc 2 "--set of a key that has its own option" -- tip feed add y "file://$f" --format plain --set interval=60
assert_rc 2 "feed without subcommand" -- tip feed
assert_rc 1 "fetch an unknown feed" -- tip feed fetch nosuch
assert_match "$ERR" "no feed named 'nosuch'" "names it"
assert_rc 0 "feed --help" -- tip feed --help
assert_match "$OUT" "tip feed add NAME URL --format FMT" "help text"

done_testing
