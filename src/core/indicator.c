/*
 * indicator.c — the indicator model: domains, IPv4, IPv6, CIDR, URLs and e-mail addresses,
 * each checked and brought to one canonical spelling.
 *
 * Everything here treats its input as hostile: lengths are given, not found with strlen, so an
 * embedded NUL is seen and refused; UTF-8 is checked by libidn2; URLs are split by libcurl's URL
 * parser, not by hand; the registrable domain comes from libpsl.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <idn2.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core.h"

#define INPUT_MAX 4096

static const char *type_names[TIP_IND_TYPE_MAX] = {
	[TIP_IND_ANY] = "any",   [TIP_IND_DOMAIN] = "domain", [TIP_IND_IPV4] = "ipv4",
	[TIP_IND_IPV6] = "ipv6", [TIP_IND_CIDR] = "cidr",     [TIP_IND_URL] = "url",
	[TIP_IND_EMAIL] = "email", [TIP_IND_ASN] = "asn",
};

const char *tip_ind_type_name(enum tip_ind_type t)
{
	return (t >= 0 && t < TIP_IND_TYPE_MAX) ? type_names[t] : "?";
}

int tip_ind_type_parse(const char *s, enum tip_ind_type *out)
{
	for (int i = 0; i < TIP_IND_TYPE_MAX; i++)
		if (strcmp(s, type_names[i]) == 0) {
			*out = (enum tip_ind_type)i;
			return 0;
		}
	if (strcmp(s, "ip") == 0) { /* "ip" as a filter means either family; callers widen it */
		*out = TIP_IND_IPV4;
		return 0;
	}
	return TIP_EINVAL;
}

/* Shows at most 40 bytes of hostile text safely inside an error message. */
static const char *quote(const char *s, size_t len, char *buf, size_t buflen)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 5 < buflen; i++) {
		unsigned char c = (unsigned char)s[i];
		if (i == 40) {
			o += (size_t)snprintf(buf + o, buflen - o, "...");
			break;
		}
		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = (char)c;
		else
			o += (size_t)snprintf(buf + o, buflen - o, "\\x%02x", c);
	}
	buf[o] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------------------------- */
/* Domains */

static bool is_ldh_(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Checks an all-ASCII, lower-case name label by label. */
static int check_ascii_name(const char *name, struct tip_error *err)
{
	size_t len = strlen(name), labels = 0;
	const char *p = name, *last = name;
	char q[200];

	if (len == 0)
		return tip_error_set(err, TIP_EINVAL, "empty domain name");
	if (len > TIP_DOMAIN_MAX)
		return tip_error_set(err, TIP_EINVAL,
				     "domain name is %zu characters long; at most %d are allowed", len,
				     TIP_DOMAIN_MAX);
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t ll = dot ? (size_t)(dot - p) : strlen(p);
		labels++;
		if (ll == 0)
			return tip_error_set(err, TIP_EINVAL, "empty label in domain name (at offset %zu)",
					     (size_t)(p - name));
		if (ll > 63)
			return tip_error_set(err, TIP_EINVAL,
					     "label %zu ('%s') is %zu characters long; at most 63 are allowed",
					     labels, quote(p, ll, q, sizeof(q)), ll);
		for (size_t i = 0; i < ll; i++)
			if (!is_ldh_((unsigned char)p[i]))
				return tip_error_set(err, TIP_EINVAL,
						     "invalid character '%s' at offset %zu of domain name",
						     quote(p + i, 1, q, sizeof(q)), (size_t)(p - name) + i);
		if (p[0] == '-' || p[ll - 1] == '-')
			return tip_error_set(err, TIP_EINVAL,
					     "label %zu ('%s') starts or ends with a hyphen", labels,
					     quote(p, ll, q, sizeof(q)));
		last = p;
		if (!dot)
			break;
		p = dot + 1;
		if (!*p)
			return tip_error_set(err, TIP_EINVAL, "empty label at the end of domain name");
	}
	if (labels < 2)
		return tip_error_set(err, TIP_EINVAL,
				     "'%s' has a single label; a domain needs at least two",
				     quote(name, len, q, sizeof(q)));
	{
		bool digits = true;
		for (const char *t = last; *t; t++)
			if (!isdigit((unsigned char)*t))
				digits = false;
		if (digits)
			return tip_error_set(err, TIP_EINVAL,
					     "top-level label '%s' is all digits: not a domain name",
					     quote(last, strlen(last), q, sizeof(q)));
		if (strchr(last, '_'))
			return tip_error_set(err, TIP_EINVAL,
					     "top-level label '%s' holds an underscore",
					     quote(last, strlen(last), q, sizeof(q)));
	}
	return 0;
}

