/*
 * parse.c — streaming feed parsers: bytes in any chunking, normalised indicators out.
 *
 * Memory is bounded by def->max_line: the longest line, CSV record (RFC 4180 quoted fields may
 * span lines) or JSON array element kept at once. A JSON array is split into its top-level
 * elements by a small scanner that only tracks strings and bracket depth; each element is then
 * parsed by jansson (json_loadb), so a 1 GB array costs one element of memory, not 1 GB.
 *
 * Every entry that does not parse is counted in stats.rejected, and the first few are kept
 * with their line numbers; none is fatal. Fatal (the whole feed fails, nothing is stored) are
 * only a broken document structure (a JSON array that is not one, or is cut off; XML that is
 * not well-formed), a CSV header that lacks a named column, and a failing callback. XML feeds
 * are split into records by parse_xml.c (expat) and come back here as one entry a record.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "feeds_int.h"

enum jstate { J_BEFORE, J_ARRAY, J_ELEM, J_DONE };

enum { COL_FIELD, COL_PREFIX, COL_CATEGORY, COL_THREAT, COL_TAGS, COL_FIRST_SEEN, N_COLS };

struct tip_feed_parser {
	const struct tip_feed_def *def;
	tip_feed_entry_cb cb;
	void *arg;
	struct tip_feed_stats st;
	int64_t skip_left;
	unsigned parse_flags; /* for tip_indicator_parse_flags */
	bool header_done;
	bool started; /* a byte was seen (for the BOM) */
	int bom;      /* bytes of a UTF-8 BOM matched so far */
	/* the line being assembled */
	char *line;
	size_t len, cap;
	bool overlong;
	/* a CSV record spanning lines */
	char *rec;
	size_t rlen, rcap;
	int64_t rec_line;
	bool in_record;
	int col[N_COLS]; /* 0-based, -1: unused */
	const char *colname[N_COLS];
	/* the JSON array splitter */
	enum jstate js;
	int depth;
	bool in_str, esc, elem_overlong;
	char *elem;
	size_t elen, ecap;
	int64_t elem_line, elem_no, jline;
	struct feed_xml *xml; /* format xml (parse_xml.c) */
	int64_t xml_fail_line; /* the record whose callback failed */
	int fatal;
};

static const char *const skip_hosts[] = {
	"localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
	"ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
	"ip6-allhosts", "0.0.0.0", NULL,
};

/* ---------------------------------------------------------------------------------------- */

/* One sample, one line of valid UTF-8: the messages quote hostile input, which may hold control
 * characters and bytes that are not UTF-8 (they become '?'). */
static void sanitize(char *s)
{
	unsigned char *c = (unsigned char *)s;
	while (*c) {
		int n = *c < 0x80 ? 0 : (*c & 0xe0) == 0xc0 ? 1 : (*c & 0xf0) == 0xe0 ? 2
			: (*c & 0xf8) == 0xf0 ? 3 : -1;
		bool ok = n >= 0 && !(*c == 0xc0 || *c == 0xc1);
		for (int k = 1; ok && k <= n; k++)
			ok = (c[k] & 0xc0) == 0x80;
		if (!ok) {
			*c++ = '?';
			continue;
		}
		if (n == 0 && *c < 0x20)
			*c = ' ';
		c += n + 1;
	}
}

