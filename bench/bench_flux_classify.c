/*
 * bench_flux_classify.c — pass 2 (flux-classify) over N domains with R rounds each.
 *
 *   bench_flux_classify [-n DOMAINS] [-r ROUNDS] [-d DIR] [--keep]
 *
 * Generates a store (schema via the store API, rows with plain prepared INSERTs in one
 * transaction; not timed) of N domains, each with R A rounds and R NS rounds, passive DNS and
 * enrichment: 88% static (1 address), 5% round robin (4 fixed), 2% CDN-like (20 addresses of one
 * ASN, 4 a round), 5% fast flux (40 addresses a domain from botnets of 20 domains sharing 200
 * agents in many ASNs, TTL 60; every 5th also rotates its NS set: double flux).
 * Then, each in a fresh process of its own (this program run again; peak RSS from wait4):
 *   reference  the same two ordered scans pass 2 runs (rounds, passive DNS ⋈ ipinfo), every
 *              column read, nothing computed or written: SQLite's floor for this data
 *   classify   tip_flux_classify_run: features, verdicts, families, all written
 * and prints domains/s, elapsed, peak RSS and the ratio to the reference.
 * With --keep the store is kept in DIR and reused (verdict tables emptied) next time.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "flux/flux.h"

#define T0 (1700000000LL * TIP_SEC)
#define ROUND_GAP (600LL * TIP_SEC)

static void die(const char *what, sqlite3 *db)
{
	fprintf(stderr, "bench_flux_classify: %s: %s\n", what, db ? sqlite3_errmsg(db) : "");
	exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		fprintf(stderr, "bench_flux_classify: %s: %s\n", sql, msg);
		exit(1);
	}
}

static void step(sqlite3 *db, sqlite3_stmt *q)
{
	if (sqlite3_step(q) != SQLITE_DONE)
		die("insert", db);
	sqlite3_reset(q);
}

struct gen {
	sqlite3 *db;
	sqlite3_stmt *pdns, *round, *ipinfo;
	int rounds;
};

static void put_pdns(struct gen *g, const char *d, const char *rrtype, const char *v, int64_t ttl,
		     tip_time_t first, tip_time_t last, int64_t count)
{
	sqlite3_bind_text(g->pdns, 1, d, -1, SQLITE_STATIC);
	sqlite3_bind_text(g->pdns, 2, rrtype, -1, SQLITE_STATIC);
	sqlite3_bind_text(g->pdns, 3, v, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(g->pdns, 4, first);
	sqlite3_bind_int64(g->pdns, 5, last);
	sqlite3_bind_int64(g->pdns, 6, count);
	sqlite3_bind_int64(g->pdns, 7, ttl);
	step(g->db, g->pdns);
}

static void put_round(struct gen *g, const char *d, const char *rrtype, tip_time_t at, int n,
		      int n_new, int64_t ttl, int64_t hash)
{
	sqlite3_bind_text(g->round, 1, d, -1, SQLITE_STATIC);
	sqlite3_bind_text(g->round, 2, rrtype, -1, SQLITE_STATIC);
	sqlite3_bind_int64(g->round, 3, at);
	sqlite3_bind_int(g->round, 4, n);
	sqlite3_bind_int(g->round, 5, n_new);
	sqlite3_bind_int64(g->round, 6, ttl);
	sqlite3_bind_int64(g->round, 7, hash ? hash : 1);
	step(g->db, g->round);
}

static void put_ip(struct gen *g, const char *addr, int64_t asn, const char *cc)
{
	sqlite3_bind_text(g->ipinfo, 1, addr, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(g->ipinfo, 2, asn);
	sqlite3_bind_text(g->ipinfo, 3, cc, -1, SQLITE_STATIC);
	step(g->db, g->ipinfo);
}

static void addr_of(char *buf, size_t len, int a, uint32_t idx)
{
	snprintf(buf, len, "%d.%u.%u.%u", a, (idx >> 16) & 255, (idx >> 8) & 255, idx & 255);
}

static const char *const CC[] = { "US", "DE", "RU", "CN", "BR", "IN", "UA", "RO", "TR", "VN" };

/* One domain: the addresses it returns in round r are chosen by its kind. */
static void gen_domain(struct gen *g, uint32_t j, uint32_t n)
{
	char d[64], a[32], ns[64];
	int kind = (int)(j % 100); /* 0..87 static, 88..92 rr, 93..94 cdn, 95..99 flux */
	int64_t ttl = kind >= 95 ? 60 : kind >= 93 ? 20 : 3600;
	snprintf(d, sizeof(d), "d%08u.bench.test", j);

	/* NS: two fixed names; double-flux domains two new ones a round */
	bool dflux = kind >= 95 && (j / 100) % 5 == 0;
	for (int r = 0; r < g->rounds; r++) {
		tip_time_t at = T0 + r * ROUND_GAP + j;
		put_round(g, d, "NS", at, 2, r == 0 || dflux ? 2 : 0, 3600, dflux ? 100 + r : 100);
	}
	if (dflux) {
		for (int k = 0; k < 2 * g->rounds; k++) {
			snprintf(ns, sizeof(ns), "ns%d.dflux%u.test", k, j / 2000);
			put_pdns(g, d, "NS", ns, 3600, T0 + (k / 2) * ROUND_GAP, T0 + (k / 2) * ROUND_GAP, 1);
		}
	} else {
		for (int k = 0; k < 2; k++) {
			snprintf(ns, sizeof(ns), "ns%d.hoster%u.test", k, j % 5000);
			put_pdns(g, d, "NS", ns, 3600, T0, T0 + (g->rounds - 1) * ROUND_GAP, g->rounds);
		}
	}

	if (kind < 88) { /* static: one address of its own */
		addr_of(a, sizeof(a), 10, j);
		put_ip(g, a, 3000 + j % 1000, CC[j % 10]);
		put_pdns(g, d, "A", a, ttl, T0 + j, T0 + (g->rounds - 1) * ROUND_GAP + j, g->rounds);
		for (int r = 0; r < g->rounds; r++)
			put_round(g, d, "A", T0 + r * ROUND_GAP + j, 1, r == 0, ttl, 7);
	} else if (kind < 93) { /* round robin: four fixed */
		for (int k = 0; k < 4; k++) {
			addr_of(a, sizeof(a), 11, j * 4 + (uint32_t)k);
			put_ip(g, a, 4000 + (j + (uint32_t)k % 2) % 1000, CC[j % 10]);
			put_pdns(g, d, "A", a, ttl, T0 + j, T0 + (g->rounds - 1) * ROUND_GAP + j,
				 g->rounds);
		}
		for (int r = 0; r < g->rounds; r++)
			put_round(g, d, "A", T0 + r * ROUND_GAP + j, 4, r == 0 ? 4 : 0, ttl, 9);
	} else if (kind < 95) { /* CDN-like: 20 of one ASN, 4 a round, rotating */
		uint32_t c = j / 100 * 2 + (uint32_t)(kind - 93);
		for (int m = 0; m < 20; m++) {
			addr_of(a, sizeof(a), 12, c * 20 + (uint32_t)m);
			put_ip(g, a, 5000 + c % 50, "US");
			int first_r = m / 4;
			int seen = 0, last_r = first_r;
			for (int r = 0; r < g->rounds; r++)
				if ((r * 4) % 20 / 4 == m / 4) {
					seen++;
					last_r = r;
				}
			if (seen)
				put_pdns(g, d, "A", a, ttl, T0 + first_r * ROUND_GAP + j,
					 T0 + last_r * ROUND_GAP + j, seen);
		}
		for (int r = 0; r < g->rounds; r++)
			put_round(g, d, "A", T0 + r * ROUND_GAP + j, 4, r < 5 ? 4 : 0, ttl, 20 + r % 5);
	} else { /* fast flux: botnets of 20 domains over 200 shared agents */
		uint32_t f = j / 100 * 5 + (uint32_t)(kind - 95); /* the flux domain's number */
		uint32_t bot = f / 20, base = bot * 200, off = (f % 20) * 7;
		for (int r = 0; r < g->rounds; r++)
			for (int k = 0; k < 4; k++) {
				uint32_t idx = base + (off + (uint32_t)r * 4 + (uint32_t)k) % 200;
				addr_of(a, sizeof(a), 100, idx);
				put_pdns(g, d, "A", a, ttl, T0 + r * ROUND_GAP + j,
					 T0 + r * ROUND_GAP + j, 1);
			}
		for (int r = 0; r < g->rounds; r++)
			put_round(g, d, "A", T0 + r * ROUND_GAP + j, 4, 4, ttl, 1000 + r);
	}
	(void)n;
}