/* An xn-- label must decode, and encode back to itself: libidn2 both ways. */
static int check_alabels(const char *name, bool *idn, struct tip_error *err)
{
	const char *p = name;
	char q[200];

	while (p && *p) {
		const char *dot = strchr(p, '.');
		size_t ll = dot ? (size_t)(dot - p) : strlen(p);
		if (ll >= 4 && strncmp(p, "xn--", 4) == 0) {
			char label[64];
			char *u = NULL, *back = NULL;
			int rc;
			memcpy(label, p, ll);
			label[ll] = '\0';
			*idn = true;
			rc = idn2_to_unicode_8z8z(label, &u, 0);
			if (rc == IDN2_OK)
				rc = idn2_to_ascii_8z(u, &back, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
			if (rc != IDN2_OK || strcmp(back, label) != 0) {
				int e = tip_error_set(err, TIP_EINVAL, "invalid punycode label '%s': %s",
						      quote(label, ll, q, sizeof(q)),
						      rc != IDN2_OK ? idn2_strerror(rc)
								    : "does not round-trip");
				idn2_free(u);
				idn2_free(back);
				return e;
			}
			idn2_free(u);
			idn2_free(back);
		}
		p = dot ? dot + 1 : NULL;
	}
	return 0;
}

int tip_domain_normalize(const char *in, size_t len, char *out, size_t outlen, bool *idn,
			 struct tip_error *err)
{
	char buf[INPUT_MAX + 1], q[200];
	bool ascii = true, dummy;
	int rc;

	if (!idn)
		idn = &dummy;
	*idn = false;
	if (len == 0)
		return tip_error_set(err, TIP_EINVAL, "empty domain name");
	if (len > INPUT_MAX)
		return tip_error_set(err, TIP_EINVAL, "domain name of %zu bytes is far too long", len);
	if (memchr(in, '\0', len))
		return tip_error_set(err, TIP_EINVAL, "domain name '%s' holds a NUL byte at offset %zu",
				     quote(in, len, q, sizeof(q)),
				     (size_t)((const char *)memchr(in, '\0', len) - in));
	memcpy(buf, in, len);
	buf[len] = '\0';
	if (len > 1 && buf[len - 1] == '.' && buf[len - 2] != '.')
		buf[--len] = '\0'; /* the root's dot: example.com. is example.com */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c >= 0x80)
			ascii = false;
		else if (c <= 0x20 || c == 0x7f)
			return tip_error_set(err, TIP_EINVAL,
					     "invalid character '%s' at offset %zu of domain name",
					     quote(buf + i, 1, q, sizeof(q)), i);
		else
			buf[i] = (char)tolower(c);
	}
	if (ascii) {
		if ((rc = check_ascii_name(buf, err)) < 0) {
			tip_error_prefix(err, "'%s'", quote(buf, len, q, sizeof(q)));
			return rc;
		}
		if ((rc = check_alabels(buf, idn, err)) < 0)
			return rc;
		if (!tip_strlcpy(out, buf, outlen))
			return tip_error_set(err, TIP_ELIMIT, "domain name does not fit");
		return 0;
	}

	/* Non-ASCII: IDNA2008 with UTS#46 non-transitional processing, as browsers resolve. */
	{
		char *a = NULL;
		/* reject empty labels before IDNA: libidn2 would refuse them with a vaguer message */
		if (strstr(buf, "..") || buf[0] == '.')
			return tip_error_set(err, TIP_EINVAL, "empty label in domain name '%s'",
					     quote(buf, len, q, sizeof(q)));
		rc = idn2_to_ascii_8z(buf, &a, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
		if (rc != IDN2_OK)
			return tip_error_set(err, TIP_EINVAL,
					     "'%s' is not a valid internationalised domain name: %s",
					     quote(buf, len, q, sizeof(q)), idn2_strerror(rc));
		for (char *t = a; *t; t++)
			*t = (char)tolower((unsigned char)*t);
		rc = check_ascii_name(a, err);
		if (rc < 0)
			tip_error_prefix(err, "'%s' (%s)", quote(buf, len, q, sizeof(q)), a);
		if (rc == 0 && !tip_strlcpy(out, a, outlen))
			rc = tip_error_set(err, TIP_ELIMIT, "domain name does not fit");
		idn2_free(a);
		*idn = true;
		return rc;
	}
}

