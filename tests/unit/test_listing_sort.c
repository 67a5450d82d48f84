/*
 * test_listing_sort.c — the external merge sort of a first load's entries (store_sqlite_sort.c)
 * against a plain in-memory reference computed here: every entry kept in an array, sorted with
 * qsort by (type, value) and then by the order listed, each key's listings folded in that order
 * (an attribute given by a later listing replaces the earlier one, an absent one does not; the
 * attribute hash is the last listing's).
 *
 * The sorter is given small chunks (64 KiB) so that 60,000 entries make about a hundred sorted
 * runs in its temporary file, merged through its heap, the last chunk from memory; keys are
 * listed up to five times, in different runs, with attributes that come and go. The merge is
 * done twice (sq_sort_rewind), as a first load with attributes does. The domains and URLs leave
 * their registrable domain for the sorter to find (sq_sort_ent.registrable_later), in the
 * spilled chunks on its thread and in the last one at the merge; the expected one comes from
 * tip_registrable_domain() called here on the host (none where it is the value itself). One
 * more test gives an entry bigger than a chunk (a 100,000-byte tags field) between ordinary
 * ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "store/store_sqlite.h"

#define KEYS 20000
#define ENTRIES 60000

struct ref {
	int type, family, prefix;
	uint8_t addr[16];
	char value[64];
	const char *host;
	bool later;     /* the registrable domain left for the sorter to find */
	char reg[64];   /* the one expected ("" for none), from tip_registrable_domain() here */
	const char *category, *threat, *tags;
	int64_t listed_since;
	uint64_t h;
	uint32_t h2, ah;
	int64_t order; /* the listing's place */
};

static const char *const cats[] = { NULL, "malware", "phishing", NULL, "botnet" };
static const char *const threats[] = { NULL, "c2", NULL };
static const char *const tagses[] = { NULL, NULL, "x,y", "z" };

/* Key k: a domain, an IPv4 address or a URL (three types in one sort), with a value whose first
 * 7 bytes are often equal across keys (the sort's integer prefix then ties). */
static void key_of(int k, struct ref *r)
{
	memset(r, 0, sizeof(*r));
	switch (k % 3) {
	case 0:
		r->type = TIP_IND_DOMAIN; /* a subdomain, or its own registrable domain */
		snprintf(r->value, sizeof(r->value), k % 2 ? "d%d.example.com" : "d%d.com",
			 k * 7919 % KEYS);
		break;
	case 1:
		r->type = TIP_IND_IPV4;
		snprintf(r->value, sizeof(r->value), "10.%d.%d.%d", k >> 16, (k >> 8) & 255, k & 255);
		r->family = 4;
		r->prefix = 32;
		r->addr[0] = 10;
		r->addr[1] = (uint8_t)(k >> 16);
		r->addr[2] = (uint8_t)(k >> 8);
		r->addr[3] = (uint8_t)k;
		break;
	default:
		r->type = TIP_IND_URL;
		snprintf(r->value, sizeof(r->value), "http://h%d.example.net/%d", k % 97, k);
		r->host = "h.example.net";
	}
	r->h = (uint64_t)k * 0x9e3779b97f4a7c15ULL;
	r->h2 = (uint32_t)k;
	if (r->type != TIP_IND_IPV4) {
		/* expected as the store would have it: none where it is the value itself */
		r->later = true;
		tip_registrable_domain(r->host ? r->host : r->value, r->reg, sizeof(r->reg));
		if (!strcmp(r->reg, r->value))
			r->reg[0] = '\0';
	}
}

static int ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;
	int c;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if ((c = strcmp(x->value, y->value)))
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void add(struct sq_sort *so, const struct ref *r)
{
	struct tip_error err = { 0 };
	struct sq_sort_ent e = {
		.type = r->type, .family = r->family, .prefix = r->prefix, .addr = r->addr,
		.value = r->value, .host = r->host, .category = r->category, .threat = r->threat,
		.tags = r->tags, .listed_since = r->listed_since, .h = r->h, .h2 = r->h2, .ah = r->ah,
		.registrable_later = r->later,
	};
	if (sq_sort_add(so, &e, &err) < 0)
		fail_msg("sq_sort_add: %s", err.msg);
}

static bool str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* One merge of so against the folded reference (n distinct keys). */
static void check_merge(struct sq_sort *so, const struct ref *want, size_t n)
{
	struct tip_error err = { 0 };
	const struct sq_sort_ent *e;
	size_t i = 0;
	int rc;
	if (sq_sort_rewind(so, &err) < 0)
		fail_msg("sq_sort_rewind: %s", err.msg);
	while ((rc = sq_sort_next(so, &e, &err)) == 1) {
		const struct ref *w = &want[i];
		if (i >= n)
			fail_msg("more keys than the %zu listed", n);
		if (e->type != w->type || strcmp(e->value, w->value))
			fail_msg("key %zu: %d/%s, expected %d/%s", i, e->type, e->value, w->type,
				 w->value);
		assert_true(str_eq(e->host, w->host));
		if (!str_eq(e->registrable, w->reg[0] ? w->reg : NULL))
			fail_msg("%s: registrable %s, expected %s", w->value,
				 e->registrable ? e->registrable : "(null)", w->reg[0] ? w->reg : "(null)");
		assert_int_equal(e->family, w->family);
		assert_int_equal(e->prefix, w->prefix);
		if (w->family)
			assert_memory_equal(e->addr, w->addr, 16);
		if (!str_eq(e->category, w->category) || !str_eq(e->threat, w->threat) ||
		    !str_eq(e->tags, w->tags) || e->listed_since != w->listed_since)
			fail_msg("%s: attributes %s/%s/%s/%lld, expected %s/%s/%s/%lld", w->value,
				 e->category ? e->category : "-", e->threat ? e->threat : "-",
				 e->tags ? e->tags : "-", (long long)e->listed_since,
				 w->category ? w->category : "-", w->threat ? w->threat : "-",
				 w->tags ? w->tags : "-", (long long)w->listed_since);
		assert_true(e->h == w->h && e->h2 == w->h2);
		assert_int_equal(e->ah, w->ah);
		i++;
	}
	if (rc < 0)
		fail_msg("sq_sort_next: %s", err.msg);
	assert_int_equal(i, n);
}

