/* cmd_lookup.c — tip lookup: one question, one answer with everything the store knows. */
#include <getopt.h>
#include <string.h>

#include "cli_int.h"
#include "enrich/enrich.h"

struct answer {
	json_t *sightings, *resolutions, *networks, *related;
};

static json_t *sighting_json(const struct tip_sighting *s)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "source", s->source,
			 "type", tip_ind_type_name(s->type), "value", s->value, "first_seen",
			 cli_json_time(s->first_seen), "last_seen", cli_json_time(s->last_seen),
			 "removed", cli_json_time(s->removed), "category", cli_json_str(s->category),
			 "threat", cli_json_str(s->threat), "tags", cli_json_str(s->tags));
}

static int add_sighting(void *arg, const struct tip_sighting *s)
{
	json_array_append_new(arg, sighting_json(s));
	return 0;
}

static int add_resolution(void *arg, const struct tip_resolution *r)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:o, s:o, s:o}", "domain",
			      r->domain, "value", r->value, "rrtype", r->rrtype, "first_seen",
			      cli_json_time(r->first_seen), "last_seen", cli_json_time(r->last_seen),
			      "count", (json_int_t)r->count, "min_ttl", (json_int_t)r->min_ttl,
			      "max_ttl", (json_int_t)r->max_ttl, "asn",
			      r->asn ? json_integer(r->asn) : json_null(), "as_name",
			      cli_json_str(r->as_name), "cc", cli_json_str(r->cc));
	json_array_append_new(arg, o);
	return 0;
}

static int get_verdict(void *arg, const struct tip_verdict *v)
{
	json_t **out = arg;
	*out = json_pack("{s:s, s:o, s:f, s:I, s:I, s:I, s:I, s:f, s:o, s:I, s:b, s:o, s:o}",
			 "verdict", v->verdict, "at", cli_json_time(v->at), "score", v->score, "n_a",
			 (json_int_t)v->n_a, "n_asn", (json_int_t)v->n_asn, "n_ns",
			 (json_int_t)v->n_ns, "n_cc", (json_int_t)v->n_cc, "fluxiness", v->fluxiness,
			 "min_ttl", v->min_ttl >= 0 ? json_integer(v->min_ttl) : json_null(),
			 "rounds", (json_int_t)v->rounds, "double_flux", v->double_flux, "family",
			 cli_json_str(v->family), "why", cli_json_str(v->why));
	json_object_set_new(*out, "since", cli_json_time(v->since));
	return 0;
}

static int get_watch(void *arg, const struct tip_watch *w)
{
	json_t **out = arg;
	*out = json_pack("{s:s, s:o, s:o, s:o, s:I}", "source", w->source, "added",
			 cli_json_time(w->added), "removed", cli_json_time(w->removed), "last_round",
			 cli_json_time(w->last_round), "rounds", (json_int_t)w->rounds);
	return 0;
}

/* The address's autonomous system from the offline databases (as flux-resolve enriches), and
 * the AS-level listings (ASN-DROP and the like) that hold it: "as" and "as_sightings". No
 * database: "as" is null, said once on stderr, and the lookup goes on. */
static int ip_as(struct cli *c, const char *addr, json_t *j, struct tip_error *err)
{
	struct tip_enrich *e = NULL;
	struct tip_ipinfo info;
	struct tip_error ee = { 0 };
	json_t *as = json_null(), *listed = json_array();
	int rc = 0;

	if (tip_enrich_open(&c->cfg, &e, &ee) < 0)
		fprintf(stderr, "tip lookup: no AS data: %s\n", ee.msg);
	else if (tip_enrich_lookup(e, addr, tip_now(), &info, &ee) == 0 && info.asn > 0) {
		char asn[32];
		snprintf(asn, sizeof(asn), "AS%lld", (long long)info.asn);
		as = json_pack("{s:I, s:o, s:o, s:s}", "asn", (json_int_t)info.asn, "as_name",
			       cli_json_str(info.as_name), "cc", cli_json_str(info.cc), "db",
			       tip_enrich_db(e));
		rc = tip_store_sightings(c->st, TIP_IND_ASN, asn, add_sighting, listed, err);
	}
	tip_enrich_close(e);
	json_object_set_new(j, "as", as);
	json_object_set_new(j, "as_sightings", listed);
	return rc;
}

