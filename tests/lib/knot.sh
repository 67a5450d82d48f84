# tests/lib/knot.sh — a private knotd (Debian `knot`) on 127.0.0.1:<free port> for tests and
# benchmarks, after ../shared/tools/dns-ceiling.sh. Source it after common.sh (it uses $T,
# free_port, stop_pid and at_exit); it can also be sourced on its own if those exist.
#
#   knot_start ZONEDIR ZONE...   serve ZONEDIR/<ZONE>.zone for each ZONE (no trailing dot) on a
#                                free port; waits until every loaded zone answers its SOA. A
#                                ZONE whose file is missing is configured but not loaded: knotd
#                                answers SERVFAIL for it (useful for SERVFAIL tests).
#                                Sets KNOT_PORT, KNOT_PID, KNOT_DIR, KNOT_CONF, KNOT_SOCK.
#                                Env: KNOT_UDP_WORKERS (default 1), KNOT_TCP_WORKERS (default 1),
#                                KNOT_STATS=1 (load knotd's mod-stats on every zone: counters
#                                per request protocol, EDNS presence and TC flag; see knot_stat),
#                                KNOT_LISTEN6=1 (also listen on [::1] at the same port).
#   knot_begin ZONE              open a zone transaction (knotc zone-begin)
#   knot_set ZONE OWNER TTL TYPE RDATA...    add a record in the open transaction
#   knot_unset ZONE OWNER [TYPE [RDATA...]]  remove records in the open transaction
#   knot_commit ZONE             commit it; the change is served at once
#   knot_update ZONE CMDS        the same, in one call: CMDS are lines "set OWNER TTL TYPE RDATA"
#                                or "unset OWNER [TYPE [RDATA]]"
#   knot_dig NAME TYPE           kdig +short against the server
#   knot_stat ZONE COUNTER       a mod-stats counter of ZONE (KNOT_STATS=1), e.g.
#                                request-protocol[tcp4], edns-presence[request], flag-presence[TC];
#                                0 when knotd has not counted any (it lists only non-zero ones)
#   knot_stop                    stop knotd by its PID (also done at exit)
#   silent_udp_start             a UDP socket on 127.0.0.1:<free port> that reads and never
#                                answers (a dead server); sets SILENT_PORT and SILENT_PID
#   noedns_udp_start LOG         a pre-EDNS server on 127.0.0.1:<free port>, UDP: a query with an
#                                OPT record gets FORMERR without one (RFC 6891 §7: what servers
#                                that predate EDNS answer), a plain A query the answer
#                                192.0.2.1 (TTL 60), any other type NOERROR without records.
#                                Appends "edns NAME" or "plain NAME" per query to LOG. Sets
#                                NOEDNS_PORT and NOEDNS_PID.
# knotd logs go to $KNOT_DIR/knotd.log.

KNOT_PID=""
SILENT_PID=""
NOEDNS_PID=""

_knot_die() { echo "knot.sh: $*" >&2; [ -n "${KNOT_DIR:-}" ] && [ -f "$KNOT_DIR/knotd.log" ] && tail -20 "$KNOT_DIR/knotd.log" >&2; exit 1; }

