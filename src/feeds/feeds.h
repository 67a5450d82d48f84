/*
 * feeds.h — the public face of src/feeds: public blocklists fetched, parsed, normalised and
 * kept with their history.
 *
 *   definition  [feed NAME] config sections and feeds added with `tip feed add` (stored in the
 *               source table), both checked against one key table (tip_feed_keys)
 *   parser      push-based and streaming: bytes in, normalised indicators out; memory is
 *               bounded by the longest line / record / JSON element, never the feed's size
 *   fetch       libcurl into an unlinked spool file (http, https, file), conditional GET
 *   run         the "feeds" module: one feed run = one store transaction
 */
#ifndef TIP_FEEDS_H
#define TIP_FEEDS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "module/module.h"
#include "store/store.h"

/* ---------------------------------------------------------------------------------------- */
/* Definitions */

enum tip_feed_format {
	TIP_FEED_PLAIN, /* one indicator a line, # and ; comments, trailing comments */
	TIP_FEED_HOSTS, /* "0.0.0.0 name [name…]" */
	TIP_FEED_CIDR,  /* Spamhaus DROP style: "net/len ; SBLnnn" */
	TIP_FEED_CSV,   /* RFC 4180, configurable delimiter and columns */
	TIP_FEED_JSON,  /* one JSON array of objects (or strings) */
	TIP_FEED_JSONL, /* one JSON value per line */
	TIP_FEED_XML,   /* RSS, Atom or any list of record elements (expat) */
	TIP_FEED_FORMAT_MAX
};

enum tip_feed_watch { TIP_FEED_WATCH_NONE, TIP_FEED_WATCH_ALL, TIP_FEED_WATCH_CATEGORIES };

#define TIP_FEED_MAX_COMMENTS 8

struct tip_feed_def {
	char *name, *url;
	enum tip_feed_format format;
	int64_t interval_s;
	bool enabled;
	bool from_config; /* a [feed NAME] section, not `tip feed add` */
	/* parser options */
	char delimiter;
	char *comments[TIP_FEED_MAX_COMMENTS]; /* line prefixes (after leading blanks) */
	int n_comments;
	bool header;          /* the first non-comment line names the columns */
	int64_t skip_lines;   /* physical lines skipped before anything else */
	int64_t max_line;     /* longest line / record / JSON element, bytes */
	/* where the indicator and its attributes are: a 1-based column number or a header name
	 * (csv), a dotted path such as details.0.ip_address (json, jsonl), an element name or
	 * element@attribute inside the record (xml); NULL: not used */
	char *field, *prefix_field, *category_field, *threat_field, *tags_field, *first_seen_field;
	char *category, *threat; /* fixed values for every entry, NULL: none */
	char *record; /* xml: the record element's name (NULL: "item") */
	/* json, jsonl, xml: a record whose field skip_if_field holds the text skip_if_value is not an
	 * entry (counted as skipped): Spamhaus's JSON lists end with {"type": "metadata", …} */
	char *skip_if_field, *skip_if_value;
	enum tip_ind_type type;  /* TIP_IND_ANY: guessed per entry */
	/* watch policy */
	enum tip_feed_watch watch;
	char *watch_categories; /* comma-separated, for TIP_FEED_WATCH_CATEGORIES */
	/* fetching */
	int64_t timeout_s, connect_timeout_s, max_size, max_redirects;
	char *ca_file; /* absolute path of a PEM CA bundle trusted instead of the system's; NULL */
};

/* Every key a [feed NAME] section (or `tip feed add --set KEY=VALUE`) accepts. */
extern const struct tip_cfg_key tip_feed_keys[];

const char *tip_feed_format_name(enum tip_feed_format f);
int tip_feed_format_parse(const char *s, enum tip_feed_format *out);

/* Builds a definition from a [feed NAME] section (checked first: unknown key or bad value is an
 * error naming file, line and key). */
int tip_feed_def_from_section(const struct tip_config *cfg, const struct tip_config_section *s,
			      struct tip_feed_def *def, struct tip_error *err);