static void print_sightings(const char *title, json_t *arr)
{
	size_t i;
	json_t *s;
	if (json_array_size(arr) == 0)
		return;
	printf("%s:\n", title);
	json_array_foreach(arr, i, s) {
		printf("  %-20s %s  seen %s .. %s", json_string_value(json_object_get(s, "source")),
		       json_string_value(json_object_get(s, "value")),
		       json_string_value(json_object_get(s, "first_seen")),
		       json_string_value(json_object_get(s, "last_seen")));
		if (json_is_string(json_object_get(s, "removed")))
			printf("  removed %s", json_string_value(json_object_get(s, "removed")));
		if (json_is_string(json_object_get(s, "category")))
			printf("  [%s]", json_string_value(json_object_get(s, "category")));
		if (json_is_string(json_object_get(s, "threat")))
			printf("  %s", json_string_value(json_object_get(s, "threat")));
		if (json_is_string(json_object_get(s, "tags")))
			printf("  (%s)", json_string_value(json_object_get(s, "tags")));
		printf("\n");
	}
}

static void print_human(json_t *j)
{
	json_t *res = json_object_get(j, "resolutions"), *v = json_object_get(j, "verdict"), *r;
	size_t i;
	printf("%s (%s", json_string_value(json_object_get(j, "query")),
	       json_string_value(json_object_get(j, "type")));
	if (json_is_string(json_object_get(j, "registrable")))
		printf("; registrable domain %s",
		       json_string_value(json_object_get(j, "registrable")));
	printf(")\n");
	if (json_is_object(json_object_get(j, "watch")))
		printf("watched since %s\n",
		       json_string_value(json_object_get(json_object_get(j, "watch"), "added")));
	print_sightings("sightings", json_object_get(j, "sightings"));
	print_sightings("listed networks holding it", json_object_get(j, "networks"));
	if (json_is_object(json_object_get(j, "as"))) {
		json_t *as = json_object_get(j, "as");
		printf("AS%lld", (long long)json_integer_value(json_object_get(as, "asn")));
		if (json_is_string(json_object_get(as, "as_name")))
			printf(" %s", json_string_value(json_object_get(as, "as_name")));
		if (json_is_string(json_object_get(as, "cc")))
			printf(" (%s)", json_string_value(json_object_get(as, "cc")));
		printf(", per %s\n", json_string_value(json_object_get(as, "db")));
	}
	print_sightings("listed AS holding it", json_object_get(j, "as_sightings"));
	print_sightings("URLs and addresses on it", json_object_get(j, "related"));
	if (json_array_size(res)) {
		printf("resolutions:\n");
		json_array_foreach(res, i, r) {
			printf("  %-28s %-5s %-40s", json_string_value(json_object_get(r, "domain")),
			       json_string_value(json_object_get(r, "rrtype")),
			       json_string_value(json_object_get(r, "value")));
			if (json_is_integer(json_object_get(r, "asn")))
				printf(" AS%lld", (long long)json_integer_value(json_object_get(r, "asn")));
			if (json_is_string(json_object_get(r, "as_name")))
				printf(" %s", json_string_value(json_object_get(r, "as_name")));
			if (json_is_string(json_object_get(r, "cc")))
				printf(" %s", json_string_value(json_object_get(r, "cc")));
			printf("  %s .. %s  x%lld\n",
			       json_string_value(json_object_get(r, "first_seen")),
			       json_string_value(json_object_get(r, "last_seen")),
			       (long long)json_integer_value(json_object_get(r, "count")));
		}
	}
	if (json_is_object(v)) {
		printf("verdict: %s since %s (score %.2f; %s)\n",
		       json_string_value(json_object_get(v, "verdict")),
		       json_is_string(json_object_get(v, "since"))
			       ? json_string_value(json_object_get(v, "since"))
			       : "-",
		       json_real_value(json_object_get(v, "score")),
		       json_is_string(json_object_get(v, "why"))
			       ? json_string_value(json_object_get(v, "why"))
			       : "");
		if (json_is_string(json_object_get(v, "family")))
			printf("network family: %s (tip flux families)\n",
			       json_string_value(json_object_get(v, "family")));
	}
	else
		printf("verdict: none\n");
	if (!json_array_size(json_object_get(j, "sightings")) && !json_array_size(res) &&
	    !json_array_size(json_object_get(j, "networks")) &&
	    !json_array_size(json_object_get(j, "as_sightings")) &&
	    !json_array_size(json_object_get(j, "related")))
		printf("TIP has no record of it.\n");
}

