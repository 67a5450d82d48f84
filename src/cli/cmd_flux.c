/*
 * cmd_flux.c — tip flux: the fast-flux verdicts with their features and why, verdict changes
 * (events), a domain's verdict history, network families, and a classification pass by hand.
 */
#include <getopt.h>
#include <string.h>

#include "cli_int.h"
#include "flux/flux.h"

static json_t *verdict_json(const struct tip_verdict *v)
{
	return json_pack("{s:s, s:s, s:f, s:I, s:I, s:I, s:I, s:f, s:o, s:I, s:b, s:o, s:o, s:o,"
			 " s:I, s:I, s:I, s:f, s:I, s:o}",
			 "domain", v->domain, "verdict", v->verdict, "score", v->score, "n_a",
			 (json_int_t)v->n_a, "n_asn", (json_int_t)v->n_asn, "n_ns",
			 (json_int_t)v->n_ns, "n_cc", (json_int_t)v->n_cc, "fluxiness",
			 v->fluxiness, "min_ttl",
			 v->min_ttl >= 0 ? json_integer(v->min_ttl) : json_null(), "rounds",
			 (json_int_t)v->rounds, "double_flux", v->double_flux, "family",
			 cli_json_str(v->family), "why", cli_json_str(v->why), "since",
			 cli_json_time(v->since), "n_p16", (json_int_t)v->n_p16, "a_changes",
			 (json_int_t)v->a_changes, "ns_changes", (json_int_t)v->ns_changes,
			 "growth", v->growth, "n_allowed", (json_int_t)v->n_allowed, "at",
			 cli_json_time(v->at));
}

static int add_verdict(void *arg, const struct tip_verdict *v)
{
	json_array_append_new(arg, verdict_json(v));
	return 0;
}

