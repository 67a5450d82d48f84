#!/usr/bin/env bash
# flux-resolve (pass 1) against a real knotd on loopback: rounds and passive DNS across records
# changed between rounds (knotc zone transactions), NXDOMAIN, NODATA, SERVFAIL (a zone knotd is
# configured for but cannot load), a server that never answers and a port nobody listens on,
# truncated answers (TCP fallback, counted by knotd's mod-stats), TTL-driven due times, and enrichment checked against
# mmdblookup(1) (MaxMind test files) and location(1) (Debian libloc), not against our code.
# ctest-labels: needs-knot
# ctest-timeout: 240
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

MMDB=$TIP_TESTDATA/mmdb
q() { sqlite3 "$T/tip.db" "$1"; }

# --- the zone: addresses from the MaxMind test data (PROVENANCE.md: 1.128.0.1 AS1221,
# 12.81.92.1 AS7018, 81.2.69.160 GB, 89.160.20.113 SE)
mkdir -p "$T/zones"
{
	cat <<'Z'
$ORIGIN t.test.
$TTL 60
@ 120 SOA ns1 hostmaster 1 3600 600 86400 90
@ NS ns1
@ NS NS2
ns1 A 127.0.0.1
ns2 A 127.0.0.1
a 30 A 1.128.0.1
a 30 A 12.81.92.1
a 45 AAAA 2001:db8::1
v6 AAAA ::1:2
flux 5 A 81.2.69.160
flux 5 A 89.160.20.113
short 1 A 10.1.0.1
long 3600 A 10.2.0.1
alias CNAME a
Z
	# 100 A records: header 12 + question 16 (big.t.test: 12 bytes, type, class) + 100 x 16
	# (compression pointer 2, type, class, TTL, length 10, address 4) = 1,628 bytes, 1,639 with
	# the OPT record: more than the default [dns] edns_size (1232), so still TC over UDP -> TCP
	for i in $(seq 1 100); do echo "big 60 A 10.9.$((i / 256)).$((i % 256))"; done
} > "$T/zones/t.test.zone"
# broken.test has no zone file: SERVFAIL; [::1] too, for the IPv6 server below
KNOT_STATS=1 KNOT_LISTEN6=1 knot_start "$T/zones" t.test broken.test

cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
timeout_ms = 300
retries = 1
min_interval = 0
[enrich]
locdb =
mmdb_asn = $MMDB/GeoLite2-ASN-Test.mmdb
mmdb_country = $MMDB/GeoIP2-Country-Test.mmdb
C
assert_rc 0 "init" -- tip init
assert_rc 0 "watch the test domains" -- tip watch add a.t.test flux.t.test t.test nx.t.test \
	x.broken.test big.t.test alias.t.test short.t.test long.t.test

# --- round 1
assert_rc 0 "tip resolve (every watched domain)" -- tip resolve
assert_match "$OUT" "resolved 9 domains" "nine domains resolved"
assert_eq "$(q "SELECT module, status, items FROM run")" "flux-resolve|ok|9" "the pass is recorded as a run"
assert_eq "$(q "SELECT count(*) FROM round_all")" "27" "a round per domain and type (9 x A, AAAA, NS)"
assert_eq "$(q "SELECT group_concat(rrtype || '=' || outcome, ' ') FROM (SELECT * FROM round_all WHERE domain = 'a.t.test' ORDER BY rrtype)")" \
	"A=ok AAAA=ok NS=nodata" "a.t.test: A and AAAA answered, no NS at that name"
assert_eq "$(q "SELECT group_concat(DISTINCT outcome) FROM round_all WHERE domain = 'nx.t.test'")" "nxdomain" "NXDOMAIN recorded"
assert_eq "$(q "SELECT group_concat(DISTINCT outcome) FROM round_all WHERE domain = 'x.broken.test'")" "servfail" "SERVFAIL recorded"
assert_eq "$(q "SELECT last_outcome FROM watch WHERE domain = 'nx.t.test'")" "nxdomain" "the watch row keeps the last outcome"
assert_eq "$(q "SELECT group_concat(value, ' ') FROM (SELECT value FROM pdns WHERE domain = 'a.t.test' ORDER BY rrtype, value)")" \
	"1.128.0.1 12.81.92.1 2001:db8::1" "passive DNS of a.t.test"
