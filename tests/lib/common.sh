# tests/lib/common.sh — sourced by the shell tests (tests/cli, tests/integration).
# Gives: a scratch dir $T (removed on exit), a config $T/tip.conf on a fresh SQLite store,
# `tip` running the built binary with it, and assertions that say what they expected.
# ctest sets TIP (the binary), TIP_SRCDIR, TIP_BUILDDIR and TIP_TESTDATA.
set -u
: "${TIP:?TIP must name the built tip binary (ctest sets it)}"
TIP_SRCDIR=${TIP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TIP_TESTDATA=${TIP_TESTDATA:-$TIP_SRCDIR/../shared/testdata}
T=$(mktemp -d "${TMPDIR:-/tmp}/tip-test.XXXXXX")
TEST_NAME=$(basename "$0" .sh)
_cleanups=()
at_exit() { _cleanups+=("$1"); }
_run_cleanups() {
	local i
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do eval "${_cleanups[$i]}" || true; done
	[ "${KEEP_TMP:-0}" = 1 ] && echo "kept $T" >&2 || rm -rf "$T"
}
trap _run_cleanups EXIT

cat > "$T/tip.conf" <<CONF
[store]
url = sqlite://$T/tip.db
[daemon]
pidfile = $T/tip.pid
log_level = info
CONF
export TIP_CONFIG=$T/tip.conf

tip() { "$TIP" "$@"; }

_fails=0
_passes=0
pass() { _passes=$((_passes + 1)); echo "ok - $*"; }
fail() { _fails=$((_fails + 1)); echo "FAIL - $*" >&2; }
# assert_eq ACTUAL EXPECTED MESSAGE
assert_eq() { if [ "$1" == "$2" ]; then pass "$3"; else fail "$3: expected '$2', got '$1'"; fi; }
# assert_match TEXT REGEX MESSAGE
assert_match() { if [[ "$1" =~ $2 ]]; then pass "$3"; else fail "$3: '$1' does not match /$2/"; fi; }
# assert_rc EXPECTED MESSAGE -- COMMAND...: runs it, keeps its stdout in $OUT and stderr in $ERR
assert_rc() {
	local want=$1 msg=$2
	shift 3
	"$@" > "$T/.out" 2> "$T/.err"
	local rc=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	if [ "$rc" = "$want" ]; then pass "$msg (exit $rc)"; else fail "$msg: exit $rc, expected $want; stderr: $ERR"; fi
}
# A free TCP/UDP port on loopback (both protocols), from a range unlikely to be in use.
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! ss -Hlnu "sport = :$p" 2>/dev/null | grep -q . && ! ss -Hlnt "sport = :$p" 2>/dev/null | grep -q .; then
			echo "$p"; return 0
		fi
	done
	return 1
}
# stop_pid PID: SIGTERM, wait up to 5 s, then SIGKILL
stop_pid() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
}
# done_testing: the plain closing line, and the exit status
done_testing() {
	echo "$TEST_NAME: $_passes passed, $_fails failed"
	[ "$_fails" = 0 ] && [ "$_passes" -gt 0 ]
	exit $?
}
