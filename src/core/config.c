/*
 * config.c — one INI file, read with inih, checked against one table (after Redis's config.c):
 * each item has its section, key, type, default, range and doc, and validation, defaults and
 * `tip config show` all come from the table. [feed NAME] and [module NAME] sections are kept
 * as key/value lists with line numbers; their owners check them (tip_config_section_check).
 */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <glob.h>
#include <libgen.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* IT_PATH is a string; a relative path given in a file is taken relative to that file's
 * folder, so a config and the files beside it (allowlist.conf, feeds.d/) travel together. */
enum item_type { IT_STR, IT_PATH, IT_INT, IT_DNS_SERVERS };

struct item {
	const char *section, *key;
	enum item_type type;
	size_t off;
	const char *def;
	long long min, max;
	const char *doc;
	int (*check)(const char *v, char *why, size_t whylen); /* optional, for strings */
	bool or_off; /* IT_INT: 0 (off) is allowed too, outside min..max */
};

static int one_of(const char *v, const char *const *ok, char *why, size_t whylen)
{
	for (int i = 0; ok[i]; i++)
		if (!strcmp(v, ok[i]))
			return 0;
	snprintf(why, whylen, "'%s' is not one of:", v);
	for (int i = 0; ok[i]; i++)
		snprintf(why + strlen(why), whylen - strlen(why), " %s", ok[i]);
	return TIP_EINVAL;
}

static int check_log(const char *v, char *why, size_t whylen)
{
	static const char *const ok[] = { "stderr", "syslog", NULL };
	return one_of(v, ok, why, whylen);
}

static int check_level(const char *v, char *why, size_t whylen)
{
	static const char *const ok[] = { "err", "warn", "info", "debug", NULL };
	return one_of(v, ok, why, whylen);
}

static int check_url(const char *v, char *why, size_t whylen)
{
	if (!strncmp(v, "sqlite:", 7) && v[7] && strcmp(v + 7, "//") && strcmp(v + 7, "///"))
		return 0;
	if (!strncmp(v, "postgresql://", 13) || !strncmp(v, "postgres://", 11))
		return 0;
	snprintf(why, whylen, "'%s' is not sqlite:///path or postgresql://…", v);
	return TIP_EINVAL;
}

/* "A, AAAA, NS": record types the resolver knows how to ask and store */
static int check_rrtypes(const char *v, char *why, size_t whylen)
{
	static const char *const ok[] = { "A", "AAAA", "NS", NULL };
	char buf[256], *save = NULL;
	int n = 0;
	if (!tip_strlcpy(buf, v, sizeof(buf))) {
		snprintf(why, whylen, "too long");
		return TIP_EINVAL;
	}
	for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save), n++)
		if (one_of(t, ok, why, whylen) < 0)
			return TIP_EINVAL;
	if (n == 0) {
		snprintf(why, whylen, "empty: give at least one of A, AAAA, NS");
		return TIP_EINVAL;
	}
	return 0;
}

#define OFF(f) offsetof(struct tip_config, f)
#define BIG 1000000000000LL

