/*
 * def.c — feed definitions: one key table for [feed NAME] sections and for the options of
 * feeds added with `tip feed add … --set KEY=VALUE` (kept as "key=value" lines in the store).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feeds.h"

#define MiB (1024LL * 1024)

const struct tip_cfg_key tip_feed_keys[] = {
	{ "url", TIP_CFG_STR, "", 0, 0, "where the feed is: http://, https:// or file://" },
	{ "format", TIP_CFG_STR, "", 0, 0, "plain, hosts, cidr, csv, json, jsonl or xml" },
	{ "interval", TIP_CFG_DURATION, "3600", 60, 86400 * 30, "how often it is fetched" },
	{ "enabled", TIP_CFG_BOOL, "yes", 0, 0, "fetched by scheduled runs" },
	{ "delimiter", TIP_CFG_STR, "comma", 0, 0,
	  "csv field separator: one character or comma, tab, semicolon, pipe, space, colon, hash" },
	{ "comments", TIP_CFG_STR, NULL, 0, 0,
	  "comment line prefixes, blank-separated; hash, semicolon and slashes name #, ; and //; "
	  "'none' for none (default: hash semicolon for plain, hosts, cidr; hash for csv; none for "
	  "json, jsonl, xml)" },
	{ "header", TIP_CFG_BOOL, "no", 0, 0,
	  "the first line that is not a comment names the columns (csv) or is skipped" },
	{ "skip_lines", TIP_CFG_INT, "0", 0, 1000000, "lines skipped at the top, before anything else" },
	{ "max_line", TIP_CFG_INT, "65536", 256, 16 * MiB,
	  "longest line, CSV record or JSON array element, bytes (longer ones are rejected)" },
	{ "field", TIP_CFG_STR, NULL, 0, 0,
	  "where the indicator is: csv column number or header name (default 1); json field path "
	  "such as url or details.0.ip_address; xml element (default title) or element@attribute "
	  "inside the record" },
	{ "record", TIP_CFG_STR, NULL, 0, 0,
	  "xml: the element each record is (default item, as in RSS; entry for Atom)" },
	{ "prefix_field", TIP_CFG_STR, NULL, 0, 0,
	  "csv column holding a prefix length: the indicator becomes FIELD/PREFIX (DShield)" },
	{ "category", TIP_CFG_STR, NULL, 0, 0, "category of every entry (malware, phishing, c2, …)" },
	{ "category_field", TIP_CFG_STR, NULL, 0, 0, "column or field holding the category" },
	{ "threat", TIP_CFG_STR, NULL, 0, 0, "threat of every entry" },
	{ "threat_field", TIP_CFG_STR, NULL, 0, 0, "column or field holding the threat" },
	{ "tags_field", TIP_CFG_STR, NULL, 0, 0, "column or field holding tags" },
	{ "first_seen_field", TIP_CFG_STR, NULL, 0, 0,
	  "column or field holding the feed's own first-seen time" },
	{ "skip_if", TIP_CFG_STR, NULL, 0, 0,
	  "json, jsonl, xml: FIELD=VALUE; a record whose field holds that text is skipped, not "
	  "rejected (Spamhaus's JSON lists: type=metadata)" },
	{ "type", TIP_CFG_STR, "any", 0, 0,
	  "what every entry must be: any (guessed), domain, ipv4, ipv6, cidr, url, email, asn" },
	{ "watch", TIP_CFG_STR, "none", 0, 0,
	  "which domains go onto the fast-flux watch list: none, all, or categories (a, b, …)" },
	{ "timeout", TIP_CFG_DURATION, "300", 1, 86400, "total time a fetch may take" },
	{ "connect_timeout", TIP_CFG_DURATION, "30", 1, 3600, "time to connect" },
	{ "max_size", TIP_CFG_INT, "268435456", 1024, 1LL << 40, "largest body, bytes (decoded)" },
	{ "max_redirects", TIP_CFG_INT, "5", 0, 50, "redirects followed at most (http, https only)" },
	{ "ca_file", TIP_CFG_STR, NULL, 0, 0,
	  "PEM file of the CA certificates trusted for https instead of the system's (a private "
	  "CA); relative to the config file's folder" },
	{ NULL, 0, NULL, 0, 0, NULL },
};

static const char *const format_names[TIP_FEED_FORMAT_MAX] = {
	"plain", "hosts", "cidr", "csv", "json", "jsonl", "xml",
};

const char *tip_feed_format_name(enum tip_feed_format f)
{
	return f < TIP_FEED_FORMAT_MAX ? format_names[f] : "?";
}

int tip_feed_format_parse(const char *s, enum tip_feed_format *out)
{
	for (int i = 0; i < TIP_FEED_FORMAT_MAX; i++)
		if (!strcmp(s, format_names[i])) {
			*out = (enum tip_feed_format)i;
			return 0;
		}
	return TIP_EINVAL;
}

static const struct {
	const char *name, *text;
} char_names[] = {
	{ "comma", "," }, { "tab", "\t" },   { "semicolon", ";" }, { "pipe", "|" },
	{ "space", " " }, { "colon", ":" },  { "hash", "#" },      { "slashes", "//" },
	{ NULL, NULL },
};

static const char *named_chars(const char *s)
{
	for (int i = 0; char_names[i].name; i++)
		if (!strcasecmp(s, char_names[i].name))
			return char_names[i].text;
	return s;
}

/* The value of a key: from the section, or the table's default. */
static const char *val(const struct tip_config_section *s, const char *key)
{
	return tip_config_section_str(s, tip_feed_keys, key);
}