static void generate(const char *path, uint32_t n, int rounds)
{
	struct tip_store *st;
	struct tip_error err = { 0 };
	char url[4200];
	struct gen g = { .rounds = rounds };
	tip_time_t t = tip_monotonic();

	snprintf(url, sizeof(url), "sqlite://%s", path);
	if (tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err) < 0 ||
	    tip_store_migrate(st, 0, NULL, NULL, &err) < 0) {
		fprintf(stderr, "bench_flux_classify: %s\n", err.msg);
		exit(1);
	}
	tip_store_close(st);
	if (sqlite3_open(path, &g.db) != SQLITE_OK)
		die("open", g.db);
	exec(g.db, "PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; BEGIN");
	if (sqlite3_prepare_v2(g.db,
			       "INSERT OR IGNORE INTO pdns (domain, rrtype, value, first_seen, last_seen,"
			       " count, min_ttl, max_ttl) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
			       -1, &g.pdns, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(g.db,
			       "INSERT INTO round (domain, rrtype, at, outcome, n_records, n_new,"
			       " min_ttl, set_hash) VALUES (?1, ?2, ?3, 'ok', ?4, ?5, ?6, ?7)",
			       -1, &g.round, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(g.db,
			       "INSERT OR IGNORE INTO ipinfo (addr, asn, as_name, cc, db, updated)"
			       " VALUES (?1, ?2, NULL, ?3, 'bench', 0)",
			       -1, &g.ipinfo, NULL) != SQLITE_OK)
		die("prepare", g.db);
	/* the agent pool: 200 per botnet, in many ASNs and countries */
	for (uint32_t i = 0; i < (n / 20 + 1) * 200 / 20 + 200; i++) {
		char a[32];
		addr_of(a, sizeof(a), 100, i);
		put_ip(&g, a, 10000 + (i * 13) % 2000, CC[i % 10]);
	}
	for (uint32_t j = 0; j < n; j++) {
		gen_domain(&g, j, n);
		if (j % 100000 == 99999) {
			exec(g.db, "COMMIT; BEGIN");
			fprintf(stderr, "  generated %u domains\r", j + 1);
		}
	}
	exec(g.db, "COMMIT");
	sqlite3_finalize(g.pdns);
	sqlite3_finalize(g.round);
	sqlite3_finalize(g.ipinfo);
	exec(g.db, "PRAGMA wal_checkpoint(TRUNCATE); ANALYZE");
	sqlite3_close(g.db);
	fprintf(stderr, "generated %u domains x %d rounds in %.1f s\n", n, rounds,
		(double)(tip_monotonic() - t) / TIP_SEC);
}

/* The reference: the two scans, every column read, nothing else. */
static int reference(const char *path, tip_time_t since, int64_t *rows)
{
	static const char *const sql[] = {
		"SELECT domain, rrtype, at, outcome, n_records, n_new, coalesce(min_ttl, -1),"
		" coalesce(set_hash, 0) FROM round WHERE at >= ?1 ORDER BY domain, rrtype, at",
		"SELECT p.domain, p.rrtype, p.value, p.first_seen, p.last_seen, p.count, p.min_ttl,"
		" coalesce(i.asn, 0), i.cc FROM pdns p"
		" LEFT JOIN ipinfo i ON i.addr = p.value AND p.rrtype IN ('A', 'AAAA')"
		" WHERE p.last_seen >= ?1 ORDER BY p.domain, p.rrtype, p.value",
	};
	sqlite3 *db;
	uint64_t sum = 0;
	*rows = 0;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
		die("open", db);
	exec(db, "PRAGMA cache_size=-32768");
	for (int k = 0; k < 2; k++) {
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db, sql[k], -1, &q, NULL) != SQLITE_OK)
			die("prepare", db);
		sqlite3_bind_int64(q, 1, since);
		while (sqlite3_step(q) == SQLITE_ROW) {
			int nc = sqlite3_column_count(q);
			for (int c = 0; c < nc; c++)
				sum += (uint64_t)sqlite3_column_bytes(q, c);
			(*rows)++;
		}
		sqlite3_finalize(q);
	}
	sqlite3_close(db);
	return sum == 0; /* keep the reads */
}

