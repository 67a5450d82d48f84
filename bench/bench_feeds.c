/*
 * bench_feeds.c — a generated 1,000,000-line feed parsed, diffed and stored on SQLite through
 * the feeds module's own feed run (file:// fetch, parser, listing pass, settle), four times: a
 * first run (every entry new), a second run on a changed snapshot (10% gone, 10% new), a
 * third on the same snapshot again (the steady state of an hourly re-fetch: nothing changed),
 * and a fourth back on the first snapshot (the 10% gone in run 2 return, with their history
 * events, and the 10% it added are removed).
 *
 * Prints entries/s for each run with its CPU time (all threads: the figure to compare when
 * the machine is shared), the peak RSS (getrusage ru_maxrss) after the runs, and two
 * references measured in the same process on the same files: the raw line-read rate
 * (getline) and SQLite's bare rate for inserting the same lines into a one-column indexed
 * table in one transaction. Ratios are ours / reference.
 *
 *   build/bench/bench_feeds [LINES] [DIR]       (defaults: 1000000, a fresh dir under /tmp)
 *
 * Profiling one run: TIP_BENCH_PERF_CTL=FIFO TIP_BENCH_PERF_RUN=N writes "enable" / "disable"
 * to perf's control FIFO around run N only, e.g.
 *   mkfifo /tmp/ctl; TIP_BENCH_PERF_CTL=/tmp/ctl TIP_BENCH_PERF_RUN=2 \
 *     perf record -g -D -1 --control=fifo:/tmp/ctl build/bench/bench_feeds
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <sqlite3.h>

#include "feeds/feeds.h"

static const char *const tlds[] = { "com", "net", "org", "ru", "info", "xyz", "de", "co.uk" };

/* Entry i of the universe: deterministic in i. 60% domains, 20% IPv4, 15% URLs, 5% CIDRs. */
static void entry_text(uint64_t i, char *buf, size_t len)
{
	uint64_t h = i * 0x9e3779b97f4a7c15ULL;
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 29;
	switch (i % 20) {
	case 0: case 1: case 2: case 3:
		snprintf(buf, len, "%u.%u.%u.%u", (unsigned)(1 + (h >> 8) % 222),
			 (unsigned)((h >> 16) & 255), (unsigned)((h >> 24) & 255),
			 (unsigned)((h >> 32) & 255));
		break;
	case 4: case 5: case 6:
		snprintf(buf, len, "http://m%llx.%s/p/%llu/login.php",
			 (unsigned long long)(h & 0xffffffffff), tlds[(h >> 40) % 8],
			 (unsigned long long)i);
		break;
	case 7:
		snprintf(buf, len, "%u.%u.%u.0/24", (unsigned)(1 + (h >> 8) % 222),
			 (unsigned)((h >> 16) & 255), (unsigned)((h >> 24) & 255));
		break;
	default:
		snprintf(buf, len, "d%llx-%llu.%s", (unsigned long long)(h & 0xffffffffff),
			 (unsigned long long)i, tlds[(h >> 40) % 8]);
	}
}

/* Snapshot 1: entries 0..n-1. Snapshot 2: without every 10th, plus n..n+n/10-1. */
static void write_feed(const char *path, uint64_t n, int snap)
{
	FILE *f = fopen(path, "w");
	char buf[256];
	if (!f) {
		perror(path);
		exit(1);
	}
	fprintf(f, "# generated benchmark feed, snapshot %d\n", snap);
	for (uint64_t i = 0; i < n; i++) {
		if (snap == 2 && i % 10 == 0)
			continue;
		entry_text(i, buf, sizeof(buf));
		fprintf(f, "%s\n", buf);
	}
	if (snap == 2)
		for (uint64_t i = n; i < n + n / 10; i++) {
			entry_text(i, buf, sizeof(buf));
			fprintf(f, "%s\n", buf);
		}
	fclose(f);
}

static double secs(void)
{
	return (double)tip_monotonic() / 1e6;
}

