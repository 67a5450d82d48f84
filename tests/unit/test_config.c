/*
 * test_config.c — the configuration file, named sections, durations and RFC 3339 times.
 *
 * Each error case writes a small file whose line numbers are counted by hand (they are given
 * in the expected message), and asserts the whole "file:line: [section] key" prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core.h"

static char dir[] = "/tmp/tip-test-config-XXXXXX";
static char path[256];

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/tip.conf", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[300];
	(void)state;
	snprintf(p, sizeof(p), "%s/tip.conf", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dump1.conf", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/dump2.conf", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

static void write_file(const char *p, const char *text)
{
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* Loads `text` and asserts it fails with a message that starts "<path>:<prefix>". */
static void load_fails(const char *text, const char *prefix)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	char want[600];
	write_file(path, text);
	int rc = tip_config_load(&cfg, path, &err);
	tip_config_free(&cfg);
	if (rc == 0)
		fail_msg("config accepted:\n%s", text);
	assert_int_equal(rc, TIP_EINVAL);
	snprintf(want, sizeof(want), "%s:%s", path, prefix);
	if (strncmp(err.msg, want, strlen(want)) != 0)
		fail_msg("error is\n  '%s'\nwanted it to start with\n  '%s'", err.msg, want);
}

static void test_errors(void **state)
{
	(void)state;
	/* unknown key in a known section: line 4 */
	load_fails("# comment\n[daemon]\nmax_children = 4\nmax_childern = 5\n",
		   "4: [daemon] max_childern: unknown key");
	/* unknown section: named on the line of its header (2), even when it has keys later */
	load_fails("\n[bogus]\n\nkey = 1\n", "2: [bogus]");
	load_fails("[store]\nurl = sqlite:///tmp/x.db\n[bogus]\nkey = 1\n", "3: [bogus]");
	/* an unknown section with no keys at all is still an error */
	load_fails("[store]\nurl = sqlite:///tmp/x.db\n\n[bogus]\n", "4: [bogus]");
	/* a named section of an unknown kind: line 3 */
	load_fails("[dns]\nretries = 1\n[frobnicate x]\nk = v\n", "3: [frobnicate x]");
	/* bad integer: line 3 */
	load_fails("[dns]\nretries = 1\ntimeout_ms = soon\n", "3: [dns] timeout_ms: 'soon'");
	load_fails("[dns]\ntimeout_ms = 12ms\n", "2: [dns] timeout_ms:");
	load_fails("[dns]\ntimeout_ms = 99999999999999999999999\n", "2: [dns] timeout_ms:");
	/* out of range (max_children is 1..256): line 2 */
	load_fails("[daemon]\nmax_children = 0\n", "2: [daemon] max_children: '0' is not a whole number from 1 to 256");
	load_fails("[daemon]\nmax_children = 257\n", "2: [daemon] max_children:");
	load_fails("[daemon]\nmax_children = -1\n", "2: [daemon] max_children:");
	/* a value outside its documented set (stderr or syslog; err, warn, info or debug) */
	load_fails("[daemon]\nlog_level = debug\nlog = journald\n",
		   "3: [daemon] log: 'journald' is not one of: stderr syslog");
	load_fails("[daemon]\nlog_level = loud\n", "2: [daemon] log_level:");
	load_fails("[daemon]\nlog_level = \n", "2: [daemon] log_level:");
	/* duplicate key: the second one's line (5), and the first one's (2) in the message */
	load_fails("[dns]\nretries = 1\n\n; again\nretries = 2\n",
		   "5: [dns] retries: given twice (first on line 2)");
	load_fails("[feed a]\nurl = http://x/\n[feed a]\nurl = http://y/\n",
		   "4: [feed a] url: given twice (first on line 2)");
	/* bad [dns] servers */
	load_fails("[dns]\nservers = ns1.example.com\n", "2: [dns] servers: 'ns1.example.com' is not an IP address");
	load_fails("[dns]\nservers = 127.0.0.1:5300, 192.0.2.1:99999\n", "2: [dns] servers: bad port");
	load_fails("[dns]\nservers = [::1:53\n", "2: [dns] servers: '[::1:53': missing ']'");
	load_fails("[dns]\nservers = [::1]x\n", "2: [dns] servers:");
	load_fails("[dns]\nservers = 1.2.3.4:\n", "2: [dns] servers: bad port");
	load_fails("[dns]\nservers = fe80::1%eth0\n", "2: [dns] servers:");
	load_fails("[dns]\nservers = 1.1.1.1,2.2.2.2,3.3.3.3,4.4.4.4,5.5.5.5,6.6.6.6,7.7.7.7,"
		   "8.8.8.8,9.9.9.9\n",
		   "2: [dns] servers: more than 8 servers");
	/* syntax errors: inih's line number (3) */
	load_fails("[dns]\nretries = 1\nthis is not a key value line\n", "3: syntax error");
	load_fails("[dns\nretries = 1\n", "1: syntax error");
	/* a named section's name is restricted */
	load_fails("[feed bad/name]\nurl = x\n", "1: [feed bad/name]");
	load_fails("[dns]\nretries = 1\n[feed ]\nurl = x\n", "3: [feed ]: a [feed NAME] section needs a name");
	load_fails("[module\t]\n", "1: [module\t]: a [module NAME] section needs a name");
}

