/*
 * classify.c — pass 2's arithmetic: the features of one domain's window, the verdict they make
 * and the words that explain it, and the known-good allowlist the verdict takes as an input.
 *
 * The literature (DESIGN.md, docs/flux.md):
 *  - Holz et al. (NDSS 2008): flux-score f = 1.32·n_A + 18.54·n_ASN + 0·n_NS, fast-flux when
 *    f > 142.38; fluxiness φ = n_unique / n_all over repeated lookups.
 *  - Fast-flux TTLs are minutes; FluxBuster (Perdisci et al., ACSAC 2009) also weighs the
 *    diversity of /16 prefixes and the growth of the address set.
 *  - CDNs score on n_A but have few ASNs and stable prefixes; double flux is the NS set fluxing.
 * The score decides; TTL, rotation (φ, set changes) and network diversity confirm or temper it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "flux.h"

void tip_flux_params_default(struct tip_flux_params *p)
{
	*p = (struct tip_flux_params){
		.window = 604800 * TIP_SEC,
		.min_rounds = 3,
		.short_ttl = 900,
		.rotating_phi = 0.5,
		.diverse_asn = 3,
	};
}

void tip_flux_params_from_config(struct tip_flux_params *p, const struct tip_config *cfg)
{
	tip_flux_params_default(p);
	if (cfg->flux.window_s > 0)
		p->window = cfg->flux.window_s * TIP_SEC;
	if (cfg->flux.min_rounds > 0)
		p->min_rounds = cfg->flux.min_rounds;
}

/* ---------------------------------------------------------------------------------------- */
/* The allowlist */

struct net {
	int family;
	uint8_t addr[16];
	int prefix;
};

struct tip_flux_allowlist {
	int64_t *asn;
	size_t n_asn, cap_asn;
	struct net *net;
	size_t n_net, cap_net;
};

struct tip_flux_allowlist *tip_flux_allowlist_new(void)
{
	return tip_xcalloc(1, sizeof(struct tip_flux_allowlist));
}

void tip_flux_allowlist_free(struct tip_flux_allowlist *al)
{
	if (!al)
		return;
	free(al->asn);
	free(al->net);
	free(al);
}

size_t tip_flux_allowlist_size(const struct tip_flux_allowlist *al)
{
	return al ? al->n_asn + al->n_net : 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

int tip_flux_allowlist_parse(struct tip_flux_allowlist *al, const char *text, const char *name,
			     struct tip_error *err)
{
	size_t n_asn0 = al->n_asn, n_net0 = al->n_net;
	int line = 0;
	const char *p = text;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		char buf[256];
		char *s, *e;
		line++;
		if (len >= sizeof(buf)) {
			tip_error_set(err, TIP_EINVAL, "%s:%d: line too long", name, line);
			goto fail;
		}
		memcpy(buf, p, len);
		buf[len] = '\0';
		p = eol ? eol + 1 : p + len;
		if ((s = strchr(buf, '#')))
			*s = '\0';
		s = buf;
		while (*s == ' ' || *s == '\t' || *s == '\r')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			*--e = '\0';
		if (!*s)
			continue;
		if ((s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's')) {
			long long asn;
			if (tip_parse_int(s + 2, 1, 4294967295LL, &asn) < 0) {
				tip_error_set(err, TIP_EINVAL,
					      "%s:%d: '%s' is not an AS number (AS1 .. AS4294967295)",
					      name, line, s);
				goto fail;
			}
			if (al->n_asn == al->cap_asn) {
				al->cap_asn = al->cap_asn ? al->cap_asn * 2 : 32;
				al->asn = tip_xrealloc(al->asn, al->cap_asn * sizeof(*al->asn));
			}
			al->asn[al->n_asn++] = asn;
		} else {
			struct tip_indicator ind;
			struct tip_error e2 = { 0 };
			if (tip_indicator_parse(s, strlen(s), TIP_IND_ANY, &ind, &e2) < 0 ||
			    (ind.type != TIP_IND_CIDR && ind.type != TIP_IND_IPV4 &&
			     ind.type != TIP_IND_IPV6)) {
				tip_error_set(err, TIP_EINVAL,
					      "%s:%d: '%s' is neither AS<number> nor an address or CIDR",
					      name, line, s);
				goto fail;
			}
			if (al->n_net == al->cap_net) {
				al->cap_net = al->cap_net ? al->cap_net * 2 : 32;
				al->net = tip_xrealloc(al->net, al->cap_net * sizeof(*al->net));
			}
			struct net *n = &al->net[al->n_net++];
			n->family = ind.family;
			memcpy(n->addr, ind.addr, 16);
			n->prefix = ind.type == TIP_IND_CIDR ? ind.prefix
							     : (ind.family == 4 ? 32 : 128);
		}
	}
	if (al->n_asn)
		qsort(al->asn, al->n_asn, sizeof(*al->asn), cmp_i64);
	return 0;
fail:
	al->n_asn = n_asn0;
	al->n_net = n_net0;
	return err ? err->code : TIP_EINVAL;
}

