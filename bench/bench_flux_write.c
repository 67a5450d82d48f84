/*
 * bench_flux_write — the store writes of one flux-resolve pass, without DNS: what the pass's
 * writer thread does per answer (3 passive-DNS observations, a round, the watch row's due time),
 * in transactions of 32,768 answers with automatic checkpoints off, as src/flux/resolve.c does.
 * The same answers are written into a store at schema version 4 (the reference: the schema of
 * pass 1 as first shipped) and one at the newest version, alternately, so that the ratio of the
 * two comes from the same moments of a shared machine. The store API is the boundary: only the
 * schema differs.
 *
 *   bench_flux_write [-n DOMAINS] [-r REPEATS] [-d DIR] [-x pdns,watch] [-p NEXT_PASSES] [-N] [-c]
 *                    [-s PCT]
 *
 * -x leaves the named writes out, to measure each one's share; -p runs that many next passes
 * and reports their mean (the steady state over many rounds); -N leaves the reference out (to
 * profile the newest schema alone); -c adds n / 10 domains after them and reports their pass
 * (new records into a store with history: with the pdns_value index, as in a daemon whose
 * watch list grows from the feeds); -s makes PCT % of the domains answer a changed set in each
 * next pass (fast-flux domains: their writes take the one-by-one path). After the next passes
 * the newest schema's answer log (the unchanged rounds, appended) is folded into the set rows,
 * timed apart: the next pass with its share of that is the figure to compare.
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
/* -c: after the next passes, a tenth as many new domains (names and addresses between the
 * stored ones, as new names from a feed fall) in a pass of their own, into the store with its
 * history: the pdns_value index stays (bulk mode drops it only when pdns is empty) */
static bool churn;
/* -s PCT: in each next pass, PCT % of the domains answer a changed set (their third address
 * moves: a fast-flux domain's answer), the rest the same set */
static int changed_pct;

/* the i-th domain's name: the first ones "d0000042.flux.test", the -c ones "d0000042x…",
 * which sort right after */
static void domain_name(char *buf, size_t size, long i, bool added)
{
	snprintf(buf, size, "d%07ld%s.flux.test", i, added ? "x" : "");
}

#define FLUSH 512 /* answers per writer batch, as src/flux/resolve.c's FLUSH_ANSWERS */

/* added: the -c pass's domains (every tenth name with an "x", watch ids from id_base + 1,
 * their addresses' last byte 4 to 6 instead of 1 to 3); pass: 0 the first, k the k-th next
 * (-s changes sets from it on) */
static void write_pass(struct tip_store *st, long n, tip_time_t at, bool added, long id_base,
		       int pass, double *cpu, double *wall)
{
	static char name[FLUSH][64], v[FLUSH][3][32];
	static struct tip_pdns_rec rec[FLUSH][3];
	static bool is_new[FLUSH][3];
	static struct tip_answer ans[FLUSH];
	static struct tip_watch_done done[FLUSH];
	struct tip_error err = { 0 };
	double c0 = tip_thread_cpu(), w0 = wall_now();
	size_t m = 0;

	if (tip_store_bulk(st, true, &err) < 0)
		die("bulk", &err);
	for (long i = 0; i < n; i++) {
		long b = (i / 256) % 256, c = i % 256;
		long k3 = added ? 3 : 0, j = added ? i * 10 : i; /* j: the name's number */
		/* a changed set: the third address's last byte 3 + 10 k in the k-th next pass */
		long moved = pass > 0 && i % 100 < changed_pct ? 10L * pass : 0;
		if (i % TX == 0 && tip_store_begin(st, &err) < 0)
			die("begin", &err);
		domain_name(name[m], sizeof(name[m]), j, added);
		snprintf(v[m][0], sizeof(v[m][0]), "%ld.%ld.%ld.%ld", 11 + j % 40, b, c, 1 + k3);
		snprintf(v[m][1], sizeof(v[m][1]), "%ld.%ld.%ld.%ld", 61 + j * 7 % 40, c, b, 2 + k3);
		snprintf(v[m][2], sizeof(v[m][2]), "%ld.%ld.%ld.%ld", 131 + j * 13 % 40,
			 (b + 77) % 256, c, 3 + k3 + moved);
		for (int k = 0; k < 3; k++)
			rec[m][k] = (struct tip_pdns_rec){ .value = v[m][k], .ttl = 60 };
		ans[m] = (struct tip_answer){
			.watch_id = id_base + i + 1, .rec = rec[m], .n = 3, .is_new = is_new[m],
			.rd = { .domain = name[m], .rrtype = "A", .at = at + i, .outcome = "ok",
				.n_records = 3, .min_ttl = 60,
				.set_hash = 12345 + i + id_base + moved * 1000003 /* same set, same hash */ },
		};
		done[m] = (struct tip_watch_done){ .id = id_base + i + 1, .at = at + i,
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
	*cpu = (tip_thread_cpu() - c0) / (double)n;
	*wall = (wall_now() - w0) / (double)n;
}

/* A fresh store at schema `version` with n watched domains, then two passes: res[0] the first
 * (every record new), res[1] the second (every record seen before); with -c, res[2] the pass of
 * n / 10 domains added then; res[3] the fold after the next passes (schema 10: the set rows
 * take the rounds their passes left in the answer log), per answer of those passes. */
static void one(const char *dir, int version, long n, double res[4][2])
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
		domain_name(name, sizeof(name), i, false);
		if (tip_store_watch_add(st, name, "bench", at, &r, &err) < 0)
			die("watch add", &err);
	}
	if (tip_store_commit(st, &err) < 0)
		die("commit", &err);
	write_pass(st, n, at, false, 0, 0, &res[0][0], &res[0][1]);
	/* the next pass; with -p P, P of them, and res[1] their mean (every 16th unchanged round
	 * a set row writes its listed rounds into `round`: only many passes show that share) */
	res[1][0] = res[1][1] = 0;
	for (int k = 1; k <= next_passes; k++) {
		double c, w;
		write_pass(st, n, at + 60000000LL * k, false, 0, k, &c, &w);
		res[1][0] += c / next_passes;
		res[1][1] += w / next_passes;
	}
	{
		double c0 = tip_thread_cpu(), w0 = wall_now();
		if (tip_store_pdns_fold(st, 0, &err) < 0)
			die("fold", &err);
		res[3][0] = (tip_thread_cpu() - c0) / (double)(n * next_passes);
		res[3][1] = (wall_now() - w0) / (double)(n * next_passes);
	}
	res[2][0] = res[2][1] = 0;
	if (churn) {
		tip_time_t at2 = at + 60000000LL * (next_passes + 1);
		if (tip_store_begin(st, &err) < 0)
			die("begin", &err);
		for (long i = 0; i < n / 10; i++) {
			enum tip_watch_result r;
			domain_name(name, sizeof(name), i * 10, true);
			if (tip_store_watch_add(st, name, "bench", at2, &r, &err) < 0)
				die("watch add", &err);
		}
		if (tip_store_commit(st, &err) < 0)
			die("commit", &err);
		write_pass(st, n / 10, at2, true, n, 0, &res[2][0], &res[2][1]);
	}
	tip_store_close(st);
	remove_db(path);
}

