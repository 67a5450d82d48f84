/*
 * parse_xml.c — XML feeds (RSS, Atom, any list of records) with expat, streaming.
 *
 * A record is an element named def->record ("item" for RSS, "entry" for Atom). Each of its
 * fields (the indicator, category, threat, tags, first seen, skip_if's) is named by the element
 * that holds it, anywhere inside the record: "title" takes the text of the record's first
 * <title>; "link@href" takes the href attribute of its first <link>. Namespace prefixes are
 * ignored ("atom:link" is "link"). Only the fields' text is kept, at most def->max_line bytes a
 * record, so memory does not grow with the feed.
 *
 * Hostile input: expat reads no external entity or DTD (no handler is set, parameter entities
 * are off), and a document that declares any entity is refused as a whole (an RSS feed has no
 * use for one; expat 2.4+ also bounds entity expansion, the "billion laughs"). Broken XML —
 * including a body cut off before its root element closes — is fatal for the feed, with the
 * line and column expat stopped at; a record without its indicator is rejected with its line.
 */
#include <expat.h>
#include <stdlib.h>
#include <string.h>

#include "feeds_int.h"

struct feed_xml {
	const struct tip_feed_def *def;
	feed_xml_record_cb on_record;
	feed_xml_reject_cb on_reject;
	void *arg;
	XML_Parser xp;
	/* the field names, split: element and attribute (NULL: the element's text) */
	char *elem[FEED_XML_FIELDS], *attr[FEED_XML_FIELDS];
	/* the record being read */
	int depth;         /* element depth inside the record, 0: not in one */
	int64_t rec_line;  /* where it started */
	bool overlong;     /* its fields went past max_line */
	int capturing;     /* the field whose element text is being read, -1: none */
	int cap_depth;     /* that element's depth */
	bool got[FEED_XML_FIELDS];
	size_t off[FEED_XML_FIELDS], len[FEED_XML_FIELDS];
	char *buf;         /* the fields' text, one after another */
	size_t used, cap;
	int fatal;         /* the record callback failed */
	bool refused;      /* an entity declaration */
};

/* "prefix:name" → "name" */
static const char *local(const char *name)
{
	const char *c = strrchr(name, ':');
	return c ? c + 1 : name;
}