int cmd_lookup(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { NULL, 0, NULL, 0 } };
	struct tip_indicator ind;
	struct tip_error err = { 0 };
	json_t *j, *sightings, *res, *verdict = json_null();
	bool json = false;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else
			return cli_usage("lookup", "bad option");
	}
	if (optind + 1 != argc)
		return cli_usage("lookup", "expected one DOMAIN, IP, URL, CIDR, e-mail address or AS");
	if (tip_indicator_parse(argv[optind], strlen(argv[optind]), TIP_IND_ANY, &ind, &err) < 0) {
		cli_err("lookup", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if ((rc = cli_store(c, true)) != 0)
		return rc;

	sightings = json_array();
	res = json_array();
	j = json_pack("{s:s, s:s}", "query", ind.value, "type", tip_ind_type_name(ind.type));
	rc = tip_store_sightings(c->st, ind.type, ind.value, add_sighting, sightings, &err);
	switch (ind.type) {
	case TIP_IND_DOMAIN: {
		json_t *related = json_array(), *watch = json_null();
		if (rc == 0)
			rc = tip_store_resolutions(c->st, ind.value, add_resolution, res, &err);
		if (rc == 0)
			rc = tip_store_sightings_by_host(c->st, ind.value, add_sighting, related, &err);
		if (rc == 0) {
			rc = tip_store_verdict_get(c->st, ind.value, get_verdict, &verdict, &err);
			if (rc == TIP_ENOTFOUND)
				rc = 0;
		}
		if (rc == 0)
			rc = tip_store_watch_get(c->st, ind.value, get_watch, &watch, &err);
		json_object_set_new(j, "registrable", cli_json_str(ind.registrable[0] ? ind.registrable : NULL));
		json_object_set_new(j, "watch", watch);
		json_object_set_new(j, "related", related);
		break;
	}
	case TIP_IND_IPV4:
	case TIP_IND_IPV6: {
		json_t *nets = json_array(), *related = json_array();
		if (rc == 0)
			rc = tip_store_resolutions_by_value(c->st, ind.value, add_resolution, res, &err);
		if (rc == 0)
			rc = tip_store_sightings_containing(c->st, ind.family, ind.addr, add_sighting,
							    nets, &err);
		if (rc == 0)
			rc = tip_store_sightings_by_host(c->st, ind.value, add_sighting, related, &err);
		json_object_set_new(j, "networks", nets);
		json_object_set_new(j, "related", related);
		if (rc == 0)
			rc = ip_as(c, ind.value, j, &err);
		break;
	}
	case TIP_IND_URL:
	case TIP_IND_EMAIL: {
		json_t *hs = json_array();
		json_object_set_new(j, "host", json_string(ind.host));
		if (rc == 0 && ind.family == 0)
			rc = tip_store_sightings(c->st, TIP_IND_DOMAIN, ind.host, add_sighting, hs, &err);
		if (rc == 0 && ind.family == 0)
			rc = tip_store_resolutions(c->st, ind.host, add_resolution, res, &err);
		if (rc == 0 && ind.family == 0) {
			rc = tip_store_verdict_get(c->st, ind.host, get_verdict, &verdict, &err);
			if (rc == TIP_ENOTFOUND)
				rc = 0;
		}
		json_object_set_new(j, "host_sightings", hs);
		break;
	}
	default:
		break;
	}
	json_object_set_new(j, "sightings", sightings);
	json_object_set_new(j, "resolutions", res);
	json_object_set_new(j, "verdict", verdict);
	if (rc < 0) {
		json_decref(j);
		cli_err("lookup", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (json)
		return cli_json_print(j);
	print_human(j);
	json_decref(j);
	return EXIT_OK;
}