struct result {
	double seconds, cpu; /* elapsed; user + system CPU of the process */
	long maxrss_kb;
	int status;
};

/* Runs this program again as `--job NAME --path P --now N`; its elapsed time, CPU time and peak
 * RSS. The parent stays small (the generator ran in a child of its own): a child's peak RSS
 * starts from its parent's at fork. */
static struct result in_child(const char *job, const char *path, tip_time_t now)
{
	struct result r = { 0 };
	struct rusage ru;
	int status;
	char nowbuf[32];
	tip_time_t t = tip_monotonic();
	pid_t pid;

	snprintf(nowbuf, sizeof(nowbuf), "%lld", (long long)now);
	pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		char *const args[] = { "bench_flux_classify", "--job", (char *)job, "--path",
				       (char *)path, "--now", nowbuf, NULL };
		execv("/proc/self/exe", args);
		_exit(127);
	}
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4", NULL);
	r.seconds = (double)(tip_monotonic() - t) / TIP_SEC;
	r.maxrss_kb = ru.ru_maxrss;
	r.cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r;
}

struct job {
	const char *path;
	tip_time_t now;
};

static int job_reference(const struct job *j)
{
	int64_t rows;
	int rc = reference(j->path, j->now - 604800 * TIP_SEC, &rows);
	fprintf(stderr, "  reference scanned %lld rows\n", (long long)rows);
	return rc;
}

