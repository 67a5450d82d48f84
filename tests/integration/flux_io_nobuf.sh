#!/usr/bin/env bash
# flux_io_nobuf.sh — flux-resolve's batched UDP sends (src/flux/resolve_io.c) when the kernel
# refuses a datagram for lack of buffer: test_resolve_io's test_send_refused_for_lack_of_buffer,
# run in a network namespace of its own (unshare -n: its own loopback, nothing else) whose
# loopback sends through a slow token bucket (tc tbf), so that datagrams wait in the queue,
# charged to the sender's buffer, and sendmmsg(2) says EAGAIN. The machine's own loopback never
# does (a datagram leaves the send buffer at once), so the unit test alone cannot reach that
# branch. Needs root (unshare, tc: iproute2, scripts/deps.sh) and the kernel's tbf qdisc; fails,
# saying which, when it cannot set the link up.
# ctest-labels: needs-netns
. "$(dirname "$0")/../lib/common.sh"

BIN=${TIP_BUILDDIR:?ctest sets TIP_BUILDDIR}/tests/test_resolve_io
[ -x "$BIN" ] || { fail "no $BIN (build the tests first)"; exit 1; }
for t in unshare ip tc; do
	command -v $t >/dev/null || { fail "missing $t (util-linux, iproute2: scripts/deps.sh test)"; exit 1; }
done

# 1 Mbit/s after a 1,600-byte burst: ~35 small datagrams pass at once, the rest wait
unshare -n bash -c 'ip link set lo up && tc qdisc add dev lo root tbf rate 1mbit burst 1600 latency 1s ||
	{ echo "flux_io_nobuf: cannot set up the slow loopback (root? tbf qdisc?)" >&2; exit 3; }
	tc qdisc show dev lo >&2
	TIP_TEST_SLOW_LINK=1 exec "$0"' "$BIN" > "$T/out" 2>&1
rc=$?
cat "$T/out"
assert_eq "$rc" 0 "the test binary passed in the namespace"
assert_match "$(cat "$T/out")" 'OK \] test_send_refused_for_lack_of_buffer' \
	"it ran the no-buffer test (not the loopback ones)"
assert_match "$(cat "$T/out")" 'qdisc tbf' "the namespace's loopback was the slow one"
done_testing