static const struct item items[] = {
	{ "store", "url", IT_STR, OFF(store.url), "sqlite:///var/lib/tip/tip.db", 0, 0,
	  "where TIP keeps everything: sqlite:///absolute/path, sqlite://relative/path, or (later) "
	  "postgresql://user@host/db", check_url },

	{ "daemon", "pidfile", IT_PATH, OFF(daemon.pidfile), "/run/tip.pid", 0, 0,
	  "pid file of `tip run` when it daemonises" },
	{ "daemon", "log", IT_STR, OFF(daemon.log), "stderr", 0, 0, "stderr or syslog", check_log },
	{ "daemon", "log_level", IT_STR, OFF(daemon.log_level), "info", 0, 0, "err, warn, info or debug", check_level },
	{ "daemon", "max_children", IT_INT, OFF(daemon.max_children), "4", 1, 256,
	  "module passes running at once" },
	{ "daemon", "grace_ms", IT_INT, OFF(daemon.grace_ms), "5000", 0, 600000,
	  "after SIGTERM, how long a child has before SIGKILL" },
	{ "daemon", "rlimit_as_mb", IT_INT, OFF(daemon.rlimit_as_mb), "0", 0, 1048576,
	  "address-space limit of each child in MiB (0: none)" },
	{ "daemon", "rlimit_nofile", IT_INT, OFF(daemon.rlimit_nofile), "0", 0, 1048576,
	  "open-file limit of each child (0: inherited)" },
	{ "daemon", "rlimit_cpu_s", IT_INT, OFF(daemon.rlimit_cpu_s), "0", 0, 86400 * 7,
	  "CPU-seconds limit of each child (0: none)" },

	{ "dns", "servers", IT_DNS_SERVERS, 0, "", 0, 0,
	  "resolvers as host[:port], comma-separated (IPv6 as [addr]:port); empty: /etc/resolv.conf" },
	{ "dns", "rrtypes", IT_STR, OFF(dns.rrtypes), "A, AAAA, NS", 0, 0,
	  "record types each watched domain is resolved for (A, AAAA, NS)", check_rrtypes },
	{ "dns", "concurrency", IT_INT, OFF(dns.concurrency), "2000", 1, 100000,
	  "queries in flight at most" },
	{ "dns", "timeout_ms", IT_INT, OFF(dns.timeout_ms), "2000", 10, 60000, "the last try's timeout; earlier tries are sent again after the measured round trip" },
	{ "dns", "retries", IT_INT, OFF(dns.retries), "2", 0, 10, "tries after the first" },
	{ "dns", "qps", IT_INT, OFF(dns.qps), "0", 0, 10000000,
	  "queries per second per server at most (0: no limit)" },
	{ "dns", "min_interval", IT_INT, OFF(dns.min_interval_s), "300", 0, 86400 * 30,
	  "seconds: a domain is resolved again no sooner than this, even when its TTL is shorter" },
	{ "dns", "rcvbuf", IT_INT, OFF(dns.rcvbuf), "4194304", 0, 1 << 30,
	  "socket receive buffer in bytes asked for the resolver's sockets" },
	/* 4096: c-ares 1.18 reads UDP answers into a buffer of 4096 + 1 bytes (MAXENDSSZ) */
	{ "dns", "edns_size", IT_INT, OFF(dns.edns_size), "1232", 512, 4096,
	  "EDNS(0) UDP payload size advertised in queries, bytes (512 to 4096; 0: no EDNS, answers "
	  "over 512 bytes come over TCP)", NULL, true },

	{ "enrich", "locdb", IT_PATH, OFF(enrich.locdb), "/var/lib/location/database.db", 0, 0,
	  "libloc database (Debian libloc-database); empty disables" },
	{ "enrich", "mmdb_asn", IT_PATH, OFF(enrich.mmdb_asn), "", 0, 0,
	  "MaxMind ASN database (.mmdb); empty: not used" },
	{ "enrich", "mmdb_country", IT_PATH, OFF(enrich.mmdb_country), "", 0, 0,
	  "MaxMind country database (.mmdb); empty: not used" },

	{ "web", "listen", IT_STR, OFF(web.listen), "127.0.0.1:8080", 0, 0, "web interface address (not used yet: the web interface is a later release)" },
	{ "web", "token", IT_STR, OFF(web.token), "", 0, 0, "API token (empty: read-only without one; not used yet)" },

	{ "spamtrap", "listen", IT_STR, OFF(spamtrap.listen), "127.0.0.1:2525", 0, 0,
	  "SMTP trap address (not used yet: the spamtrap is a later release)" },
	{ "spamtrap", "domains", IT_STR, OFF(spamtrap.domains), "", 0, 0,
	  "domains the trap accepts mail for, comma-separated (not used yet)" },
	{ "spamtrap", "maildir", IT_PATH, OFF(spamtrap.maildir), "", 0, 0, "maildir to read spam from (not used yet)" },
	{ "spamtrap", "max_size", IT_INT, OFF(spamtrap.max_size), "10485760", 1024, 1LL << 32,
	  "largest message accepted, bytes (not used yet)" },

	{ "flux", "window", IT_INT, OFF(flux.window_s), "604800", 60, 86400 * 365,
	  "seconds of resolution history a verdict looks at" },
	{ "flux", "min_rounds", IT_INT, OFF(flux.min_rounds), "3", 1, 1000,
	  "rounds needed before a verdict other than unknown" },
	{ "feeds", "include", IT_STR, OFF(feeds.include), "", 0, 0,
	  "files with [feed NAME] sections, a glob relative to this file's folder (e.g. "
	  "/etc/tip/feeds.d/*.conf); empty: none" },

	{ "flux", "allowlist", IT_PATH, OFF(flux.allowlist), "/etc/tip/allowlist.conf", 0, 0,
	  "known-good ASNs and prefixes (CDNs, large hosters); a relative path is relative to the config file" },
};