knot_start() {
	local zonedir=$1 z
	shift
	[ $# -ge 1 ] || _knot_die "knot_start: no zone"
	for t in knotd knotc kdig; do command -v $t >/dev/null 2>&1 || _knot_die "missing $t (scripts/deps.sh test)"; done
	KNOT_PORT=$(free_port) || _knot_die "no free port"
	KNOT_DIR=${KNOT_BASE:-$T}/knot-$KNOT_PORT
	KNOT_CONF=$KNOT_DIR/knot.conf
	KNOT_SOCK=$KNOT_DIR/knot.sock
	mkdir -p "$KNOT_DIR/db" "$KNOT_DIR/run" || _knot_die "mkdir $KNOT_DIR"
	cat > "$KNOT_CONF" <<CONF
server:
    rundir: "$KNOT_DIR/run"
    pidfile: "$KNOT_DIR/run/knot.pid"
    listen: [ 127.0.0.1@$KNOT_PORT$([ "${KNOT_LISTEN6:-0}" = 1 ] && echo ", ::1@$KNOT_PORT") ]
    udp-workers: ${KNOT_UDP_WORKERS:-1}
    tcp-workers: ${KNOT_TCP_WORKERS:-1}
    background-workers: 1
database:
    storage: "$KNOT_DIR/db"
control:
    listen: "$KNOT_SOCK"
log:
  - target: stderr
    any: notice
template:
  - id: default
    storage: "$zonedir"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
CONF
	if [ "${KNOT_STATS:-0}" = 1 ]; then
		# a module's section comes before the template that loads it
		sed -i 's/^template:$/mod-stats:\n  - id: default\n    request-protocol: on\n    edns-presence: on\n    flag-presence: on\ntemplate:/' "$KNOT_CONF"
		echo "    module: mod-stats/default" >> "$KNOT_CONF"
	fi
	echo "zone:" >> "$KNOT_CONF"
	for z in "$@"; do echo "  - domain: $z." >> "$KNOT_CONF"; done
	knotc -c "$KNOT_CONF" conf-check >/dev/null 2>&1 || _knot_die "bad config: $(knotc -c "$KNOT_CONF" conf-check 2>&1)"
	knotd -c "$KNOT_CONF" > "$KNOT_DIR/knotd.log" 2>&1 &
	KNOT_PID=$!
	at_exit knot_stop
	for z in "$@"; do
		[ -f "$zonedir/$z.zone" ] || continue
		local ok=0
		for _ in $(seq 1 300); do
			kill -0 "$KNOT_PID" 2>/dev/null || _knot_die "knotd exited"
			if kdig @127.0.0.1 -p "$KNOT_PORT" +time=1 +retry=0 "$z" SOA 2>/dev/null | grep -q 'status: NOERROR'; then ok=1; break; fi
			sleep 0.1
		done
		[ $ok = 1 ] || _knot_die "zone $z not served within 30 s"
	done
}

_knotc() { knotc -c "$KNOT_CONF" -s "$KNOT_SOCK" "$@" > "$KNOT_DIR/knotc.out" 2>&1 || _knot_die "knotc $*: $(cat "$KNOT_DIR/knotc.out")"; }
knot_begin() { _knotc zone-begin "$1."; }
knot_set() { local z=$1; shift; _knotc zone-set "$z." "$@"; }
knot_unset() { local z=$1; shift; _knotc zone-unset "$z." "$@"; }
knot_commit() { _knotc zone-commit "$1."; }
knot_update() {
	local z=$1 cmd rest
	knot_begin "$z"
	while read -r cmd rest; do
		[ -z "$cmd" ] && continue
		# shellcheck disable=SC2086
		case $cmd in
		set) knot_set "$z" $rest ;;
		unset) knot_unset "$z" $rest ;;
		*) _knotc zone-abort "$z."; _knot_die "knot_update: bad line '$cmd $rest'" ;;
		esac
	done <<< "$2"
	knot_commit "$z"
}
knot_dig() { kdig @127.0.0.1 -p "$KNOT_PORT" +short +time=2 +retry=1 "$1" "$2"; }
knot_stat() {
	local v
	v=$(knotc -c "$KNOT_CONF" -s "$KNOT_SOCK" zone-stats "$1." mod-stats 2>&1) || _knot_die "knotc zone-stats $1: $v"
	v=$(awk -v c="mod-stats.$2" '$2 == c { print $4 }' <<< "$v")
	echo "${v:-0}"
}
knot_stop() {
	if [ -n "$KNOT_PID" ]; then stop_pid "$KNOT_PID"; wait "$KNOT_PID" 2>/dev/null; KNOT_PID=""; fi
	if [ -n "$SILENT_PID" ]; then stop_pid "$SILENT_PID"; wait "$SILENT_PID" 2>/dev/null; SILENT_PID=""; fi
	if [ -n "$NOEDNS_PID" ]; then stop_pid "$NOEDNS_PID"; wait "$NOEDNS_PID" 2>/dev/null; NOEDNS_PID=""; fi
	return 0
}

silent_udp_start() {
	SILENT_PORT=$(free_port) || _knot_die "no free port"
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    s.recv(65535)
' "$SILENT_PORT" &
	SILENT_PID=$!
	at_exit knot_stop
	for _ in $(seq 1 50); do ss -Hlnu "sport = :$SILENT_PORT" | grep -q . && return 0; sleep 0.1; done
	_knot_die "silent UDP server did not start"
}

noedns_udp_start() {
	NOEDNS_PORT=$(free_port) || _knot_die "no free port"
	python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
log = open(sys.argv[2], "a", buffering=1)
while True:
    q, peer = s.recvfrom(65535)
    if len(q) < 12:
        continue
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", q[:12])
    if qd != 1:
        continue
    i, labels = 12, []
    while i < len(q) and q[i]:  # the question name (a query has no compression)
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    question = q[12:i + 5]  # name, root label, type, class
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    log.write("%s %s\n" % ("edns" if ar else "plain", ".".join(labels)))
    rd = flags & 0x0100
    if ar:  # FORMERR (rcode 1), the question echoed, no OPT record
        s.sendto(struct.pack(">HHHHHH", qid, 0x8400 | rd | 1, 1, 0, 0, 0) + question, peer)
    elif qtype == 1:
        rr = struct.pack(">HHHIH4s", 0xC00C, 1, 1, 60, 4, bytes([192, 0, 2, 1]))
        s.sendto(struct.pack(">HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0) + question + rr, peer)
    else:
        s.sendto(struct.pack(">HHHHHH", qid, 0x8400 | rd, 1, 0, 0, 0) + question, peer)
' "$NOEDNS_PORT" "$1" &
	NOEDNS_PID=$!
	at_exit knot_stop
	for _ in $(seq 1 50); do ss -Hlnu "sport = :$NOEDNS_PORT" | grep -q . && return 0; sleep 0.1; done
	_knot_die "pre-EDNS UDP server did not start"
}
