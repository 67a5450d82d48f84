#!/usr/bin/env bash
# feeds-floor.sh — SQLite's own time for the writes of a feed's first load, without TIP: the
# sqlite3 shell writes the indicators of bench_feeds' first snapshot from a table already in
# key order, then their sightings, then a listing snapshot blob of the same size, in one
# transaction with the store's pragmas (16 KiB pages, WAL, synchronous=NORMAL, a 24 MiB cache,
# foreign keys off as in a feed run's bulk transaction), into a fresh store at the current
# schema. Against bench_feeds' run 1, it tells how much of a first load is SQLite's floor and
# how much is ours (parse, merge, the upsert that finds known indicators).
#
# Usage: bench/feeds-floor.sh [N=1000000] [RUNS=3]
# Env:   TIP=build/tip  BENCH_FEEDS=build/bench/bench_feeds
# Prints each run's statement times (.timer) and the whole shell's wall time.
set -eu
N=${1:-1000000}
RUNS=${2:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
TIP=${TIP:-$HERE/build/tip}
BENCH_FEEDS=${BENCH_FEEDS:-$HERE/build/bench/bench_feeds}
for t in "$TIP" "$BENCH_FEEDS"; do [ -x "$t" ] || { echo "feeds-floor.sh: no $t (build first)" >&2; exit 1; }; done
command -v sqlite3 > /dev/null || { echo "feeds-floor.sh: missing sqlite3 (scripts/deps.sh test)" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/feeds-floor.XXXXXX")
trap 'rm -rf "$T"' EXIT

# a bench store: the indicators first seen by its run 1 are snapshot 1's
mkdir "$T/bench"
"$BENCH_FEEDS" "$N" "$T/bench" > "$T/bench.out" 2>&1 || { cat "$T/bench.out" >&2; exit 1; }
grep -E '^run 1|^reference SQLite' "$T/bench.out"
printf '[store]\nurl = sqlite://%s/base.db\n' "$T" > "$T/tip.conf"
"$TIP" -c "$T/tip.conf" -q init
sqlite3 "$T/base.db" <<SQL
ATTACH '$T/bench/tip.db' AS b;
CREATE TABLE src AS SELECT type, value, host, registrable, family, addr, prefix FROM b.indicator
  WHERE first_seen = (SELECT min(first_seen) FROM b.indicator) ORDER BY type, value;
DETACH b;
INSERT INTO source (name, kind, created) VALUES ('feed:floor', 'feed', 1);
SQL
rm -rf "$T/bench"
n=$(sqlite3 "$T/base.db" "SELECT count(*) FROM src")
echo "floor: the $n indicators of run 1, sorted by (type, value)"
for r in $(seq 1 "$RUNS"); do
	cp "$T/base.db" "$T/tip.db"
	rm -f "$T/tip.db-wal" "$T/tip.db-shm"
	sync
	echo "== run $r"
	/usr/bin/time -f "whole shell: wall %e s, user %U s, sys %S s" sqlite3 "$T/tip.db" <<SQL 2>&1
PRAGMA foreign_keys=OFF; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-24576; PRAGMA temp_store=FILE;
.timer on
BEGIN IMMEDIATE;
INSERT INTO indicator (type, value, host, registrable, family, addr, prefix, first_seen)
  SELECT type, value, host, registrable, family, addr, prefix, 1 FROM src ORDER BY rowid;
INSERT INTO sighting (source_id, indicator_id, first_seen, last_seen, last_mark)
  SELECT 1, id, 1, 1, 1 FROM indicator ORDER BY id;
INSERT INTO listing_snapshot (source_id, n, keys) VALUES (1, $n, zeroblob($n * 24 + 64));
COMMIT;
SQL
done