static const char *named_kinds[] = { "feed", "module", NULL };

struct load_state {
	struct tip_config *cfg;
	const char *file;
	FILE *fp;
	int line;
	bool at_line_start;
	struct tip_error *err;
	int rc;
	bool included; /* an included file: named sections only */
	unsigned char seen[sizeof(items) / sizeof(items[0])];
	int seen_line[sizeof(items) / sizeof(items[0])];
	/* the last [feed NAME] header and whether a key followed it: an empty one is a mistake
	 * (a feed needs a url and a format), not something to skip in silence */
	char feed_header[256];
	int feed_header_line;
	bool feed_header_keys;
};

static char **str_at(struct tip_config *cfg, const struct item *it)
{
	return (char **)((char *)cfg + it->off);
}

static long long *int_at(struct tip_config *cfg, const struct item *it)
{
	return (long long *)((char *)cfg + it->off);
}

/* "127.0.0.1:5300, [::1]:53, 192.0.2.1" */
static int parse_dns_servers(struct tip_config *cfg, const char *v, char *why, size_t whylen)
{
	char buf[1024], *save = NULL, *tok;

	cfg->dns.n_servers = 0;
	if (!tip_strlcpy(buf, v, sizeof(buf))) {
		snprintf(why, whylen, "list too long");
		return TIP_EINVAL;
	}
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		struct tip_dns_server *s;
		char *host = tok, *port = NULL;
		long long p = 53;
		if (cfg->dns.n_servers == TIP_DNS_MAX_SERVERS) {
			snprintf(why, whylen, "more than %d servers", TIP_DNS_MAX_SERVERS);
			return TIP_EINVAL;
		}
		if (*tok == '[') {
			char *close = strchr(tok, ']');
			if (!close) {
				snprintf(why, whylen, "'%s': missing ']'", tok);
				return TIP_EINVAL;
			}
			*close = '\0';
			host = tok + 1;
			if (close[1] == ':')
				port = close + 2;
			else if (close[1]) {
				snprintf(why, whylen, "'%s': junk after ']'", tok);
				return TIP_EINVAL;
			}
		} else if (strchr(tok, ':') == strrchr(tok, ':') && strchr(tok, ':')) {
			port = strchr(tok, ':');
			*port++ = '\0';
		}
		if (port && tip_parse_int(port, 1, 65535, &p) < 0) {
			snprintf(why, whylen, "bad port '%s'", port);
			return TIP_EINVAL;
		}
		{
			struct tip_indicator ind;
			if (tip_indicator_parse(host, strlen(host), TIP_IND_IPV4, &ind, NULL) < 0) {
				snprintf(why, whylen, "'%s' is not an IP address", host);
				return TIP_EINVAL;
			}
		}
		s = &cfg->dns.servers[cfg->dns.n_servers++];
		tip_strlcpy(s->host, host, sizeof(s->host));
		s->port = (int)p;
	}
	return 0;
}

static int set_item(struct tip_config *cfg, const struct item *it, const char *v, char *why,
		    size_t whylen)
{
	long long n;
	switch (it->type) {
	case IT_STR:
	case IT_PATH:
		if (it->check && it->check(v, why, whylen) < 0)
			return TIP_EINVAL;
		free(*str_at(cfg, it));
		*str_at(cfg, it) = tip_xstrdup(v);
		return 0;
	case IT_INT:
		if (it->or_off && tip_parse_int(v, 0, 0, &n) == 0) {
			*int_at(cfg, it) = 0;
			return 0;
		}
		if (tip_parse_int(v, it->min, it->max, &n) < 0) {
			snprintf(why, whylen, "'%s' is not %sa whole number from %lld to %lld", v,
				 it->or_off ? "0 (off) or " : "", it->min, it->max);
			return TIP_EINVAL;
		}
		*int_at(cfg, it) = n;
		return 0;
	case IT_DNS_SERVERS:
		return parse_dns_servers(cfg, v, why, whylen);
	}
	return TIP_EINVAL;
}