static char *dup_or_null(const char *s)
{
	return s && *s ? tip_xstrdup(s) : NULL;
}

/* Where a key is, for messages: "file:line: [feed x] key" (its own line), or, for stored
 * options (file NULL), "where key". */
static void key_at(char *at, size_t len, const struct tip_config_section *s, const char *file,
		   const char *where, const char *key)
{
	const struct tip_kv *kv = tip_config_kv(s, key);
	if (file && kv)
		snprintf(at, len, "%s:%d: [feed %s] %s", file, kv->line, s->name, key);
	else
		snprintf(at, len, "%s %s", where, key);
}

/* The PEM line every certificate starts with: a CA file without one is surely a mistake
 * (a DER file, a key, the wrong path) that curl would only report at fetch time. */
static const char pem_begin[] = "-----BEGIN CERTIFICATE-----";

/* ca_file: made absolute (relative to base_dir, the folder of the file that gives it; NULL:
 * taken as given), and checked: a readable regular file holding a PEM certificate. */
static int ca_file_set(const struct tip_config_section *s, const char *file, const char *base_dir,
		       const char *where, struct tip_feed_def *def, struct tip_error *err)
{
	const struct tip_kv *kv = tip_config_kv(s, "ca_file");
	char full[PATH_MAX + 1], at[700], line[256];
	const char *why = NULL;
	struct stat st;
	bool pem = false;
	FILE *f;
	int fd;

	if (!kv || !*kv->value)
		return 0;
	key_at(at, sizeof(at), s, file, where, "ca_file");
	if (kv->value[0] != '/' && base_dir) {
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", base_dir, kv->value) >= sizeof(full))
			return tip_error_set(err, TIP_EINVAL, "%s: path too long", at);
	} else if (!tip_strlcpy(full, kv->value, sizeof(full))) {
		return tip_error_set(err, TIP_EINVAL, "%s: path too long", at);
	}
	if ((fd = open(full, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0)
		return tip_error_set(err, TIP_EINVAL, "%s: '%s': %s", at, full, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return tip_error_set(err, TIP_EINVAL, "%s: '%s' is not a regular file", at, full);
	}
	if (!(f = fdopen(fd, "r"))) {
		close(fd);
		return tip_error_set(err, TIP_EINVAL, "%s: '%s': %s", at, full, strerror(errno));
	}
	while (!pem && fgets(line, sizeof(line), f))
		pem = !strncmp(line, pem_begin, sizeof(pem_begin) - 1);
	if (ferror(f))
		why = strerror(errno);
	fclose(f);
	if (why)
		return tip_error_set(err, TIP_EINVAL, "%s: '%s': %s", at, full, why);
	if (!pem)
		return tip_error_set(err, TIP_EINVAL, "%s: '%s' holds no PEM certificate (%s)", at,
				     full, pem_begin);
	def->ca_file = tip_xstrdup(full);
	return 0;
}

/* Builds def from a section already checked against tip_feed_keys; `where` names it in
 * messages ("file:line: [feed x]"); `file` is the file the section is in (NULL: stored
 * options), `base_dir` the folder its relative paths are relative to (NULL: as given). */
static int build(const struct tip_config_section *s, const char *where, const char *file,
		 const char *base_dir, struct tip_feed_def *def, struct tip_error *err)
{
	const char *v;
	const struct tip_kv *kv;

	memset(def, 0, sizeof(*def));
	def->name = tip_xstrdup(s->name);
	v = val(s, "url");
	if (!v || !*v)
		return tip_error_set(err, TIP_EINVAL, "%s: no url", where);
	if (strncasecmp(v, "http://", 7) && strncasecmp(v, "https://", 8) &&
	    strncasecmp(v, "file://", 7))
		return tip_error_set(err, TIP_EINVAL, "%s url: '%s' is not http://, https:// or file://",
				     where, v);
	def->url = tip_xstrdup(v);
	v = val(s, "format");
	if (!v || !*v)
		return tip_error_set(err, TIP_EINVAL, "%s: no format (plain, hosts, cidr, csv, json, jsonl, xml)",
				     where);
	if (tip_feed_format_parse(v, &def->format) < 0)
		return tip_error_set(err, TIP_EINVAL,
				     "%s format: '%s' is not plain, hosts, cidr, csv, json, jsonl or xml",
				     where, v);
	def->interval_s = tip_config_section_int(s, tip_feed_keys, "interval");
	def->enabled = tip_config_section_int(s, tip_feed_keys, "enabled") != 0;
	def->header = tip_config_section_int(s, tip_feed_keys, "header") != 0;
	def->skip_lines = tip_config_section_int(s, tip_feed_keys, "skip_lines");
	def->max_line = tip_config_section_int(s, tip_feed_keys, "max_line");
	def->timeout_s = tip_config_section_int(s, tip_feed_keys, "timeout");
	def->connect_timeout_s = tip_config_section_int(s, tip_feed_keys, "connect_timeout");
	def->max_size = tip_config_section_int(s, tip_feed_keys, "max_size");
	def->max_redirects = tip_config_section_int(s, tip_feed_keys, "max_redirects");

	v = named_chars(val(s, "delimiter"));
	if (strlen(v) != 1)
		return tip_error_set(err, TIP_EINVAL,
				     "%s delimiter: '%s' is not one character (or comma, tab, …)",
				     where, val(s, "delimiter"));
	def->delimiter = v[0];

	kv = tip_config_kv(s, "comments");
	if (kv) {
		char buf[512], *save = NULL;
		if (!tip_strlcpy(buf, kv->value, sizeof(buf)))
			return tip_error_set(err, TIP_EINVAL, "%s comments: too long", where);
		for (char *t = strtok_r(buf, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
			if (!strcasecmp(t, "none"))
				continue;
			if (def->n_comments == TIP_FEED_MAX_COMMENTS)
				return tip_error_set(err, TIP_EINVAL, "%s comments: more than %d prefixes",
						     where, TIP_FEED_MAX_COMMENTS);
			def->comments[def->n_comments++] = tip_xstrdup(named_chars(t));
		}
	} else if (def->format == TIP_FEED_PLAIN || def->format == TIP_FEED_HOSTS ||
		   def->format == TIP_FEED_CIDR) {
		def->comments[def->n_comments++] = tip_xstrdup("#");
		def->comments[def->n_comments++] = tip_xstrdup(";");
	} else if (def->format == TIP_FEED_CSV) {
		def->comments[def->n_comments++] = tip_xstrdup("#");
	}
	if (def->format == TIP_FEED_CSV) {
		for (int i = 0; i < def->n_comments; i++)
			if (def->comments[i][0] == def->delimiter)
				return tip_error_set(err, TIP_EINVAL,
						     "%s comments: '%s' starts with the delimiter; set "
						     "comments = none or another prefix",
						     where, def->comments[i]);
	}

	def->field = dup_or_null(val(s, "field"));
	def->prefix_field = dup_or_null(val(s, "prefix_field"));
	def->category = dup_or_null(val(s, "category"));
	def->category_field = dup_or_null(val(s, "category_field"));
	def->threat = dup_or_null(val(s, "threat"));
	def->threat_field = dup_or_null(val(s, "threat_field"));
	def->tags_field = dup_or_null(val(s, "tags_field"));
	def->first_seen_field = dup_or_null(val(s, "first_seen_field"));
	if ((v = val(s, "skip_if")) && *v) {
		const char *eq = strchr(v, '=');
		char at[700];
		key_at(at, sizeof(at), s, file, where, "skip_if");
		if (def->format != TIP_FEED_JSON && def->format != TIP_FEED_JSONL &&
		    def->format != TIP_FEED_XML)
			return tip_error_set(err, TIP_EINVAL, "%s: only for format json, jsonl and xml",
					     at);
		if (!eq || eq == v || !eq[1])
			return tip_error_set(err, TIP_EINVAL,
					     "%s: '%s' is not FIELD=VALUE (such as type=metadata)", at, v);
		def->skip_if_field = tip_xstrdup(v);
		def->skip_if_field[eq - v] = '\0';
		def->skip_if_value = tip_xstrdup(eq + 1);
	}
	if ((def->format == TIP_FEED_JSON || def->format == TIP_FEED_JSONL) && !def->field)
		tip_debug("feed %s: no field: only JSON strings are entries", def->name);
	if (def->format != TIP_FEED_CSV && def->prefix_field)
		return tip_error_set(err, TIP_EINVAL, "%s prefix_field: only for format csv", where);
	def->record = dup_or_null(val(s, "record"));
	if (def->record && def->format != TIP_FEED_XML)
		return tip_error_set(err, TIP_EINVAL, "%s record: only for format xml", where);
	if (def->format != TIP_FEED_CSV && def->format != TIP_FEED_JSON &&
	    def->format != TIP_FEED_JSONL && def->format != TIP_FEED_XML &&
	    (def->field || def->category_field || def->threat_field || def->tags_field ||
	     def->first_seen_field))
		return tip_error_set(err, TIP_EINVAL,
				     "%s: field options are for csv, json, jsonl and xml, not %s", where,
				     tip_feed_format_name(def->format));
	if (def->format == TIP_FEED_CSV) {
		const char *cols[] = { def->field, def->prefix_field, def->category_field,
				       def->threat_field, def->tags_field, def->first_seen_field };
		for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
			long long n;
			if (cols[i] && tip_parse_int(cols[i], 1, 256, &n) < 0 && !def->header)
				return tip_error_set(err, TIP_EINVAL,
						     "%s: column '%s' is a name, which needs header = yes "
						     "(or give its number, 1 to 256)",
						     where, cols[i]);
		}
	}

	v = val(s, "type");
	if (!strcmp(v, "any"))
		def->type = TIP_IND_ANY;
	else if (tip_ind_type_parse(v, &def->type) < 0 || def->type == TIP_IND_ANY)
		return tip_error_set(err, TIP_EINVAL,
				     "%s type: '%s' is not any, domain, ipv4, ipv6, cidr, url, email or asn",
				     where, v);

	v = val(s, "watch");
	if (!strcmp(v, "none") || !*v)
		def->watch = TIP_FEED_WATCH_NONE;
	else if (!strcmp(v, "all"))
		def->watch = TIP_FEED_WATCH_ALL;
	else {
		def->watch = TIP_FEED_WATCH_CATEGORIES;
		def->watch_categories = tip_xstrdup(v);
	}
	return ca_file_set(s, file, base_dir, where, def, err);
}

int tip_feed_def_from_section(const struct tip_config *cfg, const struct tip_config_section *s,
			      struct tip_feed_def *def, struct tip_error *err)
{
	char where[512], base[PATH_MAX], *dup = NULL;
	const char *file = s->file ? s->file : cfg->path ? cfg->path : "(config)", *dir = NULL;
	const struct tip_kv *kv;
	int rc;

	memset(def, 0, sizeof(*def));
	if ((rc = tip_config_section_check(cfg, s, tip_feed_keys, err)) < 0)
		return rc;
	/* messages name the line of the key when it is there, else the section's */
	kv = tip_config_kv(s, "url");
	snprintf(where, sizeof(where), "%s:%d: [feed %s]", file, kv ? kv->line : s->line, s->name);
	/* relative paths are relative to the folder of the file the section is in, made
	 * absolute (as the main config's path keys: a daemon that changed folder finds them) */
	if (s->file || cfg->path) {
		dup = tip_xstrdup(s->file ? s->file : cfg->path);
		dir = dirname(dup);
		if (realpath(dir, base))
			dir = base;
	}
	rc = build(s, where, file, dir, def, err);
	free(dup);
	if (rc < 0) {
		tip_feed_def_free(def);
		return rc;
	}
	def->from_config = true;
	return 0;
}

/* "key=value" lines into a section of their own (line = line number in the options text). */
static void options_section(const char *name, const char *url, const char *format,
			    const char *options, struct tip_config_section *s)
{
	char *copy = tip_xstrdup(options ? options : ""), *save = NULL;
	int line = 0;

	memset(s, 0, sizeof(*s));
	s->kind = tip_xstrdup("feed");
	s->name = tip_xstrdup(name);
	s->kv = tip_xcalloc(2, sizeof(*s->kv));
	s->kv[0] = (struct tip_kv){ tip_xstrdup("url"), tip_xstrdup(url ? url : ""), 0 };
	s->kv[1] = (struct tip_kv){ tip_xstrdup("format"), tip_xstrdup(format ? format : ""), 0 };
	s->n_kv = 2;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		line++;
		s->kv = tip_xrealloc(s->kv, (s->n_kv + 1) * sizeof(*s->kv));
		if (eq)
			*eq = '\0';
		s->kv[s->n_kv++] = (struct tip_kv){ tip_xstrdup(l), tip_xstrdup(eq ? eq + 1 : ""),
						    line };
	}
	free(copy);
}

static void section_free(struct tip_config_section *s)
{
	for (size_t i = 0; i < s->n_kv; i++) {
		free(s->kv[i].key);
		free(s->kv[i].value);
	}
	free(s->kv);
	free(s->kind);
	free(s->name);
}

static int from_options(const char *name, const char *url, const char *format,
			const char *options, int64_t interval_s, bool enabled,
			struct tip_feed_def *def, struct tip_error *err)
{
	struct tip_config_section s;
	struct tip_config fake = { .path = "(feed options)" };
	char where[300];
	int rc;

	options_section(name, url, format, options, &s);
	snprintf(where, sizeof(where), "feed %s", name);
	rc = tip_config_section_check(&fake, &s, tip_feed_keys, err);
	if (rc == 0)
		rc = build(&s, where, NULL, NULL, def, err);
	else
		memset(def, 0, sizeof(*def));
	section_free(&s);
	if (rc < 0) {
		tip_feed_def_free(def);
		return rc;
	}
	if (interval_s > 0)
		def->interval_s = interval_s;
	def->enabled = enabled;
	return 0;
}

int tip_feed_options_check(const char *name, const char *url, const char *format,
			   const char *options, struct tip_error *err)
{
	struct tip_feed_def def;
	int rc = from_options(name, url, format, options, 0, true, &def, err);
	if (rc == 0)
		tip_feed_def_free(&def);
	return rc;
}

int tip_feed_def_from_row(const struct tip_feed_row *row, struct tip_feed_def *def,
			  struct tip_error *err)
{
	return from_options(row->name, row->url, row->format, row->options, row->interval_s,
			    row->enabled, def, err);
}

void tip_feed_def_free(struct tip_feed_def *def)
{
	free(def->name);
	free(def->url);
	for (int i = 0; i < def->n_comments; i++)
		free(def->comments[i]);
	free(def->field);
	free(def->prefix_field);
	free(def->category);
	free(def->category_field);
	free(def->threat);
	free(def->threat_field);
	free(def->tags_field);
	free(def->first_seen_field);
	free(def->record);
	free(def->skip_if_field);
	free(def->skip_if_value);
	free(def->watch_categories);
	free(def->ca_file);
	memset(def, 0, sizeof(*def));
}
