#!/usr/bin/env bash
# flux-classify (pass 2) end to end against a real knotd on loopback: four resolution rounds by
# flux-resolve (tip resolve), the records changed between rounds with dynamic updates (knotc zone
# transactions), then `tip flux classify`. The domains:
#   flux.ff.test    fast flux: 8 fresh addresses a round in 8 ASNs, TTL 60
#   flux2.ff.test   fast flux sharing 2 of flux's addresses each round: one network family
#   dflux.test      double flux: A rotating (7 a round in 7 ASNs) and the apex NS set rotating
#   cdn.ff.test     CDN-like: 5 fresh addresses a round, all in one ASN, one /16, TTL 20
#   multi.ff.test   flux-like across 8 ASNs that the allowlist names as known-good
#   rr.ff.test      round robin: the same 4 addresses every round (2 ASNs)
#   single.ff.test  one address
# Expected values are worked out by hand from the records this test serves (the arithmetic is in
# the comments); ASN and country counts come from mmdblookup(1) over the same addresses and the
# same MaxMind test databases, not from our code.
# ctest-labels: needs-knot
# ctest-timeout: 240
. "$(dirname "$0")/../lib/common.sh"
. "$(dirname "$0")/../lib/knot.sh"

MMDB=$TIP_TESTDATA/mmdb
q() { sqlite3 "$T/tip.db" "$1"; }
jq_() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# --- the addresses of round r (prefixes chosen from GeoLite2-ASN-Test.json, one ASN each)
flux_addrs() { for p in 1.128 15.0 18.0 27.192 31.64 35.0 44.0 53.0; do echo "$p.$1.1"; done; }
flux2_addrs() {
	for p in 36.192 50.128 55.0 57.0 59.0 60.64; do echo "$p.$1.2"; done
	echo "1.128.$1.1"; echo "15.0.$1.1" # shared with flux.ff.test
}
dflux_addrs() { for p in 31.224 39.32 39.192 70.160 70.192 74.160 77.128; do echo "$p.$1.3"; done; }
multi_addrs() { for p in 78.192 81.128 89.80 111.0 145.128 172.128 176.128 180.0; do echo "$p.$1.4"; done; }
cdn_addrs() { for k in 1 2 3 4 5; do echo "49.64.$1.$k"; done; }
RR="1.128.200.1 1.128.200.2 15.200.0.1 15.200.0.2"
SINGLE=89.160.20.113
dflux_ns() { echo "ns$((2 * $1 - 1)).nsfarm.test"; echo "ns$((2 * $1)).nsfarm.test"; }

asns() { # distinct ASNs of the addresses on stdin, by mmdblookup
	while read -r ip; do
		mmdblookup --file "$MMDB/GeoLite2-ASN-Test.mmdb" --ip "$ip" autonomous_system_number 2>/dev/null | grep -o '[0-9]\+' | head -1
	done | sort -u | grep -c .
}
countries() {
	while read -r ip; do
		mmdblookup --file "$MMDB/GeoIP2-Country-Test.mmdb" --ip "$ip" country iso_code 2>/dev/null | grep -o '"[A-Z][A-Z]"' | head -1
	done | sort -u | grep -c .
}

# --- round 1 as zone files
mkdir -p "$T/zones"
{
	cat <<'Z'
$ORIGIN ff.test.
$TTL 300
@ SOA ns1 hostmaster 1 3600 600 86400 60
@ NS ns1
ns1 A 127.0.0.1
Z
	for a in $(flux_addrs 1); do echo "flux 60 A $a"; done
	for a in $(flux2_addrs 1); do echo "flux2 60 A $a"; done
	for a in $(cdn_addrs 1); do echo "cdn 20 A $a"; done
	for a in $(multi_addrs 1); do echo "multi 60 A $a"; done
	for a in $RR; do echo "rr 300 A $a"; done
	echo "single 3600 A $SINGLE"
} > "$T/zones/ff.test.zone"
{
	cat <<'Z'
$ORIGIN dflux.test.
$TTL 60
@ SOA ns1.nsfarm.test. hostmaster 1 3600 600 86400 60
Z
	for n in $(dflux_ns 1); do echo "@ NS $n."; done
	for a in $(dflux_addrs 1); do echo "@ 60 A $a"; done
} > "$T/zones/dflux.test.zone"
knot_start "$T/zones" ff.test dflux.test