static void set_defaults(struct tip_config *cfg)
{
	char why[256];
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (set_item(cfg, &items[i], items[i].def, why, sizeof(why)) < 0)
			tip_fatalx("config table: bad default for %s.%s: %s", items[i].section,
				   items[i].key, why);
}

static void check_header(struct load_state *st, const char *line);

/* inih reads one line per call of its reader: counting them gives the handler a line number
 * (Debian's libinih is built without INI_HANDLER_LINENO). */
static char *counting_reader(char *str, int num, void *stream)
{
	struct load_state *st = stream;
	char *r = fgets(str, num, st->fp);
	if (r) {
		if (st->at_line_start) {
			st->line++;
			if (!st->rc)
				check_header(st, r);
		}
		st->at_line_start = strchr(r, '\n') != NULL;
	}
	return r;
}

static int fail(struct load_state *st, int line, const char *section, const char *key,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(struct load_state *st, int line, const char *section, const char *key,
		const char *fmt, ...)
{
	char why[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (st->rc == 0) /* keep the first error */
		st->rc = tip_error_set(st->err, TIP_EINVAL, "%s:%d: [%s]%s%s: %s", st->file, line,
				       section, key ? " " : "", key ? key : "", why);
	return 0;
}

static struct tip_config_section *named_section(struct tip_config *cfg, const char *kind,
						const char *name, int line)
{
	for (size_t i = 0; i < cfg->n_sections; i++)
		if (!strcmp(cfg->sections[i].kind, kind) && !strcmp(cfg->sections[i].name, name))
			return &cfg->sections[i];
	cfg->sections = tip_xrealloc(cfg->sections, (cfg->n_sections + 1) * sizeof(*cfg->sections));
	struct tip_config_section *s = &cfg->sections[cfg->n_sections++];
	memset(s, 0, sizeof(*s));
	s->kind = tip_xstrdup(kind);
	s->name = tip_xstrdup(name);
	s->line = line;
	return s;
}

/* Is `section` one TIP knows? NULL if so, else why not (in why). For [feed NAME] and
 * [module NAME], *kind and *name get the parts. */
static const char *section_problem(const char *section, char *kind, size_t kindlen,
				   const char **name, char *why, size_t whylen)
{
	const char *sp = strpbrk(section, " \t");
	bool known = false;

	*name = NULL;
	if (!sp) {
		for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			known |= !strcmp(items[i].section, section);
		return known ? NULL : "unknown section";
	}
	size_t kl = (size_t)(sp - section);
	const char *n = sp;
	while (*n == ' ' || *n == '\t')
		n++;
	if (kl >= kindlen)
		return "unknown section";
	memcpy(kind, section, kl);
	kind[kl] = '\0';
	for (int i = 0; named_kinds[i]; i++)
		known |= !strcmp(named_kinds[i], kind);
	if (!known)
		return "unknown section (named sections are [feed NAME] and [module NAME])";
	if (!*n) {
		snprintf(why, whylen, "a [%s NAME] section needs a name", kind);
		return why;
	}
	for (const char *c = n; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-_.", *c)) {
			snprintf(why, whylen,
				 "section name '%s' may hold only letters, digits, '-', '_', '.'", n);
			return why;
		}
	*name = n;
	return NULL;
}

static void empty_feed_check(struct load_state *st)
{
	if (st->feed_header[0] && !st->feed_header_keys)
		fail(st, st->feed_header_line, st->feed_header, NULL,
		     "holds no keys (a feed needs at least url and format)");
	st->feed_header[0] = '\0';
}

/* A "[section]" line, seen by the reader: an unknown section is an error on the line of its
 * header, also when it holds no keys (inih calls the handler only for keys, and Debian's
 * build cannot be asked to call it on new sections). */
static void check_header(struct load_state *st, const char *line)
{
	char section[256], kind[32], why[300];
	const char *p = line, *end, *name, *problem;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '[' || !(end = strchr(p + 1, ']')) || (size_t)(end - p - 1) >= sizeof(section))
		return; /* not a header, or one inih will refuse or truncate itself */
	memcpy(section, p + 1, (size_t)(end - p - 1));
	section[end - p - 1] = '\0';
	empty_feed_check(st);
	if ((problem = section_problem(section, kind, sizeof(kind), &name, why, sizeof(why))))
		fail(st, st->line, section, NULL, "%s", problem);
	else if (name && !strcmp(kind, "feed")) {
		tip_strlcpy(st->feed_header, section, sizeof(st->feed_header));
		st->feed_header_line = st->line;
		st->feed_header_keys = false;
	}
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct load_state *st = user;
	char kind[32], why[300];
	const char *name, *problem;

	if (st->rc)
		return 0;
	if ((problem = section_problem(section, kind, sizeof(kind), &name, why, sizeof(why))))
		return fail(st, st->line, section, key, "%s", problem);
	if (name) { /* [feed NAME] */
		struct tip_config_section *s = named_section(st->cfg, kind, name, st->line);
		st->feed_header_keys = true;
		if (st->included && s->n_kv == 0 && !s->file)
			s->file = tip_xstrdup(st->file);
		if (st->included && (!s->file || strcmp(s->file, st->file)))
			return fail(st, st->line, section, key, "[%s %s] is already defined in %s:%d",
				    kind, name, s->file ? s->file : st->cfg->path, s->line);
		if (!st->included && s->file)
			return fail(st, st->line, section, key, "[%s %s] is already defined in %s:%d",
				    kind, name, s->file, s->line);
		for (size_t i = 0; i < s->n_kv; i++)
			if (!strcmp(s->kv[i].key, key))
				return fail(st, st->line, section, key, "given twice (first on line %d)",
					    s->kv[i].line);
		s->kv = tip_xrealloc(s->kv, (s->n_kv + 1) * sizeof(*s->kv));
		s->kv[s->n_kv].key = tip_xstrdup(key);
		s->kv[s->n_kv].value = tip_xstrdup(value);
		s->kv[s->n_kv].line = st->line;
		s->n_kv++;
		return 1;
	}
	if (st->included)
		return fail(st, st->line, section, key,
			    "an included file may hold only [feed NAME] and [module NAME] sections");
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		if (strcmp(items[i].section, section) || strcmp(items[i].key, key))
			continue;
		if (st->seen[i])
			return fail(st, st->line, section, key, "given twice (first on line %d)",
				    st->seen_line[i]);
		st->seen[i] = 1;
		st->seen_line[i] = st->line;
		if (set_item(st->cfg, &items[i], value, why, sizeof(why)) < 0)
			return fail(st, st->line, section, key, "%s", why);
		return 1;
	}
	return fail(st, st->line, section, key, "unknown key");
}