/* libpsl's newest list: the system's (Debian publicsuffix) or the built-in one. Loaded once per
 * process and never changed: an immutable cache, not state. */
static const psl_ctx_t *psl_ctx;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	psl_ctx = psl_latest(NULL);
	if (!psl_ctx)
		psl_ctx = psl_builtin();
}

const char *tip_registrable_suffix(const char *domain)
{
	pthread_once(&psl_once, psl_load);
	/* NULL: a public suffix itself, or unknown */
	return psl_ctx ? psl_registrable_domain(psl_ctx, domain) : NULL;
}

int tip_registrable_domain(const char *domain, char *out, size_t outlen)
{
	const char *r = tip_registrable_suffix(domain);
	out[0] = '\0';
	if (!r)
		return TIP_ENOTFOUND;
	return tip_strlcpy(out, r, outlen) ? 0 : TIP_ELIMIT;
}

/* An indicator's registrable domain from its (domain) host: now, or later when the parse was
 * asked to leave it (registrable_pending still set). */
static void set_registrable(struct tip_indicator *ind)
{
	if (!ind->registrable_pending)
		tip_registrable_domain(ind->host, ind->registrable, sizeof(ind->registrable));
}

/* ---------------------------------------------------------------------------------------- */
/* Addresses */

/* Strict dotted quad: four decimal parts 0..255 without leading zeros (010 is octal to some
 * tools and decimal to others: refused rather than guessed). */
