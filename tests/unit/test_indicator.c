/*
 * test_indicator.c — the indicator model against hostile input.
 *
 * Every expected value comes from a source outside indicator.c, named next to its group:
 * the RFCs' own examples and rules, idn2(1) (libidn2 2.3.3, `idn2 --tr46nt`, run once by hand
 * on 2026-11-25 and quoted here), Python 3's ipaddress module (output quoted), and the public
 * suffix list as shipped by Debian (/usr/share/publicsuffix/public_suffix_list.dat, rules
 * quoted with their line). No expected value was produced by running the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>

#include "core/core.h"

/* a string literal and its length, for the parser's explicit-length interface */
#define S(lit) lit, (sizeof(lit) - 1)

/* Parses exactly `len` bytes and asserts success with the given canonical value and type. */
static void ok_n(const char *in, size_t len, enum tip_ind_type want, enum tip_ind_type type,
		 const char *value)
{
	struct tip_indicator ind;
	struct tip_error err = { 0 };
	int rc = tip_indicator_parse(in, len, want, &ind, &err);
	if (rc != 0)
		fail_msg("'%.*s' refused: %s", (int)len, in, err.msg);
	assert_int_equal(ind.type, type);
	assert_string_equal(ind.value, value);
}

static void ok(const char *in, enum tip_ind_type want, enum tip_ind_type type, const char *value)
{
	ok_n(in, strlen(in), want, type, value);
}

/* Asserts refusal with TIP_EINVAL and a message that holds `needle` (if not NULL). */
static void bad_n(const char *in, size_t len, enum tip_ind_type want, const char *needle)
{
	struct tip_indicator ind;
	struct tip_error err = { 0 };
	int rc = tip_indicator_parse(in, len, want, &ind, &err);
	if (rc == 0)
		fail_msg("'%.*s' accepted as %s '%s'", (int)len, in, tip_ind_type_name(ind.type),
			 ind.value);
	assert_int_equal(rc, TIP_EINVAL);
	assert_true(err.msg[0] != '\0');
	if (needle && !strstr(err.msg, needle))
		fail_msg("error for '%.*s' is '%s', expected it to mention '%s'", (int)len, in,
			 err.msg, needle);
}

static void bad(const char *in, enum tip_ind_type want, const char *needle)
{
	bad_n(in, strlen(in), want, needle);
}

/* A name of exactly `total` characters: 63-character labels of 'a', one shorter label, then
 * ".com" (works for totals whose remainder is not 1, as 253 and 254 are). */
static void make_name(char *buf, size_t total)
{
	size_t o = 0, r;
	while (o + 64 + 3 <= total) {
		memset(buf + o, 'a', 63);
		buf[o + 63] = '.';
		o += 64;
	}
	r = total - o - 3;
	assert_true(r == 0 || r >= 2);
	if (r) {
		memset(buf + o, 'b', r - 1);
		buf[o + r - 1] = '.';
		o += r;
	}
	memcpy(buf + o, "com", 4);
	o += 3;
	assert_int_equal(o, total);
	assert_int_equal(strlen(buf), total);
}

/* ---- domains: RFC 1035 §2.3.4 (label ≤ 63 octets, name ≤ 255 octets on the wire, i.e. 253
 * characters in presentation form without the root's dot) */
static void test_domain_lengths(void **state)
{
	char l63[64], l64[65], buf[400];
	(void)state;
	memset(l63, 'a', 63);
	l63[63] = '\0';
	memset(l64, 'a', 64);
	l64[64] = '\0';

	snprintf(buf, sizeof(buf), "%s.com", l63);
	ok(buf, TIP_IND_DOMAIN, TIP_IND_DOMAIN, buf);
	snprintf(buf, sizeof(buf), "%s.com", l64);
	bad(buf, TIP_IND_DOMAIN, "63");
	snprintf(buf, sizeof(buf), "x.%s.com", l64);
	bad(buf, TIP_IND_ANY, "63");

	make_name(buf, 253);
	ok(buf, TIP_IND_DOMAIN, TIP_IND_DOMAIN, buf);
	{ /* 253 characters and the root's dot is still 253 */
		char dot[400], expect[400];
		make_name(expect, 253);
		snprintf(dot, sizeof(dot), "%s.", expect);
		assert_int_equal(strlen(dot), 254);
		ok(dot, TIP_IND_DOMAIN, TIP_IND_DOMAIN, expect);
	}
	make_name(buf, 254);
	bad(buf, TIP_IND_DOMAIN, "253");
	{
		char dot[400];
		make_name(buf, 254);
		snprintf(dot, sizeof(dot), "%s.", buf);
		bad(dot, TIP_IND_DOMAIN, "253");
	}
	/* far over any limit, and over the input buffer */
	{
		static char huge[10000];
		memset(huge, 'a', sizeof(huge) - 1);
		bad(huge, TIP_IND_DOMAIN, NULL);
		bad(huge, TIP_IND_ANY, NULL);
	}
}

