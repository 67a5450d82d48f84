#!/usr/bin/env bash
# EDNS(0) in flux-resolve ([dns] edns_size), against a real knotd on loopback whose mod-stats
# counts each request by protocol (udp4/tcp4), by EDNS presence and by the TC flag of the reply
# — the server's own count, not ours:
#   - an answer over 512 and under 1,232 bytes comes over UDP in one query with the default
#     edns_size (1232), and is stored completely;
#   - with edns_size = 0 the same answer is truncated over UDP and fetched again over TCP, and
#     is still stored completely; with edns_size = 512 too (the size we advertise is the one the
#     server uses);
#   - a server that predates EDNS (FORMERR to a query with an OPT record): every name resolves,
#     sent again without EDNS, none recorded as formerr, with many queries in flight at once;
#   - a bad edns_size is refused naming file, line and key.
# ctest-labels: needs-knot
# ctest-timeout: 120
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

q() { sqlite3 "$T/tip.db" "$1"; }
N=50 # A records of mid.t.test
mkdir -p "$T/zones"
{
	cat <<'Z'
$ORIGIN t.test.
$TTL 60
@ SOA ns1 hostmaster 1 3600 600 86400 90
@ NS ns1
ns1 A 127.0.0.1
Z
	# The answer's size, by hand: header 12 + question 16 (mid.t.test is 12 bytes on the wire,
	# then type and class) + 16 per A record (a 2-byte compression pointer, type, class, TTL,
	# length: 10, the address: 4) = 28 + 16 * 50 = 828 bytes, plus an 11-byte OPT record when
	# the query had one: 839. Over 512, under 1,232. kdig checks it below.
	for i in $(seq 1 $N); do echo "mid A 10.8.0.$i"; done
} > "$T/zones/t.test.zone"
KNOT_STATS=1 knot_start "$T/zones" t.test
want=$(grep -c '^mid A ' "$T/zones/t.test.zone") # the records the zone holds

# what knotd does with this answer, seen by kdig: whole over UDP with a 1,232-byte EDNS buffer,
# truncated (TC) over UDP without EDNS
dig_edns=$(kdig @127.0.0.1 -p "$KNOT_PORT" +notcp +retry=0 +bufsize=1232 mid.t.test A)
assert_match "$dig_edns" "Flags: qr aa rd; QUERY: 1; ANSWER: $want;" "kdig +bufsize=1232: $want records, no TC"
size=$(sed -n 's/^;; Received \([0-9]*\) B$/\1/p' <<< "$dig_edns")
assert_eq "$(( size > 512 && size < 1232 ))" "1" "the answer is over 512 and under 1,232 bytes ($size)"
assert_match "$(kdig @127.0.0.1 -p "$KNOT_PORT" +notcp +retry=0 +noedns mid.t.test A)" "Flags: qr aa tc" \
	"kdig +noedns: knotd truncates it over UDP"

cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
rrtypes = A
timeout_ms = 1000
retries = 1
min_interval = 0
[enrich]
locdb =
C
assert_rc 0 "init" -- tip init

# stat COUNTER: knotd's count since the last call of snap
snap() { for c in "request-protocol[udp4]" "request-protocol[tcp4]" "edns-presence[request]" "flag-presence[TC]"; do
	eval "base_$(tr -c 'a-zA-Z0-9\n' _ <<< "$c")=$(knot_stat t.test "$c")"; done; }
stat() { local b; eval "b=\$base_$(tr -c 'a-zA-Z0-9\n' _ <<< "$1")"; echo $(( $(knot_stat t.test "$1") - b )); }
counts() { echo "udp $(stat "request-protocol[udp4]") tcp $(stat "request-protocol[tcp4]") edns $(stat "edns-presence[request]") tc $(stat "flag-presence[TC]")"; }
last_round() { q "SELECT outcome || ' ' || n_records FROM round_all WHERE domain = 'mid.t.test' ORDER BY at DESC LIMIT 1"; }

# --- the default (edns_size unset: 1232): one query over UDP, with EDNS, no TC, no TCP
snap
assert_rc 0 "resolve mid.t.test (default edns_size)" -- tip resolve mid.t.test
assert_eq "$(counts)" "udp 1 tcp 0 edns 1 tc 0" "knotd saw one UDP query with EDNS and sent no TC"
assert_eq "$(last_round)" "ok $want" "the round has all $want records"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE domain = 'mid.t.test' AND rrtype = 'A'")" "$want" "passive DNS has all $want"
assert_eq "$(q "SELECT group_concat(value, ' ') FROM (SELECT value FROM pdns WHERE domain = 'mid.t.test' ORDER BY value)")" \
	"$(sed -n 's/^mid A //p' "$T/zones/t.test.zone" | sort | tr '\n' ' ' | sed 's/ $//')" "the same addresses as the zone"