static int load_file(struct tip_config *cfg, const char *path, bool included,
		     struct tip_error *err)
{
	struct load_state st;
	int rc;

	memset(&st, 0, sizeof(st));
	st.cfg = cfg;
	st.file = path;
	st.err = err;
	st.included = included;
	st.at_line_start = true;
	if (!(st.fp = fopen(path, "r")))
		return tip_error_set(err, TIP_EIO, "%s: %s", path, strerror(errno));
	/* Debian's libinih takes its options at run time: long lines (feed URLs) and no
	 * continuation lines, so that one line is one key and line numbers stay true. */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 65536;
	ini_allow_multiline = false;
	ini_stop_on_first_error = true;
	rc = ini_parse_stream(counting_reader, &st, handler, &st);
	if (!st.rc && rc == 0)
		empty_feed_check(&st);
	fclose(st.fp);
	if (st.rc)
		return st.rc;
	if (rc > 0)
		return tip_error_set(err, TIP_EINVAL, "%s:%d: syntax error (expected [section] or key = value)",
				     path, rc);
	if (rc < 0)
		return tip_error_set(err, TIP_EIO, "%s: could not be read", path);
	return 0;
}

/* Relative IT_PATH values (only a file can give one: the defaults are absolute) become
 * relative to the main file's folder. */
static void resolve_paths(struct tip_config *cfg)
{
	char *dup = tip_xstrdup(cfg->path), *dir = dirname(dup), abs[PATH_MAX];
	/* absolute, so that a daemon that changed its folder still finds them */
	if (realpath(dir, abs))
		dir = abs;
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		char **v = str_at(cfg, &items[i]), full[4096];
		if (items[i].type != IT_PATH || !**v || (*v)[0] == '/')
			continue;
		if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, *v) >= sizeof(full))
			continue; /* left as given: opening it will say what is wrong */
		free(*v);
		*v = tip_xstrdup(full);
	}
	free(dup);
}