assert_eq "$(q "SELECT min_ttl || '/' || max_ttl FROM pdns WHERE domain = 'a.t.test' AND rrtype = 'AAAA'")" "45/45" "TTL from the answer"
assert_eq "$(q "SELECT group_concat(value || ':' || min_ttl, ' ') FROM (SELECT * FROM pdns WHERE domain = 't.test' AND rrtype = 'NS' ORDER BY value)")" \
	"ns1.t.test:60 ns2.t.test:60" "NS names (lower-cased, no trailing dot) with their TTL"
# the alias: c-ares follows the CNAME inside the answer; the address is recorded for the alias
assert_eq "$(q "SELECT group_concat(value, ' ') FROM (SELECT value FROM pdns WHERE domain = 'alias.t.test' AND rrtype = 'A' ORDER BY value)")" \
	"1.128.0.1 12.81.92.1" "CNAME answer: the addresses behind it"

# truncation: knotd sets TC over UDP even with EDNS at the default edns_size (kdig says so), we
# still get all 100 via TCP. knotd's own count: round 1 asked over TCP exactly once (the
# other answers of the zone are far under 1,232 bytes), after one TC reply.
assert_eq "$(knot_stat t.test "request-protocol[tcp4]")/$(knot_stat t.test "flag-presence[TC]")" "1/1" \
	"knotd: one TC reply over UDP and one query over TCP in round 1"
assert_match "$(kdig @127.0.0.1 -p "$KNOT_PORT" +bufsize=1232 +notcp +retry=0 big.t.test A)" "[Ff]lags: qr aa tc" \
	"knotd truncates big.t.test over UDP with a 1,232-byte EDNS buffer"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE domain = 'big.t.test' AND rrtype = 'A'")" "100" "all 100 records of the truncated answer (TCP fallback)"
assert_eq "$(q "SELECT n_records FROM round_all WHERE domain = 'big.t.test' AND rrtype = 'A'")" "100" "round counts 100 records"

# enrichment, expected values from mmdblookup over the same files
mm() { # mmdblookup FILE IP PATH... -> the value or empty
	mmdblookup --file "$1" --ip "$2" "${@:3}" 2>/dev/null | sed -n 's/^ *\([0-9][0-9]*\) <uint32>$/\1/p; s/^ *"\(.*\)" <utf8_string>$/\1/p' | head -1
}
for ip in 1.128.0.1 12.81.92.1 81.2.69.160 89.160.20.113; do
	want_asn=$(mm "$MMDB/GeoLite2-ASN-Test.mmdb" "$ip" autonomous_system_number)
	want_name=$(mm "$MMDB/GeoLite2-ASN-Test.mmdb" "$ip" autonomous_system_organization)
	want_cc=$(mm "$MMDB/GeoIP2-Country-Test.mmdb" "$ip" country iso_code)
	assert_eq "$(q "SELECT coalesce(asn, '') || '|' || coalesce(as_name, '') || '|' || coalesce(cc, '') FROM ipinfo WHERE addr = '$ip'")" \
		"$want_asn|$want_name|$want_cc" "ipinfo $ip = mmdblookup ($want_asn|$want_name|$want_cc)"
done
assert_eq "$(q "SELECT DISTINCT db FROM ipinfo")" "mmdb" "ipinfo says which database answered"
assert_match "$(q "SELECT DISTINCT db_version FROM ipinfo")" "^asn:GeoLite2-ASN@[0-9]+ cc:GeoIP2-Country@[0-9]+$" "and its version (type and build time)"

# lookup shows the history with the enrichment
assert_rc 0 "lookup --json" -- tip lookup a.t.test --json
assert_eq "$(echo "$OUT" | jq -r '.resolutions[] | select(.value == "1.128.0.1") | "\(.rrtype) \(.asn) \(.as_name)"')" \
	"A $(mm "$MMDB/GeoLite2-ASN-Test.mmdb" 1.128.0.1 autonomous_system_number) $(mm "$MMDB/GeoLite2-ASN-Test.mmdb" 1.128.0.1 autonomous_system_organization)" \
	"lookup joins the resolution with its ASN"