int main(int argc, char **argv)
{
	long n = 100000;
	int repeats = 3, opt;
	bool newest_only = false; /* -N: no reference (for perf: only the newest schema's writes) */
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const int versions[2] = { 4, 0 };
	/* [schema][pass]: CPU s per answer */
	double best[2][4] = { { 1e9, 1e9, 1e9, 1e9 }, { 1e9, 1e9, 1e9, 1e9 } };
	static const char *const pass_name[3] = { "first pass (new records)",
						  "next pass (known records)",
						  "added domains' pass (new records, store with history)" };

	while ((opt = getopt(argc, argv, "n:r:d:x:p:Ncs:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'r': repeats = atoi(optarg); break;
		case 'd': dir = optarg; break;
		case 'N': newest_only = true; break;
		case 'c': churn = true; break;
		case 's': changed_pct = atoi(optarg) < 0 ? 0 : atoi(optarg) > 100 ? 100 : atoi(optarg); break;
		case 'p': next_passes = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
		case 'x':
			skip_pdns = strstr(optarg, "pdns") != NULL;
			skip_watch = strstr(optarg, "watch") != NULL;
			break;
		default:
			fprintf(stderr, "usage: bench_flux_write [-n DOMAINS] [-r REPEATS] [-d DIR] [-x pdns,watch] [-p NEXT_PASSES] [-N] [-c] [-s PCT]\n");
			return 2;
		}
	}
	if (n <= 0 || repeats <= 0)
		return 2;
	tip_log_init("bench_flux_write", false, TIP_LOG_WARN);
	for (int r = 0; r < repeats; r++) {
		for (int k = newest_only; k < 2; k++) {
			double res[4][2];
			one(dir, versions[k], n, res);
			printf("repeat %d schema %d: first pass %.2f us CPU (%.2f wall), next pass %.2f us"
			       " CPU (%.2f wall) per answer",
			       r + 1, versions[k] ? versions[k] : tip_store_schema_latest(),
			       res[0][0] * 1e6, res[0][1] * 1e6, res[1][0] * 1e6, res[1][1] * 1e6);
			if (res[3][0] > 1e-7)
				printf("; fold of the %d next passes' log %.2f us CPU (%.2f wall) per answer"
				       " (next pass with its share: %.2f us CPU)", next_passes,
				       res[3][0] * 1e6, res[3][1] * 1e6, (res[1][0] + res[3][0]) * 1e6);
			if (churn)
				printf("; %ld added domains' pass %.2f us CPU (%.2f wall)", n / 10,
				       res[2][0] * 1e6, res[2][1] * 1e6);
			printf("\n");
			fflush(stdout);
			for (int p = 0; p < 4; p++)
				if (res[p][0] < best[k][p])
					best[k][p] = res[p][0];
		}
	}
	if (newest_only)
		return 0;
	for (int p = 0; p < 2 + churn; p++)
		printf("%s: domains=%ld repeats=%d reference(schema 4)=%.2f us/answer"
		       " newest(schema %d)=%.2f us/answer ratio=%.2f\n",
		       pass_name[p], n, repeats, best[0][p] * 1e6, tip_store_schema_latest(),
		       best[1][p] * 1e6, best[1][p] / best[0][p]);
	/* the log's rounds cost their set rows' update at the fold: a next pass is only as cheap
	 * as it is with that share counted (best next pass + best fold: a floor, as above) */
	printf("next pass with its share of the fold (%d next passes a fold): domains=%ld"
	       " reference(schema 4)=%.2f us/answer newest(schema %d)=%.2f us/answer ratio=%.2f\n",
	       next_passes, n, (best[0][1] + best[0][3]) * 1e6, tip_store_schema_latest(),
	       (best[1][1] + best[1][3]) * 1e6, (best[1][1] + best[1][3]) / (best[0][1] + best[0][3]));
	return 0;
}
