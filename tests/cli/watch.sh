#!/usr/bin/env bash
# The watch list through the built binary: normalisation on the way in, --json on the way out,
# and a bad domain that changes nothing. Expected values come from the normalisation rules
# (RFC 1035 §2.3.4 lengths, RFC 3492 / IDNA2008 A-labels as computed by idn2(1)).
. "$(dirname "$0")/../lib/common.sh"

assert_rc 0 "tip init creates the store" -- tip init
assert_rc 0 "tip init again is a no-op" -- tip init
assert_match "$OUT" "nothing to do" "second init says there was nothing to do"
# a new store's pages are 16 KiB (src/store/store_sqlite.c); one made before keeps its 4 KiB
# (read back with the sqlite3 shell, not through tip)
assert_eq "$(sqlite3 "$T/tip.db" "PRAGMA page_size")" "16384" "a new store has 16 KiB pages"
sqlite3 "$T/old.db" "PRAGMA page_size=4096; PRAGMA journal_mode=WAL" > /dev/null
printf '[store]\nurl = sqlite://%s/old.db\n' "$T" > "$T/old.conf"
assert_rc 0 "tip init on a store file made with 4 KiB pages" -- tip -c "$T/old.conf" init
assert_eq "$(sqlite3 "$T/old.db" "PRAGMA page_size; SELECT max(version) FROM schema_version" | tr '\n' ' ')" \
	"4096 $(sqlite3 "$T/tip.db" "SELECT max(version) FROM schema_version") " \
	"it keeps its 4 KiB pages, at the schema of the new store"

assert_rc 0 "watch add Example.COM." -- tip watch add Example.COM.
assert_rc 0 "watch list --json" -- tip watch list --json
assert_eq "$(echo "$OUT" | jq -r '.[].domain')" "example.com" "Example.COM. is stored as example.com"

before=$(sqlite3 "$T/tip.db" 'SELECT count(*), max(id) FROM watch')
assert_rc 1 "watch add 'bad..domain' fails at run time" -- tip watch add ok.example bad..domain
assert_match "$ERR" "bad\.\.domain.*empty label" "the message names the domain and the problem"
assert_eq "$(sqlite3 "$T/tip.db" 'SELECT count(*), max(id) FROM watch')" "$before" "the store is unchanged (ok.example was not added either)"

assert_rc 2 "watch with no subcommand is a usage error" -- tip watch
assert_rc 2 "watch add with no domains is a usage error" -- tip watch add
assert_rc 2 "unknown option is a usage error" -- tip watch list --bogus

# bulk from a file, with a bad line named by file and line
printf 'a.example\n# comment\n\nB.example.\nbad_tld.exa_mple\n' > "$T/list.txt"
assert_rc 1 "a file with an invalid line is refused" -- tip watch add --file "$T/list.txt"
assert_match "$ERR" "list.txt:5" "the error names file and line"
assert_rc 0 "--skip-invalid stores the rest" -- tip watch add --file "$T/list.txt" --skip-invalid
assert_match "$OUT" "added 2" "two valid lines added"
assert_rc 0 "stdin" -- bash -c "printf 'c.example\n' | '$TIP' watch add --file -"
assert_eq "$(tip watch list --json | jq -r '.[].domain' | tr '\n' ' ')" "a.example b.example c.example example.com " "list is sorted and complete"

# IDN: the A-label of bücher.example, as idn2(1) computes it independently of our code
if command -v idn2 >/dev/null; then want=$(idn2 'bücher.example'); else want=xn--bcher-kva.example; fi
assert_rc 0 "IDN domain" -- tip watch add 'BÜCHER.example'
assert_eq "$(tip watch list --json | jq -r '.[].domain' | grep bcher)" "$want" "IDN stored as its A-label"

# rm keeps history; add re-activates
assert_rc 0 "watch rm" -- tip watch rm a.example
assert_eq "$(tip watch list --json | jq -r '.[].domain' | grep -c '^a.example$')" "0" "removed from the active list"
assert_eq "$(tip watch list --all --json | jq -r '.[] | select(.domain=="a.example") | .removed != null')" "true" "kept with a removed time"
assert_rc 0 "watch add again" -- tip watch add a.example
assert_match "$OUT" "re-activated 1" "re-activated"
# a batch counts as one at a time would (worked out by hand): d new, then d again and a, both
# watched already
assert_rc 0 "a file with a domain twice" -- bash -c "printf 'd.example\nd.example\na.example\n' | '$TIP' watch add --file -"
assert_eq "$OUT" "added 1, re-activated 0, already watched 2" "counted as one at a time would"

# lookup shows what the store knows
assert_rc 0 "lookup --json" -- tip lookup EXAMPLE.com --json
assert_eq "$(echo "$OUT" | jq -r '.query + " " + .type + " " + (.verdict|tostring)')" "example.com domain null" "lookup shape"
assert_rc 1 "lookup of garbage is a runtime error" -- tip lookup 1.2.3.4.5
assert_match "$ERR" "not an IPv4 address" "says why"

done_testing