assert_rc 0 "lookup (text)" -- tip lookup flux.t.test
assert_match "$OUT" "81\.2\.69\.160.*GB" "text lookup prints address and country"

# --- round 2: flux.t.test's addresses change (a knotc zone transaction)
sleep 1
knot_update t.test "unset flux A 81.2.69.160
set flux 5 A 1.128.0.1
set flux 5 A 1.0.0.1"
assert_eq "$(knot_dig flux.t.test A | sort | tr '\n' ' ')" "1.0.0.1 1.128.0.1 89.160.20.113 " "knotd serves the change"
assert_rc 0 "resolve flux.t.test again" -- tip resolve flux.t.test
assert_eq "$(q "SELECT group_concat(value || ':' || count, ' ') FROM (SELECT * FROM pdns WHERE domain = 'flux.t.test' AND rrtype = 'A' ORDER BY value)")" \
	"1.0.0.1:1 1.128.0.1:1 81.2.69.160:1 89.160.20.113:2" "passive DNS keeps the old address and counts the kept one twice"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE domain = 'flux.t.test' AND value = '81.2.69.160' AND last_seen < (SELECT max(last_seen) FROM pdns WHERE domain = 'flux.t.test')")" \
	"1" "the dropped address was last seen in round 1"
assert_eq "$(q "SELECT group_concat(n_records || '/' || n_new, ' ') FROM (SELECT * FROM round_all WHERE domain = 'flux.t.test' AND rrtype = 'A' ORDER BY at)")" \
	"2/2 3/2" "rounds: 2 records both new, then 3 records of which 2 new"
assert_eq "$(q "SELECT count(DISTINCT set_hash) FROM round_all WHERE domain = 'flux.t.test' AND rrtype = 'A'")" "2" "the answer set changed (set_hash)"
assert_eq "$(q "SELECT count(*) FROM run WHERE status = 'ok'")" "2" "second run recorded"

# --- TTL-driven due times ([dns] min_interval = 0): after a round a domain is due again after
# its shortest TTL: short.t.test 1 s, long.t.test 3600 s
assert_eq "$(q "SELECT (next_due - last_round) / 1000000 FROM watch WHERE domain = 'long.t.test'")" "3600" "long.t.test due in 3600 s"
assert_eq "$(q "SELECT (next_due - last_round) / 1000000 FROM watch WHERE domain = 'short.t.test'")" "1" "short.t.test due in 1 s"
# a name that answers only NXDOMAIN is due when its negative answer expires: RFC 2308 §5, the
# authority SOA's min(TTL, MINIMUM) = min(120, 90) from the zone above; SERVFAIL has no SOA
assert_eq "$(q "SELECT (next_due - last_round) / 1000000 FROM watch WHERE domain = 'nx.t.test'")" "90" "nx.t.test due in 90 s (negative TTL)"
assert_eq "$(q "SELECT (next_due - last_round) / 1000000 FROM watch WHERE domain = 'x.broken.test'")" "0" "x.broken.test (SERVFAIL) due at once (min_interval 0)"
sleep 2
assert_rc 0 "a scheduled pass (--due)" -- tip resolve --due
# due now: short.t.test (TTL 1 s) and the failed one (no TTL, min_interval 0); not long.t.test
# (3600), nx.t.test (negative TTL 90), a/alias (30), flux (5, resolved again 1 s after round 1),
# t.test and big.t.test (60)
assert_eq "$(q "SELECT group_concat(domain, ' ') FROM (SELECT DISTINCT r.domain FROM round_all r WHERE r.at > (SELECT started FROM run ORDER BY id DESC LIMIT 1) ORDER BY r.domain)")" \
	"short.t.test x.broken.test" "a scheduled pass takes only the due domains"
assert_rc 0 "--due again at once" -- tip resolve --due --json
echo "$OUT" | jq -e . >/dev/null && pass "--json output" || fail "--json output is not JSON"

