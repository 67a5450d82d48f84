#!/usr/bin/env bash
# Feeds over real HTTPS: tests/lib/feed_server.py in TLS mode on 127.0.0.1 (a free port, stopped
# by PID) with certificates made here by the openssl CLI under a private CA. TLS verification is
# on: without ca_file the private CA is not trusted (the fetch fails, the error is on the feed,
# nothing is stored); with ca_file (given to `tip feed add` relative to the current folder, and
# in a [feed] section relative to the config file) the feed is stored, and with an unrelated CA
# it is not; a certificate of the right CA for another name fails on the host name and leaves
# the state intact; a ca_file that is missing, a folder, or not a certificate is a config error
# naming file, line and key.
# Expected counts: grep over the served file. Loopback only.
# ctest-labels: needs-http
# ctest-timeout: 120
. "$(dirname "$0")/../lib/common.sh"

# --- a private CA, a server certificate for IP 127.0.0.1, one for DNS other.example ---------
pki=$T/pki
mkdir -p "$pki"
ossl() { openssl "$@" > /dev/null 2>> "$pki/openssl.log" || fail "openssl $1: $(tail -3 "$pki/openssl.log")"; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$pki/ca.key" -out "$pki/ca.pem" -subj "/CN=TIP test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
server_cert() { # NAME SUBJECT-ALT-NAME
	ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$1"
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$2" > "$pki/$1.ext"
	ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -set_serial "0x$RANDOM$RANDOM" \
		-days 2 -extfile "$pki/$1.ext" -out "$pki/$1.pem"
}
server_cert loopback IP:127.0.0.1
# an unrelated CA: trusting it must not make the server's certificate good
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$pki/ca2.key" -out "$pki/ca2.pem" -subj "/CN=TIP other CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
server_cert other DNS:other.example
# the certificates are what the test means (checked with openssl itself, not with tip)
assert_match "$(openssl x509 -in "$pki/loopback.pem" -noout -ext subjectAltName 2>&1)" "IP Address:127.0.0.1" "server certificate for IP 127.0.0.1"
assert_match "$(openssl verify -CAfile "$pki/ca.pem" "$pki/loopback.pem" "$pki/other.pem" 2>&1)" "loopback.pem: OK.*other.pem: OK" "both signed by the private CA"

# --- the server ------------------------------------------------------------------------------
port=$(free_port) || { fail "no free port"; done_testing; }
www=$T/www
mkdir -p "$www"
printf '# private feed\nbad.example\nc2.example.net\n192.0.2.7\n198.51.100.0/24\n' > "$www/feed.txt"
srv=
start_server() { # CERT-NAME
	[ -n "$srv" ] && stop_pid "$srv"
	python3 "$TIP_SRCDIR/tests/lib/feed_server.py" "$port" "$www" "$pki/$1.pem:$pki/$1.key" 2>> "$T/server.err" &
	srv=$!
	for _ in $(seq 1 50); do
		curl -s -o /dev/null --cacert "$pki/ca.pem" --resolve "other.example:$port:127.0.0.1" \
			"https://$2:$port/feed.txt" && break
		sleep 0.1
	done
	: > "$www/.log"
}
at_exit 'stop_pid $srv'
start_server loopback 127.0.0.1
url=https://127.0.0.1:$port/feed.txt
assert_match "$(curl -s --cacert "$pki/ca.pem" "$url")" "bad.example" "the server speaks TLS with the loopback certificate (curl --cacert)"
: > "$www/.log"

feed() { tip feed list --json | jq -r ".[] | select(.name == \"$1\") | $2"; }
state() { sqlite3 "$T/tip.db" "SELECT group_concat(source_id || ':' || indicator_id || ':' || first_seen || ':' || last_seen || ':' || coalesce(removed, '-'), ' ') FROM sighting; SELECT count(*) FROM sighting_event; SELECT group_concat(name || ':' || n_total || ':' || n_new || ':' || n_removed || ':' || coalesce(etag, '-'), ' ') FROM source"; }
assert_rc 0 "tip init" -- tip init

# --- 1. without ca_file: the system store does not know the private CA -----------------------
assert_rc 0 "feed add without ca_file" -- tip feed add noca "$url" --format plain --set timeout=10
s0=$(state)
assert_rc 1 "fetch without ca_file fails" -- tip feed fetch noca
assert_match "$(feed noca .last_error)" "TLS verification failed: SSL certificate problem: (unable to get local issuer certificate|self.signed certificate in certificate chain)" \
	"curl's certificate error is recorded on the feed"
assert_eq "$(feed noca '"\(.total) \(.new)"')" "0 0" "nothing counted"
assert_eq "$(state)" "$s0" "no sighting, event or count stored"
assert_eq "$(sqlite3 "$T/tip.db" 'SELECT count(*) FROM sighting')" "0" "no sighting at all"
assert_eq "$(grep -c GET "$www/.log")" "0" "no request reached the server (refused at the handshake)"

# --- 2. ca_file through tip feed add: relative to the current folder, stored absolute --------
want=$(grep -vc '^#' "$www/feed.txt") # the non-comment lines: one indicator each
mkdir -p "$T/cwd"
assert_rc 0 "feed add --set ca_file=RELATIVE" -- bash -c "cd '$T' && '$TIP' feed add priv '$url' --format plain --set timeout=10 --set ca_file=pki/ca.pem"
assert_eq "$(sqlite3 "$T/tip.db" "SELECT options FROM source WHERE name = 'priv'" | grep '^ca_file=')" "ca_file=$(realpath "$T")/pki/ca.pem" \
	"stored as an absolute path (resolved against the folder tip ran in)"
assert_rc 0 "fetch with ca_file, from another folder" -- bash -c "cd '$T/cwd' && '$TIP' feed fetch priv"
assert_eq "$(feed priv '"\(.last_status) \(.total) \(.new) \(.rejected) \(.last_error)"')" "200 $want $want 0 null" \
	"200, the $want entries of the file (grep) stored, all new"
assert_rc 0 "lookup a stored entry" -- tip lookup c2.example.net --json
assert_eq "$(jq -r '[.sightings[].source] | join(" ")' <<< "$OUT")" "priv" "c2.example.net listed by priv"
assert_match "$(tail -1 "$www/.log")" "^GET /feed.txt 200 " "the server answered 200"

# --- 3. ca_file in a [feed] section: relative to the config file's folder ------------------
cat >> "$T/tip.conf" <<CONF
[feed cfgpriv]
url = $url
format = plain
timeout = 10
ca_file = pki/ca.pem
CONF
assert_rc 0 "config with a relative ca_file checks" -- bash -c "cd / && '$TIP' config check"
assert_rc 0 "fetch the config feed from /" -- bash -c "cd / && '$TIP' feed fetch cfgpriv"
assert_eq "$(feed cfgpriv '"\(.total) \(.new) \(.last_error)"')" "$want $want null" "config feed with ca_file stored $want entries"
good=$(state)

# a ca_file with another CA: the file replaces the trust, it does not add "anything goes"
assert_rc 0 "feed add with an unrelated CA" -- tip feed add wrongca "$url" --format plain --set timeout=10 --set ca_file="$pki/ca2.pem"
good=$(state)
assert_rc 1 "fetch trusting only an unrelated CA fails" -- tip feed fetch wrongca
assert_match "$(feed wrongca .last_error)" "TLS verification failed: SSL certificate problem: unable to get local issuer certificate$" \
	"certificate error, without the ca_file hint (it has one)"
assert_eq "$(state)" "$good" "nothing stored"

# --- 4. same CA, but the server presents the certificate for other.example ------------------
start_server other other.example
printf 'new.example\n' >> "$www/feed.txt" # would change the state if it got through
touch -d '+2 seconds' "$www/feed.txt"
assert_rc 1 "fetch from a server with another name's certificate fails" -- tip feed fetch priv
assert_match "$(feed priv .last_error)" "TLS verification failed: .*(subject name|host ?name).*127\.0\.0\.1" \
	"the host name mismatch is recorded on the feed"
assert_rc 1 "the config feed too" -- tip feed fetch cfgpriv
assert_match "$(feed cfgpriv .last_error)" "127\.0\.0\.1" "recorded on it too"
assert_eq "$(state)" "$good" "previous state intact"
assert_eq "$(grep -c GET "$www/.log")" "0" "no request reached the server"

# and back to the right certificate: the change goes through (the failures were only TLS)
start_server loopback 127.0.0.1
assert_rc 0 "fetch with the right certificate again" -- tip feed fetch priv
assert_eq "$(feed priv '"\(.total) \(.new) \(.last_error)"')" "$((want + 1)) 1 null" "new.example added"

# --- 5. a bad ca_file is a config error naming file, line and key --------------------------
mkdir -p "$T/conf"
cat > "$T/conf/bad.conf" <<CONF
[store]
url = sqlite://$T/tip.db

[feed missing]
url = $url
format = plain
ca_file = nosuch.pem
CONF
assert_rc 1 "tip config check: missing ca_file" -- tip -c "$T/conf/bad.conf" config check
assert_match "$ERR" "bad.conf:7: \[feed missing\] ca_file: '$(realpath "$T/conf")/nosuch.pem': No such file or directory" \
	"names file, line 7, key, and the path resolved against the config's folder"
assert_rc 1 "tip feed fetch: missing ca_file" -- tip -c "$T/conf/bad.conf" feed fetch missing
assert_match "$ERR" "bad.conf:7: \[feed missing\] ca_file: .*No such file" "fetch refuses the config too"
sed -i "s|^ca_file = .*|ca_file = $pki|" "$T/conf/bad.conf"
assert_rc 1 "a folder as ca_file" -- tip -c "$T/conf/bad.conf" config check
assert_match "$ERR" "bad.conf:7: \[feed missing\] ca_file: '$pki' is not a regular file" "says it is not a file"
sed -i "s|^ca_file = .*|ca_file = $pki/loopback.key|" "$T/conf/bad.conf"
assert_rc 1 "a key as ca_file" -- tip -c "$T/conf/bad.conf" config check
assert_match "$ERR" "bad.conf:7: \[feed missing\] ca_file: .* holds no PEM certificate" "says it holds no certificate"
assert_rc 1 "tip feed add with a missing ca_file" -- bash -c "cd '$T/cwd' && '$TIP' feed add nope '$url' --format plain --set ca_file=nosuch.pem"
assert_match "$ERR" "feed nope ca_file: '$(realpath "$T/cwd")/nosuch.pem': No such file or directory" "names the feed, key and absolute path"
assert_eq "$(sqlite3 "$T/tip.db" "SELECT count(*) FROM source WHERE name = 'nope'")" "0" "and stores nothing"

assert_eq "$(grep -c Traceback "$T/server.err")" "0" "the server logged no traceback"
done_testing