/* ---- case, trailing dot, label syntax (RFC 1035 §2.3.1 LDH, RFC 4343 case-insensitivity) */
static void test_domain_syntax(void **state)
{
	(void)state;
	ok("Example.COM.", TIP_IND_ANY, TIP_IND_DOMAIN, "example.com");
	ok("WWW.EXAMPLE.ORG", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "www.example.org");
	ok("_dmarc.example.com", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "_dmarc.example.com");
	bad("bad..domain", TIP_IND_ANY, "empty label");
	bad(".example.com", TIP_IND_DOMAIN, "empty label");
	bad("example.com..", TIP_IND_DOMAIN, "empty label");
	bad(".", TIP_IND_DOMAIN, NULL);
	bad("", TIP_IND_DOMAIN, "empty");
	bad("-example.com", TIP_IND_DOMAIN, "hyphen");
	bad("example-.com", TIP_IND_DOMAIN, "hyphen");
	bad("exa mple.com", TIP_IND_DOMAIN, "invalid character");
	bad("exa\tmple.com", TIP_IND_DOMAIN, "invalid character");
	bad("exa*mple.com", TIP_IND_DOMAIN, "invalid character");
	/* single labels: not something a feed lists as a domain */
	bad("localhost", TIP_IND_DOMAIN, "single label");
	bad("com.", TIP_IND_DOMAIN, "single label");
	/* all-numeric TLDs do not exist (RFC 3696 §2: a TLD is not all-numeric) */
	bad("example.123", TIP_IND_DOMAIN, "all digits");
	bad("1.2.3.4.5", TIP_IND_DOMAIN, "all digits");
	bad("example.c_m", TIP_IND_DOMAIN, "underscore");
	/* guessing: five numeric parts is not an IPv4 address */
	bad("1.2.3.4.5", TIP_IND_ANY, "more than 4 parts");
}

/* ---- embedded NUL: the length is given, the NUL is seen and refused */
static void test_embedded_nul(void **state)
{
	(void)state;
	bad_n("example.com\0.evil.net", 21, TIP_IND_DOMAIN, "NUL");
	bad_n("example.com\0.evil.net", 21, TIP_IND_ANY, "NUL");
	bad_n("http://a.com\0/", 14, TIP_IND_URL, "NUL");
	bad_n("1.2.3.4\0", 8, TIP_IND_IPV4, "NUL");
	bad_n("a@b.com\0", 8, TIP_IND_EMAIL, "NUL");
	bad_n("\0", 1, TIP_IND_ANY, "NUL");
	/* the same bytes without the NUL are fine: the refusal is about the NUL */
	ok_n("example.com\0.evil.net", 11, TIP_IND_DOMAIN, TIP_IND_DOMAIN, "example.com");
	{
		char nul[1] = { 'x' };
		char q[40];
		struct tip_error err = { 0 };
		bool idn;
		assert_int_equal(tip_domain_normalize("a\0b.com", 7, q, sizeof(q), &idn, &err),
				 TIP_EINVAL);
		assert_non_null(strstr(err.msg, "NUL"));
		(void)nul;
	}
}

/* ---- invalid UTF-8 (RFC 3629 §3: overlong forms, lone continuation bytes and encoded
 * surrogates U+D800..U+DFFF are invalid). idn2(1) refuses each:
 *   printf '\xc0\xae.com' | idn2 --tr46nt   → "toAscii: could not convert string to UTF-8"
 *   printf '\x80.com'     | idn2 --tr46nt   → same
 *   printf '\xed\xa0\x80.com' | idn2 --tr46nt → same */
static void test_invalid_utf8(void **state)
{
	(void)state;
	bad("\xc0\xae.com", TIP_IND_DOMAIN, NULL);          /* overlong '.' */
	bad("ex\xc1\xa1mple.com", TIP_IND_DOMAIN, NULL);    /* overlong 'a' */
	bad("\xe0\x80\xaf.com", TIP_IND_DOMAIN, NULL);      /* 3-byte overlong '/' */
	bad("\x80.com", TIP_IND_DOMAIN, NULL);              /* lone continuation */
	bad("ab\xbf\xbf.com", TIP_IND_DOMAIN, NULL);
	bad("\xed\xa0\x80.com", TIP_IND_DOMAIN, NULL);      /* U+D800 */
	bad("x\xed\xbf\xbf.com", TIP_IND_DOMAIN, NULL);     /* U+DFFF */
	bad("\xc3.com", TIP_IND_DOMAIN, NULL);              /* truncated sequence */
	bad("\xf4\x90\x80\x80.com", TIP_IND_DOMAIN, NULL);  /* over U+10FFFF */
	bad("\xff\xfe.com", TIP_IND_ANY, NULL);
	bad("http://\xc0\xae.com/", TIP_IND_URL, NULL);
	bad("a@\xed\xa0\x80.com", TIP_IND_EMAIL, NULL);
}

/* ---- IDN: A-labels from idn2(1) 2.3.3 with TR46 non-transitional processing:
 *   idn2 --tr46nt 'pаypal.com'     → xn--pypal-4ve.com   (Cyrillic а U+0430; mixed script)
 *   idn2 --tr46nt 'Bücher.example' → xn--bcher-kva.example
 *   idn2 --tr46nt 'BÜCHER.EXAMPLE' → xn--bcher-kva.example
 *   idn2 --tr46nt 'faß.de'         → xn--fa-hia.de        (non-transitional: ß kept)
 *   idn2 --tr46nt '例え.jp'         → xn--r8jz45g.jp
 *   idn2 --tr46nt 'www.рф'         → www.xn--p1ai
 *   idn2 -d xn--pypal-4ve.com      → pаypal.com (round trip)
 *   idn2 -d xn--a.com              → "decode: string contains invalid punycode data"
 *   idn2 -d xn--.com               → ".com" (an empty U-label: not a name) */