int tip_flux_allowlist_load(struct tip_flux_allowlist *al, const char *path, struct tip_error *err)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n, cap = 65536, len = 0;
	int rc;

	if (!f)
		return tip_error_set(err, errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO,
				     "allowlist %s: %s", path, strerror(errno));
	buf = tip_xmalloc(cap);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			if (cap >= (16u << 20)) {
				fclose(f);
				free(buf);
				return tip_error_set(err, TIP_ELIMIT, "allowlist %s: larger than 16 MB",
						     path);
			}
			cap *= 2;
			buf = tip_xrealloc(buf, cap);
		}
	}
	rc = ferror(f) ? tip_error_set(err, TIP_EIO, "allowlist %s: read error", path) : 0;
	fclose(f);
	buf[len] = '\0';
	if (rc == 0 && memchr(buf, '\0', len))
		rc = tip_error_set(err, TIP_EINVAL, "allowlist %s: contains a NUL byte", path);
	if (rc == 0)
		rc = tip_flux_allowlist_parse(al, buf, path, err);
	free(buf);
	return rc;
}

static bool addr_parse(const char *s, int *family, uint8_t a[16])
{
	if (!s)
		return false;
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, a) == 1) {
		*family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, a) == 1) {
		*family = 6;
		return true;
	}
	return false;
}

static bool allow_match(const struct tip_flux_allowlist *al, int64_t asn, int family,
			const uint8_t *a)
{
	if (!al)
		return false;
	if (asn > 0 && al->n_asn &&
	    bsearch(&asn, al->asn, al->n_asn, sizeof(*al->asn), cmp_i64))
		return true;
	if (family)
		for (size_t i = 0; i < al->n_net; i++)
			if (tip_cidr_contains(al->net[i].family, al->net[i].addr, al->net[i].prefix,
					      family, a))
				return true;
	return false;
}

bool tip_flux_allowlist_match(const struct tip_flux_allowlist *al, int64_t asn, const char *addr)
{
	uint8_t a[16];
	int family = 0;
	if (!addr_parse(addr, &family, a))
		family = 0;
	return allow_match(al, asn, family, a);
}

/* ---------------------------------------------------------------------------------------- */
/* Features */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* How many distinct values in a sorted array. */
static int64_t distinct_i64(const int64_t *v, size_t n)
{
	int64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += i == 0 || v[i - 1] != v[i];
	return c;
}

static int64_t distinct_u32(const uint32_t *v, size_t n)
{
	int64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += i == 0 || v[i - 1] != v[i];
	return c;
}

static int64_t distinct_str(const char **v, size_t n)
{
	int64_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += i == 0 || strcmp(v[i - 1], v[i]) != 0;
	return c;
}

/* Small per-call scratch on the stack; domains with more A records than this use the heap. */
#define SCRATCH 256

void tip_flux_features(const struct tip_flux_domain *d, const struct tip_flux_allowlist *al,
		       struct tip_flux_features *f)
{
	int64_t asn_s[SCRATCH];
	uint32_t p16_s[SCRATCH];
	const char *cc_s[SCRATCH];
	int64_t *asn = asn_s;
	uint32_t *p16 = p16_s;
	const char **cc = cc_s;
	size_t n_asn = 0, n_p16 = 0, n_cc = 0, n_a_rec = 0;
	int64_t prev_hash = 0, new_after_first = 0, a_rounds_seen = 0;
	bool prev_ok = false, prev_ns_ok = false;
	int64_t prev_ns_hash = 0;