/* [feeds] include: a glob, relative to the main file's folder; files in name order. */
static int load_includes(struct tip_config *cfg, struct tip_error *err)
{
	const char *pat = cfg->feeds.include;
	char full[4096];
	glob_t g;
	int rc = 0, grc;

	if (!pat || !*pat)
		return 0;
	if (pat[0] == '/') {
		if (!tip_strlcpy(full, pat, sizeof(full)))
			return tip_error_set(err, TIP_EINVAL, "[feeds] include: pattern too long");
	} else {
		char *dup = tip_xstrdup(cfg->path), *dir = dirname(dup);
		int n = snprintf(full, sizeof(full), "%s/%s", dir, pat);
		free(dup);
		if (n < 0 || (size_t)n >= sizeof(full))
			return tip_error_set(err, TIP_EINVAL, "[feeds] include: pattern too long");
	}
	grc = glob(full, GLOB_ERR, NULL, &g);
	if (grc == GLOB_NOMATCH) {
		/* a pattern matching nothing is fine; a plain file name that is missing is not */
		if (!strpbrk(full, "*?["))
			return tip_error_set(err, TIP_EIO, "%s: [feeds] include: %s: no such file",
					     cfg->path, full);
		return 0;
	}
	if (grc != 0)
		return tip_error_set(err, TIP_EIO, "%s: [feeds] include: cannot read '%s'", cfg->path,
				     full);
	for (size_t i = 0; i < g.gl_pathc && rc == 0; i++)
		rc = load_file(cfg, g.gl_pathv[i], true, err);
	globfree(&g);
	return rc;
}

int tip_config_load(struct tip_config *cfg, const char *path, struct tip_error *err)
{
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	set_defaults(cfg);
	if (!path)
		return 0;
	cfg->path = tip_xstrdup(path);
	if ((rc = load_file(cfg, path, false, err)) < 0)
		return rc;
	resolve_paths(cfg);
	return load_includes(cfg, err);
}

char *tip_config_find(const char *cli_path)
{
	const char *env = getenv("TIP_CONFIG");
	if (cli_path)
		return tip_xstrdup(cli_path);
	if (env && *env)
		return tip_xstrdup(env);
	if (access("tip.conf", F_OK) == 0)
		return tip_xstrdup("tip.conf");
	if (access("/etc/tip/tip.conf", F_OK) == 0)
		return tip_xstrdup("/etc/tip/tip.conf");
	return NULL;
}

void tip_config_free(struct tip_config *cfg)
{
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
		if (items[i].type == IT_STR || items[i].type == IT_PATH)
			free(*str_at(cfg, &items[i]));
	for (size_t i = 0; i < cfg->n_sections; i++) {
		struct tip_config_section *s = &cfg->sections[i];
		for (size_t k = 0; k < s->n_kv; k++) {
			free(s->kv[k].key);
			free(s->kv[k].value);
		}
		free(s->kv);
		free(s->kind);
		free(s->name);
		free(s->file);
	}
	free(cfg->sections);
	free(cfg->path);
	memset(cfg, 0, sizeof(*cfg));
}

void tip_config_dump(const struct tip_config *cfg, FILE *f)
{
	const char *section = "";
	struct tip_config *c = (struct tip_config *)cfg;

	fprintf(f, "# TIP configuration%s%s\n", cfg->path ? " read from " : " (defaults)",
		cfg->path ? cfg->path : "");
	for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		const struct item *it = &items[i];
		if (strcmp(section, it->section)) {
			section = it->section;
			fprintf(f, "\n[%s]\n", section);
		}
		fprintf(f, "# %s (default: %s)\n", it->doc, *it->def ? it->def : "empty");
		switch (it->type) {
		case IT_STR:
		case IT_PATH:
			fprintf(f, "%s = %s\n", it->key, *str_at(c, it));
			break;
		case IT_INT:
			fprintf(f, "%s = %lld\n", it->key, *int_at(c, it));
			break;
		case IT_DNS_SERVERS:
			fprintf(f, "%s =", it->key);
			for (int k = 0; k < cfg->dns.n_servers; k++)
				fprintf(f, "%s %s%s%s:%d", k ? "," : "",
					strchr(cfg->dns.servers[k].host, ':') ? "[" : "",
					cfg->dns.servers[k].host,
					strchr(cfg->dns.servers[k].host, ':') ? "]" : "",
					cfg->dns.servers[k].port);
			fprintf(f, "\n");
			break;
		}
	}
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct tip_config_section *s = &cfg->sections[i];
		if (s->file)
			fprintf(f, "\n# from %s", s->file);
		fprintf(f, "\n[%s %s]\n", s->kind, s->name);
		for (size_t k = 0; k < s->n_kv; k++)
			fprintf(f, "%s = %s\n", s->kv[k].key, s->kv[k].value);
	}
}