# the shipped allowlist plus the eight ASNs of multi.ff.test, standing in for a CDN's
{ cat "$TIP_SRCDIR/etc/allowlist.conf"; printf 'AS%s\n' 12322 2856 5410 9808 1103 1668 12844 4713; } > "$T/allow.conf"
cat >> "$T/tip.conf" <<C
[dns]
servers = 127.0.0.1:$KNOT_PORT
timeout_ms = 500
retries = 1
min_interval = 0
[enrich]
locdb =
mmdb_asn = $MMDB/GeoLite2-ASN-Test.mmdb
mmdb_country = $MMDB/GeoIP2-Country-Test.mmdb
[flux]
min_rounds = 3
allowlist = $T/allow.conf
C
assert_rc 0 "init" -- tip init
DOMAINS="flux.ff.test flux2.ff.test dflux.test cdn.ff.test multi.ff.test rr.ff.test single.ff.test"
# shellcheck disable=SC2086
assert_rc 0 "watch the test domains" -- tip watch add $DOMAINS

# flux.ff.test first on its own, so that it is the family's oldest domain (the family's name)
assert_rc 0 "round 1: flux.ff.test" -- tip resolve flux.ff.test
assert_rc 0 "round 1: the others" -- tip resolve flux2.ff.test dflux.test cdn.ff.test multi.ff.test rr.ff.test single.ff.test

# rounds 2..4: every rotating RRset replaced by the round's addresses
next_round() {
	local r=$1 cmds="" a
	cmds+="unset flux A"$'\n'; for a in $(flux_addrs "$r"); do cmds+="set flux 60 A $a"$'\n'; done
	cmds+="unset flux2 A"$'\n'; for a in $(flux2_addrs "$r"); do cmds+="set flux2 60 A $a"$'\n'; done
	cmds+="unset cdn A"$'\n'; for a in $(cdn_addrs "$r"); do cmds+="set cdn 20 A $a"$'\n'; done
	cmds+="unset multi A"$'\n'; for a in $(multi_addrs "$r"); do cmds+="set multi 60 A $a"$'\n'; done
	knot_update ff.test "$cmds"
	cmds="unset @ A"$'\n'; for a in $(dflux_addrs "$r"); do cmds+="set @ 60 A $a"$'\n'; done
	for a in $(dflux_ns "$((r - 1))"); do cmds+="unset @ NS $a."$'\n'; done
	for a in $(dflux_ns "$r"); do cmds+="set @ 60 NS $a."$'\n'; done
	knot_update dflux.test "$cmds"
	assert_eq "$(knot_dig flux.ff.test A | sort | tr '\n' ' ')" "$(flux_addrs "$r" | sort | tr '\n' ' ')" "round $r: knotd serves flux's new set"
	assert_eq "$(knot_dig dflux.test NS | sort | tr '\n' ' ')" "$(dflux_ns "$r" | sed 's/$/./' | sort | tr '\n' ' ')" "round $r: knotd serves dflux's new NS set"
	assert_rc 0 "round $r: tip resolve" -- tip resolve
}
next_round 2

# two rounds are fewer than min_rounds (3): every verdict is unknown, and says why
assert_rc 0 "classify after two rounds" -- tip flux classify --json
assert_eq "$(echo "$OUT" | jq_ "d['domains'], d['unknown']")" "7 7" "seven domains, all unknown"
assert_match "$(tip flux --all --json | jq_ "[v['why'] for v in d if v['domain']=='flux.ff.test'][0]")" \
	"2 A rounds in the window, 3 needed" "unknown says how many rounds it had and needs"

next_round 3
next_round 4
assert_rc 0 "classify after four rounds" -- tip flux classify --json
assert_eq "$(echo "$OUT" | jq_ "d['domains'], d['fastflux'], d['suspicious'], d['benign'], d['unknown'], d['double_flux'], d['families'], d['events']")" \
	"7 3 0 4 0 1 1 7" "7 domains: 3 fastflux, 4 benign, 1 double flux, 1 family, 7 verdict changes (all from unknown)"