static void test_missing_file(void **state)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	char p[300];
	(void)state;
	snprintf(p, sizeof(p), "%s/nonexistent.conf", dir);
	assert_int_equal(tip_config_load(&cfg, p, &err), TIP_EIO);
	assert_non_null(strstr(err.msg, p));
	tip_config_free(&cfg);
}

/* Defaults with no file: DESIGN.md says [dns] servers defaults to /etc/resolv.conf (none
 * configured) and rrtypes to "A, AAAA, NS". And every key's value in the dump must equal the
 * default its own comment line states. */
static void test_defaults(void **state)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	char *buf = NULL, *line, *save = NULL, lastdef[512] = "";
	size_t len = 0;
	FILE *f;
	int keys = 0;
	(void)state;
	assert_int_equal(tip_config_load(&cfg, NULL, &err), 0);
	assert_null(cfg.path);
	assert_int_equal(cfg.dns.n_servers, 0);
	assert_string_equal(cfg.dns.rrtypes, "A, AAAA, NS");
	assert_int_equal(cfg.dns.edns_size, 1232); /* DNS Flag Day 2020's size */
	assert_int_equal(cfg.n_sections, 0);
	f = open_memstream(&buf, &len);
	tip_config_dump(&cfg, f);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *d = strstr(line, "(default: ");
		if (line[0] == '#' && d) {
			snprintf(lastdef, sizeof(lastdef), "%s", d + 10);
			lastdef[strlen(lastdef) - 1] = '\0'; /* the ')' */
			if (!strcmp(lastdef, "empty"))
				lastdef[0] = '\0';
		} else if (line[0] != '#' && line[0] != '[') {
			char *eq = strchr(line, '=');
			assert_non_null(eq);
			eq++;
			while (*eq == ' ')
				eq++;
			if (strcmp(eq, lastdef) != 0)
				fail_msg("default dump: '%s' but its comment says default '%s'", line,
					 lastdef);
			keys++;
		}
	}
	assert_true(keys > 20);
	free(buf);
	tip_config_free(&cfg);
}

static char *slurp(const char *p)
{
	FILE *f = fopen(p, "r");
	char *b;
	long n;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return b;
}

/* A file with every kind of value, dumped, read back and dumped again: the same text (after
 * the first line, which names the file), and the same values. */