/* CPU time of the whole process (all threads), user + system */
static double cpu_secs(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double run_cpu[5];

static long maxrss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/* perf's control FIFO (TIP_BENCH_PERF_CTL) around run TIP_BENCH_PERF_RUN */
static void perf_ctl(int run, const char *cmd)
{
	const char *fifo = getenv("TIP_BENCH_PERF_CTL"), *which = getenv("TIP_BENCH_PERF_RUN");
	FILE *f;
	if (!fifo || !which || atoi(which) != run || !(f = fopen(fifo, "w")))
		return;
	fprintf(f, "%s\n", cmd);
	fclose(f);
}

static int one_run(struct tip_store *st, const struct tip_config *cfg, const char *name,
		   double *elapsed, int64_t *items)
{
	static int run;
	volatile sig_atomic_t cancel = 0;
	struct tip_module_ctx ctx = { .cfg = cfg, .store = st, .cancel = &cancel };
	struct tip_error err = { 0 };
	char *args[1] = { (char *)name };
	double t0, c0;
	int rc;

	ctx.started = tip_now();
	ctx.args = args;
	ctx.n_args = 1;
	if (tip_store_run_start(st, "feeds", getpid(), ctx.started, &ctx.run_id, &err) < 0) {
		fprintf(stderr, "run_start: %s\n", err.msg);
		return -1;
	}
	run++;
	perf_ctl(run, "enable");
	c0 = cpu_secs();
	t0 = secs();
	rc = tip_feeds_module.run(&ctx);
	*elapsed = secs() - t0;
	if (run < 5)
		run_cpu[run] = cpu_secs() - c0;
	perf_ctl(run, "disable");
	*items = ctx.items;
	tip_store_run_end(st, ctx.run_id, tip_now(), rc < 0 ? "failed" : "ok", rc < 0, 0, ctx.items,
			  rc < 0 ? ctx.err.msg : NULL, &err);
	if (rc < 0)
		fprintf(stderr, "run failed: %s\n", ctx.err.msg);
	return rc;
}

static int count_entry(void *arg, const struct tip_indicator *ind,
		       const struct tip_sighting_attrs *attrs, int64_t line)
{
	(void)ind, (void)attrs, (void)line;
	(*(int64_t *)arg)++;
	return 0;
}

/* The parser alone (read, split, normalise), as our own floor. */
static double ref_parser(const struct tip_config *cfg, const char *path, int64_t *entries)
{
	struct tip_feed_def def;
	struct tip_feed_parser *p;
	struct tip_error err = { 0 };
	FILE *f = fopen(path, "r");
	char buf[65536];
	size_t n;
	double t0 = secs();
	*entries = 0;
	tip_feed_def_from_section(cfg, tip_config_section(cfg, "feed", "bench"), &def, &err);
	tip_feed_parser_new(&def, count_entry, entries, &p, &err);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		tip_feed_parser_push(p, buf, n, &err);
	tip_feed_parser_finish(p, &err);
	t0 = secs() - t0;
	tip_feed_parser_free(p);
	tip_feed_def_free(&def);
	fclose(f);
	return t0;
}

static double ref_getline(const char *path, int64_t *lines)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	double t0 = secs();
	uint64_t sum = 0;
	*lines = 0;
	while (getline(&line, &cap, f) >= 0) {
		sum += (unsigned char)line[0];
		(*lines)++;
	}
	free(line);
	fclose(f);
	if (sum == 42)
		fprintf(stderr, " ");
	return secs() - t0;
}

static double ref_sqlite(const char *dir, const char *path)
{
	char db[4096];
	sqlite3 *d;
	sqlite3_stmt *q;
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	double t0;

	snprintf(db, sizeof(db), "%s/ref.db", dir);
	unlink(db);
	sqlite3_open(db, &d);
	sqlite3_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768;"
			"CREATE TABLE t (value TEXT PRIMARY KEY) WITHOUT ROWID;", NULL, NULL, NULL);
	sqlite3_prepare_v2(d, "INSERT OR IGNORE INTO t VALUES (?1)", -1, &q, NULL);
	t0 = secs();
	sqlite3_exec(d, "BEGIN", NULL, NULL, NULL);
	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[0] == '#')
			continue;
		sqlite3_bind_text(q, 1, line, (int)n - 1, SQLITE_STATIC);
		sqlite3_step(q);
		sqlite3_reset(q);
	}
	sqlite3_exec(d, "COMMIT", NULL, NULL, NULL);
	t0 = secs() - t0;
	sqlite3_finalize(q);
	sqlite3_close(d);
	free(line);
	fclose(f);
	return t0;
}

