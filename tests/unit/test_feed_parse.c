/* test_feed_parse.c — the streaming feed parsers on hand-made input whose expected entries are
 * written out below (RFC 4180 §2 for CSV quoting; RFC 8259 for JSON; XML 1.0 for CDATA,
 * character references and encodings), fed whole and one byte
 * at a time (the result must not depend on the chunking). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "feeds/feeds.h"

struct got {
	char text[4096];
	size_t used;
	int n;
};

static int collect(void *arg, const struct tip_indicator *ind, const struct tip_sighting_attrs *a,
		   int64_t line)
{
	struct got *g = arg;
	g->used += (size_t)snprintf(g->text + g->used, sizeof(g->text) - g->used,
				    "%lld:%s|%s|%s|%s|%lld\n", (long long)line, ind->value,
				    a && a->category ? a->category : "-", a && a->threat ? a->threat : "-",
				    a && a->tags ? a->tags : "-", a ? (long long)(a->listed_since / TIP_SEC) : 0LL);
	g->n++;
	return 0;
}

static void def_init(struct tip_feed_def *d, enum tip_feed_format f)
{
	memset(d, 0, sizeof(*d));
	d->name = "t";
	d->format = f;
	d->delimiter = ',';
	d->max_line = 200;
	d->comments[0] = "#";
	d->n_comments = 1;
}

/* Parses input whole (chunk 0) or in chunks of `chunk` bytes; returns the parser's result. */
static int run(const struct tip_feed_def *d, const char *in, size_t chunk, struct got *g,
	       struct tip_feed_stats *st)
{
	struct tip_feed_parser *p;
	struct tip_error err = { 0 };
	size_t len = strlen(in);
	int rc = 0;

	memset(g, 0, sizeof(*g));
	assert_int_equal(tip_feed_parser_new(d, collect, g, &p, &err), 0);
	for (size_t i = 0; i < len && rc == 0; i += chunk ? chunk : len)
		rc = tip_feed_parser_push(p, in + i, chunk && len - i > chunk ? chunk : len - i, &err);
	if (rc == 0)
		rc = tip_feed_parser_finish(p, &err);
	if (st)
		*st = *tip_feed_parser_stats(p);
	tip_feed_parser_free(p);
	return rc;
}

/* Same entries whole and byte by byte. */
static void check(const struct tip_feed_def *d, const char *in, const char *want, int64_t rejected)
{
	struct got g;
	struct tip_feed_stats st;
	size_t chunks[] = { 0, 1, 7 };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(run(d, in, chunks[i], &g, &st), 0);
		assert_string_equal(g.text, want);
		assert_int_equal(st.rejected, rejected);
	}
}

static void test_plain(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_PLAIN);
	d.comments[1] = ";";
	d.n_comments = 2;
	/* BOM, CRLF, comments, a trailing comment, a blank line, junk after the value, no final
	 * newline */
	check(&d,
	      "\xef\xbb\xbf# header\r\nExample.COM.\r\n  ; note\n\n192.0.2.1 # trailing\n"
	      "b.example junk\nhttp://x.example/a\tb\n198.51.100.0/24",
	      "2:example.com|-|-|-|0\n5:192.0.2.1|-|-|-|0\n8:198.51.100.0/24|-|-|-|0\n", 2);
}

static void test_hosts(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_HOSTS);
	check(&d, "127.0.0.1 localhost\n::1 localhost ip6-localhost\n0.0.0.0 a.example b.example # c\n"
		  "notanip x.example\n0.0.0.0\n",
	      "3:a.example|-|-|-|0\n3:b.example|-|-|-|0\n", 2);
}

static void test_cidr(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_CIDR);
	d.comments[0] = ";";
	/* the DROP family's format: networks with their SBL reference, and ASN-DROP's AS lines
	 * with "CC | NAME"; two networks on one line are not one entry */
	check(&d,
	      "; Spamhaus\n1.10.16.0/20 ; SBL256894\n2a06:e480::/29 ; SBL301771\nAS260 ; AE | X\n"
	      "1.2.3.0/24 5.6.7.0/24 ; SBL1\n",
	      "2:1.10.16.0/20|-|-|SBL256894|0\n3:2a06:e480::/29|-|-|SBL301771|0\n4:AS260|-|-|AE | X|0\n",
	      1);
}