static int parse_ipv4(const char *s, size_t len, uint8_t out[4], struct tip_error *err)
{
	size_t i = 0;
	int part = 0;
	char q[200];

	while (part < 4) {
		unsigned v = 0, digits = 0;
		size_t start = i;
		while (i < len && isdigit((unsigned char)s[i])) {
			v = v * 10 + (unsigned)(s[i] - '0');
			if (++digits > 3)
				break;
			i++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return tip_error_set(err, TIP_EINVAL, "'%s' is not an IPv4 address: part %d is %s",
					     quote(s, len, q, sizeof(q)), part + 1,
					     digits == 0 ? "empty or not a number" : "over 255");
		if (digits > 1 && s[start] == '0')
			return tip_error_set(err, TIP_EINVAL,
					     "'%s' is not an IPv4 address: part %d has a leading zero",
					     quote(s, len, q, sizeof(q)), part + 1);
		out[part++] = (uint8_t)v;
		if (part < 4) {
			if (i >= len || s[i] != '.')
				return tip_error_set(err, TIP_EINVAL,
						     "'%s' is not an IPv4 address: it has %d parts, not 4",
						     quote(s, len, q, sizeof(q)), part);
			i++;
		}
	}
	if (i != len) {
		int parts = 4;
		for (size_t k = i; k < len; k++)
			parts += s[k] == '.';
		return tip_error_set(err, TIP_EINVAL, "'%s' is not an IPv4 address%s",
				     quote(s, len, q, sizeof(q)),
				     s[i] == '.' ? ": it has more than 4 parts" : "");
	}
	return 0;
}

static int parse_ipv6(const char *s, size_t len, uint8_t out[16], struct tip_error *err)
{
	char buf[64], q[200];
	if (len >= sizeof(buf))
		return tip_error_set(err, TIP_EINVAL, "'%s' is too long for an IPv6 address",
				     quote(s, len, q, sizeof(q)));
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (strchr(buf, '%'))
		return tip_error_set(err, TIP_EINVAL, "'%s': IPv6 zone identifiers are not accepted",
				     quote(s, len, q, sizeof(q)));
	if (inet_pton(AF_INET6, buf, out) != 1)
		return tip_error_set(err, TIP_EINVAL, "'%s' is not an IPv6 address",
				     quote(s, len, q, sizeof(q)));
	return 0;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* Parses an address of either family into ind (family, addr); ::ffff:a.b.c.d becomes IPv4. */
static int parse_addr(const char *s, size_t len, struct tip_indicator *ind, struct tip_error *err)
{
	memset(ind->addr, 0, sizeof(ind->addr));
	if (memchr(s, ':', len)) {
		int rc = parse_ipv6(s, len, ind->addr, err);
		if (rc < 0)
			return rc;
		if (memcmp(ind->addr, v4mapped, 12) == 0) {
			memmove(ind->addr, ind->addr + 12, 4);
			memset(ind->addr + 4, 0, 12);
			ind->family = 4;
		} else {
			ind->family = 6;
		}
		return 0;
	}
	ind->family = 4;
	return parse_ipv4(s, len, ind->addr, err);
}

char *tip_addr_format(int family, const uint8_t *addr, char *buf, size_t len)
{
	static const uint8_t zero[12];
	/* the dotted quad by hand: glibc's inet_ntop goes through sprintf, and flux-resolve
	 * formats every address of every answer (test_indicator compares with inet_ntop) */
	if (family == 4 && len >= INET_ADDRSTRLEN) {
		char *p = buf;
		for (int i = 0; i < 4; i++) {
			unsigned v = addr[i];
			if (v >= 100)
				*p++ = (char)('0' + v / 100);
			if (v >= 10)
				*p++ = (char)('0' + v / 10 % 10);
			*p++ = (char)('0' + v % 10);
			*p++ = i < 3 ? '.' : '\0';
		}
		return buf;
	}
	/* glibc writes ::/96 addresses (the deprecated IPv4-compatible form) as "::1.2.3.4", even
	 * ::1:2 as "::0.1.0.2"; RFC 5952 §4 wants hex, mixed notation only for known prefixes
	 * (§5), which ::/96 no longer is (RFC 4291 §2.5.5.1). ::1 and :: are fine as they are. */
	if (family == 6 && memcmp(addr, zero, 12) == 0 && (addr[12] || addr[13])) {
		snprintf(buf, len, "::%x:%x", (unsigned)(addr[12] << 8 | addr[13]),
			 (unsigned)(addr[14] << 8 | addr[15]));
		return buf;
	}
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, (socklen_t)len) && len)
		buf[0] = '\0';
	return buf;
}

static void format_addr(struct tip_indicator *ind)
{
	tip_addr_format(ind->family, ind->addr, ind->value, sizeof(ind->value));
}

