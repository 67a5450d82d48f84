/*
 * test_flux_classify.c — pass 2's features, verdicts, allowlist and family clustering, with
 * expected values worked out by hand from the records each test builds (the arithmetic is in
 * the comments), and one pass against a real SQLite store written through the store API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "flux/flux.h"

#define EPS 1e-9

static struct tip_round rnd(const char *rrtype, tip_time_t at, int64_t n, int64_t n_new,
			    int64_t ttl, int64_t hash)
{
	return (struct tip_round){ .domain = "x", .rrtype = rrtype, .at = at, .outcome = "ok",
				   .n_records = n, .n_new = n_new, .min_ttl = ttl, .set_hash = hash };
}

/* Six A records in three ASNs and four /16s, four NS names; three A rounds of two records
 * each, three NS rounds whose set changes twice. */
static void test_features_by_hand(void **state)
{
	(void)state;
	struct tip_flux_record rec[] = {
		{ .rrtype = "A", .value = "10.1.0.1", .first_seen = 300, .asn = 100, .cc = "DE" },
		{ .rrtype = "A", .value = "10.1.0.2", .first_seen = 100, .asn = 100, .cc = "DE" },
		{ .rrtype = "A", .value = "10.2.0.1", .first_seen = 200, .asn = 200, .cc = "FR" },
		{ .rrtype = "A", .value = "10.3.0.1", .first_seen = 200, .asn = 300, .cc = "US" },
		{ .rrtype = "A", .value = "10.3.0.2", .first_seen = 200, .asn = 300, .cc = "US" },
		{ .rrtype = "A", .value = "10.4.0.1", .first_seen = 200, .asn = 0, .cc = NULL },
		{ .rrtype = "AAAA", .value = "2001:db8::1", .first_seen = 200 },
		{ .rrtype = "NS", .value = "ns1.example" },
		{ .rrtype = "NS", .value = "ns2.example" },
		{ .rrtype = "NS", .value = "ns3.example" },
		{ .rrtype = "NS", .value = "ns4.example" },
	};
	struct tip_round rounds[] = {
		rnd("A", 1, 2, 2, 300, 11), rnd("A", 2, 2, 2, 60, 22), rnd("A", 3, 2, 2, 120, 22),
		rnd("NS", 1, 2, 2, 3600, 5), rnd("NS", 2, 2, 1, 3600, 6), rnd("NS", 3, 2, 1, 3600, 7),
	};
	struct tip_flux_domain d = { "x.example", rec, 11, rounds, 6 };
	struct tip_flux_features f;
	struct tip_flux_params p;
	char why[1024];

	tip_flux_features(&d, NULL, &f);
	assert_int_equal(f.n_a, 6);
	assert_int_equal(f.n_aaaa, 1);
	assert_int_equal(f.n_asn, 3);  /* AS100, AS200, AS300; the unknown one does not count */
	assert_int_equal(f.n_cc, 3);   /* DE, FR, US */
	assert_int_equal(f.n_p16, 4);  /* 10.1, 10.2, 10.3, 10.4 */
	assert_int_equal(f.n_ns, 4);
	assert_int_equal(f.rounds, 3);
	assert_int_equal(f.n_all, 6);  /* 2 + 2 + 2 */
	assert_int_equal(f.min_ttl, 60);
	assert_int_equal(f.a_changes, 1); /* 11 -> 22 changed, 22 -> 22 did not */
	assert_int_equal(f.ns_changes, 2); /* 5 -> 6 -> 7 */
	assert_true(f.double_flux);        /* 4 NS names >= 3, 2 changes >= 2 */
	assert_true(f.fluxiness > 1.0 - EPS && f.fluxiness < 1.0 + EPS); /* 6 / 6 */
	assert_true(f.growth > 2.0 - EPS && f.growth < 2.0 + EPS);       /* (2 + 2) / 2 */
	/* 1.32 * 6 + 18.54 * 3 = 7.92 + 55.62 = 63.54 */
	assert_true(f.score > 63.54 - 1e-6 && f.score < 63.54 + 1e-6);
	assert_int_equal(f.first_seen, 100);

	/* below 142.38, but short TTL (60 <= 900), rotating (phi 1.0 >= 0.5) and diverse (3 ASNs,
	 * 4 /16s): suspicious, and the why carries the numbers */
	tip_flux_params_default(&p);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "suspicious");
	assert_non_null(strstr(why, "flux-score 63.54 <= 142.38 (1.32x6 A + 18.54x3 ASNs)"));
	assert_non_null(strstr(why, "min TTL 60 s"));
	assert_non_null(strstr(why, "fluxiness 1.00 (6 unique of 6 A records in 3 rounds)"));
	assert_non_null(strstr(why, "double flux: 4 NS names"));
}