static void test_csv_rfc4180(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_CSV);
	d.header = true;
	d.field = "url";
	d.threat_field = "threat";
	d.tags_field = "4";
	d.first_seen_field = "first";
	/* quoted delimiter, escaped quotes, a quoted field spanning two lines, an empty field,
	 * a short row */
	check(&d,
	      "# comment\n"
	      "first,url,threat,tags\n"
	      "\"2021-01-17 07:30:05\",\"http://a.example/x,y\",\"say \"\"hi\"\"\",\"doc,emotet\"\n"
	      "2021-01-18,http://b.example/,\"two\nlines\",\n"
	      "2021-01-19\n",
	      "3:http://a.example/x,y|-|say \"hi\"|doc,emotet|1610868605\n"
	      "4:http://b.example/|-|two\nlines|-|1610928000\n",
	      1);
}

static void test_csv_header_missing_column(void **state)
{
	struct tip_feed_def d;
	struct got g;
	(void)state;
	def_init(&d, TIP_FEED_CSV);
	d.header = true;
	d.field = "ip";
	assert_int_equal(run(&d, "a,b\n1.2.3.4,x\n", 0, &g, NULL), TIP_EINVAL);
}

static void test_csv_overlong_and_unclosed(void **state)
{
	struct tip_feed_def d;
	char in[1200];
	(void)state;
	def_init(&d, TIP_FEED_CSV);
	memset(in, 'x', sizeof(in));
	memcpy(in, "a.example\n", 10);
	memcpy(in + 900, "\nb.example\n\"open", 16);
	in[sizeof(in) - 1] = '\0';
	/* line 2 is 889 bytes (over max_line 200); the last record's quote never closes */
	check(&d, in, "1:a.example|-|-|-|0\n3:b.example|-|-|-|0\n", 2);
}

static void test_json_array(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_JSON);
	d.n_comments = 0;
	d.field = "details.0.ip";
	d.threat_field = "malware";
	d.tags_field = "tags";
	check(&d,
	      "[ {\"details\": [{\"ip\": \"192.0.2.7\"}], \"malware\": \"Dridex\", \"tags\": [\"a\", \"b\"]},\n"
	      "  {\"details\": [], \"note\": \"]}[{\\\"\"},\n"
	      "  \"http:\\/\\/c.example\\/\", 42, {bad json},\n"
	      "  {\"details\": [{\"ip\": \"198.51.100.9\"}]} ]\n",
	      "1:192.0.2.7|-|Dridex|a,b|0\n3:http://c.example/|-|-|-|0\n4:198.51.100.9|-|-|-|0\n", 3);
}