assert_rc 0 "tip flux --all --json" -- tip flux --all --json
echo "$OUT" > "$T/all.json"
v() { python3 -c "
import json
d = {x['domain']: x for x in json.load(open('$T/all.json'))}
x = d['$1']
print(' '.join(str(x[k]) if not isinstance(x[k], float) else '%.2f' % x[k] for k in '$2'.split()))"; }
F="verdict rounds n_a n_asn n_ns n_p16 min_ttl fluxiness score double_flux"

# flux: 8 a round x 4 rounds, all fresh: n_A 32, n_all 32, phi 32/32 = 1.00; 8 ASNs, 8 /16s;
# score 1.32*32 + 18.54*8 = 42.24 + 148.32 = 190.56 > 142.38; min TTL 60; no NS at that name
FLUX_ALL=$(for r in 1 2 3 4; do flux_addrs $r; done)
assert_eq "$(echo "$FLUX_ALL" | asns)" "8" "mmdblookup: flux's addresses are in 8 ASNs"
assert_eq "$(v flux.ff.test "$F")" "fastflux 4 32 8 0 8 60 1.00 190.56 False" "flux.ff.test features and verdict"
assert_eq "$(v flux.ff.test n_cc)" "$(echo "$FLUX_ALL" | countries)" "flux.ff.test countries as mmdblookup counts them"
assert_eq "$(v flux.ff.test a_changes)" "3" "flux: the A set changed in each of rounds 2..4"
# flux2: 6 own + 2 shared a round = 32 unique in 8 ASNs (6 own + AS1221, AS71): same score
assert_eq "$(for r in 1 2 3 4; do flux2_addrs $r; done | asns)" "8" "mmdblookup: flux2's addresses are in 8 ASNs"
assert_eq "$(v flux2.ff.test "$F")" "fastflux 4 32 8 0 8 60 1.00 190.56 False" "flux2.ff.test features and verdict"
# dflux: 7 x 4 = 28 unique in 7 ASNs: 1.32*28 + 18.54*7 = 36.96 + 129.78 = 166.74; NS: 2 a
# round x 4 = 8 names, the set changed in rounds 2, 3, 4 (3 changes): double flux
assert_eq "$(v dflux.test "$F")" "fastflux 4 28 7 8 7 60 1.00 166.74 True" "dflux.test features, verdict and double flux"
assert_eq "$(v dflux.test ns_changes)" "3" "dflux: the NS set changed three times"
# cdn: 5 x 4 = 20 unique in 1 ASN (AS4134), one /16 (49.64): 1.32*20 + 18.54 = 44.94; phi 1.00,
# TTL 20 — rotating and short, but one network: benign, CDN-like
assert_eq "$(for r in 1 2 3 4; do cdn_addrs $r; done | asns)" "1" "mmdblookup: cdn's addresses are in 1 ASN"
assert_eq "$(v cdn.ff.test "$F")" "benign 4 20 1 0 1 20 1.00 44.94 False" "cdn.ff.test: many addresses, one ASN: benign"
assert_match "$(v cdn.ff.test why)" "CDN-like" "the why says CDN-like"
# multi: 8 x 4 = 32 in 8 ASNs, score 190.56 like flux, but every ASN is on the allowlist
assert_eq "$(v multi.ff.test "verdict score n_allowed")" "benign 190.56 32" "multi.ff.test: all 32 records known-good: benign despite the score"
assert_match "$(v multi.ff.test why)" "known-good network" "the why names the allowlist"
# rr: the same 4 every round: n_all 16, phi 4/16 = 0.25; 2 ASNs: 1.32*4 + 18.54*2 = 42.36
assert_eq "$(v rr.ff.test "$F")" "benign 4 4 2 0 2 300 0.25 42.36 False" "rr.ff.test: round robin, benign"
assert_eq "$(v rr.ff.test a_changes)" "0" "rr: the A set never changed"
# single: 1 of 4: phi 0.25; AS29518, SE: 1.32 + 18.54 = 19.86
assert_eq "$(v single.ff.test "$F")" "benign 4 1 1 0 1 3600 0.25 19.86 False" "single.ff.test: benign"
assert_eq "$(v single.ff.test n_cc) $(echo $SINGLE | countries)" "1 1" "single: one country (mmdblookup agrees)"

# the default view: fastflux and suspicious only, fastflux first
assert_rc 0 "tip flux --json" -- tip flux --json
assert_eq "$(echo "$OUT" | jq_ "' '.join(sorted(v['domain'] for v in d))")" "dflux.test flux.ff.test flux2.ff.test" "tip flux lists the three flux domains"
assert_rc 0 "tip flux (text)" -- tip flux
assert_match "$OUT" "fastflux +flux\.ff\.test +190\.56" "text view shows the score"
assert_match "$OUT" "unknown -> fastflux" "text view shows the verdict changes"

# the family: flux and flux2 share 1.128.r.1 and 15.0.r.1; agents 32 + 24 own of flux2 = 56;
# named after flux.ff.test, resolved first
assert_eq "$(v flux.ff.test family) $(v flux2.ff.test family)" "ff-flux.ff.test ff-flux.ff.test" "flux and flux2 are one family"
assert_eq "$(v dflux.test family)" "None" "dflux shares no agent: no family"
assert_rc 0 "tip flux families --json" -- tip flux families --json
assert_eq "$(echo "$OUT" | jq_ "len(d), d[0]['name'], d[0]['n_domains'], d[0]['n_agents'], ' '.join(m['value'] for m in d[0]['domains'])")" \
	"1 ff-flux.ff.test 2 56 flux.ff.test flux2.ff.test" "one family: 2 domains, 56 agents"
assert_eq "$(echo "$OUT" | jq_ "len(d[0]['agents']), len(d[0]['sizes'])")" "56 1" "agents listed; one size sample so far"
assert_rc 0 "tip flux families (text)" -- tip flux families
assert_match "$OUT" "ff-flux.ff.test: 2 domains, 56 agents" "text view of the family"

# lookup shows the verdict with features and why
assert_rc 0 "tip lookup dflux.test --json" -- tip lookup dflux.test --json
assert_eq "$(echo "$OUT" | jq_ "d['verdict']['verdict'], d['verdict']['double_flux']")" "fastflux True" "lookup: verdict and double flux"
assert_match "$(echo "$OUT" | jq_ "d['verdict']['why']")" "double flux: 8 NS names, NS set changed in 3 rounds" "lookup: why with the NS numbers"

# history and events: the verdict over time; a change is an event
assert_eq "$(tip flux history flux.ff.test --json | jq_ "' '.join(v['verdict'] for v in d)")" "unknown fastflux" "history of flux.ff.test"
assert_eq "$(tip flux events --json | jq_ "len(d), sorted(set(e['old'] for e in d))")" "7 ['unknown']" "7 events, all from unknown"
assert_eq "$(q "SELECT count(*) FROM flux_event WHERE new = 'fastflux'")" "3" "three domains started fluxing"

# flux.ff.test stops being flagged: its eight ASNs go on the allowlist (as if it were found to be
# a CDN's). Its verdict changes to benign (an event); flux2 keeps fluxing on its own 6 ASNs but
# shares no agent with a flagged domain any more (allowlisted addresses are no agents): no family.
printf 'AS%s\n' 1221 71 3 4837 12576 237 7377 31399 >> "$T/allow.conf"
assert_rc 0 "classify with flux's networks allowlisted" -- tip flux classify --json
assert_eq "$(echo "$OUT" | jq_ "d['fastflux'], d['families'], d['events']")" "2 0 1" "2 fastflux left, no family, one change"
assert_eq "$(tip flux history flux.ff.test --json | jq_ "' '.join(v['verdict'] for v in d)")" "unknown fastflux benign" "history of flux.ff.test"
assert_eq "$(q "SELECT old || '->' || new FROM flux_event WHERE domain = 'flux.ff.test' ORDER BY at DESC LIMIT 1")" "fastflux->benign" "stopping is an event"
assert_eq "$(tip flux families --json | jq_ "len(d)")" "0" "no current family"
assert_eq "$(tip flux families --all --json | jq_ "d[0]['name'], d[0]['n_domains']")" "ff-flux.ff.test 2" "the old family is kept (--all)"

# a broken allowlist stops the pass with file:line, and nothing is written
echo "ASX" >> "$T/allow.conf"
n=$(q "SELECT count(*) FROM verdict")
assert_rc 1 "a bad allowlist line is an error" -- tip flux classify
assert_match "$ERR" "allow.conf:[0-9]+: 'ASX'" "the error names file and line"
assert_eq "$(q "SELECT count(*) FROM verdict")" "$n" "nothing written"

# every pass is a run of the module (tip flux classify goes through the scheduler's runner), and
# the daemon's one-shot path runs the same module
assert_eq "$(q "SELECT group_concat(status || ':' || items, ' ') FROM (SELECT * FROM run WHERE module = 'flux-classify' ORDER BY id)")" \
	"ok:7 ok:7 ok:7" "three classify runs recorded over 7 domains (the bad allowlist was refused by the module's config check, before any run)"
sed -i '$d' "$T/allow.conf"
assert_rc 0 "tip run --once flux-classify" -- tip run --once flux-classify
assert_eq "$(q "SELECT status || ':' || items FROM run WHERE module = 'flux-classify' ORDER BY id DESC LIMIT 1")" "ok:7" "the one-shot run classified 7 domains"
assert_eq "$(tip flux history flux2.ff.test --json | jq_ "' '.join(v['verdict'] for v in d)")" "unknown fastflux fastflux fastflux" "flux2: one verdict per pass"

done_testing
