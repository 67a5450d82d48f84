#!/usr/bin/env bash
# Every sample under shared/testdata/feeds that fits a supported format parses, with the
# number of distinct entries TIP lists compared to a count derived independently of our parser:
# grep/cut/awk/sort over the same file (each expectation below says how). Also: no sample has a
# rejected line, `tip lookup IP` reports the listed network (CIDR sighting) holding an address
# with feed data, and the listed AS holding it (ASN-DROP's format; the address's AS from the
# MaxMind test database, per mmdblookup). malc0de's RSS parses as xml (its items' titles,
# counted with sed/grep); the same file read as plain fails cleanly without changing anything,
# and so do a cut-off XML body and one that declares an entity; an Atom-style list takes its
# indicator from an attribute (link@href).
. "$(dirname "$0")/../lib/common.sh"
D=$TIP_TESTDATA/feeds
[ -d "$D" ] || { fail "no test data at $D"; done_testing; }

# name | format and options (one per ';') | file | expected-count command (independent)
cases=(
"drop|format=cidr|spamhaus-drop/drop.txt|grep -cE '^[0-9.]+/[0-9]+ ; SBL'"
"drop6|format=cidr|spamhaus-drop/drop-truncated-with-ipv6.txt|grep -cE '^[0-9a-f:.]+/[0-9]+ ; SBL'"
"edrop|format=cidr|spamhaus-edrop/edrop.txt|grep -cE '^[0-9.]+/[0-9]+ ; SBL'"
"feodocsv|format=csv;header=yes;field=dst_ip;threat_field=malware;first_seen_field=first_seen_utc|abusech-feodo/ipblocklist.csv|grep -c '^\"[0-9]'"
"feodojson|format=json;field=ip_address;threat_field=malware;first_seen_field=first_seen|abusech-feodo/ipblocklist.json|grep -c '\"ip_address\"'"
"feododom|format=plain|abusech-feodo/domainblocklist.txt|grep -vc '^#'"
"urlhaus|format=csv;field=3;threat_field=5;tags_field=6;first_seen_field=2|abusech-urlhaus/csv.txt|grep '^\"' | cut -d'\"' -f6 | sort -u | wc -l"
"urlhausch|format=csv;field=2;threat_field=4|abusech-urlhaus/tld-ch.csv|grep -v '^#' | cut -d, -f2 | sort -u | wc -l"
"ransomware|format=csv;field=5;threat_field=3|abusech-ransomwaretracker/RW_URLBL.csv|grep '^\"' | cut -d'\"' -f10 | sort -u | wc -l"
"zeus|format=plain|abusech-zeustracker/ipblocklist.txt|grep -v '^#' | grep -c ."
"alienvault|format=csv;delimiter=hash;comments=none;field=1;threat_field=4|alienvault-reputation/reputation.generic|cut -d'#' -f1 | sort -u | grep -c ."
"bambenekdom|format=csv;field=1;threat_field=2;first_seen_field=3|bambenek/c2-dommasterlist.txt|grep -v '^#' | cut -d, -f1 | sort -u | wc -l"
"bambenekip|format=csv;field=1;threat_field=2|bambenek/c2-ipmasterlist.txt|grep -v '^#' | cut -d, -f1 | sort -u | wc -l"
"bambenekdga|format=csv;field=1;threat_field=2|bambenek/dga-feed.txt|grep -v '^#' | grep -c ."
"blocklistde|format=plain|blocklistde/imap.txt|grep -c ."
"dshield|format=csv;delimiter=tab;header=yes;field=Start;prefix_field=Netblock|dshield-block/block.txt|awk -F'\t' '\$1 ~ /^[0-9.]+\$/' | wc -l"
"dshielddom|format=plain;header=yes|dshield-suspiciousdomains/suspiciousdomains.txt|grep -v '^#' | grep -v '^Site$' | grep -c ."
"generic|format=csv;delimiter=tab;field=7|generic-csv/sample_report.csv|awk -F'\t' 'NF > 6 { print \$7 }' | sort -u | wc -l"
"hphosts|format=hosts|hphosts/hosts.txt|grep -v '^#' | awk '{ for (i = 2; i <= NF; i++) { if (\$i ~ /^#/) break; if (\$i != \"localhost\") print \$i } }' | sort -u | wc -l"
"netlab|format=csv;delimiter=tab;field=2;threat_field=1|netlab360-dga/dga.txt|grep -v '^#' | grep -c ."
"openphish|format=plain|openphish/feed.txt|sort -u | grep -c ."
"openphish2|format=plain|openphish/feed-2entries.txt|grep -c ."
"packetmail|format=csv;delimiter=semicolon;field=1;first_seen_field=2|packetmail/packetmail.txt|grep -v '^#' | cut -d';' -f1 | sort -u | wc -l"
"phishcsv|format=csv;header=yes;field=url;threat_field=target|phishtank/online-valid.csv|tail -n +2 | grep -c ."
"phishjson|format=json;field=url;threat_field=target;tags_field=details.0.country|phishtank/online-valid.json|grep -o '\"phish_id\"' | wc -l"
"vxvault|format=plain;skip_lines=2|vxvault/URL_List.txt|grep '^http' | sort -u | wc -l"
"asndrop|format=cidr|spamhaus-asndrop/asndrop.txt|grep -c '^AS[0-9]'"
"malc0de|format=xml;threat_field=description;category=malware|malc0de/rss.xml|sed -n '/<item>/,/<\/item>/p' | grep -o '<title>[^<]*</title>' | sort -u | wc -l"
)