bool tip_cidr_contains(int family, const uint8_t *net, int prefix, int afamily, const uint8_t *a)
{
	int full = prefix / 8, rest = prefix % 8;
	if (family != afamily)
		return false;
	if (memcmp(net, a, (size_t)full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((net[full] & mask) != (a[full] & mask))
			return false;
	}
	return true;
}

static int parse_cidr(const char *s, size_t len, struct tip_indicator *ind, struct tip_error *err)
{
	const char *slash = memchr(s, '/', len);
	char q[200];
	long long plen;
	char pbuf[8];
	size_t pl;
	int rc, max;
	bool mapped;

	if (!slash)
		return tip_error_set(err, TIP_EINVAL, "'%s' is not a CIDR network: no /prefix length",
				     quote(s, len, q, sizeof(q)));
	pl = len - (size_t)(slash + 1 - s);
	if (pl == 0 || pl > 3 || !isdigit((unsigned char)slash[1]) || (pl > 1 && slash[1] == '0'))
		return tip_error_set(err, TIP_EINVAL, "'%s': bad prefix length",
				     quote(s, len, q, sizeof(q)));
	memcpy(pbuf, slash + 1, pl);
	pbuf[pl] = '\0';
	mapped = memchr(s, ':', (size_t)(slash - s)) != NULL;
	if ((rc = parse_addr(s, (size_t)(slash - s), ind, err)) < 0)
		return rc;
	max = (ind->family == 4 && !mapped) ? 32 : 128;
	if (tip_parse_int(pbuf, 0, max, &plen) < 0)
		return tip_error_set(err, TIP_EINVAL, "'%s': prefix length %s is over %d",
				     quote(s, len, q, sizeof(q)), pbuf, max);
	if (ind->family == 4 && mapped) { /* ::ffff:1.2.3.0/120 is 1.2.3.0/24 */
		if (plen < 96)
			return tip_error_set(err, TIP_EINVAL,
					     "'%s': an IPv4-mapped network needs a prefix of 96 or more",
					     quote(s, len, q, sizeof(q)));
		plen -= 96;
	}
	ind->prefix = (int)plen;
	/* the canonical network address: host bits cleared (10.0.0.1/8 is 10.0.0.0/8) */
	for (int bit = ind->prefix; bit < (ind->family == 4 ? 32 : 128); bit++)
		ind->addr[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	format_addr(ind);
	snprintf(ind->value + strlen(ind->value), sizeof(ind->value) - strlen(ind->value), "/%d",
		 ind->prefix);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* URLs and e-mail */

/* hxxp://evil[.]com → http://evil.com: feeds and analysts defang on purpose. */
static size_t refang(const char *in, size_t len, char *out, bool *changed)
{
	size_t o = 0;
	*changed = false;
	for (size_t i = 0; i < len; i++) {
		if ((in[i] == '[' || in[i] == '(') && i + 2 < len &&
		    (in[i + 1] == '.' || in[i + 1] == ':') &&
		    in[i + 2] == (in[i] == '[' ? ']' : ')')) {
			out[o++] = in[i + 1];
			i += 2;
			*changed = true;
			continue;
		}
		out[o++] = in[i];
	}
	out[o] = '\0';
	if (o >= 4 && (strncasecmp(out, "hxxp", 4) == 0)) {
		out[1] = 't';
		out[2] = 't';
		*changed = true;
	}
	return o;
}

static int parse_host(const char *host, struct tip_indicator *ind, struct tip_error *err)
{
	size_t hl = strlen(host);
	struct tip_indicator tmp;
	int rc;

	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		if ((rc = parse_addr(host + 1, hl - 2, &tmp, err)) < 0)
			return rc;
		ind->family = tmp.family;
		memcpy(ind->addr, tmp.addr, 16);
		format_addr(&tmp);
		if (tmp.family == 6)
			snprintf(ind->host, sizeof(ind->host), "[%s]", tmp.value);
		else
			tip_strlcpy(ind->host, tmp.value, sizeof(ind->host));
		return 0;
	}
	if (hl && strspn(host, "0123456789.") == hl) {
		if ((rc = parse_addr(host, hl, &tmp, err)) < 0)
			return rc;
		ind->family = 4;
		memcpy(ind->addr, tmp.addr, 16);
		format_addr(&tmp);
		tip_strlcpy(ind->host, tmp.value, sizeof(ind->host));
		return 0;
	}
	rc = tip_domain_normalize(host, hl, ind->host, sizeof(ind->host), &ind->idn, err);
	if (rc == 0)
		set_registrable(ind);
	return rc;
}

static int encode_high(char *v, size_t cap, struct tip_error *err)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len = strlen(v), high = 0;
	for (size_t i = 0; i < len; i++)
		high += (unsigned char)v[i] >= 0x80;
	if (!high)
		return 0;
	if (len + 2 * high >= cap)
		return tip_error_set(err, TIP_EINVAL, "URL is longer than %d characters",
				     TIP_IND_VALUE_MAX);
	/* from the end, so each byte moves once */
	for (size_t i = len + 1, o = len + 2 * high + 1; i-- > 0;) {
		unsigned char c = (unsigned char)v[i];
		if (c >= 0x80) {
			v[--o] = hex[c & 15];
			v[--o] = hex[c >> 4];
			v[--o] = '%';
		} else {
			v[--o] = (char)c;
		}
	}
	return 0;
}

static int parse_url(const char *s, size_t len, struct tip_indicator *ind, struct tip_error *err)
{
	char buf[INPUT_MAX + 16], q[200];
	CURLU *u;
	CURLUcode uc;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL,
	     *pass = NULL, *zone = NULL;
	int rc = 0;

	if (len > INPUT_MAX)
		return tip_error_set(err, TIP_EINVAL, "URL of %zu bytes is too long", len);
	len = refang(s, len, buf, &ind->defanged);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f)
			return tip_error_set(err, TIP_EINVAL,
					     "URL '%s' holds a space or control character at offset %zu",
					     quote(buf, len, q, sizeof(q)), i);
	if (!(u = curl_url()))
		return tip_error_set(err, TIP_ENOMEM, "out of memory");
	uc = curl_url_set(u, CURLUPART_URL, buf, CURLU_DEFAULT_SCHEME | CURLU_NON_SUPPORT_SCHEME);
	if (uc != CURLUE_OK) {
		rc = tip_error_set(err, TIP_EINVAL, "'%s' is not a URL: %s",
				   quote(buf, len, q, sizeof(q)), curl_url_strerror(uc));
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	if (!scheme || (strcmp(scheme, "http") && strcmp(scheme, "https") && strcmp(scheme, "ftp"))) {
		rc = tip_error_set(err, TIP_EINVAL, "URL '%s': scheme '%s' is not http, https or ftp",
				   quote(buf, len, q, sizeof(q)), scheme ? scheme : "");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host) {
		rc = tip_error_set(err, TIP_EINVAL, "URL '%s' has no host",
				   quote(buf, len, q, sizeof(q)));
		goto out;
	}
	/* curl takes "%25eth0" out of the host into a part of its own: refused as parse_ipv6 does */
	if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK && zone) {
		rc = tip_error_set(err, TIP_EINVAL,
				   "URL '%s': IPv6 zone identifiers are not accepted",
				   quote(buf, len, q, sizeof(q)));
		goto out;
	}
	if ((rc = parse_host(host, ind, err)) < 0) {
		tip_error_prefix(err, "URL host");
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0); /* only when given: defaults are dropped */
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	if (port && ((!strcmp(scheme, "http") && !strcmp(port, "80")) ||
		     (!strcmp(scheme, "https") && !strcmp(port, "443")) ||
		     (!strcmp(scheme, "ftp") && !strcmp(port, "21")))) {
		curl_free(port);
		port = NULL;
	}
	{
		int n = snprintf(ind->value, sizeof(ind->value), "%s://%s%s%s%s%s%s%s%s%s", scheme,
				 user ? user : "", pass ? ":" : "", pass ? pass : "", user ? "@" : "",
				 ind->host, port ? ":" : "", port ? port : "", path ? path : "/",
				 query ? "?" : "");
		if (n < 0 || (size_t)n >= sizeof(ind->value) ||
		    (query && strlen(query) + (size_t)n >= sizeof(ind->value))) {
			rc = tip_error_set(err, TIP_EINVAL, "URL is longer than %d characters",
					   TIP_IND_VALUE_MAX);
			goto out;
		}
		if (query)
			strcat(ind->value, query);
		/* bytes over 0x7f (UTF-8 or not) are percent-encoded, as a browser sends them, so
		 * that /ü and /%C3%BC are one URL and the stored text is always ASCII */
		if ((rc = encode_high(ind->value, sizeof(ind->value), err)) < 0)
			goto out;
	}
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(user);
	curl_free(pass);
	curl_free(zone);
	curl_url_cleanup(u);
	return rc;
}

