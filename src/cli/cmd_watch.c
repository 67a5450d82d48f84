/* cmd_watch.c — tip watch add|rm|list. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"

struct batch {
	bool add;
	const char *source;
	bool skip_invalid;
	tip_time_t now;
	int64_t added, reactivated, present, removed, absent, invalid;
	struct tip_strv pending; /* domains to add, ADD_BATCH at a time */
};

/* Domains are added in batches (tip_store_watch_add_many sorts each and writes it in two
 * statements): 600,000 domains from a file took 5.9 s one at a time. */
#define ADD_BATCH 65536

static int flush(struct cli *c, struct batch *b)
{
	struct tip_watch_counts n;
	struct tip_error err = { 0 };
	int rc = 0;
	if (b->pending.n) {
		if (tip_store_watch_add_many(c->st, (const char *const *)b->pending.v,
					     b->pending.n, b->source, b->now, &n, &err) < 0) {
			cli_err("watch", "%s", err.msg);
			rc = EXIT_RUNTIME;
		} else {
			b->added += n.added;
			b->reactivated += n.reactivated;
			b->present += n.present;
		}
	}
	tip_strv_free(&b->pending);
	return rc;
}

/* One domain from `where` (an argument or FILE:LINE). Returns 0, or EXIT_RUNTIME to abort. */
static int one(struct cli *c, struct batch *b, const char *text, size_t len, const char *where)
{
	struct tip_indicator ind;
	struct tip_error err = { 0 };
	int rc;

	/* the value is all that is kept: no registrable domain (a libpsl look-up) */
	if (tip_indicator_parse_flags(text, len, TIP_IND_DOMAIN, TIP_IND_LATER_REGISTRABLE, &ind,
				      &err) < 0) {
		b->invalid++;
		if (b->skip_invalid) {
			fprintf(stderr, "tip watch: %s: skipped: %s\n", where, err.msg);
			return 0;
		}
		cli_err("watch", "%s: %s", where, err.msg);
		return EXIT_RUNTIME;
	}
	if (b->add) {
		tip_strv_push(&b->pending, ind.value);
		return b->pending.n == ADD_BATCH ? flush(c, b) : 0;
	} else {
		bool removed;
		rc = tip_store_watch_rm(c->st, ind.value, b->now, &removed, &err);
		if (rc == 0)
			*(removed ? &b->removed : &b->absent) += 1;
	}
	if (rc < 0) {
		cli_err("watch", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	return 0;
}

static int from_file(struct cli *c, struct batch *b, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	const char *name = strcmp(path, "-") ? path : "(stdin)";
	char *line = NULL, where[4200];
	size_t cap = 0;
	ssize_t n;
	long lineno = 0;
	int rc = 0;

	if (!f) {
		cli_err("watch", "%s: %s", path, strerror(errno));
		return EXIT_RUNTIME;
	}
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *p = line;
		lineno++;
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
				 p[n - 1] == '\t'))
			n--;
		while (n > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			n--;
		}
		if (n == 0 || *p == '#')
			continue;
		snprintf(where, sizeof(where), "%s:%ld", name, lineno);
		if ((rc = one(c, b, p, (size_t)n, where)) != 0)
			break;
	}
	if (rc == 0 && ferror(f)) {
		cli_err("watch", "%s: %s", name, strerror(errno));
		rc = EXIT_RUNTIME;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return rc;
}

