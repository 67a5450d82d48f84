/*
 * bench_flux_write — the store writes of one flux-resolve pass, without DNS: what the pass's
 * writer thread does per answer (3 passive-DNS observations, a round, the watch row's due time),
 * in transactions of 32,768 answers with automatic checkpoints off, as src/flux/resolve.c does.
 * The same answers are written into a store at schema version 4 (the reference: the schema of
 * pass 1 as first shipped) and one at the newest version, alternately, so that the ratio of the
 * two comes from the same moments of a shared machine. The store API is the boundary: only the
 * schema differs.
 *
 *   bench_flux_write [-n DOMAINS] [-r REPEATS] [-d DIR] [-x pdns,watch] [-p NEXT_PASSES]
 *
 * -x leaves the named writes out, to measure each one's share; -p runs that many next passes
 * and reports their mean (the steady state over many rounds).
 *
 * Two passes a store: the first (every record new: a fresh watch list) and the next (the same
 * answers again: the steady state). Prints, per schema and pass, the best (lowest) writer CPU
 * time per answer over the repeats, and the ratio newest / reference. The answers mimic bench/flux-resolve.sh's zone (3 A records a name).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "store/store.h"

#define TX 32768

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct tip_error *err)
{
	fprintf(stderr, "bench_flux_write: %s: %s\n", what, err->msg);
	exit(1);
}

static void remove_db(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	for (int i = 0; i < 3; i++) {
		char f[600];
		snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
		unlink(f);
	}
}

/* The writes of one pass over n domains at time `at` (rows new on the first pass, existing on
 * the next); CPU and wall seconds per answer. */
/* -x pdns,watch: leave those writes out (to measure each one's share); pdns is the answer with
 * its round (one call since schema 8) */
static bool skip_pdns, skip_watch;
static int next_passes = 1; /* -p */

#define FLUSH 512 /* answers per writer batch, as src/flux/resolve.c's FLUSH_ANSWERS */

static void write_pass(struct tip_store *st, long n, tip_time_t at, double *cpu, double *wall)
{
	static char name[FLUSH][64], v[FLUSH][3][32];
	static struct tip_pdns_rec rec[FLUSH][3];
	static bool is_new[FLUSH][3];
	static struct tip_answer ans[FLUSH];
	static struct tip_watch_done done[FLUSH];
	struct tip_error err = { 0 };
	double c0 = cpu_now(), w0 = wall_now();
	size_t m = 0;

	if (tip_store_bulk(st, true, &err) < 0)
		die("bulk", &err);
	for (long i = 0; i < n; i++) {
		long b = (i / 256) % 256, c = i % 256;
		if (i % TX == 0 && tip_store_begin(st, &err) < 0)
			die("begin", &err);
		snprintf(name[m], sizeof(name[m]), "d%07ld.flux.test", i);
		snprintf(v[m][0], sizeof(v[m][0]), "%ld.%ld.%ld.1", 11 + i % 40, b, c);
		snprintf(v[m][1], sizeof(v[m][1]), "%ld.%ld.%ld.2", 61 + i * 7 % 40, c, b);
		snprintf(v[m][2], sizeof(v[m][2]), "%ld.%ld.%ld.3", 131 + i * 13 % 40,
			 (b + 77) % 256, c);
		for (int k = 0; k < 3; k++)
			rec[m][k] = (struct tip_pdns_rec){ .value = v[m][k], .ttl = 60 };
		ans[m] = (struct tip_answer){
			.watch_id = i + 1, .rec = rec[m], .n = 3, .is_new = is_new[m],
			.rd = { .domain = name[m], .rrtype = "A", .at = at + i, .outcome = "ok",
				.n_records = 3, .min_ttl = 60,
				.set_hash = 12345 + i /* the same set on both passes */ },
		};
		done[m] = (struct tip_watch_done){ .id = i + 1, .at = at + i,
						   .next_due = at + i + 60000000, .outcome = "ok" };
		m++;
		/* per batch, as the pass's writer does: the answers with their rounds, then the
		 * ended domains */
		if (m == FLUSH || (i + 1) % TX == 0 || i + 1 == n) {
			if (!skip_pdns && tip_store_pdns_answer_batch(st, ans, m, &err) < 0)
				die("pdns answer", &err);
			if (!skip_watch && tip_store_watch_resolved_batch(st, done, m, &err) < 0)
				die("watch resolved", &err);
			m = 0;
		}
		if (((i + 1) % TX == 0 || i + 1 == n) && tip_store_commit(st, &err) < 0)
			die("commit", &err);
	}
	if (tip_store_bulk(st, false, &err) < 0)
		die("checkpoint", &err);
	*cpu = (cpu_now() - c0) / (double)n;
	*wall = (wall_now() - w0) / (double)n;
}

