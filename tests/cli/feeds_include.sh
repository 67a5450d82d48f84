#!/usr/bin/env bash
# [feeds] include: the ready definitions in etc/feeds.d are picked up by a glob, check, list
# with the right formats (disabled), and parse the sample of their feed when pointed at it;
# include errors name file and line. Expected formats are the ones each publisher documents
# (see the comments in etc/feeds.d); expected counts are grep counts over the samples.
. "$(dirname "$0")/../lib/common.sh"
D=$TIP_TESTDATA/feeds

printf '[feeds]\ninclude = %s/etc/feeds.d/*.conf\n' "$TIP_SRCDIR" >> "$T/tip.conf"
assert_rc 0 "tip init" -- tip init
assert_rc 0 "config with etc/feeds.d checks" -- tip config check
assert_rc 0 "feed list --json" -- tip feed list --json
assert_eq "$(jq -r '[.[] | "\(.name):\(.format):\(.enabled)"] | sort | join(" ")' <<< "$OUT")" \
	"blocklistde-all:plain:false dshield-block:csv:false et-compromised:plain:false feodotracker:json:false openphish:plain:false spamhaus-asndrop:jsonl:false spamhaus-drop:cidr:false spamhaus-dropv6:cidr:false urlhaus:csv:false" \
	"every ready definition, disabled, with its format"
assert_rc 0 "fetch with nothing enabled" -- tip feed fetch
assert_match "$OUT" "no enabled feeds" "nothing is fetched from the internet by default"

# each definition, pointed at its sample (a copy with the url replaced), parses it
mkdir -p "$T/fd"
point() { # FILE FEED SAMPLE
	sed "s|^url = .*|url = file://$D/$3|" "$TIP_SRCDIR/etc/feeds.d/$1" > "$T/fd/$1"
}
point spamhaus.conf x spamhaus-drop/drop.txt
point abusech.conf x abusech-feodo/ipblocklist.json
point openphish.conf x openphish/feed.txt
point blocklistde.conf x blocklistde/imap.txt
point dshield.conf x dshield-block/block.txt
# ASN-DROP's JSON edition, made from the text sample with awk (one object per AS, then the
# metadata record the real file ends with)
awk -F' ; ' '/^AS/ { split($2, p, " \\| "); printf "{\"asn\":%s,\"rir\":\"x\",\"cc\":\"%s\",\"asname\":\"%s\"}\n", substr($1, 3), p[1], p[2] }
	END { print "{\"type\":\"metadata\",\"timestamp\":1442206762,\"size\":2}" }' \
	"$D/spamhaus-asndrop/asndrop.txt" > "$T/asndrop.json"
sed "s|^url = .*|url = file://$T/asndrop.json|" "$TIP_SRCDIR/etc/feeds.d/spamhaus-asndrop.conf" > "$T/fd/spamhaus-asndrop.conf"
sed -i "s|^include = .*|include = fd/*.conf|" "$T/tip.conf" # relative to the config's folder
assert_rc 0 "relative include checks" -- tip config check
total() { tip feed list --json | jq -r ".[] | select(.name == \"$1\") | \"\(.total) \(.rejected)\""; }
assert_rc 0 "fetch spamhaus-drop" -- tip feed fetch spamhaus-drop
assert_eq "$(total spamhaus-drop)" "$(grep -c ' ; SBL' "$D/spamhaus-drop/drop.txt") 0" "DROP definition parses drop.txt"
assert_rc 0 "fetch feodotracker" -- tip feed fetch feodotracker
assert_eq "$(total feodotracker)" "$(grep -c '"ip_address"' "$D/abusech-feodo/ipblocklist.json") 0" "Feodo definition parses ipblocklist.json"
assert_rc 0 "fetch openphish" -- tip feed fetch openphish
assert_eq "$(total openphish)" "$(sort -u "$D/openphish/feed.txt" | grep -c .) 0" "OpenPhish definition parses feed.txt"
assert_rc 0 "fetch blocklistde-all" -- tip feed fetch blocklistde-all
assert_eq "$(total blocklistde-all)" "$(grep -c . "$D/blocklistde/imap.txt") 0" "blocklist.de definition"
assert_rc 0 "fetch dshield-block" -- tip feed fetch dshield-block
assert_eq "$(total dshield-block)" "$(grep -cP '^\d+\.\d+\.\d+\.\d+\t' "$D/dshield-block/block.txt") 0" "DShield definition"
assert_eq "$(tip lookup 1.10.17.1 --json | jq -r '.networks[0].value')" "1.10.16.0/20" "lookup IP finds the DROP network"
assert_rc 0 "fetch spamhaus-asndrop" -- tip feed fetch spamhaus-asndrop
assert_eq "$(total spamhaus-asndrop)" "$(grep -c '^AS[0-9]' "$D/spamhaus-asndrop/asndrop.txt") 0" \
	"ASN-DROP definition: every AS of the sample; the metadata record skipped (skip_if), not rejected"