static int parse_email(const char *s, size_t len, struct tip_indicator *ind, struct tip_error *err)
{
	const char *at = NULL;
	char q[200];
	size_t ll;
	int rc;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '@')
			at = s + i;
	if (!at)
		return tip_error_set(err, TIP_EINVAL, "'%s' is not an e-mail address: no '@'",
				     quote(s, len, q, sizeof(q)));
	ll = (size_t)(at - s);
	if (ll == 0 || ll > 64)
		return tip_error_set(err, TIP_EINVAL,
				     "e-mail address '%s': the local part must be 1 to 64 characters",
				     quote(s, len, q, sizeof(q)));
	for (size_t i = 0; i < ll; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(isalnum(c) || strchr("!#$%&'*+/=?^_`{|}~.-", c)) || c == 0)
			return tip_error_set(err, TIP_EINVAL,
					     "e-mail address '%s': invalid character '%s' in the local part",
					     quote(s, len, q, sizeof(q)), quote(s + i, 1, q + 100, 100));
		if (c == '.' && (i == 0 || i == ll - 1 || s[i + 1] == '.'))
			return tip_error_set(err, TIP_EINVAL,
					     "e-mail address '%s': misplaced dot in the local part",
					     quote(s, len, q, sizeof(q)));
	}
	rc = tip_domain_normalize(at + 1, len - ll - 1, ind->host, sizeof(ind->host), &ind->idn, err);
	if (rc < 0) {
		tip_error_prefix(err, "e-mail address domain");
		return rc;
	}
	set_registrable(ind);
	for (size_t i = 0; i < ll; i++)
		ind->value[i] = (char)tolower((unsigned char)s[i]);
	ind->value[ll] = '@';
	tip_strlcpy(ind->value + ll + 1, ind->host, sizeof(ind->value) - ll - 1);
	if (strlen(ind->value) > 254)
		return tip_error_set(err, TIP_EINVAL, "e-mail address is over 254 characters");
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