	memset(f, 0, sizeof(*f));
	f->min_ttl = -1;

	for (size_t i = 0; i < d->n_rec; i++)
		if (!strcmp(d->rec[i].rrtype, "A"))
			n_a_rec++;
	if (n_a_rec > SCRATCH) {
		asn = tip_xmalloc(n_a_rec * sizeof(*asn));
		p16 = tip_xmalloc(n_a_rec * sizeof(*p16));
		cc = tip_xmalloc(n_a_rec * sizeof(*cc));
	}

	for (size_t i = 0; i < d->n_rec; i++) {
		const struct tip_flux_record *r = &d->rec[i];
		if (!strcmp(r->rrtype, "A")) {
			uint8_t a[16];
			int family = 0;
			bool parsed = addr_parse(r->value, &family, a) && family == 4;
			f->n_a++;
			if (r->asn > 0)
				asn[n_asn++] = r->asn;
			if (r->cc && *r->cc)
				cc[n_cc++] = r->cc;
			if (parsed)
				p16[n_p16++] = (uint32_t)a[0] << 8 | a[1];
			if (allow_match(al, r->asn, parsed ? family : 0, a))
				f->n_allowed++;
			if (f->first_seen == 0 || r->first_seen < f->first_seen)
				f->first_seen = r->first_seen;
		} else if (!strcmp(r->rrtype, "AAAA")) {
			f->n_aaaa++;
		} else if (!strcmp(r->rrtype, "NS")) {
			f->n_ns++;
		}
	}
	qsort(asn, n_asn, sizeof(*asn), cmp_i64);
	qsort(p16, n_p16, sizeof(*p16), cmp_u32);
	qsort(cc, n_cc, sizeof(*cc), cmp_str);
	f->n_asn = distinct_i64(asn, n_asn);
	f->n_p16 = distinct_u32(p16, n_p16);
	f->n_cc = distinct_str(cc, n_cc);