/* n bytes of field f's text (f < 0: its closing NUL, not counted in its length) */
static void put(struct feed_xml *x, int f, const char *s, size_t n)
{
	if (x->overlong)
		return;
	if (x->used + n + 1 > (size_t)x->def->max_line) {
		x->overlong = true;
		return;
	}
	if (x->used + n + 1 > x->cap) {
		size_t c = x->cap ? x->cap : 1024;
		while (c < x->used + n + 1)
			c *= 2;
		x->buf = tip_xrealloc(x->buf, c);
		x->cap = c;
	}
	if (f < 0) {
		x->buf[x->used++] = '\0';
		return;
	}
	memcpy(x->buf + x->used, s, n);
	x->used += n;
	x->len[f] += n;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct feed_xml *x = ud;
	const char *ln = local(name);
	if (x->depth == 0) {
		if (strcmp(ln, x->def->record ? x->def->record : "item"))
			return;
		x->depth = 1;
		x->rec_line = (int64_t)XML_GetCurrentLineNumber(x->xp);
		x->overlong = false;
		x->capturing = -1;
		x->used = 0;
		memset(x->got, 0, sizeof(x->got));
		memset(x->len, 0, sizeof(x->len));
		return;
	}
	x->depth++;
	if (x->capturing >= 0)
		return; /* an element inside a field's: its text is the field's too */
	for (int f = 0; f < FEED_XML_FIELDS; f++) {
		if (!x->elem[f] || x->got[f] || strcmp(ln, x->elem[f]))
			continue;
		if (x->attr[f]) {
			for (int i = 0; atts[i]; i += 2)
				if (!strcmp(local(atts[i]), x->attr[f])) {
					x->got[f] = true;
					x->off[f] = x->used;
					put(x, f, atts[i + 1], strlen(atts[i + 1]));
					put(x, -1, NULL, 0);
					break;
				}
			continue;
		}
		x->got[f] = true;
		x->off[f] = x->used;
		x->capturing = f;
		x->cap_depth = x->depth;
		break;
	}
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int n)
{
	struct feed_xml *x = ud;
	if (x->depth > 0 && x->capturing >= 0 && n > 0)
		put(x, x->capturing, s, (size_t)n);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
	struct feed_xml *x = ud;
	const char *t[FEED_XML_FIELDS];
	(void)name;
	if (x->depth == 0)
		return;
	if (x->capturing >= 0 && x->depth == x->cap_depth) {
		put(x, -1, NULL, 0);
		x->capturing = -1;
	}
	if (--x->depth > 0)
		return;
	/* the record ends */
	if (x->overlong) {
		x->on_reject(x->arg, x->rec_line, "record longer than max_line");
		return;
	}
	for (int f = 0; f < FEED_XML_FIELDS; f++) {
		t[f] = NULL;
		if (x->got[f]) {
			/* trimmed: feeds indent their elements' text */
			char *s = x->buf + x->off[f], *e = s + x->len[f];
			while (s < e && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'))
				s++;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
				e--;
			*e = '\0';
			t[f] = s;
		}
	}
	if (x->on_record(x->arg, t, x->rec_line) < 0) {
		x->fatal = 1;
		XML_StopParser(x->xp, XML_FALSE);
	}
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
				   const XML_Char *value, int value_len, const XML_Char *base,
				   const XML_Char *system_id, const XML_Char *public_id,
				   const XML_Char *notation)
{
	struct feed_xml *x = ud;
	(void)name, (void)is_param, (void)value, (void)value_len, (void)base, (void)system_id;
	(void)public_id, (void)notation;
	x->refused = true;
	XML_StopParser(x->xp, XML_FALSE);
}

static void split_field(const char *spec, char **elem, char **attr)
{
	const char *at;
	*elem = *attr = NULL;
	if (!spec || !*spec)
		return;
	at = strchr(spec, '@');
	*elem = tip_xstrdup(spec);
	if (at) {
		(*elem)[at - spec] = '\0';
		*attr = tip_xstrdup(at + 1);
	}
}

struct feed_xml *feed_xml_new(const struct tip_feed_def *def, feed_xml_record_cb on_record,
			      feed_xml_reject_cb on_reject, void *arg)
{
	struct feed_xml *x = tip_xcalloc(1, sizeof(*x));
	const char *spec[FEED_XML_FIELDS] = {
		[FEED_XML_FIELD] = def->field ? def->field : "title",
		[FEED_XML_CATEGORY] = def->category_field,
		[FEED_XML_THREAT] = def->threat_field,
		[FEED_XML_TAGS] = def->tags_field,
		[FEED_XML_FIRST_SEEN] = def->first_seen_field,
		[FEED_XML_SKIP_IF] = def->skip_if_field,
	};
	x->def = def;
	x->on_record = on_record;
	x->on_reject = on_reject;
	x->arg = arg;
	x->capturing = -1;
	for (int f = 0; f < FEED_XML_FIELDS; f++)
		split_field(spec[f], &x->elem[f], &x->attr[f]);
	if (!(x->xp = XML_ParserCreate(NULL)))
		tip_fatalx("expat: out of memory");
	XML_SetUserData(x->xp, x);
	XML_SetElementHandler(x->xp, on_start, on_end);
	XML_SetCharacterDataHandler(x->xp, on_text);
	XML_SetEntityDeclHandler(x->xp, on_entity_decl);
	XML_SetParamEntityParsing(x->xp, XML_PARAM_ENTITY_PARSING_NEVER);
	return x;
}

int feed_xml_push(struct feed_xml *x, const char *data, size_t len, bool final,
		  struct tip_error *err)
{
	while (len || final) {
		int n = len > (1 << 30) ? 1 << 30 : (int)len;
		if (XML_Parse(x->xp, data, n, final && (size_t)n == len) == XML_STATUS_ERROR) {
			if (x->fatal)
				return TIP_ESTORE; /* the callback's own error is with its argument */
			if (x->refused)
				return tip_error_set(err, TIP_EINVAL,
						     "line %lu: the document declares an entity (refused: "
						     "a feed has no use for one)",
						     (unsigned long)XML_GetCurrentLineNumber(x->xp));
			return tip_error_set(err, TIP_EINVAL, "line %lu, column %lu: %s%s",
					     (unsigned long)XML_GetCurrentLineNumber(x->xp),
					     (unsigned long)XML_GetCurrentColumnNumber(x->xp) + 1,
					     XML_ErrorString(XML_GetErrorCode(x->xp)),
					     final ? " (the body is cut off?)" : "");
		}
		data += n;
		len -= (size_t)n;
		if (!len)
			break;
	}
	return 0;
}

int64_t feed_xml_lines(const struct feed_xml *x)
{
	return (int64_t)XML_GetCurrentLineNumber(x->xp);
}

void feed_xml_free(struct feed_xml *x)
{
	if (!x)
		return;
	XML_ParserFree(x->xp);
	for (int f = 0; f < FEED_XML_FIELDS; f++) {
		free(x->elem[f]);
		free(x->attr[f]);
	}
	free(x->buf);
	free(x);
}