static void test_idn(void **state)
{
	struct tip_indicator ind;
	struct tip_error err = { 0 };
	(void)state;
	/* the homograph phishing domain must be accepted and tracked by its A-label */
	assert_int_equal(tip_indicator_parse(S("p\xd0\xb0ypal.com"), TIP_IND_ANY, &ind, &err), 0);
	assert_int_equal(ind.type, TIP_IND_DOMAIN);
	assert_string_equal(ind.value, "xn--pypal-4ve.com");
	assert_true(ind.idn);
	assert_string_equal(ind.registrable, "xn--pypal-4ve.com");
	ok("B\xc3\xbc" "cher.example", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "xn--bcher-kva.example");
	ok("B\xc3\x9c" "CHER.EXAMPLE", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "xn--bcher-kva.example");
	ok("fa\xc3\x9f.de", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "xn--fa-hia.de");
	ok("\xe4\xbe\x8b\xe3\x81\x88.jp", TIP_IND_ANY, TIP_IND_DOMAIN, "xn--r8jz45g.jp");
	ok("www.\xd1\x80\xd1\x84.", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "www.xn--p1ai");
	bad("b\xc3\xbc" "cher..example", TIP_IND_DOMAIN, "empty label");

	/* punycode given directly: valid labels round-trip, case folded (RFC 5890 §2.3.2.1: the
	 * "xn--" prefix is case-insensitive) */
	assert_int_equal(tip_indicator_parse(S("xn--pypal-4ve.com"), TIP_IND_ANY, &ind, &err), 0);
	assert_string_equal(ind.value, "xn--pypal-4ve.com");
	assert_true(ind.idn);
	ok("XN--BCHER-KVA.Example", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "xn--bcher-kva.example");
	ok("www.XN--P1AI", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "www.xn--p1ai");
	/* invalid punycode */
	bad("xn--a.com", TIP_IND_DOMAIN, "punycode");
	bad("xn--.com", TIP_IND_DOMAIN, NULL);
	bad("www.xn--", TIP_IND_DOMAIN, NULL);
	/* upper case in the basic part is only case (RFC 3492 §7 mixed-case annotation; DNS
	 * compares ASCII case-insensitively, RFC 4343): the same name */
	ok("xn--Bcher-kva.example", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "xn--bcher-kva.example");
	/* an ASCII-only "U-label" under xn--: "abc-" has no non-basic code point */
	bad("xn--abc-.com", TIP_IND_DOMAIN, NULL);
	/* an ordinary label that merely contains "xn--" later on is not an A-label */
	ok("abcxn--d.com", TIP_IND_DOMAIN, TIP_IND_DOMAIN, "abcxn--d.com");
}

/* ---- registrable domain (public suffix + 1), libpsl with Debian's list. Rules quoted from
 * /usr/share/publicsuffix/public_suffix_list.dat: "uk" (6482), "co.uk" (6484), "рф" (7067),
 * "github.io" (12196), "*.ck" (752), "!www.ck" (753). */
