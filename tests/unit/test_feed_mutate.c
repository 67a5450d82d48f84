/* test_feed_mutate.c — the feed parsers on hostile input: real samples from shared/testdata/feeds,
 * one per format, mutated at random (a fixed seed: every run is the same) — bytes flipped, the
 * body cut short, and each format's own syntax (quotes, brackets, tags, entities, comment
 * marks, NUL, invalid UTF-8) inserted at random places. Every mutant is parsed whole and in
 * random chunks, and the two must agree byte for byte: the same entries with the same
 * attributes and lines, the same counts, the same result. The property is the parser's own
 * contract (tip_feed_parser_push: "bytes in any chunking"); the sanitizer build also checks
 * that no mutant reads or writes out of bounds, leaks, or hits undefined behaviour. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feeds/feeds.h"

#define MUTANTS 1500
#define MAX_INPUT (48 * 1024)

struct out {
	char *text;
	size_t used, cap;
};

static int collect(void *arg, const struct tip_indicator *ind, const struct tip_sighting_attrs *a,
		   int64_t line)
{
	struct out *o = arg;
	char buf[8192];
	int n = snprintf(buf, sizeof(buf), "%lld|%d|%s|%s|%s|%s|%s|%lld\n", (long long)line,
			 (int)ind->type, ind->value, a->category ? a->category : "-",
			 a->threat ? a->threat : "-", a->tags ? a->tags : "-",
			 ind->host[0] ? ind->host : "-", (long long)a->listed_since);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof(buf) ? sizeof(buf) - 1 : (size_t)n;
	if (o->used + len + 1 > o->cap) {
		o->cap = (o->used + len + 1) * 2;
		o->text = realloc(o->text, o->cap);
		assert_non_null(o->text);
	}
	memcpy(o->text + o->used, buf, len);
	o->used += len;
	o->text[o->used] = '\0';
	return 0;
}

struct result {
	struct out o;
	int rc;
	struct tip_feed_stats st;
};

/* Parses in chunks of 1..max_chunk bytes (0: whole), drawn from *seed. */
static void parse(const struct tip_feed_def *d, const char *in, size_t len, size_t max_chunk,
		  unsigned *seed, struct result *r)
{
	struct tip_feed_parser *p;
	struct tip_error err = { 0 };
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	assert_int_equal(tip_feed_parser_new(d, collect, &r->o, &p, &err), 0);
	while (i < len && r->rc == 0) {
		size_t n = max_chunk ? 1 + (size_t)rand_r(seed) % max_chunk : len;
		if (n > len - i)
			n = len - i;
		r->rc = tip_feed_parser_push(p, in + i, n, &err);
		i += n;
	}
	if (r->rc == 0)
		r->rc = tip_feed_parser_finish(p, &err);
	r->st = *tip_feed_parser_stats(p);
	tip_feed_parser_free(p);
}

static char *slurp(const char *rel, size_t *len)
{
	char path[4096];
	FILE *f;
	char *buf = malloc(MAX_INPUT);
	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/feeds/%s", TIP_TESTDATA, rel);
	f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot read the sample %s", path);
	*len = fread(buf, 1, MAX_INPUT, f);
	fclose(f);
	return buf;
}

static const char *const tokens[] = {
	"\n", "\r\n", "\0", "\xff", "\xc3", "\xef\xbb\xbf", "#", ";", "//", ",", "\t", "\"", "\"\"",
	"[", "]", "{", "}", "\\", "\\u0000", "\\ud800", ":", "<", ">", "&", "&amp;", "&#0;", "]]>",
	"<![CDATA[", "<item>", "</item>", "<title>", "</title>", "<!ENTITY x 'y'>", "0.0.0.0 ",
	"/33", "xn--", "http://", "..", "@", "AS4294967295", "999.1.1.1", "::ffff:1.2.3.4",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.",
};

static size_t mutate(const char *base, size_t blen, char *buf, size_t cap, unsigned *seed)
{
	size_t len = blen, ntok = sizeof(tokens) / sizeof(tokens[0]);
	int muts = 1 + rand_r(seed) % 6;
	memcpy(buf, base, blen);
	for (int m = 0; m < muts; m++) {
		size_t pos = len ? (size_t)rand_r(seed) % len : 0;
		int kind = rand_r(seed) % 5;
		if (kind == 0 && len) {
			buf[pos] = (char)(rand_r(seed) % 256);
		} else if (kind == 1) {
			len = pos; /* cut short */
		} else {
			const char *t = tokens[(size_t)rand_r(seed) % ntok];
			size_t tl = t[0] ? strlen(t) : 1; /* "\0" is one NUL byte */
			if (len + tl <= cap) {
				memmove(buf + pos + tl, buf + pos, len - pos);
				memcpy(buf + pos, t, tl);
				len += tl;
			}
		}
	}
	return len;
}

