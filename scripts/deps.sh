#!/usr/bin/env bash
# deps.sh — install the Debian packages TIP needs that are missing, and nothing else.
#   scripts/deps.sh          build + run dependencies
#   scripts/deps.sh test     also what the test suite and benchmarks start (knotd, dnsperf, ...)
# Runs `apt-get update` once, only when something is missing. Needs root (or sudo) then.
set -eu

build_pkgs="gcc make cmake pkg-config
libevent-dev libc-ares-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev
libsqlite3-dev libpq-dev libloc-dev libloc-database libmaxminddb-dev libgmime-3.0-dev
libidn2-dev libpsl-dev publicsuffix libinih-dev libexpat1-dev"
test_pkgs="libcmocka-dev sqlite3 knot knot-dnsutils dnsperf location mmdb-bin python3 curl
procps iproute2 jq idn2 openssl ca-certificates"

want="$build_pkgs"
case "${1:-}" in
  test) want="$build_pkgs $test_pkgs" ;;
  ""|build) ;;
  *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
