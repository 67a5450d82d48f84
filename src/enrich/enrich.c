/* enrich.c — libloc and libmaxminddb behind tip_enrich_lookup, and the ipinfo cache. */
#include <arpa/inet.h>
#include <errno.h>
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libloc/as.h>
#include <libloc/database.h>
#include <libloc/libloc.h>
#include <libloc/network.h>

#include "enrich.h"

#define DEFAULT_LOCDB "/var/lib/location/database.db"

struct tip_enrich {
	struct loc_ctx *loc;
	struct loc_database *locdb;
	MMDB_s mmdb_asn, mmdb_cc;
	bool have_asn, have_cc;
	char db[32];
	char version[256];
	/* the last answer's strings */
	char as_name[256];
	char cc[8];
};

static int mmdb_open(const char *path, const char *key, MMDB_s *m, struct tip_error *err)
{
	int rc = MMDB_open(path, MMDB_MODE_MMAP, m);
	if (rc != MMDB_SUCCESS)
		return tip_error_set(err, TIP_EIO, "[enrich] %s: %s: %s", key, path,
				     rc == MMDB_IO_ERROR ? strerror(errno) : MMDB_strerror(rc));
	return 0;
}

static int loc_open(struct tip_enrich *e, const char *path, struct tip_error *err)
{
	FILE *f = fopen(path, "r");
	int rc;
	if (!f) {
		if (!strcmp(path, DEFAULT_LOCDB) && errno == ENOENT) {
			tip_info("enrich: %s not found (Debian libloc-database): libloc disabled", path);
			return 0;
		}
		return tip_error_set(err, TIP_EIO, "[enrich] locdb: %s: %s", path, strerror(errno));
	}
	if ((rc = loc_new(&e->loc)) < 0) {
		fclose(f);
		return tip_error_set(err, TIP_ENOMEM, "libloc: loc_new failed (%d)", rc);
	}
	loc_set_log_priority(e->loc, 3); /* errors only */
	rc = loc_database_new(e->loc, &e->locdb, f);
	fclose(f);
	if (rc < 0 || !e->locdb)
		return tip_error_set(err, TIP_EIO, "[enrich] locdb: %s: not a libloc database", path);
	return 0;
}

int tip_enrich_open(const struct tip_config *cfg, struct tip_enrich **out, struct tip_error *err)
{
	struct tip_enrich *e = tip_xcalloc(1, sizeof(*e));
	const char *locdb = cfg->enrich.locdb, *ma = cfg->enrich.mmdb_asn, *mc = cfg->enrich.mmdb_country;
	char v[256] = "";
	int rc;

	if (ma && *ma) {
		if ((rc = mmdb_open(ma, "mmdb_asn", &e->mmdb_asn, err)) < 0)
			goto fail;
		e->have_asn = true;
	}
	if (mc && *mc) {
		if ((rc = mmdb_open(mc, "mmdb_country", &e->mmdb_cc, err)) < 0)
			goto fail;
		e->have_cc = true;
	}
	if (locdb && *locdb && (rc = loc_open(e, locdb, err)) < 0)
		goto fail;

	if (e->have_asn || e->have_cc)
		snprintf(e->db, sizeof(e->db), "%s", e->locdb ? "mmdb+libloc" : "mmdb");
	else
		snprintf(e->db, sizeof(e->db), "%s", e->locdb ? "libloc" : "none");
	if (e->have_asn)
		snprintf(v + strlen(v), sizeof(v) - strlen(v), "asn:%s@%llu ",
			 e->mmdb_asn.metadata.database_type,
			 (unsigned long long)e->mmdb_asn.metadata.build_epoch);
	if (e->have_cc)
		snprintf(v + strlen(v), sizeof(v) - strlen(v), "cc:%s@%llu ",
			 e->mmdb_cc.metadata.database_type,
			 (unsigned long long)e->mmdb_cc.metadata.build_epoch);
	if (e->locdb)
		snprintf(v + strlen(v), sizeof(v) - strlen(v), "libloc:%s@%lld ",
			 loc_database_get_vendor(e->locdb) ? loc_database_get_vendor(e->locdb) : "?",
			 (long long)loc_database_created_at(e->locdb));
	if (*v)
		v[strlen(v) - 1] = '\0';
	snprintf(e->version, sizeof(e->version), "%s", *v ? v : "none");
	*out = e;
	return 0;
fail:
	tip_enrich_close(e);
	return rc;
}

void tip_enrich_close(struct tip_enrich *e)
{
	if (!e)
		return;
	if (e->have_asn)
		MMDB_close(&e->mmdb_asn);
	if (e->have_cc)
		MMDB_close(&e->mmdb_cc);
	if (e->locdb)
		loc_database_unref(e->locdb);
	if (e->loc)
		loc_unref(e->loc);
	free(e);
}

const char *tip_enrich_db(const struct tip_enrich *e)
{
	return e->db;
}

const char *tip_enrich_version(const struct tip_enrich *e)
{
	return e->version;
}

static void mmdb_string(MMDB_entry_data_s *d, char *buf, size_t len)
{
	size_t n = d->data_size < len - 1 ? d->data_size : len - 1;
	memcpy(buf, d->utf8_string, n);
	buf[n] = '\0';
}