# min_interval keeps a domain from being resolved sooner than asked
sed -i 's/^min_interval = 0/min_interval = 600/' "$T/tip.conf"
assert_rc 0 "resolve short.t.test with min_interval 600" -- tip resolve short.t.test
assert_eq "$(q "SELECT (next_due - last_round) / 1000000 FROM watch WHERE domain = 'short.t.test'")" "600" "min_interval wins over a 1 s TTL"

# --- the same server over IPv6 ([::1]:port): c-ares's sockets are ours (batched UDP, TCP for
# the truncated answer), for AF_INET6 as for AF_INET; knotd's own counters say which protocol
# each query came over
sed "s/^servers = .*/servers = [::1]:$KNOT_PORT/" "$T/tip.conf" > "$T/v6.conf"
u6=$(knot_stat t.test "request-protocol[udp6]")
t6=$(knot_stat t.test "request-protocol[tcp6]")
assert_rc 0 "resolve over IPv6" -- tip -c "$T/v6.conf" resolve a.t.test big.t.test
assert_eq "$(q "SELECT group_concat(outcome || ':' || n_records, ' ') FROM (SELECT outcome, n_records FROM round_all WHERE domain = 'big.t.test' AND rrtype = 'A' ORDER BY at DESC LIMIT 1)")" "ok:100" \
	"over IPv6 the truncated answer comes whole (TCP over [::1])"
sent6=$(echo "$ERR" | sed -n 's/.*UDP: \([0-9]*\) datagrams sent in \([0-9]*\) sendmmsg calls.*/\1 \2/p')
assert_match "$sent6" "^[0-9]+ [0-9]+$" "the pass reports its UDP datagrams and sendmmsg calls"
read -r n6 calls6 <<< "${sent6:-0 0}"
assert_eq "$(( n6 >= 6 && calls6 >= 1 && calls6 <= n6 ))" "1" \
	"at least 6 datagrams (2 domains x A, AAAA, NS) in no more calls than datagrams ($n6 in $calls6)"
assert_eq "$(( $(knot_stat t.test "request-protocol[udp6]") - u6 ))" "$n6" \
	"knotd counts over UDP6 every datagram the pass says it sent"
assert_eq "$(( $(knot_stat t.test "request-protocol[tcp6]") - t6 >= 1 ))" "1" \
	"and big.t.test's truncated answer asked again over TCP6"

# --- a server that never answers, and a port nobody listens on
silent_udp_start
dead=$(free_port)
cat > "$T/dead.conf" <<C
[store]
url = sqlite://$T/tip.db
[dns]
servers = 127.0.0.1:$SILENT_PORT
timeout_ms = 200
retries = 2
[enrich]
locdb =
C
assert_rc 0 "resolve against a silent server ends" -- tip -c "$T/dead.conf" resolve a.t.test
assert_eq "$(q "SELECT group_concat(DISTINCT outcome) FROM round_all WHERE domain = 'a.t.test' AND at > (SELECT started FROM run ORDER BY id DESC LIMIT 1)")" "timeout" "timeouts recorded as outcomes"
assert_match "$ERR" "9 queries sent \(6 of them retries\)" "each of the 3 queries tried 1 + retries (2) times"
sed -i "s/^servers = .*/servers = 127.0.0.1:$dead/" "$T/dead.conf"
assert_rc 0 "resolve against a closed port ends" -- tip -c "$T/dead.conf" resolve a.t.test
assert_match "$(q "SELECT group_concat(DISTINCT outcome) FROM round_all WHERE domain = 'a.t.test' AND at > (SELECT started FROM run ORDER BY id DESC LIMIT 1)")" "^(connrefused|timeout)$" "a closed port: connection refused (ICMP) or timeout"

