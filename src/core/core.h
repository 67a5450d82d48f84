/*
 * core.h — the public face of src/core: errors, logging, time, the indicator model and the
 * configuration. Everything else in TIP builds on these; nothing here knows any module or store.
 */
#ifndef TIP_CORE_H
#define TIP_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "version.h"

/* ------------------------------------------------------------------------------------------ */
/* Errors. A function that can fail returns 0 or a negative TIP_E* code and, when it is given a
 * struct tip_error, says what went wrong in words a user can act on (file, line, field, value). */

enum {
	TIP_OK = 0,
	TIP_EINVAL = -1,   /* bad input: an indicator, a config value, a feed line */
	TIP_ENOMEM = -2,
	TIP_EIO = -3,      /* file or network I/O */
	TIP_ESTORE = -4,   /* the store refused or failed */
	TIP_ENOTFOUND = -5,
	TIP_EEXIST = -6,
	TIP_ETIMEOUT = -7,
	TIP_EUSAGE = -8,   /* command-line usage */
	TIP_ELIMIT = -9,   /* a size, count or resource limit was hit */
};

struct tip_error {
	int code;
	char msg[512];
};

/* Sets err (if not NULL) and returns code, so that `return tip_error_set(err, TIP_EINVAL, …)`
 * reads naturally. A NULL err is allowed everywhere. */