static void test_roundtrip(void **state)
{
	struct tip_config a, b;
	struct tip_error err = { 0 };
	char d1[300], d2[300], *t1, *t2;
	FILE *f;
	(void)state;
	write_file(path, "[store]\nurl = sqlite:///var/tmp/t.db\n"
			 "[daemon]\nmax_children = 7\nlog_level = debug\n"
			 "[dns]\nservers = 127.0.0.1:5300, [::1]:53, 192.0.2.1\n"
			 "rrtypes = A, NS\ntimeout_ms = 1500\n"
			 "[flux]\nmin_rounds = 5\n"
			 "[feed urlhaus]\nurl = https://urlhaus.abuse.ch/downloads/text/\ninterval = 15m\n"
			 "[module flux-resolve]\nenabled = yes\n");
	assert_int_equal(tip_config_load(&a, path, &err), 0);
	assert_int_equal(a.daemon.max_children, 7);
	assert_string_equal(a.daemon.log_level, "debug");
	assert_int_equal(a.dns.n_servers, 3);
	assert_string_equal(a.dns.servers[0].host, "127.0.0.1");
	assert_int_equal(a.dns.servers[0].port, 5300);
	assert_string_equal(a.dns.servers[1].host, "::1");
	assert_int_equal(a.dns.servers[1].port, 53);
	assert_string_equal(a.dns.servers[2].host, "192.0.2.1");
	assert_int_equal(a.dns.servers[2].port, 53);
	assert_int_equal(a.n_sections, 2);
	assert_string_equal(a.sections[0].kind, "feed");
	assert_string_equal(a.sections[0].name, "urlhaus");
	assert_int_equal(a.sections[0].line, 13);
	assert_int_equal(tip_config_kv(&a.sections[0], "interval")->line, 14);

	snprintf(d1, sizeof(d1), "%s/dump1.conf", dir);
	snprintf(d2, sizeof(d2), "%s/dump2.conf", dir);
	assert_non_null(f = fopen(d1, "w"));
	tip_config_dump(&a, f);
	fclose(f);
	assert_int_equal(tip_config_load(&b, d1, &err), 0);
	assert_non_null(f = fopen(d2, "w"));
	tip_config_dump(&b, f);
	fclose(f);
	t1 = slurp(d1);
	t2 = slurp(d2);
	assert_string_equal(strchr(t1, '\n'), strchr(t2, '\n'));
	assert_string_equal(b.store.url, "sqlite:///var/tmp/t.db");
	assert_int_equal(b.daemon.max_children, 7);
	assert_int_equal(b.dns.n_servers, 3);
	assert_string_equal(b.dns.servers[1].host, "::1");
	assert_int_equal(b.flux.min_rounds, 5);
	assert_string_equal(tip_config_kv(tip_config_section(&b, "feed", "urlhaus"), "url")->value,
			    "https://urlhaus.abuse.ch/downloads/text/");
	assert_string_equal(
		tip_config_kv(tip_config_section(&b, "module", "flux-resolve"), "enabled")->value, "yes");
	free(t1);
	free(t2);
	tip_config_free(&a);
	tip_config_free(&b);
}

/* [dns] edns_size: 0 (off) or 512..4096, the bounds themselves included; anything else names
 * file, line and key, and the range. */
static void test_edns_size(void **state)
{
	static const struct {
		const char *v;
		long long want;
	} ok[] = { { "0", 0 }, { "512", 512 }, { "1232", 1232 }, { "4096", 4096 } };
	static const char *const bad[] = { "1", "511", "4097", "65535", "-1", "1232B", " ", "off" };
	char text[128], want[128];
	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct tip_config cfg;
		struct tip_error err = { 0 };
		snprintf(text, sizeof(text), "[dns]\nedns_size = %s\n", ok[i].v);
		write_file(path, text);
		if (tip_config_load(&cfg, path, &err) != 0)
			fail_msg("edns_size = %s refused: %s", ok[i].v, err.msg);
		assert_int_equal(cfg.dns.edns_size, ok[i].want);
		tip_config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[dns]\nretries = 1\nedns_size = %s\n", bad[i]);
		/* inih strips the value: " " is the empty string */
		snprintf(want, sizeof(want),
			 "3: [dns] edns_size: '%s' is not 0 (off) or a whole number from 512 to 4096",
			 strcmp(bad[i], " ") ? bad[i] : "");
		load_fails(text, want);
	}
	/* a key without the exception keeps its plain range message */
	load_fails("[dns]\nrcvbuf = -1\n", "2: [dns] rcvbuf: '-1' is not a whole number from 0 to");
}

/* A 3,000-character URL in a [feed X] section, and the key after it still on its own line. */
static void test_long_line(void **state)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	static char text[8000], url[3001];
	const struct tip_config_section *s;
	(void)state;
	memcpy(url, "https://feeds.example.com/", 26);
	memset(url + 26, 'q', 3000 - 26);
	url[3000] = '\0';
	snprintf(text, sizeof(text), "[feed long]\nurl = %s\nformat = lines\nbogus_after = 1\n", url);
	write_file(path, text);
	assert_int_equal(tip_config_load(&cfg, path, &err), 0);
	s = tip_config_section(&cfg, "feed", "long");
	assert_non_null(s);
	assert_int_equal(strlen(tip_config_kv(s, "url")->value), 3000);
	assert_string_equal(tip_config_kv(s, "url")->value, url);
	assert_int_equal(tip_config_kv(s, "url")->line, 2);
	assert_int_equal(tip_config_kv(s, "format")->line, 3);
	assert_int_equal(tip_config_kv(s, "bogus_after")->line, 4);
	tip_config_free(&cfg);
	/* and an error after the long line names the right line */
	snprintf(text, sizeof(text), "[feed long]\nurl = %s\n[dns]\nretries = many\n", url);
	load_fails(text, "4: [dns] retries:");
}