static void mmdb_asn(struct tip_enrich *e, const char *addr, struct tip_ipinfo *i)
{
	int gai, merr;
	MMDB_lookup_result_s r = MMDB_lookup_string(&e->mmdb_asn, addr, &gai, &merr);
	MMDB_entry_data_s d;
	if (gai || merr != MMDB_SUCCESS || !r.found_entry)
		return;
	if (MMDB_get_value(&r.entry, &d, "autonomous_system_number", NULL) == MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UINT32)
		i->asn = d.uint32;
	if (MMDB_get_value(&r.entry, &d, "autonomous_system_organization", NULL) == MMDB_SUCCESS &&
	    d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING) {
		mmdb_string(&d, e->as_name, sizeof(e->as_name));
		i->as_name = e->as_name;
	}
}

static void mmdb_cc(struct tip_enrich *e, const char *addr, struct tip_ipinfo *i)
{
	int gai, merr;
	MMDB_lookup_result_s r = MMDB_lookup_string(&e->mmdb_cc, addr, &gai, &merr);
	MMDB_entry_data_s d;
	if (gai || merr != MMDB_SUCCESS || !r.found_entry)
		return;
	if ((MMDB_get_value(&r.entry, &d, "country", "iso_code", NULL) == MMDB_SUCCESS &&
	     d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING) ||
	    (MMDB_get_value(&r.entry, &d, "registered_country", "iso_code", NULL) == MMDB_SUCCESS &&
	     d.has_data && d.type == MMDB_DATA_TYPE_UTF8_STRING)) {
		mmdb_string(&d, e->cc, sizeof(e->cc));
		i->cc = e->cc;
	}
}

static void loc_lookup(struct tip_enrich *e, const char *addr, struct tip_ipinfo *i)
{
	struct loc_network *net = NULL;
	if (loc_database_lookup_from_string(e->locdb, addr, &net) != 0 || !net)
		return;
	if (!i->asn)
		i->asn = loc_network_get_asn(net);
	if (!i->cc) {
		const char *cc = loc_network_get_country_code(net);
		if (cc && *cc) {
			tip_strlcpy(e->cc, cc, sizeof(e->cc));
			i->cc = e->cc;
		}
	}
	loc_network_unref(net);
	if (i->asn && !i->as_name) {
		struct loc_as *as = NULL;
		if (loc_database_get_as(e->locdb, &as, (uint32_t)i->asn) == 0 && as) {
			const char *n = loc_as_get_name(as);
			if (n && *n) {
				tip_strlcpy(e->as_name, n, sizeof(e->as_name));
				i->as_name = e->as_name;
			}
			loc_as_unref(as);
		}
	}
}

int tip_enrich_lookup(struct tip_enrich *e, const char *addr, tip_time_t now,
		      struct tip_ipinfo *info, struct tip_error *err)
{
	struct in6_addr a6;
	memset(info, 0, sizeof(*info));
	if (inet_pton(AF_INET, addr, &a6) != 1 && inet_pton(AF_INET6, addr, &a6) != 1)
		return tip_error_set(err, TIP_EINVAL, "'%s' is not an IP address", addr);
	info->addr = addr;
	info->db = e->db;
	info->db_version = e->version;
	info->updated = now;
	if (e->have_asn)
		mmdb_asn(e, addr, info);
	if (e->have_cc)
		mmdb_cc(e, addr, info);
	if (e->locdb)
		loc_lookup(e, addr, info);
	return 0;
}

struct cached {
	struct tip_enrich *e;
	bool fresh;
};

static int cached_row(void *arg, const struct tip_ipinfo *i)
{
	struct cached *c = arg;
	c->fresh = i->db && !strcmp(i->db, c->e->db) && i->db_version &&
		   !strcmp(i->db_version, c->e->version);
	return 0;
}

int tip_enrich_cached(struct tip_enrich *e, struct tip_store *st, const char *addr,
		      tip_time_t now, bool *looked_up, struct tip_error *err)
{
	struct cached c = { e, false };
	struct tip_ipinfo info;
	int rc = tip_store_ipinfo_get(st, addr, cached_row, &c, err);
	if (looked_up)
		*looked_up = false;
	if (rc < 0 && rc != TIP_ENOTFOUND)
		return rc;
	if (rc == 0 && c.fresh)
		return 0;
	if ((rc = tip_enrich_lookup(e, addr, now, &info, err)) < 0)
		return rc;
	if (looked_up)
		*looked_up = true;
	return tip_store_ipinfo_put(st, &info, err);
}

struct refresh {
	struct tip_strv addrs;
};

static int stale_row(void *arg, const char *addr)
{
	tip_strv_push(&((struct refresh *)arg)->addrs, addr);
	return 0;
}

int tip_enrich_refresh(struct tip_enrich *e, struct tip_store *st, tip_time_t now, int64_t *n,
		       struct tip_error *err)
{
	int64_t total = 0;
	int rc;
	for (;;) {
		struct refresh r = { { 0 } };
		struct tip_ipinfo info;
		if ((rc = tip_store_ipinfo_stale(st, e->db, e->version, 5000, stale_row, &r, err)) < 0)
			return rc;
		if (r.addrs.n == 0)
			break;
		for (size_t i = 0; i < r.addrs.n && rc == 0; i++) {
			/* a row that is no address (never written by us) is redone as unknown */
			if (tip_enrich_lookup(e, r.addrs.v[i], now, &info, NULL) < 0) {
				memset(&info, 0, sizeof(info));
				info.addr = r.addrs.v[i];
				info.db = e->db;
				info.db_version = e->version;
				info.updated = now;
			}
			rc = tip_store_ipinfo_put(st, &info, err);
		}
		total += (int64_t)r.addrs.n;
		tip_strv_free(&r.addrs);
		if (rc < 0)
			return rc;
	}
	if (n)
		*n = total;
	return 0;
}