static void run_format(const struct tip_feed_def *d, const char *sample, unsigned seed,
		       int min_accepted)
{
	size_t blen, cap = MAX_INPUT + 4096;
	char *base = slurp(sample, &blen), *buf = malloc(cap);
	int agreed = 0, accepted = 0;
	assert_non_null(buf);
	for (int i = 0; i < MUTANTS; i++) {
		struct result whole, chunked;
		size_t len = mutate(base, blen, buf, cap, &seed);
		parse(d, buf, len, 0, &seed, &whole);
		parse(d, buf, len, 1 + (size_t)rand_r(&seed) % 300, &seed, &chunked);
		if (whole.rc != chunked.rc || whole.st.entries != chunked.st.entries ||
		    whole.st.rejected != chunked.st.rejected || whole.st.skipped != chunked.st.skipped ||
		    whole.st.lines != chunked.st.lines ||
		    strcmp(whole.o.text ? whole.o.text : "", chunked.o.text ? chunked.o.text : "") ||
		    strcmp(whole.st.samples, chunked.st.samples))
			fail_msg("%s, mutant %d (%zu bytes): whole and chunked parses differ: rc %d/%d, "
				 "entries %lld/%lld, rejected %lld/%lld, skipped %lld/%lld, lines %lld/%lld",
				 sample, i, len, whole.rc, chunked.rc, (long long)whole.st.entries,
				 (long long)chunked.st.entries, (long long)whole.st.rejected,
				 (long long)chunked.st.rejected, (long long)whole.st.skipped,
				 (long long)chunked.st.skipped, (long long)whole.st.lines,
				 (long long)chunked.st.lines);
		agreed++;
		accepted += whole.rc == 0;
		free(whole.o.text);
		free(chunked.o.text);
	}
	/* the mutants must not all have been thrown away whole (then only the error paths would
	 * have been tried): a share of them still parse as feeds */
	if (accepted <= min_accepted)
		fail_msg("%s: only %d of %d mutants parsed", sample, accepted, MUTANTS);
	print_message("%s: %d mutants, whole = chunked for all, %d parsed without a fatal error\n",
		      sample, agreed, accepted);
	free(base);
	free(buf);
}

static void def_init(struct tip_feed_def *d, enum tip_feed_format f)
{
	static char hash[] = "#", semi[] = ";";
	memset(d, 0, sizeof(*d));
	d->name = "m";
	d->format = f;
	d->delimiter = ',';
	d->max_line = 1024;
	if (f == TIP_FEED_PLAIN || f == TIP_FEED_HOSTS || f == TIP_FEED_CIDR) {
		d->comments[0] = hash;
		d->comments[1] = semi;
		d->n_comments = 2;
	} else if (f == TIP_FEED_CSV) {
		d->comments[0] = hash;
		d->n_comments = 1;
	}
}

static void test_plain(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_PLAIN);
	run_format(&d, "openphish/feed.txt", 1, MUTANTS / 4);
}

static void test_hosts(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_HOSTS);
	run_format(&d, "hphosts/hosts.txt", 2, MUTANTS / 4);
}

static void test_cidr(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_CIDR);
	run_format(&d, "spamhaus-drop/drop.txt", 3, MUTANTS / 4);
}

static void test_csv(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_CSV);
	d.field = "3";
	d.threat_field = "5";
	d.tags_field = "6";
	d.first_seen_field = "2";
	run_format(&d, "abusech-urlhaus/csv.txt", 4, MUTANTS / 4);
}

static void test_csv_header(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_CSV);
	d.header = true;
	d.field = "dst_ip";
	d.threat_field = "malware";
	d.first_seen_field = "first_seen_utc";
	run_format(&d, "abusech-feodo/ipblocklist.csv", 5, MUTANTS / 4);
}

static void test_json(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_JSON);
	d.field = "ip_address";
	d.threat_field = "malware";
	d.first_seen_field = "first_seen";
	run_format(&d, "abusech-feodo/ipblocklist.json", 6, MUTANTS / 4);
}

static void test_xml(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_XML);
	d.threat_field = "description";
	d.tags_field = "link";
	run_format(&d, "malc0de/rss.xml", 7, MUTANTS / 20);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain), cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_cidr),  cmocka_unit_test(test_csv),
		cmocka_unit_test(test_csv_header), cmocka_unit_test(test_json),
		cmocka_unit_test(test_xml),
	};
	tip_log_init("test", false, TIP_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