static void test_registrable(void **state)
{
	char out[300];
	struct tip_indicator ind;
	(void)state;
	assert_int_equal(tip_registrable_domain("www.example.co.uk", out, sizeof(out)), 0);
	assert_string_equal(out, "example.co.uk");
	assert_int_equal(tip_registrable_domain("a.b.example.com", out, sizeof(out)), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(tip_registrable_domain("user.github.io", out, sizeof(out)), 0);
	assert_string_equal(out, "user.github.io");
	assert_int_equal(tip_registrable_domain("www.ck", out, sizeof(out)), 0);
	assert_string_equal(out, "www.ck");
	/* a public suffix itself has none */
	assert_true(tip_registrable_domain("co.uk", out, sizeof(out)) < 0);
	assert_string_equal(out, "");
	assert_true(tip_registrable_domain("github.io", out, sizeof(out)) < 0);
	assert_string_equal(out, "");
	assert_true(tip_registrable_domain("foo.ck", out, sizeof(out)) < 0);

	assert_int_equal(tip_indicator_parse(S("WWW.Example.CO.UK."), TIP_IND_ANY, &ind, NULL), 0);
	assert_string_equal(ind.value, "www.example.co.uk");
	assert_string_equal(ind.host, "www.example.co.uk");
	assert_string_equal(ind.registrable, "example.co.uk");
	assert_int_equal(tip_indicator_parse(S("co.uk"), TIP_IND_ANY, &ind, NULL), 0);
	assert_string_equal(ind.registrable, "");
	/* an IDN suffix, given as U-label or A-label */
	assert_int_equal(tip_indicator_parse(S("www.\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80."
					     "\xd1\x80\xd1\x84"), TIP_IND_ANY, &ind, NULL), 0);
	/* idn2 --tr46nt 'www.пример.рф' → www.xn--e1afmkfd.xn--p1ai */
	assert_string_equal(ind.value, "www.xn--e1afmkfd.xn--p1ai");
	assert_string_equal(ind.registrable, "xn--e1afmkfd.xn--p1ai");
}

/* ---- IPv4: dotted quad only. Python: ipaddress.ip_address('010.1.1.1') → ValueError
 * ("leading zeros ... not permitted"); five parts or a part over 255 are not addresses. */
static void test_ipv4(void **state)
{
	struct tip_indicator ind;
	(void)state;
	ok("1.2.3.4", TIP_IND_ANY, TIP_IND_IPV4, "1.2.3.4");
	ok("0.0.0.0", TIP_IND_IPV4, TIP_IND_IPV4, "0.0.0.0");
	ok("255.255.255.255", TIP_IND_IPV4, TIP_IND_IPV4, "255.255.255.255");
	assert_int_equal(tip_indicator_parse(S("192.0.2.1"), TIP_IND_ANY, &ind, NULL), 0);
	assert_int_equal(ind.family, 4);
	assert_int_equal(ind.prefix, 32);
	assert_memory_equal(ind.addr, "\xc0\x00\x02\x01", 4);
	bad("1.2.3.4.5", TIP_IND_IPV4, "more than 4 parts");
	bad("1.2.3", TIP_IND_IPV4, "3 parts");
	bad("010.1.1.1", TIP_IND_ANY, "leading zero");
	bad("1.2.3.04", TIP_IND_IPV4, "leading zero");
	bad("256.1.1.1", TIP_IND_IPV4, "over 255");
	bad("1.2.3.1000", TIP_IND_IPV4, NULL);
	bad("1.2.3.", TIP_IND_IPV4, NULL);
	bad("1..3.4", TIP_IND_IPV4, NULL);
	bad("1.2.3.4 ", TIP_IND_IPV4, NULL);
	bad("0x7f.0.0.1", TIP_IND_IPV4, NULL);
	bad("2130706433", TIP_IND_IPV4, NULL); /* inet_aton's single number: refused */
	bad("-1.2.3.4", TIP_IND_IPV4, NULL);
}

/* ---- IPv6, RFC 5952 §4 (lower case, leading zeros dropped, longest zero run compressed, the
 * first on a tie, never a single 16-bit 0 field). Expected values from Python 3.11:
 *   str(ipaddress.ip_address('2001:DB8:0:0:0:0:0:1'))                 → 2001:db8::1
 *   str(ipaddress.ip_address('2001:0db8:0000:0000:0001:0000:0000:0001')) → 2001:db8::1:0:0:1
 *   str(ipaddress.ip_address('2001:db8:aaaa:bbbb:cccc:dddd:eeee:1'))  → unchanged (RFC 5952 §4.2.2)
 *   str(ipaddress.ip_address('fe80:0:0:0:0:0:0:1'))                   → fe80::1
 *   str(ipaddress.ip_address('0:0:0:0:0:0:0:0'))                      → ::
 *   str(ipaddress.ip_address('::1:2'))                                → ::1:2
 *   str(ipaddress.ip_address('::102:304'))                            → ::102:304
 *   ipaddress.ip_address('::ffff:1.2.3.4').ipv4_mapped                → 1.2.3.4 */
static void test_ipv6(void **state)
{
	struct tip_indicator ind;
	(void)state;
	ok("2001:DB8:0:0:0:0:0:1", TIP_IND_ANY, TIP_IND_IPV6, "2001:db8::1");
	ok("2001:0db8:0000:0000:0001:0000:0000:0001", TIP_IND_IPV6, TIP_IND_IPV6,
	   "2001:db8::1:0:0:1");
	ok("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", TIP_IND_IPV6, TIP_IND_IPV6,
	   "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1");
	ok("fe80:0:0:0:0:0:0:1", TIP_IND_IPV6, TIP_IND_IPV6, "fe80::1");
	ok("0:0:0:0:0:0:0:0", TIP_IND_IPV6, TIP_IND_IPV6, "::");
	ok("::1", TIP_IND_ANY, TIP_IND_IPV6, "::1");
	/* the deprecated IPv4-compatible range is written in hex like any other address */
	ok("::1:2", TIP_IND_ANY, TIP_IND_IPV6, "::1:2");
	ok("::102:304", TIP_IND_ANY, TIP_IND_IPV6, "::102:304");
	ok("::1.2.3.4", TIP_IND_ANY, TIP_IND_IPV6, "::102:304");
	/* IPv4-mapped becomes the IPv4 address */
	ok("::ffff:1.2.3.4", TIP_IND_ANY, TIP_IND_IPV4, "1.2.3.4");
	ok("::FFFF:102:304", TIP_IND_IPV6, TIP_IND_IPV4, "1.2.3.4");
	assert_int_equal(tip_indicator_parse(S("::ffff:1.2.3.4"), TIP_IND_ANY, &ind, NULL), 0);
	assert_int_equal(ind.family, 4);
	assert_int_equal(ind.prefix, 32);
	assert_memory_equal(ind.addr, "\x01\x02\x03\x04", 4);
	/* zone identifiers (RFC 4007 §11) are local to a host: refused */
	bad("fe80::1%eth0", TIP_IND_ANY, "zone");
	bad("fe80::1%25eth0", TIP_IND_IPV6, "zone");
	bad("2001:db8::1::2", TIP_IND_IPV6, NULL);
	bad("2001:db8:0:0:0:0:0:0:1", TIP_IND_IPV6, NULL);
	bad("12345::1", TIP_IND_IPV6, NULL);
	bad("::ffff:010.1.1.1", TIP_IND_IPV6, NULL);
	bad("[::1]", TIP_IND_IPV6, NULL);
	{
		char longv6[200];
		memset(longv6, '0', sizeof(longv6) - 1);
		longv6[0] = ':';
		longv6[1] = ':';
		longv6[199] = '\0';
		bad(longv6, TIP_IND_IPV6, NULL);
	}
}

/* ---- CIDR: the canonical network address. Python 3.11:
 *   ipaddress.ip_network('10.0.0.1/8', strict=False)          → 10.0.0.0/8
 *   ipaddress.ip_network('192.168.1.77/24', strict=False)     → 192.168.1.0/24
 *   ipaddress.ip_network('2001:db8::1/32', strict=False)      → 2001:db8::/32
 *   ipaddress.ip_network('2001:db8:1234:5678::/48', strict=False) → 2001:db8:1234::/48
 *   ipaddress.ip_network('10.0.0.1/33')                       → ValueError
 * (Python accepts "/08"; TIP refuses leading zeros in the prefix as it does in octets.) */
static void test_cidr(void **state)
{
	struct tip_indicator ind;
	(void)state;
	ok("10.0.0.1/8", TIP_IND_ANY, TIP_IND_CIDR, "10.0.0.0/8");
	ok("192.168.1.77/24", TIP_IND_CIDR, TIP_IND_CIDR, "192.168.1.0/24");
	ok("1.2.3.4/32", TIP_IND_CIDR, TIP_IND_CIDR, "1.2.3.4/32");
	ok("1.2.3.4/0", TIP_IND_CIDR, TIP_IND_CIDR, "0.0.0.0/0");
	ok("2001:db8::1/32", TIP_IND_ANY, TIP_IND_CIDR, "2001:db8::/32");
	ok("2001:DB8:1234:5678::/48", TIP_IND_CIDR, TIP_IND_CIDR, "2001:db8:1234::/48");
	ok("::/0", TIP_IND_CIDR, TIP_IND_CIDR, "::/0");
	/* TIP's rule (core.h): an IPv4-mapped network is the IPv4 network, prefix minus 96 by hand
	 * (Python keeps it as ::ffff:102:300/120) */
	ok("::ffff:1.2.3.77/120", TIP_IND_CIDR, TIP_IND_CIDR, "1.2.3.0/24");
	assert_int_equal(tip_indicator_parse(S("10.0.0.1/8"), TIP_IND_ANY, &ind, NULL), 0);
	assert_int_equal(ind.family, 4);
	assert_int_equal(ind.prefix, 8);
	assert_memory_equal(ind.addr, "\x0a\x00\x00\x00", 4);
	bad("10.0.0.0/33", TIP_IND_ANY, "over 32");
	bad("10.0.0.0/-1", TIP_IND_CIDR, "prefix");
	bad("10.0.0.0/08", TIP_IND_CIDR, "prefix");
	bad("10.0.0.0/", TIP_IND_CIDR, "prefix");
	bad("10.0.0.0", TIP_IND_CIDR, "no /prefix");
	bad("10.0.0.0/8/8", TIP_IND_CIDR, NULL);
	bad("10.0.0.0/ 8", TIP_IND_CIDR, NULL);
	bad("10.0.0.0/1000", TIP_IND_CIDR, NULL);
	bad("2001:db8::/129", TIP_IND_CIDR, "over 128");
	bad("::ffff:1.2.3.0/64", TIP_IND_CIDR, "96");
	bad("010.0.0.0/8", TIP_IND_CIDR, "leading zero");
	bad("fe80::%eth0/64", TIP_IND_CIDR, "zone");
}

/* ---- tip_cidr_contains: hand-calculated from the bit patterns; Python agrees:
 * ipaddress.ip_address('1.2.3.4') in ipaddress.ip_network('1.2.0.0/16') → True */
static void test_cidr_contains(void **state)
{
	const uint8_t n16[16] = { 1, 2, 0, 0 }, a[16] = { 1, 2, 3, 4 }, b[16] = { 1, 3, 3, 4 };
	const uint8_t n12[16] = { 10, 16, 0, 0 }, in12[16] = { 10, 31, 255, 255 },
		      out12[16] = { 10, 32, 0, 0 };
	const uint8_t v6net[16] = { 0x20, 0x01, 0x0d, 0xb8 },
		      v6in[16] = { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 },
		      v6out[16] = { 0x20, 0x01, 0x0d, 0xb9, [15] = 1 };
	(void)state;
	assert_true(tip_cidr_contains(4, n16, 16, 4, a));
	assert_false(tip_cidr_contains(4, n16, 16, 4, b));
	assert_true(tip_cidr_contains(4, n16, 0, 4, b)); /* /0 holds everything of its family */
	assert_true(tip_cidr_contains(4, a, 32, 4, a));
	assert_false(tip_cidr_contains(4, a, 32, 4, n16));
	/* 10.16.0.0/12 spans 10.16.0.0 – 10.31.255.255 */
	assert_true(tip_cidr_contains(4, n12, 12, 4, in12));
	assert_false(tip_cidr_contains(4, n12, 12, 4, out12));
	assert_true(tip_cidr_contains(6, v6net, 32, 6, v6in));
	assert_false(tip_cidr_contains(6, v6net, 32, 6, v6out));
	assert_true(tip_cidr_contains(6, v6in, 128, 6, v6in));
	/* families never mix: 1.2.0.0/16 does not hold an IPv6 address with the same bytes */
	assert_false(tip_cidr_contains(4, n16, 16, 6, a));
	assert_false(tip_cidr_contains(6, v6net, 0, 4, a));
}

/* ---- URLs, RFC 3986 §6.2.2.1 (scheme and host are case-insensitive: normalised to lower
 * case) and §6.2.3 (the scheme's default port is dropped); the fragment is the client's and
 * is dropped. Defanging conventions ("hxxp", "[.]") are refanged. */
static void test_url(void **state)
{
	struct tip_indicator ind;
	(void)state;
	ok("HTTP://Example.COM/Path?Q=1#frag", TIP_IND_ANY, TIP_IND_URL,
	   "http://example.com/Path?Q=1");
	ok("https://example.com:443/", TIP_IND_URL, TIP_IND_URL, "https://example.com/");
	ok("http://example.com:80", TIP_IND_URL, TIP_IND_URL, "http://example.com/");
	ok("http://example.com:8080/x", TIP_IND_URL, TIP_IND_URL, "http://example.com:8080/x");
	ok("https://example.com:80/", TIP_IND_URL, TIP_IND_URL, "https://example.com:80/");
	/* the root's dot and a zero-padded default port (RFC 3986 §3.2.3: port is *DIGIT) */
	ok("http://Example.COM./a", TIP_IND_URL, TIP_IND_URL, "http://example.com/a");
	ok("http://example.com:0080/", TIP_IND_URL, TIP_IND_URL, "http://example.com/");
	/* bytes over 0x7f are percent-encoded (RFC 3986 §2.1, upper-case hex): U+00FC is C3 BC in
	 * UTF-8 (RFC 3629 table), and a lone Latin-1 0xFC byte is %FC; an existing %C3%BC stays */
	ok("http://example.com/\xc3\xbc?q=\xc3\xbc", TIP_IND_URL, TIP_IND_URL,
	   "http://example.com/%C3%BC?q=%C3%BC");
	ok("http://example.com/%C3%BC", TIP_IND_URL, TIP_IND_URL, "http://example.com/%C3%BC");
	ok("http://example.com/\xfc", TIP_IND_URL, TIP_IND_URL, "http://example.com/%FC");
	bad("http://example.com:65536/", TIP_IND_URL, NULL);
	/* an empty query keeps its '?' (RFC 3986 §6.2.3: delimiters of empty components stay) */
	ok("http://example.com/?", TIP_IND_URL, TIP_IND_URL, "http://example.com/?");
	ok("ftp://files.example.org:21/pub", TIP_IND_URL, TIP_IND_URL, "ftp://files.example.org/pub");
	/* IDN host: idn2 --tr46nt 'pаypal.com' → xn--pypal-4ve.com */
	assert_int_equal(tip_indicator_parse(S("http://p\xd0\xb0ypal.com/login"), TIP_IND_ANY,
					     &ind, NULL), 0);
	assert_int_equal(ind.type, TIP_IND_URL);
	assert_string_equal(ind.value, "http://xn--pypal-4ve.com/login");
	assert_string_equal(ind.host, "xn--pypal-4ve.com");
	assert_string_equal(ind.registrable, "xn--pypal-4ve.com");
	assert_true(ind.idn);
	/* hosts that are addresses; IPv6 in brackets (RFC 3986 §3.2.2), RFC 5952 form inside */
	assert_int_equal(tip_indicator_parse(S("http://[2001:DB8:0:0::1]:8080/a"), TIP_IND_ANY,
					     &ind, NULL), 0);
	assert_string_equal(ind.value, "http://[2001:db8::1]:8080/a");
	assert_string_equal(ind.host, "[2001:db8::1]");
	assert_int_equal(ind.family, 6);
	ok("http://192.0.2.1/x", TIP_IND_ANY, TIP_IND_URL, "http://192.0.2.1/x");
	/* numeric hosts in a URL are read as browsers read them (WHATWG URL Standard, "IPv4
	 * parser": 0x is hex, a leading 0 octal, the last part fills the remaining bytes), which
	 * libcurl follows: by hand, 010 = 8; 0x7f.1 = 127.0.0.1; 2130706433 = 0x7f000001. The
	 * URL is kept as the address a victim's browser would reach. */
	ok("http://010.0.2.1/x", TIP_IND_URL, TIP_IND_URL, "http://8.0.2.1/x");
	ok("http://0x7f.1/", TIP_IND_URL, TIP_IND_URL, "http://127.0.0.1/");
	ok("http://2130706433/", TIP_IND_URL, TIP_IND_URL, "http://127.0.0.1/");
	ok("http://[::ffff:1.2.3.4]/", TIP_IND_URL, TIP_IND_URL, "http://1.2.3.4/");
	bad("http://[fe80::1%25eth0]/", TIP_IND_URL, "zone");
	bad("http://[fe80::1%eth0]/", TIP_IND_URL, NULL);
	/* defanged */
	assert_int_equal(tip_indicator_parse(S("hxxp://evil[.]example[.]com/a"), TIP_IND_ANY,
					     &ind, NULL), 0);
	assert_int_equal(ind.type, TIP_IND_URL);
	assert_string_equal(ind.value, "http://evil.example.com/a");
	assert_true(ind.defanged);
	ok("hXXps://evil(.)com/", TIP_IND_ANY, TIP_IND_URL, "https://evil.com/");
	ok("https[:]//evil.com/", TIP_IND_URL, TIP_IND_URL, "https://evil.com/");
	assert_int_equal(tip_indicator_parse(S("http://example.com/"), TIP_IND_ANY, &ind, NULL), 0);
	assert_false(ind.defanged);
	/* bad schemes */
	bad("javascript:alert(1)", TIP_IND_URL, NULL);
	bad("file:///etc/passwd", TIP_IND_URL, NULL);
	bad("gopher://example.com/", TIP_IND_URL, "scheme");
	bad("data:text/html,hi", TIP_IND_URL, NULL);
	/* spaces and control characters */
	bad("http://exa mple.com/", TIP_IND_URL, "space");
	bad("http://example.com/a b", TIP_IND_ANY, "space");
	bad("http://example.com/\r\nX: y", TIP_IND_URL, NULL);
	/* hosts that are not */
	bad("http:///path", TIP_IND_URL, NULL);
	bad("http://bad..host/", TIP_IND_URL, "empty label");
	bad("http://-x.com/", TIP_IND_URL, NULL);
	/* over-long: 2,100 characters of path make a value over TIP_IND_VALUE_MAX (2048);
	 * 5,000 are over the input limit */
	{
		static char longurl[6000];
		strcpy(longurl, "http://example.com/");
		memset(longurl + 19, 'a', 2100);
		longurl[19 + 2100] = '\0';
		bad(longurl, TIP_IND_URL, "longer");
		memset(longurl + 19, 'a', 5000);
		longurl[19 + 5000] = '\0';
		bad(longurl, TIP_IND_URL, "too long");
		/* and a long one that fits */
		longurl[19 + 1500] = '\0';
		ok(longurl, TIP_IND_URL, TIP_IND_URL, longurl);
	}
}

/* ---- e-mail: RFC 5321 §4.5.3.1.1 (local part ≤ 64 octets), RFC 5322 §3.2.3 dot-atom (no
 * leading, trailing or doubled dot). TIP folds the local part to lower case (DESIGN: one
 * spelling per thing; providers treat it case-insensitively). */
static void test_email(void **state)
{
	struct tip_indicator ind;
	char l64[100], l65[100];
	(void)state;
	ok("Alice.Smith@Example.COM", TIP_IND_ANY, TIP_IND_EMAIL, "alice.smith@example.com");
	ok("a+tag@example.com.", TIP_IND_EMAIL, TIP_IND_EMAIL, "a+tag@example.com");
	/* IDN domain: idn2 --tr46nt 'Bücher.example' → xn--bcher-kva.example */
	assert_int_equal(tip_indicator_parse(S("info@B\xc3\xbc" "cher.example"), TIP_IND_ANY, &ind,
					     NULL), 0);
	assert_int_equal(ind.type, TIP_IND_EMAIL);
	assert_string_equal(ind.value, "info@xn--bcher-kva.example");
	assert_string_equal(ind.host, "xn--bcher-kva.example");
	assert_true(ind.idn);
	assert_int_equal(tip_indicator_parse(S("x@mail.example.co.uk"), TIP_IND_ANY, &ind, NULL), 0);
	assert_string_equal(ind.registrable, "example.co.uk");
	memset(l64, 'a', 64);
	strcpy(l64 + 64, "@example.com");
	ok(l64, TIP_IND_EMAIL, TIP_IND_EMAIL, l64);
	memset(l65, 'a', 65);
	strcpy(l65 + 65, "@example.com");
	bad(l65, TIP_IND_EMAIL, "64");
	bad("@example.com", TIP_IND_EMAIL, "local part");
	bad(".a@example.com", TIP_IND_EMAIL, "dot");
	bad("a.@example.com", TIP_IND_EMAIL, "dot");
	bad("a..b@example.com", TIP_IND_EMAIL, "dot");
	bad("a b@example.com", TIP_IND_EMAIL, "invalid character");
	bad("a\"b@example.com", TIP_IND_EMAIL, "invalid character");
	bad("a@b@example.com", TIP_IND_EMAIL, "invalid character");
	bad("\xc3\xa4@example.com", TIP_IND_EMAIL, "invalid character");
	bad("noatsign.example.com", TIP_IND_EMAIL, "no '@'");
	bad("a@", TIP_IND_EMAIL, "empty");
	bad("a@localhost", TIP_IND_EMAIL, "single label");
	bad("a@bad..example", TIP_IND_ANY, "empty label");
}

/* The parser takes a length, not a C string: an input that is a slice of a larger buffer
 * (a feed line) must parse exactly as the same text on its own. Each input is parsed from a
 * heap block of exactly its length (no NUL: ASan sees any read past it) and from a buffer
 * where more digits and letters follow it. */
static void test_unterminated(void **state)
{
	static const struct {
		const char *in;
		enum tip_ind_type type;
		const char *value;
	} cases[] = {
		{ "10.0.0.0/8", TIP_IND_CIDR, "10.0.0.0/8" },
		{ "2001:db8::/32", TIP_IND_CIDR, "2001:db8::/32" },
		{ "192.0.2.1", TIP_IND_IPV4, "192.0.2.1" },
		{ "2001:db8::1", TIP_IND_IPV6, "2001:db8::1" },
		{ "Example.COM", TIP_IND_DOMAIN, "example.com" },
		{ "p\xd0\xb0ypal.com", TIP_IND_DOMAIN, "xn--pypal-4ve.com" },
		{ "http://example.com/a", TIP_IND_URL, "http://example.com/a" },
		{ "hxxp://evil[.]com/", TIP_IND_URL, "http://evil.com/" },
		{ "a@example.com", TIP_IND_EMAIL, "a@example.com" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].in);
		char *exact = malloc(len), more[300];
		assert_non_null(exact);
		memcpy(exact, cases[i].in, len);
		ok_n(exact, len, TIP_IND_ANY, cases[i].type, cases[i].value);
		free(exact);
		snprintf(more, sizeof(more), "%s0123abc", cases[i].in);
		ok_n(more, len, TIP_IND_ANY, cases[i].type, cases[i].value);
	}
}