conf=$T/tip.conf
for c in "${cases[@]}"; do
	IFS='|' read -r name opts file _ <<< "$c"
	{
		echo "[feed $name]"
		echo "url = file://$D/$file"
		tr ';' '\n' <<< "$opts" | sed 's/=/ = /'
	} >> "$conf"
done
assert_rc 0 "tip init" -- tip init
assert_rc 0 "config with every sample feed checks" -- tip config check
assert_rc 0 "fetch every sample feed" -- tip feed fetch
assert_rc 0 "feed list --json" -- tip feed list --json
list=$OUT
for c in "${cases[@]}"; do
	IFS='|' read -r name opts file expect <<< "$c"
	want=$(cd "$D" && eval "cat '$file' | $expect" | tr -d ' ')
	got=$(jq -r --arg n "$name" '.[] | select(.name == $n) | "\(.total) \(.rejected) \(.last_error)"' <<< "$list")
	assert_eq "$got" "$want 0 null" "$name ($file): $want entries listed (derived: $expect), none rejected"
done

# lookup IP reports the listed networks holding it, from feed data: 1.4.0.0/17 is in DROP
assert_rc 0 "lookup 1.4.1.2 --json" -- tip lookup 1.4.1.2 --json
assert_eq "$(jq -r '.networks[] | select(.source == "drop") | .value' <<< "$OUT")" "1.4.0.0/17" \
	"1.4.1.2 is in DROP's 1.4.0.0/17 (line 5 of drop.txt)"
assert_eq "$(jq -r '.networks[] | select(.source == "drop") | .tags' <<< "$OUT")" "SBL256893" \
	"the SBL reference is kept"
assert_rc 0 "lookup 2a06:e481::1" -- tip lookup 2a06:e481::1 --json
assert_eq "$(jq -r '[.networks[].value] | unique | join(" ")' <<< "$OUT")" "2a06:e480::/29" "IPv6 network from DROP"
# csv attributes: URLhaus threat and tags, Feodo first-seen
assert_rc 0 "lookup a URLhaus URL" -- tip lookup 'http://madlabs.com.my/2428009LPOJER/com/Personal' --json
assert_eq "$(jq -r '.sightings[0] | "\(.source) \(.threat) \(.tags)"' <<< "$OUT")" "urlhaus malware_download doc,emotet" \
	"URLhaus row 1: threat and tags columns"

# ASN-DROP: the AS number, and its country and name (after ';') kept as the entry's tags
assert_rc 0 "lookup AS260 --json" -- tip lookup AS260 --json
assert_eq "$(jq -r '.sightings[0] | "\(.source) \(.value) \(.tags)"' <<< "$OUT")" \
	"asndrop AS260 AE | XCONNECT24 - Xconnect24 Inc., US" "ASN-DROP line 5: the AS and its reference"