static void reject(struct tip_feed_parser *p, int64_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reject(struct tip_feed_parser *p, int64_t line, const char *fmt, ...)
{
	va_list ap;
	size_t used;
	p->st.rejected++;
	if (p->st.n_samples >= TIP_FEED_SAMPLES)
		return;
	used = strlen(p->st.samples);
	if (used)
		used += (size_t)snprintf(p->st.samples + used, sizeof(p->st.samples) - used, "\n");
	if (used >= sizeof(p->st.samples))
		return;
	used += (size_t)snprintf(p->st.samples + used, sizeof(p->st.samples) - used, "line %lld: ",
				 (long long)line);
	if (used >= sizeof(p->st.samples))
		return;
	va_start(ap, fmt);
	vsnprintf(p->st.samples + used, sizeof(p->st.samples) - used, fmt, ap);
	va_end(ap);
	sanitize(p->st.samples + used);
	p->st.n_samples++;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
	while (*n && is_blank(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_blank((*s)[*n - 1]))
		(*n)--;
}

static bool is_comment(const struct tip_feed_def *def, const char *s, size_t n)
{
	for (int i = 0; i < def->n_comments; i++) {
		size_t l = strlen(def->comments[i]);
		if (l && n >= l && !memcmp(s, def->comments[i], l))
			return true;
	}
	return false;
}

/* One candidate entry: parse and hand on, or count the rejection. */
static int entry(struct tip_feed_parser *p, const char *text, size_t len,
		 const struct tip_sighting_attrs *attrs, int64_t line)
{
	struct tip_indicator ind;
	struct tip_error e = { 0 };
	int rc;

	if (tip_indicator_parse_flags(text, len, p->def->type, p->parse_flags, &ind, &e) < 0) {
		reject(p, line, "%s", e.msg);
		return 0;
	}
	p->st.entries++;
	if ((rc = p->cb(p->arg, &ind, attrs, line)) < 0)
		p->fatal = rc;
	return rc < 0 ? rc : 0;
}

static void fixed_attrs(const struct tip_feed_def *def, struct tip_sighting_attrs *a)
{
	memset(a, 0, sizeof(*a));
	a->category = def->category;
	a->threat = def->threat;
}

/* What an entry's own fields say (csv columns, json paths, xml elements; NULL or empty: not
 * there): a category or threat of its own wins over the feed's fixed one; a first-seen time
 * that does not parse is left out. */
static void field_attrs(struct tip_sighting_attrs *a, const char *category, const char *threat,
			const char *tags, const char *first_seen)
{
	if (category && *category)
		a->category = category;
	if (threat && *threat)
		a->threat = threat;
	if (tags && *tags)
		a->tags = tags;
	if (first_seen && tip_time_parse(first_seen, &a->listed_since) < 0)
		a->listed_since = 0;
}

/* skip_if: the record's skip_if field holds skip_if_value (json, jsonl, xml) */
static bool skipped_by(const struct tip_feed_def *def, const char *text)
{
	return def->skip_if_field && text && !strcmp(text, def->skip_if_value);
}

/* ---------------------------------------------------------------------------------------- */
/* plain, hosts, cidr */

static int plain_line(struct tip_feed_parser *p, const char *s, size_t n, int64_t line)
{
	struct tip_sighting_attrs a;
	size_t tok = 0;
	const char *rest;
	size_t rn;

	fixed_attrs(p->def, &a);
	while (tok < n && !is_blank(s[tok]))
		tok++;
	rest = s + tok;
	rn = n - tok;
	trim(&rest, &rn);
	if (rn && !is_comment(p->def, rest, rn)) {
		reject(p, line, "unexpected text after the indicator: '%.*s'", (int)(rn < 60 ? rn : 60),
		       rest);
		return 0;
	}
	return entry(p, s, tok, &a, line);
}

static int cidr_line(struct tip_feed_parser *p, const char *s, size_t n, int64_t line)
{
	struct tip_sighting_attrs a;
	char ref[256];
	size_t v = 0;
	const char *rest;
	size_t rn;

	fixed_attrs(p->def, &a);
	while (v < n && s[v] != ';' && s[v] != '#')
		v++;
	rest = s + v;
	rn = n - v;
	if (rn) { /* "; SBL256893": the list's own reference, kept as the entry's tags */
		rest++;
		rn--;
		trim(&rest, &rn);
		if (rn) {
			snprintf(ref, sizeof(ref), "%.*s", (int)(rn < 255 ? rn : 255), rest);
			a.tags = ref;
		}
	}
	rest = s;
	trim(&rest, &v);
	if (memchr(rest, ' ', v) || memchr(rest, '\t', v)) {
		reject(p, line, "'%.*s' is not one network", (int)(v < 60 ? v : 60), rest);
		return 0;
	}
	return entry(p, rest, v, &a, line);
}

static int hosts_line(struct tip_feed_parser *p, const char *s, size_t n, int64_t line)
{
	struct tip_sighting_attrs a;
	struct tip_indicator addr;
	size_t i = 0, names = 0;
	int rc;

	fixed_attrs(p->def, &a);
	while (i < n && !is_blank(s[i]))
		i++;
	if (tip_indicator_parse(s, i, TIP_IND_IPV4, &addr, NULL) < 0 &&
	    tip_indicator_parse(s, i, TIP_IND_IPV6, &addr, NULL) < 0) {
		reject(p, line, "'%.*s' is not a hosts-file address", (int)(i < 60 ? i : 60), s);
		return 0;
	}
	for (;;) {
		size_t start;
		bool skip = false;
		while (i < n && is_blank(s[i]))
			i++;
		if (i >= n || is_comment(p->def, s + i, n - i))
			break;
		start = i;
		while (i < n && !is_blank(s[i]))
			i++;
		names++;
		for (int k = 0; skip_hosts[k]; k++)
			if (strlen(skip_hosts[k]) == i - start &&
			    !strncasecmp(skip_hosts[k], s + start, i - start))
				skip = true;
		if (skip) {
			p->st.skipped++;
			continue;
		}
		if ((rc = entry(p, s + start, i - start, &a, line)) < 0)
			return rc;
	}
	if (!names)
		reject(p, line, "an address without a name");
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* CSV (RFC 4180, with a configurable delimiter) */

#define CSV_MAX_FIELDS 256

/* Splits rec in place into fields (unquoting "…" and ""), trims unquoted fields. Returns the
 * number of fields, or -1 when the record ends inside a quoted field (it continues on the next
 * line). */
static int csv_split(char *rec, size_t len, char delim, char **f, size_t *fl, int max)
{
	size_t i = 0;
	int n = 0;
	char *out = rec;

	for (;;) {
		char *start = out;
		bool quoted = false;
		while (i < len && rec[i] != delim && is_blank(rec[i]))
			i++;
		if (i < len && rec[i] == '"') {
			quoted = true;
			i++;
			for (;;) {
				if (i >= len)
					return -1;
				if (rec[i] == '"') {
					if (i + 1 < len && rec[i + 1] == '"') {
						*out++ = '"';
						i += 2;
						continue;
					}
					i++;
					break;
				}
				*out++ = rec[i++];
			}
			/* lenient: text between the closing quote and the delimiter is kept */
			while (i < len && rec[i] != delim)
				*out++ = rec[i++];
		} else {
			while (i < len && rec[i] != delim)
				*out++ = rec[i++];
		}
		if (n < max) {
			const char *s = start;
			size_t sl = (size_t)(out - start);
			if (!quoted)
				trim(&s, &sl);
			f[n] = (char *)s;
			fl[n] = sl;
		}
		n++;
		if (i >= len)
			break;
		i++; /* the delimiter */
		*out++ = '\0';
	}
	/* terminate the last field; fields were compacted, so out < rec + len + 1 */
	*out = '\0';
	for (int k = 0; k < n && k < max; k++)
		f[k][fl[k]] = '\0';
	return n < max ? n : max;
}

static int resolve_columns(struct tip_feed_parser *p, char **f, size_t *fl, int nf, int64_t line,
			   struct tip_error *err)
{
	for (int c = 0; c < N_COLS; c++) {
		if (!p->colname[c] || p->col[c] >= 0)
			continue;
		for (int k = 0; k < nf; k++)
			if (strlen(p->colname[c]) == fl[k] && !strcasecmp(p->colname[c], f[k]))
				p->col[c] = k;
		if (p->col[c] < 0)
			return tip_error_set(err, TIP_EINVAL,
					     "line %lld: the header has no column '%s'",
					     (long long)line, p->colname[c]);
	}
	return 0;
}

static const char *col(char **f, int nf, int c)
{
	return c >= 0 && c < nf && *f[c] ? f[c] : NULL;
}

static int csv_record(struct tip_feed_parser *p, char *rec, size_t len, int64_t line,
		      struct tip_error *err)
{
	char *f[CSV_MAX_FIELDS];
	size_t fl[CSV_MAX_FIELDS];
	struct tip_sighting_attrs a;
	char buf[TIP_IND_VALUE_MAX + 64];
	const char *v, *pre;
	int nf = csv_split(rec, len, p->def->delimiter, f, fl, CSV_MAX_FIELDS);
	int rc;

	if (nf < 0) /* cannot happen: the caller completes records first */
		return tip_error_set(err, TIP_EINVAL, "line %lld: unterminated quote",
				     (long long)line);
	if (p->def->header && !p->header_done) {
		p->header_done = true;
		p->st.skipped++;
		return resolve_columns(p, f, fl, nf, line, err);
	}
	fixed_attrs(p->def, &a);
	if (!(v = col(f, nf, p->col[COL_FIELD]))) {
		reject(p, line, "no value in column %d (the record has %d)", p->col[COL_FIELD] + 1, nf);
		return 0;
	}
	if (p->col[COL_PREFIX] >= 0) {
		if (!(pre = col(f, nf, p->col[COL_PREFIX]))) {
			reject(p, line, "no prefix length in column %d", p->col[COL_PREFIX] + 1);
			return 0;
		}
		snprintf(buf, sizeof(buf), "%s/%s", v, pre);
		v = buf;
	}
	field_attrs(&a, col(f, nf, p->col[COL_CATEGORY]), col(f, nf, p->col[COL_THREAT]),
		    col(f, nf, p->col[COL_TAGS]), col(f, nf, p->col[COL_FIRST_SEEN]));
	rc = entry(p, v, strlen(v), &a, line);
	if (rc < 0)
		tip_error_set(err, rc, "store: entry on line %lld", (long long)line);
	return rc;
}

static bool grow(char **buf, size_t *cap, size_t need, size_t max)
{
	size_t n;
	if (need <= *cap)
		return true;
	if (need > max + 2)
		return false;
	n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	if (n > max + 2)
		n = max + 2;
	*buf = tip_xrealloc(*buf, n);
	*cap = n;
	return true;
}

static int csv_line(struct tip_feed_parser *p, const char *s, size_t n, int64_t line,
		    struct tip_error *err)
{
	char *f[1];
	size_t fl[1];
	char *tmp;
	int nf;

	if (!p->in_record) {
		const char *t = s;
		size_t tn = n;
		trim(&t, &tn);
		if (tn == 0 || is_comment(p->def, t, tn)) {
			p->st.skipped++;
			return 0;
		}
		p->rlen = 0;
		p->rec_line = line;
		p->in_record = true;
	} else if (p->rlen < (size_t)p->def->max_line) {
		p->rec[p->rlen++] = '\n'; /* a quoted field spanning lines keeps its newline */
	}
	if (p->rlen + n > (size_t)p->def->max_line) {
		/* drop the record; keep reading until the quote closes would risk eating the
		 * feed, so the record ends here */
		reject(p, p->rec_line, "record longer than %lld bytes", (long long)p->def->max_line);
		p->in_record = false;
		return 0;
	}
	grow(&p->rec, &p->rcap, p->rlen + n + 2, (size_t)p->def->max_line + n + 2);
	memcpy(p->rec + p->rlen, s, n);
	p->rlen += n;
	/* complete? split a scratch copy (csv_split works in place) */
	tmp = tip_xmalloc(p->rlen + 1);
	memcpy(tmp, p->rec, p->rlen);
	nf = csv_split(tmp, p->rlen, p->def->delimiter, f, fl, 1);
	free(tmp);
	if (nf < 0)
		return 0; /* inside a quoted field: the record goes on */
	p->in_record = false;
	return csv_record(p, p->rec, p->rlen, p->rec_line, err);
}

/* ---------------------------------------------------------------------------------------- */
/* JSON values (json, jsonl) */

static json_t *json_path(json_t *j, const char *path)
{
	char part[256];
	while (j && *path) {
		size_t l = strcspn(path, ".");
		char *end;
		if (l >= sizeof(part))
			return NULL;
		memcpy(part, path, l);
		part[l] = '\0';
		path += l + (path[l] == '.');
		if (json_is_array(j)) {
			long idx = strtol(part, &end, 10);
			j = (*end || end == part || idx < 0) ? NULL : json_array_get(j, (size_t)idx);
		} else {
			j = json_object_get(j, part);
		}
	}
	return j;
}

/* A JSON value as text: strings as they are, numbers printed, arrays of those joined by ','. */
static const char *json_text(json_t *v, char *buf, size_t len)
{
	size_t i, used = 0;
	json_t *x;
	if (!v)
		return NULL;
	if (json_is_string(v))
		return json_string_value(v)[0] ? json_string_value(v) : NULL;
	if (json_is_integer(v)) {
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_array(v)) {
		buf[0] = '\0';
		json_array_foreach(v, i, x) {
			char one[64];
			const char *t = json_text(json_is_array(x) ? NULL : x, one, sizeof(one));
			if (!t)
				continue;
			used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
						 used ? "," : "", t);
		}
		return used && used < len ? buf : NULL;
	}
	return NULL;
}

/* The text at a field path of an object, NULL when no path is set or nothing is there. */
static const char *json_field(json_t *j, const char *path, char *buf, size_t len)
{
	return path ? json_text(json_path(j, path), buf, len) : NULL;
}

static int json_entry(struct tip_feed_parser *p, const char *s, size_t n, int64_t line,
		      const char *what)
{
	json_error_t je;
	json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	struct tip_sighting_attrs a;
	char vb[64], cb[512], tb[512], gb[1024], fb[64];
	const char *v;
	int rc;

	if (!j) {
		reject(p, line, "%s is not JSON: %s", what, je.text);
		return 0;
	}
	fixed_attrs(p->def, &a);
	if (json_is_string(j)) {
		v = json_string_value(j);
	} else if (json_is_object(j)) {
		if (skipped_by(p->def, json_field(j, p->def->skip_if_field, vb, sizeof(vb)))) {
			p->st.skipped++;
			json_decref(j);
			return 0;
		}
		v = json_field(j, p->def->field, vb, sizeof(vb));
		field_attrs(&a, json_field(j, p->def->category_field, cb, sizeof(cb)),
			    json_field(j, p->def->threat_field, tb, sizeof(tb)),
			    json_field(j, p->def->tags_field, gb, sizeof(gb)),
			    json_field(j, p->def->first_seen_field, fb, sizeof(fb)));
		if (!v) {
			reject(p, line, "%s has no text at '%s'", what,
			       p->def->field ? p->def->field : "(no field set)");
			json_decref(j);
			return 0;
		}
	} else {
		reject(p, line, "%s is neither a string nor an object", what);
		json_decref(j);
		return 0;
	}
	rc = entry(p, v, strlen(v), &a, line);
	json_decref(j);
	return rc;
}

static int json_elem_done(struct tip_feed_parser *p)
{
	char what[64];
	p->elem_no++;
	snprintf(what, sizeof(what), "array element %lld", (long long)p->elem_no);
	if (p->elem_overlong) {
		reject(p, p->elem_line, "%s is longer than %lld bytes", what,
		       (long long)p->def->max_line);
		return 0;
	}
	return json_entry(p, p->elem, p->elen, p->elem_line, what);
}

static int json_bytes(struct tip_feed_parser *p, const char *s, size_t n, struct tip_error *err)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int rc;
		if (c == '\n') {
			p->jline++;
			p->st.lines++;
		}
		switch (p->js) {
		case J_BEFORE:
			if (isspace((unsigned char)c))
				continue;
			if (c != '[')
				return tip_error_set(err, TIP_EINVAL,
						     "line %lld: not a JSON array (it starts with '%c'); "
						     "use format jsonl for one value per line",
						     (long long)p->jline, isprint((unsigned char)c) ? c : '?');
			p->js = J_ARRAY;
			continue;
		case J_ARRAY:
			if (isspace((unsigned char)c) || c == ',')
				continue;
			if (c == ']') {
				p->js = J_DONE;
				continue;
			}
			p->js = J_ELEM;
			p->elen = 0;
			p->depth = 0;
			p->in_str = p->esc = p->elem_overlong = false;
			p->elem_line = p->jline;
			/* fall through: c starts the element */
			/* FALLTHROUGH */
		case J_ELEM: {
			bool end = false, drop = false, closed = false;
			if (p->in_str) {
				if (p->esc)
					p->esc = false;
				else if (c == '\\')
					p->esc = true;
				else if (c == '"')
					p->in_str = false;
			} else if (c == '"') {
				p->in_str = true;
			} else if (c == '{' || c == '[') {
				p->depth++;
			} else if (c == '}' || c == ']') {
				if (p->depth == 0) { /* a scalar element ended by the array's ']' */
					end = drop = closed = true;
				} else if (--p->depth == 0) {
					end = true;
				}
			} else if (c == ',' && p->depth == 0) {
				end = drop = true;
			}
			if (!drop) {
				if (p->elen < (size_t)p->def->max_line) {
					grow(&p->elem, &p->ecap, p->elen + 1, (size_t)p->def->max_line);
					p->elem[p->elen++] = c;
				} else {
					p->elem_overlong = true;
				}
			}
			if (end) {
				p->js = closed ? J_DONE : J_ARRAY;
				if ((rc = json_elem_done(p)) < 0)
					return tip_error_set(err, rc, "store: element on line %lld",
							     (long long)p->elem_line);
			}
			continue;
		}
		case J_DONE:
			if (isspace((unsigned char)c))
				continue;
			return tip_error_set(err, TIP_EINVAL, "line %lld: text after the JSON array",
					     (long long)p->jline);
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* XML records (split by parse_xml.c) */

static int xml_record(void *arg, const char *const *t, int64_t line)
{
	struct tip_feed_parser *p = arg;
	const struct tip_feed_def *def = p->def;
	struct tip_sighting_attrs a;
	int rc;

	if (skipped_by(def, t[FEED_XML_SKIP_IF])) {
		p->st.skipped++;
		return 0;
	}
	fixed_attrs(def, &a);
	field_attrs(&a, t[FEED_XML_CATEGORY], t[FEED_XML_THREAT], t[FEED_XML_TAGS],
		    t[FEED_XML_FIRST_SEEN]);
	if (!t[FEED_XML_FIELD] || !*t[FEED_XML_FIELD]) {
		reject(p, line, "the record has no text at '%s'", def->field ? def->field : "title");
		return 0;
	}
	if ((rc = entry(p, t[FEED_XML_FIELD], strlen(t[FEED_XML_FIELD]), &a, line)) < 0)
		p->xml_fail_line = line;
	return rc;
}

static void xml_reject(void *arg, int64_t line, const char *why)
{
	reject(arg, line, "%s", why);
}

static int xml_bytes(struct tip_feed_parser *p, const char *data, size_t len, bool final,
		     struct tip_error *err)
{
	int rc = feed_xml_push(p->xml, data, len, final, err);
	p->st.lines = feed_xml_lines(p->xml);
	if (rc < 0 && p->fatal)
		rc = tip_error_set(err, p->fatal, "store: entry on line %lld",
				   (long long)p->xml_fail_line);
	if (rc < 0)
		p->fatal = rc;
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* Lines */

static int one_line(struct tip_feed_parser *p, char *s, size_t n, struct tip_error *err)
{
	int64_t line = ++p->st.lines;
	const char *t = s;
	size_t tn;
	int rc = 0;

	if (n && s[n - 1] == '\r')
		n--;
	if (p->skip_left > 0) {
		p->skip_left--;
		p->st.skipped++;
		return 0;
	}
	if (memchr(s, '\0', n)) {
		reject(p, line, "NUL byte in line");
		return 0;
	}
	if (p->def->format == TIP_FEED_CSV)
		return csv_line(p, s, n, line, err);
	tn = n;
	trim(&t, &tn);
	if (tn == 0 || is_comment(p->def, t, tn)) {
		p->st.skipped++;
		return 0;
	}
	if (p->def->header && !p->header_done && p->def->format != TIP_FEED_JSONL) {
		p->header_done = true;
		p->st.skipped++;
		return 0;
	}
	switch (p->def->format) {
	case TIP_FEED_PLAIN:
		rc = plain_line(p, t, tn, line);
		break;
	case TIP_FEED_HOSTS:
		rc = hosts_line(p, t, tn, line);
		break;
	case TIP_FEED_CIDR:
		rc = cidr_line(p, t, tn, line);
		break;
	case TIP_FEED_JSONL:
		rc = json_entry(p, t, tn, line, "the line");
		break;
	default:
		break;
	}
	if (rc < 0)
		tip_error_set(err, rc, "store: entry on line %lld", (long long)line);
	return rc;
}

static int line_end(struct tip_feed_parser *p, struct tip_error *err)
{
	int rc = 0;
	if (p->overlong) {
		int64_t line = ++p->st.lines;
		if (p->skip_left > 0) {
			p->skip_left--;
			p->st.skipped++;
		} else {
			reject(p, line, "line longer than %lld bytes", (long long)p->def->max_line);
		}
	} else {
		rc = one_line(p, p->line, p->len, err);
	}
	p->len = 0;
	p->overlong = false;
	return rc;
}

int tip_feed_parser_push(struct tip_feed_parser *p, const char *data, size_t len,
			 struct tip_error *err)
{
	int rc;
	if (p->fatal)
		return tip_error_set(err, p->fatal, "parser stopped after an earlier error");
	/* a UTF-8 byte-order mark at the very start is not part of the first line */
	while (!p->started && len) {
		static const unsigned char bom[3] = { 0xef, 0xbb, 0xbf };
		if ((unsigned char)*data == bom[p->bom]) {
			if (++p->bom == 3)
				p->started = true;
			data++;
			len--;
			continue;
		}
		if (p->bom) { /* a partial BOM was text after all: unlikely, keep it simple */
			p->started = true;
			break;
		}
		p->started = true;
	}
	if (p->def->format == TIP_FEED_JSON) {
		rc = json_bytes(p, data, len, err);
		if (rc < 0)
			p->fatal = rc;
		return rc;
	}
	if (p->xml)
		return xml_bytes(p, data, len, false, err);
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t seg = nl ? (size_t)(nl - data) : len;
		if (!p->overlong) {
			if (p->len + seg > (size_t)p->def->max_line) {
				p->overlong = true;
			} else {
				grow(&p->line, &p->cap, p->len + seg + 1, (size_t)p->def->max_line);
				memcpy(p->line + p->len, data, seg);
				p->len += seg;
			}
		}
		data += seg;
		len -= seg;
		if (nl) {
			data++;
			len--;
			if ((rc = line_end(p, err)) < 0) {
				p->fatal = rc;
				return rc;
			}
		}
	}
	return 0;
}

int tip_feed_parser_finish(struct tip_feed_parser *p, struct tip_error *err)
{
	int rc;
	if (p->fatal)
		return tip_error_set(err, p->fatal, "parser stopped after an earlier error");
	if (p->xml)
		return xml_bytes(p, NULL, 0, true, err);
	if (p->def->format == TIP_FEED_JSON) {
		if (p->js == J_BEFORE)
			return tip_error_set(err, TIP_EINVAL, "empty document: no JSON array");
		if (p->js != J_DONE)
			return tip_error_set(err, TIP_EINVAL,
					     "the JSON array is not closed (the body is cut off?)");
		return 0;
	}
	if (p->len || p->overlong) /* a last line without a newline */
		if ((rc = line_end(p, err)) < 0)
			return rc;
	if (p->in_record) {
		reject(p, p->rec_line, "quoted field not closed at the end of the feed");
		p->in_record = false;
	}
	return 0;
}

static int column_spec(struct tip_feed_parser *p, int c, const char *spec, struct tip_error *err)
{
	long long n;
	p->col[c] = -1;
	p->colname[c] = NULL;
	if (!spec || !*spec)
		return 0;
	if (tip_parse_int(spec, 1, CSV_MAX_FIELDS, &n) == 0) {
		p->col[c] = (int)n - 1;
		return 0;
	}
	if (!p->def->header)
		return tip_error_set(err, TIP_EINVAL,
				     "feed %s: column '%s' is a name, which needs header = yes "
				     "(or give its number, 1 to %d)",
				     p->def->name, spec, CSV_MAX_FIELDS);
	p->colname[c] = spec;
	return 0;
}

int tip_feed_parser_new(const struct tip_feed_def *def, tip_feed_entry_cb cb, void *arg,
			struct tip_feed_parser **out, struct tip_error *err)
{
	struct tip_feed_parser *p = tip_xcalloc(1, sizeof(*p));
	const char *specs[N_COLS] = { def->field, def->prefix_field, def->category_field,
				      def->threat_field, def->tags_field, def->first_seen_field };
	int rc;

	p->def = def;
	p->cb = cb;
	p->arg = arg;
	p->skip_left = def->skip_lines;
	p->parse_flags = TIP_IND_LATER_REGISTRABLE;
	p->js = J_BEFORE;
	p->jline = 1;
	if (def->format == TIP_FEED_XML)
		p->xml = feed_xml_new(def, xml_record, xml_reject, p);
	if (def->format == TIP_FEED_CSV) {
		for (int c = 0; c < N_COLS; c++)
			if ((rc = column_spec(p, c, c == COL_FIELD && !specs[c] ? "1" : specs[c],
					      err)) < 0) {
				free(p);
				return rc;
			}
	}
	*out = p;
	return 0;
}

const struct tip_feed_stats *tip_feed_parser_stats(const struct tip_feed_parser *p)
{
	return &p->st;
}

void tip_feed_parser_free(struct tip_feed_parser *p)
{
	if (!p)
		return;
	free(p->line);
	free(p->rec);
	free(p->elem);
	feed_xml_free(p->xml);
	free(p);
}