/* Guessing the type: a schemeless URL whose host happens to be all hex letters is a URL,
 * not a CIDR network (only digits and dots, or an IPv6 address with its colons, make one). */
static void test_guess(void **state)
{
	(void)state;
	ok("cafe.de/1", TIP_IND_ANY, TIP_IND_URL, "https://cafe.de/1");
	ok("abc.de/8", TIP_IND_ANY, TIP_IND_URL, "https://abc.de/8");
	ok("192.0.2.0/24", TIP_IND_ANY, TIP_IND_CIDR, "192.0.2.0/24");
	ok("2001:db8::/32", TIP_IND_ANY, TIP_IND_CIDR, "2001:db8::/32");
	ok("example.com/path", TIP_IND_ANY, TIP_IND_URL, "https://example.com/path");
	ok("a@example.com", TIP_IND_ANY, TIP_IND_EMAIL, "a@example.com");
	bad("10.0.0.0/", TIP_IND_ANY, "prefix");
}

static void test_types(void **state)
{
	enum tip_ind_type t;
	(void)state;
	for (int i = 0; i < TIP_IND_TYPE_MAX; i++) {
		assert_int_equal(tip_ind_type_parse(tip_ind_type_name((enum tip_ind_type)i), &t), 0);
		assert_int_equal(t, i);
	}
	assert_int_equal(tip_ind_type_parse("nonsense", &t), TIP_EINVAL);
	assert_string_equal(tip_ind_type_name(TIP_IND_TYPE_MAX), "?");
	bad("", TIP_IND_ANY, "empty");
}