const struct tip_config_section *tip_config_section(const struct tip_config *cfg,
						    const char *kind, const char *name)
{
	for (size_t i = 0; i < cfg->n_sections; i++)
		if (!strcmp(cfg->sections[i].kind, kind) && !strcmp(cfg->sections[i].name, name))
			return &cfg->sections[i];
	return NULL;
}

const struct tip_kv *tip_config_kv(const struct tip_config_section *s, const char *key)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_kv; i++)
		if (!strcmp(s->kv[i].key, key))
			return &s->kv[i];
	return NULL;
}

static const struct tip_cfg_key *find_key(const struct tip_cfg_key *keys, const char *key)
{
	for (; keys->key; keys++)
		if (!strcmp(keys->key, key))
			return keys;
	return NULL;
}

int tip_config_section_check(const struct tip_config *cfg, const struct tip_config_section *s,
			     const struct tip_cfg_key *keys, struct tip_error *err)
{
	const char *file = s->file ? s->file : cfg->path ? cfg->path : "(config)";
	for (size_t i = 0; i < s->n_kv; i++) {
		const struct tip_kv *kv = &s->kv[i];
		const struct tip_cfg_key *k = find_key(keys, kv->key);
		long long n;
		tip_time_t d;
		bool b;
		if (!k)
			return tip_error_set(err, TIP_EINVAL, "%s:%d: [%s %s] %s: unknown key", file,
					     kv->line, s->kind, s->name, kv->key);
		switch (k->type) {
		case TIP_CFG_STR:
			break;
		case TIP_CFG_INT:
			if (tip_parse_int(kv->value, k->min, k->max, &n) < 0)
				return tip_error_set(err, TIP_EINVAL,
						     "%s:%d: [%s %s] %s: '%s' is not a whole number from %lld to %lld",
						     file, kv->line, s->kind, s->name, kv->key, kv->value,
						     k->min, k->max);
			break;
		case TIP_CFG_DURATION:
			if (tip_duration_parse(kv->value, &d) < 0 || d / TIP_SEC < k->min ||
			    (k->max && d / TIP_SEC > k->max))
				return tip_error_set(err, TIP_EINVAL,
						     "%s:%d: [%s %s] %s: '%s' is not a duration from %llds to %llds (e.g. 90, 15m, 1h)",
						     file, kv->line, s->kind, s->name, kv->key, kv->value,
						     k->min, k->max);
			break;
		case TIP_CFG_BOOL:
			if (tip_parse_bool(kv->value, &b) < 0)
				return tip_error_set(err, TIP_EINVAL,
						     "%s:%d: [%s %s] %s: '%s' is not yes or no", file,
						     kv->line, s->kind, s->name, kv->key, kv->value);
			break;
		}
	}
	return 0;
}

const char *tip_config_section_str(const struct tip_config_section *s,
				   const struct tip_cfg_key *keys, const char *key)
{
	const struct tip_kv *kv = tip_config_kv(s, key);
	const struct tip_cfg_key *k;
	if (kv)
		return kv->value;
	k = find_key(keys, key);
	return k ? k->def : NULL;
}

long long tip_config_section_int(const struct tip_config_section *s,
				 const struct tip_cfg_key *keys, const char *key)
{
	const struct tip_cfg_key *k = find_key(keys, key);
	const char *v = tip_config_section_str(s, keys, key);
	long long n = 0;
	tip_time_t d;
	bool b;

	if (!k || !v)
		return 0;
	switch (k->type) {
	case TIP_CFG_INT:
		tip_parse_int(v, LLONG_MIN, LLONG_MAX, &n);
		return n;
	case TIP_CFG_DURATION:
		return tip_duration_parse(v, &d) == 0 ? d / TIP_SEC : 0;
	case TIP_CFG_BOOL:
		return tip_parse_bool(v, &b) == 0 ? b : 0;
	case TIP_CFG_STR:
		break;
	}
	return 0;
}