static void test_json_broken(void **state)
{
	struct tip_feed_def d;
	struct got g;
	(void)state;
	def_init(&d, TIP_FEED_JSON);
	d.field = "ip";
	assert_int_equal(run(&d, "{\"ip\": \"192.0.2.1\"}", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(run(&d, "[{\"ip\": \"192.0.2.1\"}, {\"ip\": \"19", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(run(&d, "", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(run(&d, "[] x", 0, &g, NULL), TIP_EINVAL);
}

static void test_jsonl(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_JSONL);
	d.n_comments = 0;
	d.field = "indicator";
	d.category_field = "type";
	check(&d, "{\"indicator\": \"a.example\", \"type\": \"phishing\"}\n\nnot json\n{\"x\": 1}\n"
		  "{\"indicator\": \"bad..example\"}\n",
	      "1:a.example|phishing|-|-|0\n", 3);
}

static int abort_cb(void *arg, const struct tip_indicator *ind, const struct tip_sighting_attrs *a,
		    int64_t line)
{
	(void)arg, (void)ind, (void)a, (void)line;
	return TIP_ESTORE;
}

static void test_callback_failure_is_fatal(void **state)
{
	struct tip_feed_def d;
	struct tip_feed_parser *p;
	struct tip_error err = { 0 };
	(void)state;
	def_init(&d, TIP_FEED_PLAIN);
	assert_int_equal(tip_feed_parser_new(&d, abort_cb, NULL, &p, &err), 0);
	assert_int_equal(tip_feed_parser_push(p, "a.example\nb.example\n", 20, &err), TIP_ESTORE);
	assert_int_equal(tip_feed_parser_finish(p, &err), TIP_ESTORE);
	tip_feed_parser_free(p);
}

static void test_xml(void **state)
{
	struct tip_feed_def d;
	(void)state;
	def_init(&d, TIP_FEED_XML);
	d.n_comments = 0;
	d.threat_field = "description";
	d.tags_field = "tag";
	d.skip_if_field = "kind";
	d.skip_if_value = "meta";
	/* XML 1.0: CDATA is text, &amp; is &, an encoding of ISO-8859-1 gives UTF-8 (0xe9: é),
	 * text inside an element within the field is the field's; the record's line is where its
	 * start tag is. Rejected: an item without a title (line 7) and one over max_line (line 8). */
	check(&d,
	      "<?xml version='1.0' encoding='ISO-8859-1'?>\n"
	      "<rss><channel><title>not a record</title>\n"
	      "<item>\n <title> a.example </title><description>caf\xe9 &amp; <b>bar</b></description>"
	      "<tag>t1</tag><tag>t2</tag></item>\n"
	      "<item><title><![CDATA[http://b.example/x?a=1&b=2]]></title></item>\n"
	      "<item><title>c.example</title><kind>meta</kind></item>\n"
	      "<item><description>no title</description></item>\n"
	      "<item><title>d.example</title><description>"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx</description></item>\n"
	      "<item><title>e.example</title></item></channel></rss>\n",
	      "3:a.example|-|caf\xc3\xa9 & bar|t1|0\n5:http://b.example/x?a=1&b=2|-|-|-|0\n"
	      "9:e.example|-|-|-|0\n",
	      2);
	/* Atom: records are entries, the indicator an attribute, prefixes ignored */
	d.record = "entry";
	d.field = "link@href";
	d.threat_field = NULL;
	d.tags_field = NULL;
	d.skip_if_field = NULL;
	d.category_field = "kind";
	check(&d,
	      "<feed xmlns='http://www.w3.org/2005/Atom' xmlns:x='urn:x'>\n"
	      "<entry><link href='http://one.example/'/><x:kind>c2</x:kind></entry>\n"
	      "<entry><link rel='alternate'/></entry>\n</feed>",
	      "2:http://one.example/|c2|-|-|0\n", 1);
}

static void test_xml_broken(void **state)
{
	struct tip_feed_def d;
	struct got g;
	(void)state;
	def_init(&d, TIP_FEED_XML);
	/* cut off, not XML, text after the root, an entity declared (refused, not expanded) */
	assert_int_equal(run(&d, "<rss><item><title>a.example</title></item>", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(run(&d, "a.example\n", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(run(&d, "<rss/><rss/>", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(run(&d, "<!DOCTYPE rss [<!ENTITY x 'y'>]><rss><item><title>a.example&x;"
				 "</title></item></rss>", 0, &g, NULL), TIP_EINVAL);
	assert_int_equal(g.n, 0);
	assert_int_equal(run(&d, "", 0, &g, NULL), TIP_EINVAL);
}

static void test_xml_callback_failure_is_fatal(void **state)
{
	struct tip_feed_def d;
	struct tip_feed_parser *p;
	struct tip_error err = { 0 };
	const char *in = "<rss><item><title>a.example</title></item><item><title>b.example</title>"
			 "</item></rss>";
	(void)state;
	def_init(&d, TIP_FEED_XML);
	assert_int_equal(tip_feed_parser_new(&d, abort_cb, NULL, &p, &err), 0);
	assert_int_equal(tip_feed_parser_push(p, in, strlen(in), &err), TIP_ESTORE);
	assert_int_equal(tip_feed_parser_finish(p, &err), TIP_ESTORE);
	tip_feed_parser_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_csv_rfc4180),
		cmocka_unit_test(test_csv_header_missing_column),
		cmocka_unit_test(test_csv_overlong_and_unclosed),
		cmocka_unit_test(test_json_array),
		cmocka_unit_test(test_json_broken),
		cmocka_unit_test(test_jsonl),
		cmocka_unit_test(test_callback_failure_is_fatal),
		cmocka_unit_test(test_xml),
		cmocka_unit_test(test_xml_broken),
		cmocka_unit_test(test_xml_callback_failure_is_fatal),
	};
	tip_log_init("test", false, TIP_LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