/* tip_addr_format's dotted quad (written by hand) against glibc's inet_ntop, the reference, over
 * every value of each byte position and 100,000 pseudo-random addresses; a buffer too short
 * for the longest form goes the library's way (and fails cleanly). */
static void test_addr_format_v4(void **state)
{
	uint8_t a[16] = { 0 };
	char got[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN], small[8];
	uint32_t x = 2463534242u;
	(void)state;
	for (int n = 0; n < 100000 + 4 * 256; n++) {
		if (n < 4 * 256) {
			memset(a, 0, 4);
			a[n / 256] = (uint8_t)(n % 256);
		} else {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32 */
			memcpy(a, &x, 4);
		}
		assert_non_null(inet_ntop(AF_INET, a, want, sizeof(want)));
		assert_string_equal(tip_addr_format(4, a, got, sizeof(got)), want);
	}
	memset(a, 255, 4);
	tip_addr_format(4, a, small, sizeof(small));
	assert_string_equal(small, "");
}

/* AS numbers (ASN-DROP style lists). Reserved numbers from the RFCs: 0 (RFC 7607), 23456
 * AS_TRANS (RFC 6793), 65535 and 4294967295 (RFC 7300); 32 bits (RFC 6793). */
static void test_asn(void **state)
{
	(void)state;
	ok("AS64500", TIP_IND_ANY, TIP_IND_ASN, "AS64500");
	ok("as13335", TIP_IND_ANY, TIP_IND_ASN, "AS13335");
	ok("13335", TIP_IND_ASN, TIP_IND_ASN, "AS13335");
	ok("AS4294967294", TIP_IND_ANY, TIP_IND_ASN, "AS4294967294");
	ok("AS1", TIP_IND_ANY, TIP_IND_ASN, "AS1");
	bad("AS0", TIP_IND_ANY, "AS number 0");
	bad("AS012", TIP_IND_ANY, "leading zero");
	bad("AS23456", TIP_IND_ANY, "reserved");
	bad("AS65535", TIP_IND_ANY, "reserved");
	bad("AS4294967295", TIP_IND_ANY, "reserved");
	bad("AS4294967296", TIP_IND_ANY, "32 bits");
	bad("AS12345678901", TIP_IND_ANY, "not an AS number");
	bad("AS12a", TIP_IND_ASN, "not an AS number");
	bad("AS", TIP_IND_ASN, "no AS number");
	/* not an ASN when guessing: a name with a dot stays a domain */
	ok("as1.example", TIP_IND_ANY, TIP_IND_DOMAIN, "as1.example");
	/* the guess reads only the given length: a heap buffer of exactly "AS64500", no NUL (the
	 * ASan build catches a read past it) */
	{
		char *b = malloc(7);
		assert_non_null(b);
		memcpy(b, "AS64500", 7);
		ok_n(b, 7, TIP_IND_ANY, TIP_IND_ASN, "AS64500");
		free(b);
	}
}