/* An AS number: "AS64500" or "as64500" (or the bare number when asked for an ASN), canonical
 * "AS64500". 1 to 4294967294, no leading zeros; the numbers that name no network are refused:
 * 0 (RFC 7607), 23456 (AS_TRANS, RFC 6793), 65535 and 4294967295 (RFC 7300). */
static int parse_asn(const char *s, size_t len, struct tip_indicator *ind, struct tip_error *err)
{
	char q[200];
	uint64_t n = 0;
	size_t i = 0;

	if (len >= 2 && strncasecmp(s, "AS", 2) == 0)
		i = 2;
	if (i == len)
		return tip_error_set(err, TIP_EINVAL, "'%s': no AS number", quote(s, len, q, sizeof(q)));
	if (s[i] == '0')
		return tip_error_set(err, TIP_EINVAL, "'%s': AS number 0 or with a leading zero",
				     quote(s, len, q, sizeof(q)));
	for (size_t k = i; k < len; k++) {
		if (!isdigit((unsigned char)s[k]) || k - i >= 10)
			return tip_error_set(err, TIP_EINVAL, "'%s' is not an AS number",
					     quote(s, len, q, sizeof(q)));
		n = n * 10 + (uint64_t)(s[k] - '0');
	}
	if (n > UINT32_MAX)
		return tip_error_set(err, TIP_EINVAL, "'%s': AS numbers are 32 bits",
				     quote(s, len, q, sizeof(q)));
	if (n == 23456 || n == 65535 || n == UINT32_MAX)
		return tip_error_set(err, TIP_EINVAL, "'%s': a reserved AS number (names no network)",
				     quote(s, len, q, sizeof(q)));
	snprintf(ind->value, sizeof(ind->value), "AS%llu", (unsigned long long)n);
	return 0;
}

static enum tip_ind_type guess(const char *s, size_t len)
{
	bool colon = memchr(s, ':', len) != NULL, slash = memchr(s, '/', len) != NULL;
	bool at = memchr(s, '@', len) != NULL, digits_dots = len > 0;