static struct tip_flux_features feat(int64_t n_a, int64_t n_asn, int64_t n_p16, int64_t ttl,
				     double phi, int64_t rounds)
{
	struct tip_flux_features f = { 0 };
	f.n_a = n_a;
	f.n_asn = n_asn;
	f.n_p16 = n_p16;
	f.min_ttl = ttl;
	f.fluxiness = phi;
	f.rounds = f.ok_rounds = rounds;
	f.n_all = phi > 0 ? (int64_t)((double)n_a / phi + 0.5) : 0;
	f.score = TIP_FLUX_W_A * (double)n_a + TIP_FLUX_W_ASN * (double)n_asn;
	return f;
}

static void test_verdicts(void **state)
{
	(void)state;
	struct tip_flux_params p;
	struct tip_flux_features f;
	char why[1024];
	tip_flux_params_default(&p);

	/* 1.32 * 40 + 18.54 * 5 = 52.8 + 92.7 = 145.5 > 142.38, TTL 60: fastflux */
	f = feat(40, 5, 30, 60, 0.8, 10);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "fastflux");
	assert_non_null(strstr(why, "flux-score 145.50 > 142.38"));
	/* 1.32 * 40 + 18.54 * 4 = 52.8 + 74.16 = 126.96: below; still flux-like -> suspicious */
	f = feat(40, 4, 30, 60, 0.8, 10);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "suspicious");
	/* above the score but TTL 86400 and phi 0.1, no changes: suspicious, not fastflux */
	f = feat(40, 5, 30, 86400, 0.1, 10);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "suspicious");
	/* CDN: 20 addresses in 1 ASN, 2 /16s, TTL 20, phi 0.8: 26.4 + 18.54 = 44.94 -> benign */
	f = feat(20, 1, 2, 20, 0.8, 10);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "benign");
	assert_non_null(strstr(why, "CDN-like"));
	assert_non_null(strstr(why, "44.94"));
	/* round robin: 4 addresses, 10 rounds of 4: phi 0.1, 2 ASNs: benign, stable */
	f = feat(4, 2, 2, 300, 0.1, 10);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "benign");
	assert_non_null(strstr(why, "stable address set"));
	/* too few rounds (2 < 3) */
	f = feat(40, 5, 30, 60, 0.8, 2);
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "unknown");
	assert_non_null(strstr(why, "2 A rounds in the window, 3 needed"));
	/* every A record allowlisted: benign whatever the score */
	f = feat(40, 5, 30, 60, 0.8, 10);
	f.n_allowed = 40;
	assert_string_equal(tip_flux_verdict(&p, &f, why, sizeof(why)), "benign");
	assert_non_null(strstr(why, "known-good"));
}

static void test_allowlist(void **state)
{
	(void)state;
	struct tip_flux_allowlist *al = tip_flux_allowlist_new();
	struct tip_error err = { 0 };
	assert_int_equal(tip_flux_allowlist_parse(al,
						  "# CDNs\n"
						  "AS13335   # Cloudflare\n"
						  "\n"
						  "104.16.0.0/13\n"
						  "2606:4700::/32\n"
						  "as20940\n",
						  "t", &err),
			 0);
	assert_int_equal(tip_flux_allowlist_size(al), 4);
	assert_true(tip_flux_allowlist_match(al, 13335, "1.2.3.4"));
	assert_true(tip_flux_allowlist_match(al, 20940, NULL));
	assert_true(tip_flux_allowlist_match(al, 0, "104.23.255.255")); /* last of the /13 */
	assert_false(tip_flux_allowlist_match(al, 0, "104.24.0.0"));    /* one past it */
	assert_true(tip_flux_allowlist_match(al, 0, "2606:4700::1"));
	assert_false(tip_flux_allowlist_match(al, 64512, "192.0.2.1"));
	/* a bad line: an error naming file and line, and nothing of that text is added */
	assert_int_equal(tip_flux_allowlist_parse(al, "AS1\n10.0.0.0/8\nASX\n", "t2", &err),
			 TIP_EINVAL);
	assert_non_null(strstr(err.msg, "t2:3"));
	assert_int_equal(tip_flux_allowlist_size(al), 4);
	assert_int_equal(tip_flux_allowlist_parse(al, "not-a-network\n", "t3", &err), TIP_EINVAL);
	assert_non_null(strstr(err.msg, "t3:1"));
	tip_flux_allowlist_free(al);
}

struct fam_seen {
	int n;
	char names[4][64];
	size_t n_domains[4], n_agents[4];
};

static int fam_cb(void *arg, const char *name, const char *const *domains, size_t n_domains,
		  const char *const *agents, size_t n_agents)
{
	struct fam_seen *fs = arg;
	(void)domains;
	(void)agents;
	snprintf(fs->names[fs->n], sizeof(fs->names[0]), "%s", name);
	fs->n_domains[fs->n] = n_domains;
	fs->n_agents[fs->n++] = n_agents;
	return 0;
}