int tip_error_set(struct tip_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to an error already set. */
void tip_error_prefix(struct tip_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tip_error_clear(struct tip_error *err);
const char *tip_strerror(int code);

/* ------------------------------------------------------------------------------------------ */
/* Logging, after OpenBSD's log.c: tip_warn adds strerror(errno), tip_warnx does not.
 * Output goes to stderr or syslog, prefixed with the process's role ("master", "feeds"…). */

enum tip_log_level { TIP_LOG_ERR = 0, TIP_LOG_WARN, TIP_LOG_INFO, TIP_LOG_DEBUG };

void tip_log_init(const char *role, bool use_syslog, enum tip_log_level level);
void tip_log_set_role(const char *role);
int tip_log_level_parse(const char *s, enum tip_log_level *out);
void tip_vlog(enum tip_log_level level, const char *fmt, va_list ap);
void tip_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tip_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tip_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tip_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Startup failures and broken invariants only; never on input. */
void tip_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void tip_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ------------------------------------------------------------------------------------------ */
/* Time. TIP keeps times as int64 microseconds since the epoch (tip_time_t) in the store and
 * shows them as RFC 3339 UTC strings. A clock is injectable so the scheduler and the resolver
 * logic can run against a fake one in tests (as Unbound's testbound does). */

typedef int64_t tip_time_t; /* microseconds since 1970-01-01T00:00:00Z */
#define TIP_USEC 1
#define TIP_MSEC 1000LL
#define TIP_SEC 1000000LL

tip_time_t tip_now(void);           /* CLOCK_REALTIME */
tip_time_t tip_monotonic(void);     /* CLOCK_MONOTONIC */
/* The calling thread's CPU time in seconds (CLOCK_THREAD_CPUTIME_ID), for the debug log's and
 * the benchmarks' step timings: on a shared machine wall times move. */
double tip_thread_cpu(void);
/* Writes "2026-11-25T19:56:23Z": whole seconds (microseconds are kept in the store, not shown). */
char *tip_time_format(tip_time_t t, char *buf, size_t len);
#define TIP_TIME_BUFLEN 40
int tip_time_parse(const char *s, tip_time_t *out); /* RFC 3339 / "YYYY-MM-DD[ HH:MM:SS]" */
/* Durations in config and on the command line: "90", "90s", "15m", "2h", "1d", "500ms". */
int tip_duration_parse(const char *s, tip_time_t *out);

/* ------------------------------------------------------------------------------------------ */
/* Small helpers. */

void *tip_xmalloc(size_t n);   /* these abort on out-of-memory: used for small, bounded data */
void *tip_xcalloc(size_t n, size_t m);
void *tip_xrealloc(void *p, size_t n);
char *tip_xstrdup(const char *s);
/* Bounded copy that always terminates; returns false if it had to truncate. */
bool tip_strlcpy(char *dst, const char *src, size_t len);
/* Parses a whole decimal integer in [min, max]. */
int tip_parse_int(const char *s, long long min, long long max, long long *out);
int tip_parse_bool(const char *s, bool *out);

/* A growable array of strings. */
struct tip_strv {
	char **v;
	size_t n, cap;
};
void tip_strv_push(struct tip_strv *sv, const char *s);
void tip_strv_free(struct tip_strv *sv);

/* A temporary file, already unlinked (gone when closed), in $TMPDIR or else /tmp; `what` names
 * it in the error (which names the directory too). For the feeds' spool and the listing sort. */
FILE *tip_tmpfile(const char *what, struct tip_error *err);

/* ------------------------------------------------------------------------------------------ */
/* The indicator model: what TIP accepts from outside, normalised so that one thing has one
 * spelling. Nothing that fails these checks is ever stored. */

enum tip_ind_type {
	TIP_IND_ANY = 0, /* as a parse request: guess from the text */
	TIP_IND_DOMAIN,
	TIP_IND_IPV4,
	TIP_IND_IPV6,
	TIP_IND_CIDR,
	TIP_IND_URL,
	TIP_IND_EMAIL,
	TIP_IND_ASN, /* an autonomous system, "AS64500" (ASN-DROP style lists) */
	TIP_IND_TYPE_MAX
};

#define TIP_DOMAIN_MAX 253  /* presentation form, without the trailing dot */
#define TIP_IND_VALUE_MAX 2048

struct tip_indicator {
	enum tip_ind_type type;
	char value[TIP_IND_VALUE_MAX + 1]; /* canonical text */
	/* the host part: the domain itself, the URL's or e-mail's host, or empty */
	char host[TIP_DOMAIN_MAX + 3];
	/* the registrable domain (public-suffix + 1) of a domain host, or empty */
	char registrable[TIP_DOMAIN_MAX + 1];
	/* addresses: family 4 or 6, the 16-byte address (IPv4 in the first 4), prefix length */
	int family;
	uint8_t addr[16];
	int prefix;
	bool idn;     /* the domain had non-ASCII labels (or xn-- labels) */
	bool defanged; /* the input was defanged (hxxp, [.]) and was refanged */
	/* parsed with TIP_IND_LATER_REGISTRABLE: `registrable` is not filled in yet, ask
	 * tip_indicator_registrable() */
	bool registrable_pending;
};

const char *tip_ind_type_name(enum tip_ind_type t);
int tip_ind_type_parse(const char *s, enum tip_ind_type *out);

/* Parses `len` bytes of `in` (which may hold NULs: they are an error) as an indicator of type
 * `want` (TIP_IND_ANY guesses). Returns 0 and fills *out, or TIP_EINVAL with a message naming
 * the problem. */
int tip_indicator_parse(const char *in, size_t len, enum tip_ind_type want,
			struct tip_indicator *out, struct tip_error *err);
/* The same with flags. TIP_IND_LATER_REGISTRABLE leaves the registrable domain (a libpsl
 * look-up, the costliest step of a domain) for tip_indicator_registrable() to compute when it is
 * needed: a feed re-fetch looks most entries up by value only. */
#define TIP_IND_LATER_REGISTRABLE 1u
int tip_indicator_parse_flags(const char *in, size_t len, enum tip_ind_type want, unsigned flags,
			      struct tip_indicator *out, struct tip_error *err);
/* The registrable domain of a parsed indicator ("" if it has none): ind->registrable, or, when
 * that was left for later, computed now into buf. */
const char *tip_indicator_registrable(const struct tip_indicator *ind, char *buf, size_t len);

/* The pieces, for callers that know what they hold. `out` gets the canonical form. */
int tip_domain_normalize(const char *in, size_t len, char *out, size_t outlen, bool *idn,
			 struct tip_error *err);
int tip_registrable_domain(const char *domain, char *out, size_t outlen);
/* The same as a suffix of `domain` (libpsl answers with one), or NULL if it has none. */
const char *tip_registrable_suffix(const char *domain);
/* An address (family 4 or 6, 16 bytes) in canonical text: dotted quad, or RFC 5952 IPv6.
 * buf should hold INET6_ADDRSTRLEN (46) bytes. Returns buf. */
char *tip_addr_format(int family, const uint8_t *addr, char *buf, size_t len);
/* Does CIDR (family, addr, prefix) contain the address (family, a)? */
bool tip_cidr_contains(int family, const uint8_t *net, int prefix, int afamily, const uint8_t *a);

/* ------------------------------------------------------------------------------------------ */
/* Configuration: one INI file, read with inih. Every key is described by one table (config.c):
 * name, type, default, range, doc — validation, defaults, `tip config show` and etc/tip.conf
 * come from it. Sections that name things ([feed NAME], [module NAME]) are kept as key/value
 * lists with their line numbers; the code that owns them checks them with
 * tip_config_section_check() against a table of its own. */

struct tip_kv {
	char *key;
	char *value;
	int line;
};

struct tip_config_section {
	char *kind; /* "feed", "module" */
	char *name;
	char *file; /* the included file it came from, NULL: the main file */
	int line;
	struct tip_kv *kv;
	size_t n_kv;
};

struct tip_dns_server {
	char host[64];
	int port;
};

#define TIP_DNS_MAX_SERVERS 8

struct tip_config {
	char *path; /* the file read, or NULL when only defaults apply */

	struct {
		char *url;
	} store;

	struct {
		char *pidfile;
		char *log;        /* "stderr" or "syslog" */
		char *log_level;  /* err, warn, info, debug */
		long long max_children;
		long long grace_ms;   /* SIGTERM → SIGKILL */
		long long rlimit_as_mb, rlimit_nofile, rlimit_cpu_s;
	} daemon;

	struct {
		struct tip_dns_server servers[TIP_DNS_MAX_SERVERS];
		int n_servers; /* 0: /etc/resolv.conf */
		char *rrtypes;
		long long concurrency, timeout_ms, retries, qps;
		long long min_interval_s; /* a domain is due no sooner than this after its last round */
		long long rcvbuf;
		long long edns_size; /* EDNS(0) UDP payload size advertised, 0: no EDNS */
	} dns;

	struct {
		char *locdb;
		char *mmdb_asn, *mmdb_country;
	} enrich;

	struct {
		char *listen, *token;
	} web;

	struct {
		char *listen, *domains, *maildir;
		long long max_size;
	} spamtrap;

	struct {
		long long window_s, min_rounds;
		char *allowlist;
	} flux;

	struct {
		char *include; /* a glob of files holding [feed NAME] sections (etc/feeds.d) */
	} feeds;

	struct tip_config_section *sections; /* [feed …], [module …] in file order */
	size_t n_sections;
};

/* A key a named section accepts; tip_config_section_check() validates against a table. */
enum tip_cfg_type { TIP_CFG_STR, TIP_CFG_INT, TIP_CFG_BOOL, TIP_CFG_DURATION };
struct tip_cfg_key {
	const char *key;
	enum tip_cfg_type type;
	const char *def;
	long long min, max;
	const char *doc;
};

/* Loads defaults, then `path` if not NULL, then the files [feeds] include names (a glob,
 * relative to path's folder, in name order; they may hold only [feed NAME] and [module NAME]
 * sections, and a name defined in one file may not be defined again in another). On error,
 * the message names file, line and key. */
int tip_config_load(struct tip_config *cfg, const char *path, struct tip_error *err);
/* Which file to read: -c, then $TIP_CONFIG, then ./tip.conf, then /etc/tip/tip.conf, else
 * none (defaults). Returns a string to free, or NULL for defaults. */
char *tip_config_find(const char *cli_path);
void tip_config_free(struct tip_config *cfg);
/* Writes every key with its value and doc, in etc/tip.conf's shape. */
void tip_config_dump(const struct tip_config *cfg, FILE *f);

const struct tip_config_section *tip_config_section(const struct tip_config *cfg,
						    const char *kind, const char *name);
const struct tip_kv *tip_config_kv(const struct tip_config_section *s, const char *key);
/* Checks every key of s against keys[] (NULL-key terminated): unknown keys and bad values are
 * errors naming file, line and key. */
int tip_config_section_check(const struct tip_config *cfg, const struct tip_config_section *s,
			     const struct tip_cfg_key *keys, struct tip_error *err);
/* The value of key in s, or the table default; parsed per type. */
const char *tip_config_section_str(const struct tip_config_section *s,
				   const struct tip_cfg_key *keys, const char *key);
long long tip_config_section_int(const struct tip_config_section *s,
				 const struct tip_cfg_key *keys, const char *key);

#endif