	if (len >= 4 && (strncasecmp(s, "hxxp", 4) == 0 || memmem(s, len, "://", 3)))
		return TIP_IND_URL;
	if (at && !slash)
		return TIP_IND_EMAIL;
	if (len > 2 && strncasecmp(s, "AS", 2) == 0) { /* the input is not NUL-terminated */
		size_t d = 2;
		while (d < len && isdigit((unsigned char)s[d]))
			d++;
		if (d == len)
			return TIP_IND_ASN; /* "AS64500": not a dotless host name in a blocklist */
	}
	for (size_t i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && s[i] != '.')
			digits_dots = false;
	if (slash) {
		const char *sl = memchr(s, '/', len);
		size_t left = (size_t)(sl - s);
		size_t colons = 0;
		bool ipish = left > 0;
		for (size_t i = 0; i < left; i++)
			colons += s[i] == ':';
		/* digits and dots, or (with an IPv6 address's two colons at least) hex digits */
		for (size_t i = 0; i < left; i++)
			if (!(colons >= 2 ? isxdigit((unsigned char)s[i]) : isdigit((unsigned char)s[i])) &&
			    s[i] != '.' && s[i] != ':')
				ipish = false;
		/* the prefix: digits up to len (the input is not NUL-terminated) */
		for (size_t i = left + 1; i < len; i++)
			if (!isdigit((unsigned char)s[i]))
				ipish = false;
		if (ipish)
			return TIP_IND_CIDR;
		return TIP_IND_URL;
	}
	if (colon)
		return TIP_IND_IPV6;
	if (digits_dots)
		return TIP_IND_IPV4;
	return TIP_IND_DOMAIN;
}

int tip_indicator_parse(const char *in, size_t len, enum tip_ind_type want,
			struct tip_indicator *out, struct tip_error *err)
{
	return tip_indicator_parse_flags(in, len, want, 0, out, err);
}

const char *tip_indicator_registrable(const struct tip_indicator *ind, char *buf, size_t len)
{
	if (!ind->registrable_pending)
		return ind->registrable;
	if (tip_registrable_domain(ind->host, buf, len) < 0)
		buf[0] = '\0';
	return buf;
}

int tip_indicator_parse_flags(const char *in, size_t len, enum tip_ind_type want, unsigned flags,
			      struct tip_indicator *out, struct tip_error *err)
{
	char q[200];
	int rc;

	memset(out, 0, offsetof(struct tip_indicator, value) + 1);
	out->host[0] = out->registrable[0] = '\0';
	out->family = 0;
	out->prefix = -1;
	out->idn = out->defanged = false;
	/* a request until set_registrable() sees a host to take it for */
	out->registrable_pending = flags & TIP_IND_LATER_REGISTRABLE;
	if (len == 0)
		return tip_error_set(err, TIP_EINVAL, "empty indicator");
	if (memchr(in, '\0', len))
		return tip_error_set(err, TIP_EINVAL, "'%s' holds a NUL byte",
				     quote(in, len, q, sizeof(q)));
	if (want == TIP_IND_ANY)
		want = guess(in, len);

	switch (want) {
	case TIP_IND_DOMAIN:
		rc = tip_domain_normalize(in, len, out->value, sizeof(out->value), &out->idn, err);
		if (rc == 0) {
			tip_strlcpy(out->host, out->value, sizeof(out->host));
			set_registrable(out);
		}
		break;
	case TIP_IND_IPV4:
	case TIP_IND_IPV6:
		rc = parse_addr(in, len, out, err);
		if (rc == 0) {
			want = out->family == 4 ? TIP_IND_IPV4 : TIP_IND_IPV6;
			out->prefix = out->family == 4 ? 32 : 128;
			format_addr(out);
		}
		break;
	case TIP_IND_CIDR:
		rc = parse_cidr(in, len, out, err);
		break;
	case TIP_IND_URL:
		rc = parse_url(in, len, out, err);
		break;
	case TIP_IND_EMAIL:
		rc = parse_email(in, len, out, err);
		break;
	case TIP_IND_ASN:
		rc = parse_asn(in, len, out, err);
		break;
	default:
		rc = tip_error_set(err, TIP_EINVAL, "unknown indicator type");
	}
	if (rc == 0)
		out->type = want;
	if (rc < 0 || !out->host[0] || out->family)
		out->registrable_pending = false; /* no domain host: nothing to compute */
	return rc;
}