# --- edns_size = 0: no EDNS; truncated over UDP, then TCP (c-ares's fallback), still complete
sed -i 's/^\[dns\]$/[dns]\nedns_size = 0/' "$T/tip.conf"
snap
assert_rc 0 "resolve mid.t.test (edns_size = 0)" -- tip resolve mid.t.test
assert_eq "$(counts)" "udp 1 tcp 1 edns 0 tc 1" "knotd saw a plain UDP query, answered TC, then the query over TCP"
assert_eq "$(last_round)" "ok $want" "the round has all $want records (over TCP)"

# --- edns_size = 512: the advertised size is the one knotd answers within (TC, then TCP)
sed -i 's/^edns_size = 0$/edns_size = 512/' "$T/tip.conf"
snap
assert_rc 0 "resolve mid.t.test (edns_size = 512)" -- tip resolve mid.t.test
assert_eq "$(counts)" "udp 1 tcp 1 edns 2 tc 1" "512 advertised: TC over UDP, then TCP (both with EDNS)"
assert_eq "$(last_round)" "ok $want" "the round has all $want records"
sed -i '/^edns_size = /d' "$T/tip.conf"

# --- a server that predates EDNS: FORMERR without an OPT record to every query with one.
# 40 names, all in flight at once (the window starts at 64) over tip's 4 channels to the server;
# c-ares drops EDNS for a channel at its first such FORMERR and sends that query again, and the
# queries already in flight on the channel come back to tip as FORMERR, which sends them again.
M=40
noedns_udp_start "$T/noedns.log"
names=$(for i in $(seq 1 $M); do echo "n$i.old.test"; done)
cat > "$T/old.conf" <<C
[store]
url = sqlite://$T/tip.db
[dns]
servers = 127.0.0.1:$NOEDNS_PORT
rrtypes = A
timeout_ms = 1000
retries = 0
[enrich]
locdb =
C
# shellcheck disable=SC2086
assert_rc 0 "resolve $M names against a pre-EDNS server" -- tip -c "$T/old.conf" resolve $names
assert_eq "$(q "SELECT outcome || ' ' || count(*) FROM round_all WHERE domain LIKE '%.old.test' GROUP BY outcome")" "ok $M" \
	"all $M names answered (none formerr), with retries = 0"
assert_eq "$(q "SELECT count(DISTINCT domain) FROM pdns WHERE domain LIKE '%.old.test' AND value = '192.0.2.1'")" "$M" \
	"each has the server's address"
n_edns=$(grep -c '^edns ' "$T/noedns.log")
assert_eq "$(( n_edns >= 1 ))" "1" "tip asked with EDNS first ($n_edns queries with an OPT record)"
assert_eq "$(awk '$1 == "plain" { print $2 }' "$T/noedns.log" | sort -u | wc -l)" "$M" "and every name again without it"
assert_match "$ERR" "127\.0\.0\.1:$NOEDNS_PORT answered FORMERR to EDNS" "the pass says which server does not speak EDNS"
: > "$T/noedns.log"
sed -i 's/^retries = 0$/retries = 0\nedns_size = 0/' "$T/old.conf"
# shellcheck disable=SC2086
assert_rc 0 "the same with edns_size = 0" -- tip -c "$T/old.conf" resolve $names
assert_eq "$(grep -c '^edns ' "$T/noedns.log")/$(grep -c '^plain ' "$T/noedns.log")" "0/$M" "no OPT record sent: one plain query per name"

# --- bad values, refused before anything is resolved
for bad in 511 4097 -1 1k; do
	printf '[store]\nurl = sqlite://%s/tip.db\n[dns]\nrrtypes = A\nedns_size = %s\n' "$T" "$bad" > "$T/bad.conf"
	assert_rc 1 "edns_size = $bad is refused" -- tip -c "$T/bad.conf" resolve mid.t.test
	assert_match "$ERR" "bad\.conf:5: \[dns\] edns_size: '$bad' is not 0 \(off\) or a whole number from 512 to 4096" \
		"the error names file, line 5, key and range"
done

done_testing
