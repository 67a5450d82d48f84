#!/usr/bin/env bash
# Config through the built binary: etc/tip.conf documents every key the program knows (compared
# with the program's own table as `tip config show` prints it), and each kind of bad input is an
# error naming file, line and key (line numbers counted by hand from the heredocs below).
. "$(dirname "$0")/../lib/common.sh"

conf=$TIP_SRCDIR/etc/tip.conf
assert_rc 0 "etc/tip.conf is valid" -- tip -c "$conf" config check
keys() { awk '/^\[/{s=$0} /^[a-z_]+ *=/{sub(/ *=.*/, ""); print s, $0}' "$1" | sort; }
tip -c /dev/null config show > "$T/defaults.conf"
assert_eq "$(keys "$conf")" "$(keys "$T/defaults.conf")" "etc/tip.conf lists exactly the keys of the program's table"
assert_eq "$(grep -c '^# .*(default: ' "$conf")" "$(keys "$T/defaults.conf" | wc -l)" "every key has a documented default"

cat > "$T/bad1.conf" <<'CONF'
[store]
url = sqlite:///tmp/x.db

[dns]
concurency = 10
CONF
assert_rc 1 "unknown key" -- tip -c "$T/bad1.conf" config check
assert_match "$ERR" "bad1.conf:5: \[dns\] concurency: unknown key" "names file, line 5 and key"

cat > "$T/bad2.conf" <<'CONF'
; comment
[dns]
timeout_ms = 5s
CONF
assert_rc 1 "bad integer" -- tip -c "$T/bad2.conf" config check
assert_match "$ERR" "bad2.conf:3: \[dns\] timeout_ms: '5s' is not a whole number" "names line 3"

cat > "$T/bad3.conf" <<'CONF'
[web]
listen = 127.0.0.1:8080
[nosuch]
key = 1
CONF
assert_rc 1 "unknown section" -- tip -c "$T/bad3.conf" config check
assert_match "$ERR" "bad3.conf:3: \[nosuch\]: unknown section" "names the section's header, line 3"

printf '[dns]\nretries = 1\nretries = 2\n' > "$T/bad4.conf"
assert_rc 1 "duplicate key" -- tip -c "$T/bad4.conf" config check
assert_match "$ERR" "bad4.conf:3: \[dns\] retries: given twice \(first on line 2\)" "names both lines"

# a feed header with nothing under it is a mistake, not a feed to skip in silence (the
# middle one, and the last one of the file)
printf '[feed a]\nurl = file:///dev/null\nformat = plain\n[feed empty]\n\n[feed b]\nurl = file:///dev/null\nformat = plain\n' > "$T/bad6.conf"
assert_rc 1 "a feed section without keys" -- tip -c "$T/bad6.conf" config check
assert_match "$ERR" "bad6.conf:4: \[feed empty\]: holds no keys" "names its header line"
printf '[feed a]\nurl = file:///dev/null\nformat = plain\n[feed last]\n# nothing yet\n' > "$T/bad7.conf"
assert_rc 1 "a last feed section without keys" -- tip -c "$T/bad7.conf" config check
assert_match "$ERR" "bad7.conf:4: \[feed last\]: holds no keys" "names its header line"

printf '[dns]\nservers = 127.0.0.1:99999\n' > "$T/bad5.conf"
assert_rc 1 "bad server port" -- tip -c "$T/bad5.conf" config check
assert_match "$ERR" "bad5.conf:2: \[dns\] servers: bad port" "names the port"

printf '[dns]\nservers = 127.0.0.1:5300, [::1]:5301, 192.0.2.1\n' > "$T/ok.conf"
assert_rc 0 "servers with ports, IPv6 in brackets" -- tip -c "$T/ok.conf" config show
assert_match "$OUT" "servers = 127.0.0.1:5300, \[::1\]:5301, 192.0.2.1:53" "parsed as written, default port 53"

# a relative path in a file is relative to that file's folder (not to where tip runs)
mkdir -p "$T/sub"
printf '[flux]\nallowlist = al.conf\n[enrich]\nlocdb = /abs/loc.db\n' > "$T/sub/tip.conf"
assert_rc 0 "relative paths" -- bash -c "cd / && '$TIP' -c '$T/sub/tip.conf' config show"
assert_match "$OUT" "allowlist = $(realpath "$T/sub")/al.conf" "allowlist resolved against the config's folder"
assert_match "$OUT" "locdb = /abs/loc.db" "absolute paths are kept"

assert_rc 1 "missing config file" -- tip -c "$T/none.conf" config check
assert_match "$ERR" "none.conf: No such file" "says which file"
TIP_CONFIG=$T/bad1.conf assert_rc 1 "\$TIP_CONFIG is read" -- tip config check
done_testing