/* A fresh store at schema `version` with n watched domains, then two passes: res[0] the first
 * (every record new), res[1] the second (every record seen before). */
static void one(const char *dir, int version, long n, double res[2][2])
{
	char path[512], url[600], name[64];
	struct tip_store *st;
	struct tip_error err = { 0 };
	tip_time_t at = tip_now();

	snprintf(path, sizeof(path), "%s/bench_flux_write.%d.db", dir, (int)getpid());
	remove_db(path);
	snprintf(url, sizeof(url), "sqlite://%s", path);
	if (tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0)
		die("open", &err);
	if (tip_store_migrate(st, version, NULL, NULL, &err) < 0)
		die("migrate", &err);
	if (tip_store_begin(st, &err) < 0)
		die("begin", &err);
	for (long i = 0; i < n; i++) {
		enum tip_watch_result r;
		snprintf(name, sizeof(name), "d%07ld.flux.test", i);
		if (tip_store_watch_add(st, name, "bench", at, &r, &err) < 0)
			die("watch add", &err);
	}
	if (tip_store_commit(st, &err) < 0)
		die("commit", &err);
	write_pass(st, n, at, &res[0][0], &res[0][1]);
	/* the next pass; with -p P, P of them, and res[1] their mean (every 16th unchanged round
	 * a set row writes its listed rounds into `round`: only many passes show that share) */
	res[1][0] = res[1][1] = 0;
	for (int k = 1; k <= next_passes; k++) {
		double c, w;
		write_pass(st, n, at + 60000000LL * k, &c, &w);
		res[1][0] += c / next_passes;
		res[1][1] += w / next_passes;
	}
	tip_store_close(st);
	remove_db(path);
}

int main(int argc, char **argv)
{
	long n = 100000;
	int repeats = 3, opt;
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const int versions[2] = { 4, 0 };
	double best[2][2] = { { 1e9, 1e9 }, { 1e9, 1e9 } }; /* [schema][pass]: CPU s per answer */
	static const char *const pass_name[2] = { "first pass (new records)",
						  "next pass (known records)" };

	while ((opt = getopt(argc, argv, "n:r:d:x:p:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'r': repeats = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'p': next_passes = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'x':
			skip_pdns = strstr(optarg, "pdns") != NULL;
			skip_watch = strstr(optarg, "watch") != NULL;
			break;
		default:
			fprintf(stderr, "usage: bench_flux_write [-n DOMAINS] [-r REPEATS] [-d DIR] [-x pdns,watch] [-p NEXT_PASSES]\n");
			return 2;
		}
	}
	if (n <= 0 || repeats <= 0)
		return 2;
	tip_log_init("bench_flux_write", false, TIP_LOG_WARN);
	for (int r = 0; r < repeats; r++) {
		for (int k = 0; k < 2; k++) {
			double res[2][2];
			one(dir, versions[k], n, res);
			printf("repeat %d schema %d: first pass %.2f us CPU (%.2f wall), next pass %.2f us"
			       " CPU (%.2f wall) per answer\n",
			       r + 1, versions[k] ? versions[k] : tip_store_schema_latest(),
			       res[0][0] * 1e6, res[0][1] * 1e6, res[1][0] * 1e6, res[1][1] * 1e6);
			fflush(stdout);
			for (int p = 0; p < 2; p++)
				if (res[p][0] < best[k][p])
					best[k][p] = res[p][0];
		}
	}
	for (int p = 0; p < 2; p++)
		printf("%s: domains=%ld repeats=%d reference(schema 4)=%.2f us/answer"
		       " newest(schema %d)=%.2f us/answer ratio=%.2f\n",
		       pass_name[p], n, repeats, best[0][p] * 1e6, tip_store_schema_latest(),
		       best[1][p] * 1e6, best[1][p] / best[0][p]);
	return 0;
}