# lookup IP reports the listed AS holding it: the address's AS from the MaxMind test database
# (mmdblookup says which), listed by a local feed in ASN-DROP's format
ip=1.128.0.1
want_asn=$(mmdblookup --file "$TIP_TESTDATA/mmdb/GeoLite2-ASN-Test.mmdb" --ip $ip autonomous_system_number | sed -n 's/^ *\([0-9][0-9]*\) <uint32>$/\1/p')
assert_match "$want_asn" '^[0-9]+$' "mmdblookup gives $ip's AS number"
printf 'AS%s ; AU | TEST\n' "$want_asn" > "$T/asn.txt"
cat >> "$conf" <<EOF
[enrich]
mmdb_asn = $TIP_TESTDATA/mmdb/GeoLite2-ASN-Test.mmdb
[feed asnlocal]
url = file://$T/asn.txt
format = cidr
EOF
assert_rc 0 "fetch the AS list" -- tip feed fetch asnlocal
assert_rc 0 "lookup $ip --json" -- tip lookup $ip --json
assert_eq "$(jq -r '.as.asn' <<< "$OUT")" "$want_asn" "the address's AS, as mmdblookup says"
assert_eq "$(jq -r '[.as_sightings[] | "\(.source) \(.value)"] | join(",")' <<< "$OUT")" "asnlocal AS$want_asn" \
	"the listed AS holding it"

# malc0de: each item's description is its entry's threat (the file's own text, by grep)
want=$(grep -A2 '<title>whitewolfltd.com</title>' "$D/malc0de/rss.xml" | sed -n 's/.*<description>\(.*\)<\/description>.*/\1/p' | head -1)
assert_eq "$(tip lookup whitewolfltd.com --json | jq -r '.sightings[] | select(.source == "malc0de") | .threat')" "$want" \
	"malc0de: the item's description is the threat"

# a feed read in the wrong format: every line rejected is a failed parse, nothing stored
cat >> "$conf" <<EOF
[feed malc0deplain]
url = file://$D/malc0de/rss.xml
format = plain
EOF
before=$(sqlite3 "$T/tip.db" 'SELECT count(*) FROM sighting; SELECT count(*) FROM sighting_history')
assert_rc 1 "malc0de RSS as plain fails" -- tip feed fetch malc0deplain
assert_match "$OUT" "no entry parsed and [0-9]+ rejected" "says nothing parsed"
assert_eq "$(sqlite3 "$T/tip.db" 'SELECT count(*) FROM sighting; SELECT count(*) FROM sighting_history')" "$before" \
	"a failed parse stored nothing"

# broken XML is fatal for the feed and changes nothing: a body cut off inside an item (the
# first 5,000 bytes), and a document declaring an entity (refused, not expanded)
head -c 5000 "$D/malc0de/rss.xml" > "$T/cut.xml"
cat > "$T/entity.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE rss [ <!ENTITY a "aaaaaaaaaa"> <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"> ]>
<rss><channel><item><title>evil.example&b;</title></item></channel></rss>
X
cat >> "$conf" <<EOF
[feed xmlcut]
url = file://$T/cut.xml
format = xml
[feed xmlentity]
url = file://$T/entity.xml
format = xml
EOF
assert_rc 1 "a cut-off XML body fails" -- tip feed fetch xmlcut
assert_match "$ERR$OUT" "line [0-9]+, column [0-9]+: .*cut off" "names the line and column where it stopped"
assert_rc 1 "an XML body declaring an entity fails" -- tip feed fetch xmlentity
assert_match "$ERR$OUT" "line 2: the document declares an entity" "refused, with its line"
assert_eq "$(sqlite3 "$T/tip.db" 'SELECT count(*) FROM sighting; SELECT count(*) FROM sighting_history')" "$before" \
	"neither stored anything"

# Atom-style records (entry), the indicator in an attribute, an entry without it (rejected
# with its line), and a prefixed element name (x:kind is kind)
cat > "$T/atom.xml" <<'X'
<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:x">
  <entry><title>one</title><link href="http://one.example/a.exe"/><x:kind>c2</x:kind></entry>
  <entry><title>two</title><link href="http://two.example/b"/><x:kind>phishing</x:kind></entry>
  <entry><title>no link</title></entry>
</feed>
X
cat >> "$conf" <<EOF
[feed atom]
url = file://$T/atom.xml
format = xml
record = entry
field = link@href
category_field = kind
EOF
assert_rc 0 "an Atom-style feed" -- tip feed fetch atom
assert_match "$ERR$OUT" "line 5: the record has no text at 'link@href'" "the entry without a link is rejected, naming its line"
assert_eq "$(tip feed list --json | jq -r '.[] | select(.name == "atom") | "\(.total) \(.rejected)"')" "2 1" \
	"two entries from link@href, one rejected"
assert_eq "$(tip lookup http://two.example/b --json | jq -r '.sightings[0].category')" "phishing" \
	"the category from x:kind"

done_testing