static void test_merge_equals_reference(void **state)
{
	struct ref *all = calloc(ENTRIES, sizeof(*all)), *want = calloc(ENTRIES, sizeof(*want));
	struct sq_sort *so = sq_sort_new(64 * 1024);
	uint64_t x = 12345;
	size_t n = 0;
	(void)state;

	/* the listings, in order: a random key each (about 3 listings a key) */
	for (int64_t i = 0; i < ENTRIES; i++) {
		struct ref *r = &all[i];
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		key_of((int)((x >> 33) % KEYS), r);
		r->category = cats[(x >> 20) % 5];
		r->threat = threats[(x >> 24) % 3];
		r->tags = tagses[(x >> 28) % 4];
		r->listed_since = (x >> 40) % 3 ? 0 : 1000 + i;
		r->ah = (uint32_t)i;
		r->order = i;
		add(so, r);
	}
	/* the reference: sorted, each key folded over its listings in order */
	qsort(all, ENTRIES, sizeof(*all), ref_cmp);
	for (size_t i = 0; i < ENTRIES; i++) {
		struct ref *w;
		if (n && want[n - 1].type == all[i].type && !strcmp(want[n - 1].value, all[i].value)) {
			w = &want[n - 1];
			if (all[i].category)
				w->category = all[i].category;
			if (all[i].threat)
				w->threat = all[i].threat;
			if (all[i].tags)
				w->tags = all[i].tags;
			if (all[i].listed_since)
				w->listed_since = all[i].listed_since;
			w->ah = all[i].ah;
		} else {
			want[n++] = all[i];
		}
	}
	assert_true(n > KEYS / 2 && n < (size_t)ENTRIES / 2); /* keys listed more than once */
	check_merge(so, want, n);
	check_merge(so, want, n); /* again, as the sightings of a first load with attributes */
	sq_sort_free(so);
	free(all);
	free(want);
}

static void test_entry_bigger_than_a_chunk(void **state)
{
	struct sq_sort *so = sq_sort_new(4096);
	struct ref r[3], want[3];
	char *tags = malloc(100001);
	(void)state;
	memset(tags, 't', 100000);
	tags[100000] = '\0';
	for (int i = 0; i < 3; i++) {
		key_of(3 * (2 - i), &r[i]); /* three domains, listed in reverse order */
		r[i].ah = (uint32_t)i;
		r[i].tags = i == 1 ? tags : NULL;
		add(so, &r[i]);
		want[2 - i] = r[i];
	}
	qsort(want, 3, sizeof(*want), ref_cmp);
	check_merge(so, want, 3);
	sq_sort_free(so);
	free(tags);
}

/* Freed before its merge, with runs written and a chunk with the sort thread: nothing leaks
 * (the ASan build checks). */
static void test_free_unmerged(void **state)
{
	struct sq_sort *so = sq_sort_new(4096);
	struct ref r;
	(void)state;
	for (int i = 0; i < 1000; i++) {
		key_of(i, &r);
		add(so, &r);
	}
	sq_sort_free(so);
}

/* No place for the runs ($TMPDIR a directory that does not exist): the failure comes back from
 * the sort thread, at a later add or at the merge, naming the directory; nothing is merged. */
static void test_no_temporary_directory(void **state)
{
	struct sq_sort *so = sq_sort_new(4096);
	struct tip_error err = { 0 };
	struct ref r;
	int rc = 0;
	(void)state;
	setenv("TMPDIR", "/nonexistent-tip-test-dir", 1);
	for (int i = 0; i < 1000 && rc == 0; i++) {
		struct sq_sort_ent e = { 0 };
		key_of(i, &r);
		e.type = r.type, e.family = r.family, e.prefix = r.prefix, e.addr = r.addr;
		e.value = r.value, e.host = r.host;
		rc = sq_sort_add(so, &e, &err);
	}
	if (rc == 0)
		rc = sq_sort_rewind(so, &err);
	unsetenv("TMPDIR");
	assert_true(rc < 0);
	assert_non_null(strstr(err.msg, "/nonexistent-tip-test-dir"));
	sq_sort_free(so);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_temporary_directory),
		cmocka_unit_test(test_merge_equals_reference),
		cmocka_unit_test(test_entry_bigger_than_a_chunk),
		cmocka_unit_test(test_free_unmerged),
	};
	tip_log_init("test", false, TIP_LOG_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