# SIGTERM during a pass (the master's cancel): what is in flight is dropped at once, the run
# ends long before its 3 x 2 s of tries, and the domain's watch row is untouched (still due)
sed -i "s/^servers = .*/servers = 127.0.0.1:$SILENT_PORT/; s/^timeout_ms = .*/timeout_ms = 2000/" "$T/dead.conf"
rounds_before=$(q "SELECT rounds FROM watch WHERE domain = 'a.t.test'")
"$TIP" -c "$T/dead.conf" resolve a.t.test > /dev/null 2> "$T/cancel.err" &
rp=$!
sleep 1
t0=$(date +%s%N); kill -TERM $rp; wait $rp; t1=$(date +%s%N)
assert_eq "$(( (t1 - t0) / 1000000 < 1500 ))" "1" "a cancelled pass ends within 1.5 s of SIGTERM"
assert_match "$(cat "$T/cancel.err")" "cancelled; 0 domains done" "the pass says it was cancelled"
assert_eq "$(q "SELECT rounds FROM watch WHERE domain = 'a.t.test'")" "$rounds_before" "no round recorded for the unfinished domain"
assert_eq "$(q "SELECT status FROM run ORDER BY id DESC LIMIT 1")" "killed" "the stopped pass is recorded as stopped, not ok"
# the same signal sent to the pass's own process (not through its parent): 'cancelled'
"$TIP" -c "$T/dead.conf" resolve a.t.test > /dev/null 2> "$T/cancel2.err" &
rp=$!
sleep 1
kill -TERM "$(pgrep -P $rp | head -1)"; wait $rp
assert_eq "$(q "SELECT status FROM run ORDER BY id DESC LIMIT 1")" "cancelled" "a pass interrupted from outside is recorded as cancelled"
assert_match "$(cat "$T/cancel2.err")" "partial pass, 0 items kept" "and says so"

# --- libloc: switching databases redoes the cache; values from location(1)
cat > "$T/loc.conf" <<C
[store]
url = sqlite://$T/tip.db
[dns]
servers = 127.0.0.1:$KNOT_PORT
timeout_ms = 300
C
assert_rc 0 "resolve with libloc (default locdb)" -- tip -c "$T/loc.conf" resolve a.t.test
assert_match "$ERR" "enriched again" "the pass redid the rows of the other database"
assert_eq "$(q "SELECT count(*) FROM ipinfo WHERE db <> 'libloc'")" "0" "every cached address is now from libloc"
for ip in 1.128.0.1 12.81.92.1 89.160.20.113; do
	lk=$(location lookup "$ip")
	want_asn=$(echo "$lk" | sed -n 's/.*Autonomous System *: AS\([0-9]*\) - .*/\1/p')
	want_name=$(echo "$lk" | sed -n 's/.*Autonomous System *: AS[0-9]* - \(.*\)$/\1/p')
	cname=$(echo "$lk" | sed -n 's/.*Country *: \(.*\)$/\1/p')
	want_cc=$(location list-countries --show-name | awk -v n="$cname" '{ c = $1; $1 = ""; sub(/^ /, ""); if ($0 == n) print c }')
	assert_eq "$(q "SELECT coalesce(asn, '') || '|' || coalesce(as_name, '') || '|' || coalesce(cc, '') FROM ipinfo WHERE addr = '$ip'")" \
		"$want_asn|$want_name|$want_cc" "ipinfo $ip = location lookup ($want_asn|$want_name|$want_cc)"
done

# an AAAA answer is stored in the form tip lookup asks for: RFC 5952 (python's ipaddress
# writes ::1:2 so; glibc's inet_ntop alone would give ::0.1.0.2)
assert_rc 0 "resolve v6.t.test" -- tip resolve v6.t.test
want6=$(python3 -c 'import ipaddress; print(ipaddress.ip_address("::1:2"))')
assert_eq "$(q "SELECT group_concat(value) FROM pdns WHERE domain = 'v6.t.test' AND rrtype = 'AAAA'")" "$want6" \
	"the AAAA record's canonical form ($want6)"
assert_rc 0 "lookup ::1:2" -- tip lookup ::1:2 --json
assert_eq "$(jq -r '[.resolutions[].domain] | join(",")' <<< "$OUT")" "v6.t.test" "found by tip lookup of the address"

# bad config is refused before anything is resolved
printf '[store]\nurl = sqlite://%s/tip.db\n[dns]\nrrtypes = A, MX\n' "$T" > "$T/bad.conf"
assert_rc 1 "rrtypes with MX is refused" -- tip -c "$T/bad.conf" resolve a.t.test
assert_match "$ERR" "rrtypes.*MX" "the error names the key and value"

done_testing