/* a–b share 2.2.2.2, b–c share 3.3.3.3: one family {a, b, c}, oldest b (first seen 100);
 * d–e share 9.9.9.9: {d, e}, both first seen 50, so the name goes to d; f shares nothing. */
static void test_families_by_hand(void **state)
{
	(void)state;
	struct tip_flux_families *fs = tip_flux_families_new();
	const char *a[] = { "1.1.1.1", "2.2.2.2" }, *b[] = { "2.2.2.2", "3.3.3.3" },
		   *c[] = { "3.3.3.3" }, *d[] = { "9.9.9.9" }, *e[] = { "8.8.8.8", "9.9.9.9" },
		   *f[] = { "7.7.7.7" };
	struct fam_seen seen = { 0 };

	assert_int_equal(tip_flux_families_add(fs, "a.example", 300, a, 2), 0);
	tip_flux_families_add(fs, "b.example", 100, b, 2);
	tip_flux_families_add(fs, "c.example", 200, c, 1);
	tip_flux_families_add(fs, "e.example", 50, e, 2);
	tip_flux_families_add(fs, "d.example", 50, d, 1);
	tip_flux_families_add(fs, "f.example", 10, f, 1);
	assert_int_equal(tip_flux_families_cluster(fs), 2);
	assert_string_equal(tip_flux_families_name(fs, 0), "ff-b.example");
	assert_string_equal(tip_flux_families_name(fs, 2), "ff-b.example");
	assert_string_equal(tip_flux_families_name(fs, 3), "ff-d.example");
	assert_null(tip_flux_families_name(fs, 5));
	tip_flux_families_each(fs, fam_cb, &seen);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "ff-b.example");
	assert_int_equal(seen.n_domains[0], 3);
	assert_int_equal(seen.n_agents[0], 3); /* 1.1.1.1, 2.2.2.2, 3.3.3.3 */
	assert_string_equal(seen.names[1], "ff-d.example");
	assert_int_equal(seen.n_domains[1], 2);
	assert_int_equal(seen.n_agents[1], 2); /* 8.8.8.8, 9.9.9.9 */
	tip_flux_families_free(fs);
}

/* ---- one pass against a real store --------------------------------------------------------- */

struct got {
	char verdict[32], family[128];
	int64_t n_a, n_asn, rounds;
	bool df;
};

static int got_verdict(void *arg, const struct tip_verdict *v)
{
	struct got *g = arg;
	snprintf(g->verdict, sizeof(g->verdict), "%s", v->verdict);
	snprintf(g->family, sizeof(g->family), "%s", v->family ? v->family : "");
	g->n_a = v->n_a;
	g->n_asn = v->n_asn;
	g->rounds = v->rounds;
	g->df = v->double_flux;
	return 0;
}

static int count_events(void *arg, const struct tip_flux_event *e)
{
	(void)e;
	(*(int *)arg)++;
	return 0;
}

/* Puts one round of `domain` at `at`: the n addresses base+0 .. base+n-1 in 10.<x>.0.1 form,
 * address i in AS(64500 + i % n_asn). */
static void put_round(struct tip_store *st, const char *domain, tip_time_t at, int base, int n,
		      int n_asn, int64_t ttl)
{
	struct tip_error err = { 0 };
	char addr[32];
	int64_t hash = 0;
	for (int i = 0; i < n; i++) {
		int x = base + i;
		snprintf(addr, sizeof(addr), "10.%d.%d.1", x / 256, x % 256);
		assert_int_equal(tip_store_pdns_record(st, domain, "A", addr, ttl, at, &err), 0);
		struct tip_ipinfo ii = { .addr = addr, .asn = 64500 + x % n_asn, .db = "test" };
		assert_int_equal(tip_store_ipinfo_put(st, &ii, &err), 0);
		hash = hash * 31 + x + 1;
	}
	struct tip_round r = { .domain = domain, .rrtype = "A", .at = at, .outcome = "ok",
			       .n_records = n, .n_new = n, .min_ttl = ttl, .set_hash = hash };
	assert_int_equal(tip_store_round_put(st, &r, &err), 0);
}