	/* rounds come ordered by rrtype, then time */
	for (size_t i = 0; i < d->n_rounds; i++) {
		const struct tip_round *r = &d->rounds[i];
		bool ok = r->n_records > 0 && r->set_hash != 0;
		if (!strcmp(r->rrtype, "A")) {
			f->rounds++;
			f->n_all += r->n_records > 0 ? r->n_records : 0;
			if (r->n_records > 0 && r->min_ttl >= 0 &&
			    (f->min_ttl < 0 || r->min_ttl < f->min_ttl))
				f->min_ttl = r->min_ttl;
			if (a_rounds_seen++ > 0)
				new_after_first += r->n_new > 0 ? r->n_new : 0;
			if (ok) {
				f->ok_rounds++;
				if (prev_ok && r->set_hash != prev_hash)
					f->a_changes++;
				prev_ok = true;
				prev_hash = r->set_hash;
			}
		} else if (!strcmp(r->rrtype, "NS")) {
			f->ns_rounds++;
			if (ok) {
				if (prev_ns_ok && r->set_hash != prev_ns_hash)
					f->ns_changes++;
				prev_ns_ok = true;
				prev_ns_hash = r->set_hash;
			}
		}
	}
	f->fluxiness = f->n_all > 0 ? (double)f->n_a / (double)f->n_all : 0.0;
	if (f->fluxiness > 1.0) /* records merged from rounds before the window */
		f->fluxiness = 1.0;
	f->growth = f->rounds > 1 ? (double)new_after_first / (double)(f->rounds - 1) : 0.0;
	f->score = TIP_FLUX_W_A * (double)f->n_a + TIP_FLUX_W_ASN * (double)f->n_asn +
		   TIP_FLUX_W_NS * (double)f->n_ns;
	f->double_flux = f->n_ns >= TIP_FLUX_DF_NS && f->ns_changes >= TIP_FLUX_DF_CHANGES;
	if (asn != asn_s) {
		free(asn);
		free(p16);
		free(cc);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* The verdict */

struct why {
	char *buf;
	size_t len, used;
};

static void __attribute__((format(printf, 2, 3))) say(struct why *w, const char *fmt, ...)
{
	va_list ap;
	int n;
	if (w->used >= w->len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->used, w->len - w->used, fmt, ap);
	va_end(ap);
	if (n > 0)
		w->used += (size_t)n < w->len - w->used ? (size_t)n : w->len - w->used - 1;
}

/* The numbers every explanation carries: the score with its terms, then the evidence. */
static void say_numbers(struct why *w, const struct tip_flux_features *f)
{
	say(w, "flux-score %.2f %s %.2f (1.32x%lld A + 18.54x%lld ASNs)", f->score,
	    f->score > TIP_FLUX_THRESHOLD ? ">" : "<=", TIP_FLUX_THRESHOLD, (long long)f->n_a,
	    (long long)f->n_asn);
	if (f->min_ttl >= 0)
		say(w, "; min TTL %lld s", (long long)f->min_ttl);
	say(w, "; fluxiness %.2f (%lld unique of %lld A records in %lld rounds)", f->fluxiness,
	    (long long)f->n_a, (long long)f->n_all, (long long)f->rounds);
	if (f->ok_rounds > 1)
		say(w, "; A set changed in %lld of %lld rounds", (long long)f->a_changes,
		    (long long)(f->ok_rounds - 1));
	say(w, "; %lld /16 prefixes", (long long)f->n_p16);
	if (f->n_cc)
		say(w, ", %lld countries", (long long)f->n_cc);
	if (f->n_allowed)
		say(w, "; %lld A records in known-good networks", (long long)f->n_allowed);
	if (f->double_flux)
		say(w, "; double flux: %lld NS names, NS set changed in %lld rounds",
		    (long long)f->n_ns, (long long)f->ns_changes);
}

const char *tip_flux_verdict(const struct tip_flux_params *p, const struct tip_flux_features *f,
			     char *buf, size_t len)
{
	struct why w = { buf, len, 0 };
	bool over, short_ttl, rotating, diverse;

	if (len)
		buf[0] = '\0';
	if (f->rounds < p->min_rounds) {
		say(&w, "too few rounds: %lld A rounds in the window, %lld needed", (long long)f->rounds,
		    (long long)p->min_rounds);
		return "unknown";
	}
	if (f->n_a == 0) {
		say(&w, "no A records in %lld rounds", (long long)f->rounds);
		if (f->double_flux) {
			say(&w, "; but double flux: %lld NS names, NS set changed in %lld rounds",
			    (long long)f->n_ns, (long long)f->ns_changes);
			return "suspicious";
		}
		return "unknown";
	}
	if (f->n_allowed == f->n_a) {
		say(&w, "known-good network: all %lld A records are in allowlisted ASNs or prefixes; ",
		    (long long)f->n_a);
		say_numbers(&w, f);
		return "benign";
	}
	over = f->score > TIP_FLUX_THRESHOLD;
	short_ttl = f->min_ttl >= 0 && f->min_ttl <= p->short_ttl;
	rotating = f->fluxiness >= p->rotating_phi ||
		   (f->ok_rounds > 1 && 2 * f->a_changes >= f->ok_rounds - 1 && f->a_changes > 0);
	diverse = f->n_asn >= p->diverse_asn && f->n_p16 >= p->diverse_asn;

	if (over && (short_ttl || rotating)) {
		say(&w, "fast-flux: score above the threshold with %s%s%s; ",
		    short_ttl ? "short TTLs" : "", short_ttl && rotating ? " and " : "",
		    rotating ? "a rotating address set" : "");
		say_numbers(&w, f);
		return "fastflux";
	}
	if (over) {
		say(&w, "score above the threshold but long TTLs and a stable address set; ");
		say_numbers(&w, f);
		return "suspicious";
	}
	if (short_ttl && rotating && diverse) {
		say(&w, "flux-like below the score threshold: short TTLs, a rotating set across %lld "
			"ASNs; ",
		    (long long)f->n_asn);
		say_numbers(&w, f);
		return "suspicious";
	}
	if (f->double_flux) {
		say(&w, "the NS set fluxes (double flux) though the A set scores low; ");
		say_numbers(&w, f);
		return "suspicious";
	}
	if (f->n_a >= 10 && f->n_asn <= 2)
		say(&w, "CDN-like: many addresses in %lld ASN%s; ", (long long)f->n_asn,
		    f->n_asn == 1 ? "" : "s");
	else if (!rotating)
		say(&w, "stable address set; ");
	else
		say(&w, "below the score threshold; ");
	say_numbers(&w, f);
	return "benign";
}