static int job_classify(const struct job *j)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	struct tip_store *st;
	struct tip_flux_classify_stats s;
	char url[4200];
	if (tip_config_load(&cfg, NULL, &err) < 0)
		return 1;
	free(cfg.flux.allowlist);
	cfg.flux.allowlist = tip_xstrdup(TIP_SRCDIR "/etc/allowlist.conf");
	snprintf(url, sizeof(url), "sqlite://%s", j->path);
	if (tip_store_open(url, 0, &st, &err) < 0 ||
	    tip_flux_classify_run(&cfg, st, j->now, NULL, &s, &err) < 0) {
		fprintf(stderr, "bench_flux_classify: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr,
		"  classified %lld: %lld fastflux, %lld suspicious, %lld benign, %lld unknown, "
		"%lld double flux, %lld families, %lld events\n",
		(long long)s.domains, (long long)s.fastflux, (long long)s.suspicious,
		(long long)s.benign, (long long)s.unknown, (long long)s.double_flux,
		(long long)s.families, (long long)s.events);
	tip_store_close(st);
	tip_config_free(&cfg);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "keep", no_argument, NULL, 'k' },
					      { "job", required_argument, NULL, 'J' },
					      { "path", required_argument, NULL, 'P' },
					      { "now", required_argument, NULL, 'N' },
					      { NULL, 0, NULL, 0 } };
	const char *job = NULL, *jpath = NULL;
	long long jnow = 0;
	long n = 1000000, rounds = 10;
	const char *dir = NULL;
	bool keep = false;
	char path[4096];
	struct stat sb;
	int ch;

	while ((ch = getopt_long(argc, argv, "n:r:d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			n = atol(optarg);
			break;
		case 'r':
			rounds = atol(optarg);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'k':
			keep = true;
			break;
		case 'J':
			job = optarg;
			break;
		case 'P':
			jpath = optarg;
			break;
		case 'N':
			jnow = atoll(optarg);
			break;
		default:
			fprintf(stderr, "usage: bench_flux_classify [-n DOMAINS] [-r ROUNDS] [-d DIR] [--keep]\n");
			return 2;
		}
	}
	if (n < 100 || rounds < 1 || rounds > 100) {
		fprintf(stderr, "bench_flux_classify: -n >= 100, 1 <= -r <= 100\n");
		return 2;
	}
	tip_log_init("bench", false, TIP_LOG_WARN);
	if (job) {
		struct job jb = { jpath, jnow };
		if (!jpath)
			return 2;
		return !strcmp(job, "reference") ? job_reference(&jb) : job_classify(&jb);
	}
	if (!dir)
		dir = "/tmp";
	snprintf(path, sizeof(path), "%s/bench-flux-%ld-%ld.db", dir, n, rounds);
	if (keep && stat(path, &sb) == 0) {
		sqlite3 *db;
		fprintf(stderr, "reusing %s\n", path);
		if (sqlite3_open(path, &db) != SQLITE_OK)
			die("open", db);
		exec(db, "DELETE FROM verdict; DELETE FROM flux_current; DELETE FROM flux_event;"
			 " DELETE FROM flux_family; DELETE FROM flux_family_size;"
			 " DELETE FROM flux_family_member; DELETE FROM flux_pass;"
			 " PRAGMA wal_checkpoint(TRUNCATE)");
		sqlite3_close(db);
	} else {
		/* in a child: the generator's memory must not count in the measured processes'
		 * peak RSS (Linux keeps the high-water mark across fork and exec) */
		pid_t pid;
		int status;
		unlink(path);
		if ((pid = fork()) < 0)
			die("fork", NULL);
		if (pid == 0) {
			generate(path, (uint32_t)n, (int)rounds);
			_exit(0);
		}
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			die("generate", NULL);
	}

	struct result ref = in_child("reference", path, T0 + rounds * ROUND_GAP);
	struct result cls = in_child("classify", path, T0 + rounds * ROUND_GAP);
	if (ref.status || cls.status) {
		fprintf(stderr, "bench_flux_classify: a child failed (%d, %d)\n", ref.status,
			cls.status);
		return 1;
	}
	printf("flux-classify: %ld domains x %ld rounds (A + NS)\n", n, rounds);
	printf("  reference (the two ordered scans, no work): %.2f s elapsed, %.2f s CPU, "
	       "peak RSS %ld MB\n",
	       ref.seconds, ref.cpu, ref.maxrss_kb / 1024);
	printf("  classify (features, verdicts, families, written): %.2f s elapsed, %.2f s CPU, "
	       "%.0f domains/s, peak RSS %ld MB\n",
	       cls.seconds, cls.cpu, (double)n / cls.seconds, cls.maxrss_kb / 1024);
	printf("  classify / reference: %.2f elapsed, %.2f CPU\n", cls.seconds / ref.seconds,
	       cls.cpu / ref.cpu);
	if (!keep) {
		char p2[4200];
		unlink(path);
		snprintf(p2, sizeof(p2), "%s-wal", path);
		unlink(p2);
		snprintf(p2, sizeof(p2), "%s-shm", path);
		unlink(p2);
	}
	return 0;
}