static void test_store_pass(void **state)
{
	(void)state;
	char dir[] = "/tmp/tip-flux-unit.XXXXXX", url[128];
	struct tip_store *st = NULL;
	struct tip_error err = { 0 };
	struct tip_config cfg;
	struct tip_flux_classify_stats s;
	struct got g;
	int n_events = 0;
	tip_time_t t0 = tip_now() - 3600 * TIP_SEC;

	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "sqlite://%s/tip.db", dir);
	assert_int_equal(tip_store_open(url, TIP_STORE_CREATE | TIP_STORE_NOMIGRATE, &st, &err), 0);
	assert_int_equal(tip_store_migrate(st, 0, NULL, NULL, &err), 0);
	assert_int_equal(tip_config_load(&cfg, NULL, &err), 0);
	free(cfg.flux.allowlist);
	cfg.flux.allowlist = tip_xstrdup("");

	/* ff1 and ff2: 5 rounds each of 10 fresh addresses in 10 ASNs, TTL 60; ff2 starts at
	 * ff1.s 41st address, so they share 10.4.16.1 .. 10.4.25.1 (1040..1049): n_A 50, n_ASN 10 ->
	 * 1.32*50 + 18.54*10 = 66 + 185.4 = 251.4 > 142.38. rr: 5 rounds of the same 3 addresses
	 * in 3 ASNs (1.32*3 + 18.54*3 = 59.58). one: 2 rounds only (unknown). */
	for (int k = 0; k < 5; k++) {
		put_round(st, "ff1.example", t0 + k * 600 * TIP_SEC, 1000 + 10 * k, 10, 10, 60);
		put_round(st, "ff2.example", t0 + k * 600 * TIP_SEC + 1, 1040 + 10 * k, 10, 10, 60);
		put_round(st, "rr.example", t0 + k * 600 * TIP_SEC, 2000, 3, 3, 3600);
		if (k < 2)
			put_round(st, "one.example", t0 + k * 600 * TIP_SEC, 3000, 1, 1, 3600);
	}
	/* the merge of the two scans: passive DNS without rounds (before, between and after the
	 * domains with rounds) is skipped; rounds without records (NXDOMAIN) give "no A records" */
	assert_int_equal(tip_store_pdns_record(st, "aaa.example", "A", "10.0.0.1", 60, t0, &err), 0);
	assert_int_equal(tip_store_pdns_record(st, "mmm.example", "A", "10.0.0.2", 60, t0, &err), 0);
	assert_int_equal(tip_store_pdns_record(st, "zzz.example", "A", "10.0.0.3", 60, t0, &err), 0);
	for (int k = 0; k < 3; k++) {
		struct tip_round r = { .domain = "nx.example", .rrtype = "A",
				       .at = t0 + k * 600 * TIP_SEC, .outcome = "nxdomain",
				       .min_ttl = -1 };
		assert_int_equal(tip_store_round_put(st, &r, &err), 0);
	}
	assert_int_equal(tip_flux_classify_run(&cfg, st, tip_now(), NULL, &s, &err), 0);
	assert_int_equal(s.domains, 5); /* ff1, ff2, nx, one, rr */
	assert_int_equal(s.unknown, 2); /* nx (no A records), one (2 rounds) */
	assert_int_equal(tip_store_verdict_get(st, "aaa.example", got_verdict, &g, &err),
			 TIP_ENOTFOUND);
	assert_int_equal(tip_store_verdict_get(st, "nx.example", got_verdict, &g, &err), 0);
	assert_string_equal(g.verdict, "unknown");
	assert_int_equal(g.rounds, 3);
	assert_int_equal(s.fastflux, 2);
	assert_int_equal(s.families, 1);
	assert_int_equal(s.events, 2); /* first verdicts of fastflux are events */

	assert_int_equal(tip_store_verdict_get(st, "ff1.example", got_verdict, &g, &err), 0);
	assert_string_equal(g.verdict, "fastflux");
	assert_int_equal(g.n_a, 50);
	assert_int_equal(g.n_asn, 10);
	assert_int_equal(g.rounds, 5);
	/* ff1's first address was seen at t0, ff2's at t0 + 1 µs: the family is named after ff1 */
	assert_string_equal(g.family, "ff-ff1.example");
	assert_int_equal(tip_store_verdict_get(st, "rr.example", got_verdict, &g, &err), 0);
	assert_string_equal(g.verdict, "benign");
	assert_int_equal(g.n_a, 3);
	assert_int_equal(tip_store_verdict_get(st, "one.example", got_verdict, &g, &err), 0);
	assert_string_equal(g.verdict, "unknown");

	/* a third round for one.example: it gets a verdict (benign); that change is an event */
	put_round(st, "one.example", t0 + 3000 * TIP_SEC, 3000, 1, 1, 3600);
	assert_int_equal(tip_flux_classify_run(&cfg, st, tip_now() + 1, NULL, &s, &err), 0);
	assert_int_equal(s.events, 1);
	assert_int_equal(tip_store_verdict_get(st, "one.example", got_verdict, &g, &err), 0);
	assert_string_equal(g.verdict, "benign");
	assert_int_equal(tip_store_flux_events(st, NULL, 0, count_events, &n_events, &err), 0);
	assert_int_equal(n_events, 3);

	tip_config_free(&cfg);
	tip_store_close(st);
	{
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features_by_hand),
		cmocka_unit_test(test_verdicts),
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_families_by_hand),
		cmocka_unit_test(test_store_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