static const struct tip_cfg_key feed_keys[] = {
	{ "url", TIP_CFG_STR, NULL, 0, 0, "where" },
	{ "interval", TIP_CFG_DURATION, "1h", 60, 86400, "how often" },
	{ "max_items", TIP_CFG_INT, "1000", 1, 1000000, "at most" },
	{ "enabled", TIP_CFG_BOOL, "yes", 0, 0, "on" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static void check_section(const char *text, const char *want_prefix)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	char want[600];
	write_file(path, text);
	assert_int_equal(tip_config_load(&cfg, path, &err), 0);
	const struct tip_config_section *s = tip_config_section(&cfg, "feed", "f");
	assert_non_null(s);
	int rc = tip_config_section_check(&cfg, s, feed_keys, &err);
	if (!want_prefix) {
		if (rc)
			fail_msg("refused: %s", err.msg);
	} else {
		assert_int_equal(rc, TIP_EINVAL);
		snprintf(want, sizeof(want), "%s:%s", path, want_prefix);
		if (strncmp(err.msg, want, strlen(want)) != 0)
			fail_msg("error is '%s', wanted '%s…'", err.msg, want);
	}
	tip_config_free(&cfg);
}

static void test_section_check(void **state)
{
	struct tip_config cfg;
	struct tip_error err = { 0 };
	const struct tip_config_section *s;
	(void)state;
	check_section("[feed f]\nurl = http://x/\ninterval = 15m\nmax_items = 10\nenabled = no\n", NULL);
	check_section("[feed f]\nurl = http://x/\nurll = 1\n", "3: [feed f] urll: unknown key");
	check_section("[feed f]\n\nmax_items = 0\n", "3: [feed f] max_items:");
	check_section("[feed f]\nmax_items = ten\n", "2: [feed f] max_items:");
	check_section("[feed f]\ninterval = 30\n", "2: [feed f] interval:");  /* under 60 s */
	check_section("[feed f]\ninterval = 2d\n", "2: [feed f] interval:");  /* over 86400 s */
	check_section("[feed f]\ninterval = 1.5h\n", "2: [feed f] interval:");
	check_section("[feed f]\nenabled = perhaps\n", "2: [feed f] enabled: 'perhaps' is not yes or no");

	/* values and table defaults */
	write_file(path, "[feed f]\ninterval = 2h\nenabled = off\n");
	assert_int_equal(tip_config_load(&cfg, path, &err), 0);
	s = tip_config_section(&cfg, "feed", "f");
	assert_null(tip_config_section(&cfg, "feed", "g"));
	assert_null(tip_config_section(&cfg, "module", "f"));
	assert_int_equal(tip_config_section_int(s, feed_keys, "interval"), 7200);
	assert_int_equal(tip_config_section_int(s, feed_keys, "max_items"), 1000);
	assert_int_equal(tip_config_section_int(s, feed_keys, "enabled"), 0);
	assert_null(tip_config_section_str(s, feed_keys, "url"));
	assert_string_equal(tip_config_section_str(s, feed_keys, "interval"), "2h");
	assert_null(tip_config_kv(s, "url"));
	assert_null(tip_config_kv(NULL, "url"));
	tip_config_free(&cfg);
}

/* Durations, by hand: 15m = 900 s, 2h = 7200 s, 1d = 86400 s, 500ms = 0.5 s. */
static void test_duration(void **state)
{
	tip_time_t d;
	(void)state;
	static const struct {
		const char *s;
		tip_time_t us;
	} good[] = {
		{ "0", 0 },
		{ "90", 90 * TIP_SEC },
		{ "90s", 90 * TIP_SEC },
		{ "15m", 900 * TIP_SEC },
		{ "2h", 7200 * TIP_SEC },
		{ "1d", 86400 * TIP_SEC },
		{ "500ms", 500 * TIP_MSEC },
	};
	static const char *badv[] = { "", "s", "-5", "+5", " 5", "5 ", "1.5h", "5x", "5mm", "h2",
				      "99999999999999999999", "9223372036854775807d", NULL };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(tip_duration_parse(good[i].s, &d), 0);
		assert_int_equal(d, good[i].us);
	}
	for (int i = 0; badv[i]; i++)
		if (tip_duration_parse(badv[i], &d) == 0)
			fail_msg("duration '%s' accepted as %lld us", badv[i], (long long)d);
	assert_int_equal(tip_duration_parse(NULL, &d), TIP_EINVAL);
}