static int add_event(void *arg, const struct tip_flux_event *e)
{
	json_array_append_new(arg, json_pack("{s:s, s:o, s:s, s:s, s:o}", "domain", e->domain,
					     "at", cli_json_time(e->at), "old", e->old_verdict,
					     "new", e->new_verdict, "why", cli_json_str(e->why)));
	return 0;
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void print_verdicts(json_t *arr, bool with_why)
{
	size_t i;
	json_t *v;
	if (!json_array_size(arr)) {
		printf("no verdicts\n");
		return;
	}
	printf("%-10s %-32s %7s %4s %4s %3s %3s %5s %6s %6s %-2s %s\n", "verdict", "domain",
	       "score", "n_a", "asn", "ns", "cc", "phi", "minttl", "rounds", "df", "family");
	json_array_foreach(arr, i, v) {
		json_t *ttl = json_object_get(v, "min_ttl");
		char ttlbuf[24] = "-";
		if (json_is_integer(ttl))
			snprintf(ttlbuf, sizeof(ttlbuf), "%lld", (long long)json_integer_value(ttl));
		printf("%-10s %-32s %7.2f %4lld %4lld %3lld %3lld %5.2f %6s %6lld %-2s %s\n",
		       jstr(v, "verdict"), jstr(v, "domain"),
		       json_real_value(json_object_get(v, "score")), jint(v, "n_a"),
		       jint(v, "n_asn"), jint(v, "n_ns"), jint(v, "n_cc"),
		       json_real_value(json_object_get(v, "fluxiness")), ttlbuf, jint(v, "rounds"),
		       json_is_true(json_object_get(v, "double_flux")) ? "DF" : "-",
		       jstr(v, "family"));
		if (with_why)
			printf("           since %s: %s\n", jstr(v, "since"), jstr(v, "why"));
	}
}

static void print_events(json_t *arr)
{
	size_t i;
	json_t *e;
	if (!json_array_size(arr))
		return;
	printf("\nverdict changes (newest first):\n");
	json_array_foreach(arr, i, e)
		printf("  %s  %-32s %s -> %s\n", jstr(e, "at"), jstr(e, "domain"), jstr(e, "old"),
		       jstr(e, "new"));
}

/* ---- tip flux families ----------------------------------------------------------------- */

struct fam_ctx {
	struct tip_store *st;
	json_t *arr;
	struct tip_error *err;
};

static int add_member(void *arg, const char *kind, const char *value, tip_time_t first,
		      tip_time_t last)
{
	json_t *f = arg;
	(void)last;
	json_array_append_new(json_object_get(f, !strcmp(kind, "domain") ? "domains" : "agents"),
			      json_pack("{s:s, s:o}", "value", value, "first_seen",
					cli_json_time(first)));
	return 0;
}

static int add_size(void *arg, tip_time_t at, int64_t n_domains, int64_t n_agents)
{
	json_array_append_new(json_object_get(arg, "sizes"),
			      json_pack("{s:o, s:I, s:I}", "at", cli_json_time(at), "n_domains",
					(json_int_t)n_domains, "n_agents", (json_int_t)n_agents));
	return 0;
}

static int add_family(void *arg, const struct tip_family *f)
{
	struct fam_ctx *fc = arg;
	json_t *o = json_pack(
		"{s:s, s:o, s:o, s:I, s:I, s:{s:I, s:I}, s:[], s:[], s:[]}", "name", f->name,
		"first_seen", cli_json_time(f->first_seen), "last_seen", cli_json_time(f->last_seen),
		"n_domains", (json_int_t)f->n_domains, "n_agents", (json_int_t)f->n_agents,
		"growth", "domains", (json_int_t)(f->n_domains - f->first_domains), "agents",
		(json_int_t)(f->n_agents - f->first_agents), "domains", "agents", "sizes");
	int rc;
	json_array_append_new(fc->arr, o);
	if ((rc = tip_store_family_members(fc->st, f->name, add_member, o, fc->err)) < 0)
		return rc;
	return tip_store_family_sizes(fc->st, f->name, add_size, o, fc->err);
}

static void print_families(json_t *arr)
{
	size_t i, k;
	json_t *f, *m;
	if (!json_array_size(arr)) {
		printf("no network families\n");
		return;
	}
	json_array_foreach(arr, i, f) {
		json_t *g = json_object_get(f, "growth");
		printf("%s: %lld domains, %lld agents (growth %+lld domains, %+lld agents since %s; "
		       "last seen %s)\n",
		       jstr(f, "name"), jint(f, "n_domains"), jint(f, "n_agents"),
		       jint(g, "domains"), jint(g, "agents"), jstr(f, "first_seen"),
		       jstr(f, "last_seen"));
		printf("  domains:");
		json_array_foreach(json_object_get(f, "domains"), k, m)
			printf(" %s", jstr(m, "value"));
		printf("\n  agents: ");
		json_array_foreach(json_object_get(f, "agents"), k, m)
			printf(" %s", jstr(m, "value"));
		printf("\n  size over time:");
		json_array_foreach(json_object_get(f, "sizes"), k, m)
			printf(" %s=%lld/%lld", jstr(m, "at"), jint(m, "n_domains"),
			       jint(m, "n_agents"));
		printf("\n");
	}
}

/* ---- the command ------------------------------------------------------------------------ */

int cmd_flux(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "all", no_argument, NULL, 'a' },
					      { NULL, 0, NULL, 0 } };
	struct tip_error err = { 0 };
	const char *sub = NULL;
	bool json = false, all = false;
	int ch, rc;
	json_t *arr;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'a')
			all = true;
		else
			return cli_usage("flux", "bad option");
	}
	if (optind < argc)
		sub = argv[optind++];
	if (sub && strcmp(sub, "families") && strcmp(sub, "events") && strcmp(sub, "history") &&
	    strcmp(sub, "classify"))
		return cli_usage("flux", "unknown subcommand '%s'", sub);
	if (sub && !strcmp(sub, "history") ? optind + 1 != argc : optind != argc)
		return cli_usage("flux", sub && !strcmp(sub, "history")
						 ? "history needs one DOMAIN"
						 : "unexpected argument '%s'",
				 optind < argc ? argv[optind] : "");

	if (sub && !strcmp(sub, "classify")) {
		/* one flux-classify pass in a child, through the scheduler's runner (recorded as a
		 * run, as `tip run --once flux-classify` does); what it found from its flux_pass row */
		struct tip_flux_pass s;
		tip_time_t before = tip_now();
		if ((rc = cli_config(c)) != 0)
			return rc;
		if (cli_run_module(c, "flux-classify", NULL, 0, &err) < 0) {
			cli_err("flux", "%s", err.msg);
			return EXIT_RUNTIME;
		}
		if ((rc = cli_store(c, true)) != 0)
			return rc;
		if ((rc = tip_store_flux_pass_last(c->st, &s, &err)) < 0 || s.at < before) {
			cli_err("flux", "%s", rc < 0 ? err.msg : "the pass recorded no result");
			return EXIT_RUNTIME;
		}
		if (json)
			return cli_json_print(json_pack(
				"{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "domains",
				(json_int_t)s.domains, "fastflux", (json_int_t)s.fastflux,
				"suspicious", (json_int_t)s.suspicious, "benign",
				(json_int_t)s.benign, "unknown", (json_int_t)s.unknown, "double_flux",
				(json_int_t)s.double_flux, "families", (json_int_t)s.families,
				"events", (json_int_t)s.events, "at", cli_json_time(s.at)));
		printf("classified %lld domains: %lld fastflux, %lld suspicious, %lld benign, %lld "
		       "unknown; %lld double flux; %lld families; %lld verdict changes\n",
		       (long long)s.domains, (long long)s.fastflux, (long long)s.suspicious,
		       (long long)s.benign, (long long)s.unknown, (long long)s.double_flux,
		       (long long)s.families, (long long)s.events);
		return EXIT_OK;
	}

	if ((rc = cli_store(c, true)) != 0)
		return rc;
	arr = json_array();
	if (!sub) {
		rc = tip_store_flux_list(c->st, all, add_verdict, arr, &err);
	} else if (!strcmp(sub, "families")) {
		struct fam_ctx fc = { c->st, arr, &err };
		rc = tip_store_families(c->st, all, add_family, &fc, &err);
	} else if (!strcmp(sub, "events")) {
		rc = tip_store_flux_events(c->st, NULL, all ? 0 : 100, add_event, arr, &err);
	} else {
		struct tip_indicator ind;
		rc = tip_indicator_parse(argv[optind], strlen(argv[optind]), TIP_IND_DOMAIN, &ind,
					 &err);
		if (rc == 0)
			rc = tip_store_flux_history(c->st, ind.value, add_verdict, arr, &err);
	}
	if (rc < 0) {
		json_decref(arr);
		cli_err("flux", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	if (json)
		return cli_json_print(arr);
	if (!sub) {
		json_t *ev = json_array();
		print_verdicts(arr, true);
		if (tip_store_flux_events(c->st, NULL, 10, add_event, ev, &err) == 0)
			print_events(ev);
		json_decref(ev);
	} else if (!strcmp(sub, "families")) {
		print_families(arr);
	} else if (!strcmp(sub, "events")) {
		size_t i;
		json_t *e;
		if (!json_array_size(arr))
			printf("no verdict changes\n");
		json_array_foreach(arr, i, e)
			printf("%s  %-32s %s -> %s: %s\n", jstr(e, "at"), jstr(e, "domain"),
			       jstr(e, "old"), jstr(e, "new"), jstr(e, "why"));
	} else {
		print_verdicts(arr, true);
	}
	json_decref(arr);
	return EXIT_OK;
}