assert_eq "$(tip lookup AS260 --json | jq -r '.sightings[0] | "\(.source) \(.threat) \(.tags)"')" \
	"spamhaus-asndrop XCONNECT24 - Xconnect24 Inc., US AE" "AS260: its name and country from the record"
# skip_if skips only what it names: a record without an AS that is not the metadata is rejected
sed -i '1i {"rir":"x","cc":"ZZ"}' "$T/asndrop.json"
touch -d '+1 minute' "$T/asndrop.json"
assert_rc 0 "fetch spamhaus-asndrop again, one bad record added" -- tip feed fetch spamhaus-asndrop
assert_eq "$(total spamhaus-asndrop)" "$(grep -c '^AS[0-9]' "$D/spamhaus-asndrop/asndrop.txt") 1" \
	"the record without an AS is rejected; the metadata record is still skipped"

# errors name the file and line
printf '[store]\nurl = sqlite:///tmp/x.db\n' > "$T/fd/zz-bad.conf"
assert_rc 1 "a non-feed section in an included file" -- tip config check
assert_match "$ERR" "zz-bad.conf:2: \[store\] url: an included file may hold only" "names file and line"
printf '[feed zz1]\nurl = file:///dev/null\nformat = csv\nskip_if = type=metadata\n' > "$T/fd/zz-bad.conf"
assert_rc 1 "skip_if on a csv feed" -- tip config check
assert_match "$ERR" "zz-bad.conf:4: \[feed zz1\] skip_if: only for format json, jsonl and xml" "names file, line and key"
printf '[feed zz1]\nurl = file:///dev/null\nformat = jsonl\nskip_if = metadata\n' > "$T/fd/zz-bad.conf"
assert_rc 1 "skip_if without FIELD=" -- tip config check
assert_match "$ERR" "zz-bad.conf:4: \[feed zz1\] skip_if: 'metadata' is not FIELD=VALUE" "says what it wants"
printf '[feed openphish]\nurl = file:///dev/null\nformat = plain\n' > "$T/fd/zz-bad.conf"
assert_rc 1 "a feed defined twice" -- tip config check
assert_match "$ERR" "zz-bad.conf:2: \[feed openphish\] url: \[feed openphish\] is already defined in .*openphish.conf:" "names both places"
printf '[feed fine]\nurl = file:///dev/null\nformat = plain\nbogus = 1\n' > "$T/fd/zz-bad.conf"
assert_rc 1 "an unknown key in an included feed" -- tip config check
assert_match "$ERR" "zz-bad.conf:4: \[feed fine\] bogus: unknown key" "named with the included file and its line"
rm "$T/fd/zz-bad.conf"
sed -i "s|^include = .*|include = fd/missing.conf|" "$T/tip.conf"
assert_rc 1 "a missing plain file" -- tip config check
assert_match "$ERR" "no such file" "says so"
sed -i "s|^include = .*|include = fd/*.none|" "$T/tip.conf"
assert_rc 0 "a glob matching nothing is fine" -- tip config check
sed -i "s|^include = .*|include = nodir/*.conf|" "$T/tip.conf"
assert_rc 1 "a glob in a missing folder is an error (a typo must not silently drop every feed)" -- tip config check

done_testing