static int add_rm(struct cli *c, bool add, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' }, { "skip-invalid", no_argument, NULL, 's' },
		{ "source", required_argument, NULL, 'S' }, { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct batch b = { .add = add, .source = "cli", .now = tip_now() };
	struct tip_error err = { 0 };
	struct tip_strv files = { 0 };
	bool json = false;
	int ch, rc = 0;

	while ((ch = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			tip_strv_push(&files, optarg);
			break;
		case 's':
			b.skip_invalid = true;
			break;
		case 'S':
			b.source = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			tip_strv_free(&files);
			return cli_usage("watch", "bad option");
		}
	}
	if (optind == argc && files.n == 0) {
		tip_strv_free(&files);
		return cli_usage("watch", "%s what? give domains or --file PATH", add ? "add" : "rm");
	}
	if ((rc = cli_store(c, false)) != 0)
		goto out;
	/* one batch, one transaction: an invalid domain leaves the store as it was */
	if (tip_store_begin(c->st, &err) < 0) {
		cli_err("watch", "%s", err.msg);
		rc = EXIT_RUNTIME;
		goto out;
	}
	for (int i = optind; i < argc && rc == 0; i++) {
		char where[64];
		snprintf(where, sizeof(where), "argument %d", i - optind + 1);
		rc = one(c, &b, argv[i], strlen(argv[i]), where);
	}
	for (size_t i = 0; i < files.n && rc == 0; i++)
		rc = from_file(c, &b, files.v[i]);
	if (rc == 0)
		rc = flush(c, &b);
	if (rc != 0) {
		tip_store_rollback(c->st);
		fprintf(stderr, "tip watch: nothing was changed\n");
		goto out;
	}
	if (tip_store_commit(c->st, &err) < 0) {
		cli_err("watch", "%s", err.msg);
		rc = EXIT_RUNTIME;
		goto out;
	}
	if (json) {
		json_t *j = add ? json_pack("{s:I, s:I, s:I, s:I}", "added", (json_int_t)b.added,
					    "reactivated", (json_int_t)b.reactivated, "present",
					    (json_int_t)b.present, "invalid", (json_int_t)b.invalid)
				: json_pack("{s:I, s:I, s:I}", "removed", (json_int_t)b.removed,
					    "not_watched", (json_int_t)b.absent, "invalid",
					    (json_int_t)b.invalid);
		rc = cli_json_print(j);
	} else if (add) {
		printf("added %lld, re-activated %lld, already watched %lld%s", (long long)b.added,
		       (long long)b.reactivated, (long long)b.present, b.invalid ? "" : "\n");
		if (b.invalid)
			printf(", skipped %lld invalid\n", (long long)b.invalid);
	} else {
		printf("removed %lld, not watched %lld%s", (long long)b.removed, (long long)b.absent,
		       b.invalid ? "" : "\n");
		if (b.invalid)
			printf(", skipped %lld invalid\n", (long long)b.invalid);
	}
out:
	tip_strv_free(&b.pending);
	tip_strv_free(&files);
	return rc;
}

struct list_ctx {
	json_t *arr;
	int64_t n;
};

static int list_row(void *arg, const struct tip_watch *w)
{
	struct list_ctx *l = arg;
	char a[TIP_TIME_BUFLEN], r[TIP_TIME_BUFLEN];
	l->n++;
	if (l->arr) {
		json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:I}", "domain", w->domain,
				      "source", w->source, "added", cli_json_time(w->added),
				      "removed", cli_json_time(w->removed), "next_due",
				      cli_json_time(w->next_due), "last_round",
				      cli_json_time(w->last_round), "rounds", (json_int_t)w->rounds);
		json_array_append_new(l->arr, o);
		return 0;
	}
	if (w->removed)
		printf("%s\t%s\tadded %s\tremoved %s\n", w->domain, w->source,
		       tip_time_format(w->added, a, sizeof(a)), tip_time_format(w->removed, r, sizeof(r)));
	else
		printf("%s\t%s\tadded %s\trounds %lld\n", w->domain, w->source,
		       tip_time_format(w->added, a, sizeof(a)), (long long)w->rounds);
	return 0;
}

static int list(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "json", no_argument, NULL, 'j' },
					      { "all", no_argument, NULL, 'a' },
					      { NULL, 0, NULL, 0 } };
	struct list_ctx l = { 0 };
	struct tip_error err = { 0 };
	bool json = false, all = false;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'j')
			json = true;
		else if (ch == 'a')
			all = true;
		else
			return cli_usage("watch", "bad option");
	}
	if (optind != argc)
		return cli_usage("watch", "list takes no arguments");
	if ((rc = cli_store(c, true)) != 0)
		return rc;
	if (json)
		l.arr = json_array();
	if (tip_store_watch_list(c->st, all, list_row, &l, &err) < 0) {
		json_decref(l.arr);
		cli_err("watch", "%s", err.msg);
		return EXIT_RUNTIME;
	}
	return json ? cli_json_print(l.arr) : EXIT_OK;
}

int cmd_watch(struct cli *c, int argc, char **argv)
{
	if (argc < 2)
		return cli_usage("watch", "expected add, rm or list");
	if (!strcmp(argv[1], "add"))
		return add_rm(c, true, argc - 1, argv + 1);
	if (!strcmp(argv[1], "rm"))
		return add_rm(c, false, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return list(c, argc - 1, argv + 1);
	return cli_usage("watch", "unknown subcommand '%s'", argv[1]);
}
