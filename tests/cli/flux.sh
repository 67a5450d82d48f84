#!/usr/bin/env bash
# tip flux without a resolver: empty views, usage errors (exit 2), the allowlist's errors (exit 1,
# naming file and line, nothing written), and a classification pass over rounds written by hand
# with sqlite3 (expected values worked out in the comments).
. "$(dirname "$0")/../lib/common.sh"
q() { sqlite3 "$T/tip.db" "$1"; }

assert_rc 0 "init" -- tip init
assert_rc 0 "tip flux on an empty store" -- tip flux
assert_eq "$OUT" "no verdicts" "nothing to show"
assert_rc 0 "tip flux --json" -- tip flux --json
assert_eq "$OUT" "[]" "an empty array"
assert_rc 0 "tip flux families --json" -- tip flux families --json
assert_eq "$OUT" "[]" "no families"
assert_rc 2 "unknown subcommand" -- tip flux bogus
assert_rc 2 "history needs a domain" -- tip flux history
assert_rc 2 "families takes no argument" -- tip flux families x
assert_rc 0 "help" -- tip flux --help
assert_match "$OUT" "142.38" "the help names the threshold"

# the allowlist: missing at a path of our own is an error; at the default path only a warning
printf '[flux]\nallowlist = %s/nope.conf\n' "$T" >> "$T/tip.conf"
assert_rc 1 "missing allowlist" -- tip flux classify
assert_match "$ERR" "nope.conf" "the error names the file"
printf 'AS13335\n# ok\n10.0.0.0/33\n' > "$T/allow.conf"
sed -i "s|^allowlist = .*|allowlist = $T/allow.conf|" "$T/tip.conf"
assert_rc 1 "a bad allowlist line" -- tip flux classify
assert_match "$ERR" "allow.conf:3: '10.0.0.0/33'" "file:line and the value"
sed -i '3d' "$T/allow.conf"

# three rounds of one domain, 2 addresses each time (the same two): n_A 2, n_all 6, phi 2/6 = 0.33,
# no ASN known: score 1.32 * 2 = 2.64; benign (stable)
for k in 1 2 3; do
	at=$(( $(date +%s) * 1000000 - (4 - k) * 600000000 ))
	q "INSERT INTO round VALUES ('rr.example', 'A', $at, 'ok', 2, $((k == 1 ? 2 : 0)), 300, 42)"
	q "INSERT INTO pdns VALUES ('rr.example', 'A', '192.0.2.1', $at, $at, 1, 300, 300) ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen, count = count + 1"
	q "INSERT INTO pdns VALUES ('rr.example', 'A', '192.0.2.2', $at, $at, 1, 300, 300) ON CONFLICT DO UPDATE SET last_seen = excluded.last_seen, count = count + 1"
done
assert_rc 0 "classify" -- tip flux classify
assert_match "$OUT" "classified 1 domains: 0 fastflux, 0 suspicious, 1 benign" "one benign domain"
assert_rc 0 "tip flux --all --json" -- tip flux --all --json
assert_eq "$(echo "$OUT" | python3 -c 'import json,sys; v=json.load(sys.stdin)[0]; print(v["domain"], v["verdict"], v["n_a"], v["rounds"], "%.2f" % v["fluxiness"], "%.2f" % v["score"], v["min_ttl"])')" \
	"rr.example benign 2 3 0.33 2.64 300" "features by hand"
assert_rc 0 "tip lookup" -- tip lookup rr.example
assert_match "$OUT" "verdict: benign since .*flux-score 2.64" "lookup shows the verdict with why"
assert_eq "$(q "SELECT count(*) FROM flux_pass")" "1" "the pass is recorded"

done_testing