/* Builds a definition from a stored feed (`tip feed add`): options are "key=value" lines. */
int tip_feed_def_from_row(const struct tip_feed_row *row, struct tip_feed_def *def,
			  struct tip_error *err);
/* Checks "key=value" option lines as tip_feed_def_from_row would, naming the bad one. */
int tip_feed_options_check(const char *name, const char *url, const char *format,
			   const char *options, struct tip_error *err);
void tip_feed_def_free(struct tip_feed_def *def);

/* ---------------------------------------------------------------------------------------- */
/* Parsing */

#define TIP_FEED_SAMPLES 5

struct tip_feed_stats {
	int64_t lines;     /* physical lines read */
	int64_t entries;   /* indicators accepted */
	int64_t rejected;  /* entries (lines, records, elements) that did not parse */
	int64_t skipped;   /* comments, blank lines, header, skip_lines, localhost entries, skip_if */
	/* the first TIP_FEED_SAMPLES rejections, "line N: why" separated by newlines */
	char samples[TIP_FEED_SAMPLES * 240];
	int n_samples;
};

/* One accepted entry: the normalised indicator, its attributes (strings live only during the
 * call) and the line it started on. The indicator's registrable domain is left for
 * tip_indicator_registrable() (TIP_IND_LATER_REGISTRABLE): the store finds it for the entries
 * it writes, on its sort thread (store_sqlite_sort.c). */
typedef int (*tip_feed_entry_cb)(void *arg, const struct tip_indicator *ind,
				 const struct tip_sighting_attrs *attrs, int64_t line);

struct tip_feed_parser;

int tip_feed_parser_new(const struct tip_feed_def *def, tip_feed_entry_cb cb, void *arg,
			struct tip_feed_parser **out, struct tip_error *err);
/* Feeds bytes in any chunking. A negative return is fatal for the whole feed (the callback
 * failed, or the document's structure is broken); bad entries are only counted. */
int tip_feed_parser_push(struct tip_feed_parser *p, const char *data, size_t len,
			 struct tip_error *err);
/* End of input: flushes the last line and checks the document ended well. */
int tip_feed_parser_finish(struct tip_feed_parser *p, struct tip_error *err);
const struct tip_feed_stats *tip_feed_parser_stats(const struct tip_feed_parser *p);
void tip_feed_parser_free(struct tip_feed_parser *p);

/* ---------------------------------------------------------------------------------------- */
/* Fetching */

struct tip_feed_fetch {
	/* in: the previous validators (NULL: none) */
	const char *etag, *last_modified;
	volatile sig_atomic_t *cancel;
	/* out */
	long status;        /* HTTP status, 0 for file:// */
	bool not_modified;  /* 304: nothing to parse */
	FILE *body;         /* the spooled body, rewound (NULL when not_modified) */
	int64_t size;       /* bytes after content decoding */
	char *new_etag, *new_last_modified; /* NULL when the server sent none */
};

/* Fetches def->url into an unlinked temporary file. Fails (nothing is changed anywhere) on any
 * transport error, timeout, HTTP status other than 200/304, truncation, oversize, or a
 * redirect to another scheme. */
int tip_feed_fetch(const struct tip_feed_def *def, struct tip_feed_fetch *f, struct tip_error *err);
void tip_feed_fetch_free(struct tip_feed_fetch *f);

/* ---------------------------------------------------------------------------------------- */
/* Running */

/* The "feeds" module (registry.c). A scheduled run fetches every enabled feed that is due; a
 * run with args fetches the named feeds now (enabled or not). */
extern const struct tip_module tip_feeds_module;

/* One feed, now: fetch, parse, diff, store (one transaction), record the outcome on the feed.
 * Returns 0 also when the feed failed (its error is recorded on it and in *failed); < 0 only
 * when the store itself failed. */
int tip_feeds_run_one(struct tip_module_ctx *ctx, const struct tip_feed_def *def, bool *failed);

#endif