/* Parses a heap copy of exactly strlen+1 bytes, so ASan sees any read past the end. */
static int parse_time(const char *s, tip_time_t *t)
{
	char *c = strdup(s);
	int rc = tip_time_parse(c, t);
	free(c);
	return rc;
}

/* RFC 3339 §5.8's examples; epoch seconds from GNU date, e.g.
 * `date -u -d 1985-04-12T23:20:50Z +%s` → 482196050, `date -u -d 1996-12-20T00:39:57Z +%s`
 * → 851042397, `date -u -d 1937-01-01T11:40:27Z +%s` → -1041337173,
 * `date -u -d 2026-11-25T19:56:23Z +%s` → 1795636583. */
static void test_time(void **state)
{
	tip_time_t t;
	char buf[TIP_TIME_BUFLEN];
	(void)state;
	assert_int_equal(parse_time("1985-04-12T23:20:50.52Z", &t), 0);
	assert_int_equal(t, 482196050LL * TIP_SEC + 520000);
	assert_int_equal(parse_time("1996-12-19T16:39:57-08:00", &t), 0);
	assert_int_equal(t, 851042397LL * TIP_SEC);
	assert_int_equal(parse_time("1937-01-01T12:00:27.87+00:20", &t), 0);
	assert_int_equal(t, -1041337173LL * TIP_SEC + 870000);
	assert_int_equal(parse_time("2026-11-25t19:56:23z", &t), 0);
	assert_int_equal(t, 1795636583LL * TIP_SEC);
	assert_int_equal(parse_time("2026-11-25 19:56:23", &t), 0);
	assert_int_equal(t, 1795636583LL * TIP_SEC);
	assert_int_equal(parse_time("2026-11-25", &t), 0);
	assert_int_equal(t, (1795636583LL - (19 * 3600 + 56 * 60 + 23)) * TIP_SEC);
	assert_int_equal(parse_time("2026-11-25T19:56:23.000001Z", &t), 0);
	assert_int_equal(t, 1795636583LL * TIP_SEC + 1);

	/* leap years (Gregorian rule: by 4, not by 100 unless by 400) */
	assert_int_equal(parse_time("2024-02-29", &t), 0);
	assert_int_equal(parse_time("2000-02-29T00:00:00Z", &t), 0);
	assert_int_equal(parse_time("2100-02-29", &t), TIP_EINVAL);
	assert_int_equal(parse_time("2026-04-31", &t), TIP_EINVAL);

	/* format, and the round trip format → parse → same value (whole seconds: the format has
	 * none) */
	assert_string_equal(tip_time_format(1795636583LL * TIP_SEC, buf, sizeof(buf)),
			    "2026-11-25T19:56:23Z");
	assert_string_equal(tip_time_format(0, buf, sizeof(buf)), "1970-01-01T00:00:00Z");
	assert_string_equal(tip_time_format(-1, buf, sizeof(buf)), "1969-12-31T23:59:59Z");
	assert_string_equal(tip_time_format(-1041337173LL * TIP_SEC, buf, sizeof(buf)),
			    "1937-01-01T11:40:27Z");
	{
		const tip_time_t samples[] = { 0, 482196050LL * TIP_SEC, 851042397LL * TIP_SEC,
					       -1041337173LL * TIP_SEC, 1795636583LL * TIP_SEC,
					       4102444800LL * TIP_SEC /* 2100-01-01 */ };
		for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
			assert_int_equal(parse_time(tip_time_format(samples[i], buf, sizeof(buf)), &t),
					 0);
			assert_int_equal(t, samples[i]);
		}
	}

	/* refused */
	static const char *badv[] = {
		"", "yesterday", "2026-11-25T", "2026-11-25T19:56", "2026-11-25T19:56:23.Z",
		"2026-11-25T19:56:23+01", "2026-11-25T19:56:23+5:30", "2026-11-25T19:56:23+05:3",
		"2026-11-25T19:56:23+24:00", "2026-11-25T19:56:23Zjunk", "2026-11-25T19:56:23 Z",
		"2026-13-01", "2026-02-30", "2026-11-25T25:00:00Z", "2026-11-25T19:60:00Z",
		"2026-11-25T19:56:23+05:30junk", NULL
	};
	for (int i = 0; badv[i]; i++)
		if (parse_time(badv[i], &t) == 0)
			fail_msg("time '%s' accepted as %lld", badv[i], (long long)t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),       cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_defaults),     cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_long_line),    cmocka_unit_test(test_section_check),
		cmocka_unit_test(test_duration),     cmocka_unit_test(test_time),
		cmocka_unit_test(test_edns_size),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