int main(int argc, char **argv)
{
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	char dir[4096], conf[4200], feed[4200], feed2[4200], url[4300];
	struct tip_config cfg;
	struct tip_store *st;
	struct tip_error err = { 0 };
	double t1, t2, t3, t4, tread, tsql, tparse;
	int64_t items1, items2, items3, items4, lines, parsed;
	long rss, rss1, rss2;
	FILE *f;

	tip_log_init("bench", false, getenv("TIP_BENCH_DEBUG") ? TIP_LOG_DEBUG : TIP_LOG_WARN);
	if (argc > 2)
		snprintf(dir, sizeof(dir), "%s", argv[2]);
	else {
		snprintf(dir, sizeof(dir), "/tmp/tip-bench-feeds.XXXXXX");
		if (!mkdtemp(dir)) {
			perror("mkdtemp");
			return 1;
		}
	}
	snprintf(feed, sizeof(feed), "%s/feed1.txt", dir);
	snprintf(feed2, sizeof(feed2), "%s/feed2.txt", dir);
	snprintf(url, sizeof(url), "%s/feed.txt", dir);
	write_feed(feed, n, 1);
	write_feed(feed2, n, 2);

	/* the feed's URL is a symlink switched between the snapshots */
	snprintf(conf, sizeof(conf), "%s/tip.conf", dir);
	f = fopen(conf, "w");
	fprintf(f, "[store]\nurl = sqlite://%s/tip.db\n[feed bench]\nurl = file://%s\nformat = plain\n"
		   "max_size = 1099511627776\n",
		dir, url);
	fclose(f);
	if (tip_config_load(&cfg, conf, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	{
		char db[4200];
		snprintf(db, sizeof(db), "%s/tip.db", dir);
		unlink(db);
	}
	if (tip_store_open(cfg.store.url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 0, NULL, NULL, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	unlink(url);
	if (symlink(feed, url) < 0 || one_run(st, &cfg, "bench", &t1, &items1) < 0)
		return 1;
	rss1 = maxrss_kb();
	unlink(url);
	if (symlink(feed2, url) < 0 || one_run(st, &cfg, "bench", &t2, &items2) < 0)
		return 1;
	rss2 = maxrss_kb();
	/* the steady state: the same snapshot fetched again (file:// has no validators, so it is
	 * parsed and diffed in full; nothing changed) */
	if (one_run(st, &cfg, "bench", &t3, &items3) < 0)
		return 1;
	/* back to snapshot 1: what run 2 removed returns, what it added goes */
	unlink(url);
	if (symlink(feed, url) < 0 || one_run(st, &cfg, "bench", &t4, &items4) < 0)
		return 1;
	rss = maxrss_kb();
	tip_store_close(st);

	tread = ref_getline(feed, &lines);
	tparse = ref_parser(&cfg, feed, &parsed);
	tsql = ref_sqlite(dir, feed);

	printf("feed: %llu lines (60%% domains, 20%% IPv4, 15%% URLs, 5%% CIDRs), plain format, SQLite %s\n",
	       (unsigned long long)n, sqlite3_libversion());
	printf("run 1 (all new):              %8lld entries in %6.2f s = %9.0f entries/s (CPU %.2f s)\n",
	       (long long)items1, t1, items1 / t1, run_cpu[1]);
	printf("run 2 (10%% gone, 10%% new):    %8lld entries in %6.2f s = %9.0f entries/s (CPU %.2f s)\n",
	       (long long)items2, t2, items2 / t2, run_cpu[2]);
	printf("run 3 (unchanged re-fetch):   %8lld entries in %6.2f s = %9.0f entries/s (CPU %.2f s)\n",
	       (long long)items3, t3, items3 / t3, run_cpu[3]);
	printf("run 4 (10%% back, 10%% gone):   %8lld entries in %6.2f s = %9.0f entries/s (CPU %.2f s)\n",
	       (long long)items4, t4, items4 / t4, run_cpu[4]);
	printf("peak RSS after the runs:     %ld kB (%.1f MB; after run 1 %.1f MB, run 2 %.1f MB)\n",
	       rss, rss / 1024.0, rss1 / 1024.0, rss2 / 1024.0);
	printf("reference getline:            %8lld lines   in %6.2f s = %9.0f lines/s  (run 1 is %.3f of it)\n",
	       (long long)lines, tread, lines / tread, (items1 / t1) / (lines / tread));
	printf("reference our parser alone:   %8lld entries in %6.2f s = %9.0f entries/s (run 1 is %.2f of it)\n",
	       (long long)parsed, tparse, parsed / tparse, (items1 / t1) / (parsed / tparse));
	printf("reference SQLite bare insert: %8llu rows    in %6.2f s = %9.0f rows/s   (run 1 is %.2f of it, run 2 %.2f, run 3 %.2f)\n",
	       (unsigned long long)n, tsql, n / tsql, (items1 / t1) / (n / tsql),
	       (items2 / t2) / (n / tsql), (items3 / t3) / (n / tsql));
	printf("target: >= 250000 entries/s, RSS < 100 MB: run 1 %s, run 2 %s, run 3 %s, run 4 %s, "
	       "RSS %s\n",
	       items1 / t1 >= 250000 ? "met" : "NOT met", items2 / t2 >= 250000 ? "met" : "NOT met",
	       items3 / t3 >= 250000 ? "met" : "NOT met", items4 / t4 >= 250000 ? "met" : "NOT met",
	       rss < 100 * 1024 ? "met" : "NOT met");
	tip_config_free(&cfg);
	if (argc <= 2) {
		char cmd[4300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", dir);
	}
	return 0;
}
