#!/usr/bin/env bash
# The original's failure: 24,000 watched domains resolved completely under `ulimit -n 256`
# (a resolver per thread ran out of sockets past a few thousand). Expected counts come from the
# generated zone (awk), independent of our code.
# ctest-labels: needs-knot
# ctest-timeout: 300
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

N=24000
q() { sqlite3 "$T/tip.db" "$1"; }
mkdir -p "$T/zones"
# d00000..d23999: two A records each; every 10th also an AAAA; every 100th does not exist
# (watched but NXDOMAIN)
awk -v n=$N 'BEGIN {
	print "$ORIGIN s.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.0.0.1"
	for (i = 0; i < n; i++) {
		if (i % 100 == 99) continue
		printf "d%05d A 10.%d.%d.1\nd%05d A 10.%d.%d.2\n", i, int(i / 256) % 256, i % 256, i, int(i / 256) % 256, i % 256
		if (i % 10 == 0) printf "d%05d AAAA 2001:db8::%x\n", i, i
	}
}' > "$T/zones/s.test.zone"
awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) printf "d%05d.s.test\n", i }' > "$T/names.txt"
want_nx=$(awk 'END { print NR }' < <(awk -v n=$N 'BEGIN { for (i = 0; i < n; i++) if (i % 100 == 99) print i }'))
want_a=$(grep -c ' A 10\.' "$T/zones/s.test.zone")
want_aaaa=$(grep -c ' AAAA ' "$T/zones/s.test.zone")
KNOT_UDP_WORKERS=2 knot_start "$T/zones" s.test

cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
concurrency = 2000
timeout_ms = 1000
retries = 3
[enrich]
locdb =
C
assert_rc 0 "init" -- tip init
assert_rc 0 "watch add --file (24,000 names)" -- tip watch add --file "$T/names.txt"
assert_eq "$(q "SELECT count(*) FROM watch")" "$N" "all watched"

assert_rc 0 "resolve all under ulimit -n 256" -- bash -c "ulimit -n 256 && exec '$TIP' resolve"
assert_match "$OUT" "resolved $N domains" "every domain resolved"
assert_eq "$(q "SELECT count(*) FROM round_all")" "$((N * 3))" "a round per domain and type (A, AAAA, NS)"
assert_eq "$(q "SELECT count(*) FROM round_all WHERE outcome = 'timeout'")" "0" "no query timed out for good"
assert_eq "$(q "SELECT count(*) FROM round_all WHERE rrtype = 'A' AND outcome = 'nxdomain'")" "$want_nx" "NXDOMAIN for the names not in the zone"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE rrtype = 'A'")" "$want_a" "every A record of the zone in passive DNS"
assert_eq "$(q "SELECT count(*) FROM pdns WHERE rrtype = 'AAAA'")" "$want_aaaa" "every AAAA record"
assert_eq "$(q "SELECT count(*) FROM watch WHERE rounds = 1 AND last_round IS NOT NULL")" "$N" "every watch row got its round"
assert_match "$ERR" "max RSS" "the pass reports its figures"
echo "$ERR" | grep 'flux-resolve:' | sed 's/^/# /'
done_testing