/* TIP_IND_LATER_REGISTRABLE: the same indicator, the registrable domain left out until asked
 * for, then the same as the eager parse gives (the expected values are the eager parse's, whose
 * PSL rules test_registrable checks); nothing pending where there is no domain host. */
static void test_later_registrable(void **state)
{
	static const char *const in[] = { "www.example.co.uk", "http://a.b.example.com/x",
					  "user@mail.example.org", "http://192.0.2.1/x", "192.0.2.1",
					  "2001:db8::1", "198.51.100.0/24", "user.github.io", "co.uk" };
	(void)state;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct tip_indicator now, later;
		struct tip_error err = { 0 };
		char buf[TIP_DOMAIN_MAX + 1];
		assert_int_equal(tip_indicator_parse(in[i], strlen(in[i]), TIP_IND_ANY, &now, &err), 0);
		assert_int_equal(tip_indicator_parse_flags(in[i], strlen(in[i]), TIP_IND_ANY,
							   TIP_IND_LATER_REGISTRABLE, &later, &err),
				 0);
		assert_string_equal(later.value, now.value);
		assert_string_equal(later.host, now.host);
		assert_false(now.registrable_pending);
		assert_int_equal(later.registrable_pending, now.host[0] && !now.family);
		if (later.registrable_pending)
			assert_string_equal(later.registrable, "");
		assert_string_equal(tip_indicator_registrable(&later, buf, sizeof(buf)),
				    now.registrable);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_domain_lengths), cmocka_unit_test(test_domain_syntax),
		cmocka_unit_test(test_embedded_nul),   cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_idn),            cmocka_unit_test(test_registrable),
		cmocka_unit_test(test_ipv4),           cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_cidr),           cmocka_unit_test(test_cidr_contains),
		cmocka_unit_test(test_url),            cmocka_unit_test(test_email),
		cmocka_unit_test(test_unterminated),   cmocka_unit_test(test_guess),
		cmocka_unit_test(test_types),          cmocka_unit_test(test_later_registrable),
		cmocka_unit_test(test_asn),
		cmocka_unit_test(test_addr_format_v4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
