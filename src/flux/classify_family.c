/*
 * classify_family.c — network families: flux domains that share agents are one botnet's.
 *
 * The graph has a node per flux domain and an edge wherever two domains resolved to the same
 * address within the window. Its connected components come from union-find (path halving, union
 * by size) fed by one hash table from address to the first domain seen on it: each further domain
 * on that address is united with the first. Linear in the number of (domain, address) pairs.
 *
 * A component with two or more domains is a family. Its name is "ff-" + its oldest domain (the
 * earliest first sighting of any of its A records, ties broken by name): deterministic, readable,
 * and unchanged while the family grows — new domains are younger than the oldest one.
 */
#include <stdlib.h>
#include <string.h>

#include "flux.h"

struct fdom {
	char *domain;
	tip_time_t first_seen;
	size_t parent, size;
	size_t first_agent, n_agents; /* into fs->agents */
	int family;                   /* index into fs->fam, -1: none */
};

struct fam {
	char *name;
	size_t root;
	const char **domains, **agents;
	size_t n_domains, n_agents;
};

struct tip_flux_families {
	struct fdom *d;
	size_t n, cap;
	char **agents; /* every domain's agents, in add order (owned) */
	size_t n_agents, cap_agents;
	struct fam *fam;
	size_t n_fam, cap_fam;
};

struct tip_flux_families *tip_flux_families_new(void)
{
	return tip_xcalloc(1, sizeof(struct tip_flux_families));
}

size_t tip_flux_families_add(struct tip_flux_families *fs, const char *domain,
			     tip_time_t first_seen, const char *const *agents, size_t n_agents)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 256;
		fs->d = tip_xrealloc(fs->d, fs->cap * sizeof(*fs->d));
	}
	if (fs->n_agents + n_agents > fs->cap_agents) {
		while (fs->n_agents + n_agents > fs->cap_agents)
			fs->cap_agents = fs->cap_agents ? fs->cap_agents * 2 : 1024;
		fs->agents = tip_xrealloc(fs->agents, fs->cap_agents * sizeof(*fs->agents));
	}
	fs->d[fs->n] = (struct fdom){
		.domain = tip_xstrdup(domain),
		.first_seen = first_seen,
		.parent = fs->n,
		.size = 1,
		.first_agent = fs->n_agents,
		.n_agents = n_agents,
		.family = -1,
	};
	for (size_t i = 0; i < n_agents; i++)
		fs->agents[fs->n_agents++] = tip_xstrdup(agents[i]);
	return fs->n++;
}

static size_t uf_find(struct fdom *d, size_t x)
{
	while (d[x].parent != x) {
		d[x].parent = d[d[x].parent].parent;
		x = d[x].parent;
	}
	return x;
}

static void uf_union(struct fdom *d, size_t a, size_t b)
{
	a = uf_find(d, a);
	b = uf_find(d, b);
	if (a == b)
		return;
	if (d[a].size < d[b].size) {
		size_t t = a;
		a = b;
		b = t;
	}
	d[b].parent = a;
	d[a].size += d[b].size;
}

/* FNV-1a: the table only needs to spread addresses. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool older(const struct fdom *a, const struct fdom *b)
{
	if (a->first_seen != b->first_seen)
		return a->first_seen < b->first_seen;
	return strcmp(a->domain, b->domain) < 0;
}

static int cmp_fam(const void *a, const void *b)
{
	return strcmp(((const struct fam *)a)->name, ((const struct fam *)b)->name);
}

size_t tip_flux_families_cluster(struct tip_flux_families *fs)
{
	size_t cap = 16, *oldest, *fam_of_root;
	struct slot {
		const char *addr;
		size_t dom;
	} *tab;

	while (cap < fs->n_agents * 2)
		cap *= 2;
	tab = tip_xcalloc(cap, sizeof(*tab));
	for (size_t i = 0; i < fs->n; i++) {
		for (size_t k = 0; k < fs->d[i].n_agents; k++) {
			const char *a = fs->agents[fs->d[i].first_agent + k];
			size_t h = hash_str(a) & (cap - 1);
			while (tab[h].addr && strcmp(tab[h].addr, a))
				h = (h + 1) & (cap - 1);
			if (tab[h].addr)
				uf_union(fs->d, tab[h].dom, i);
			else
				tab[h] = (struct slot){ a, i };
		}
	}

	/* components of two or more domains become families */
	oldest = tip_xmalloc((fs->n ? fs->n : 1) * sizeof(*oldest));
	fam_of_root = tip_xmalloc((fs->n ? fs->n : 1) * sizeof(*fam_of_root));
	for (size_t i = 0; i < fs->n; i++)
		oldest[i] = fam_of_root[i] = SIZE_MAX;
	for (size_t i = 0; i < fs->n; i++) {
		size_t r = uf_find(fs->d, i);
		if (fs->d[r].size < 2)
			continue;
		if (oldest[r] == SIZE_MAX || older(&fs->d[i], &fs->d[oldest[r]]))
			oldest[r] = i;
	}
	for (size_t i = 0; i < fs->n; i++) {
		size_t r = uf_find(fs->d, i);
		if (fs->d[r].size < 2)
			continue;
		if (fam_of_root[r] == SIZE_MAX) {
			struct fam *f;
			if (fs->n_fam == fs->cap_fam) {
				fs->cap_fam = fs->cap_fam ? fs->cap_fam * 2 : 16;
				fs->fam = tip_xrealloc(fs->fam, fs->cap_fam * sizeof(*fs->fam));
			}
			f = &fs->fam[fs->n_fam];
			memset(f, 0, sizeof(*f));
			f->root = r;
			size_t nl = strlen(fs->d[oldest[r]].domain) + 4;
			f->name = tip_xmalloc(nl);
			snprintf(f->name, nl, "ff-%s", fs->d[oldest[r]].domain);
			f->domains = tip_xmalloc(fs->d[r].size * sizeof(*f->domains));
			fam_of_root[r] = fs->n_fam++;
		}
		struct fam *f = &fs->fam[fam_of_root[r]];
		f->domains[f->n_domains++] = fs->d[i].domain;
	}
	/* agents: the distinct addresses of the family's domains (two passes: count, fill) */
	{
		size_t *cnt = tip_xcalloc(fs->n_fam ? fs->n_fam : 1, sizeof(*cnt));
		for (size_t i = 0; i < fs->n; i++) {
			size_t j = fam_of_root[uf_find(fs->d, i)];
			if (j != SIZE_MAX)
				cnt[j] += fs->d[i].n_agents;
		}
		for (size_t j = 0; j < fs->n_fam; j++)
			fs->fam[j].agents = tip_xmalloc((cnt[j] ? cnt[j] : 1) *
							sizeof(*fs->fam[j].agents));
		free(cnt);
		for (size_t i = 0; i < fs->n; i++) {
			size_t j = fam_of_root[uf_find(fs->d, i)];
			if (j == SIZE_MAX)
				continue;
			struct fam *f = &fs->fam[j];
			for (size_t k = 0; k < fs->d[i].n_agents; k++)
				f->agents[f->n_agents++] = fs->agents[fs->d[i].first_agent + k];
		}
	}
	for (size_t j = 0; j < fs->n_fam; j++) {
		struct fam *f = &fs->fam[j];
		size_t n = 0;
		qsort(f->agents, f->n_agents, sizeof(*f->agents), cmp_str);
		for (size_t k = 0; k < f->n_agents; k++)
			if (n == 0 || strcmp(f->agents[n - 1], f->agents[k]))
				f->agents[n++] = f->agents[k];
		f->n_agents = n;
		qsort(f->domains, f->n_domains, sizeof(*f->domains), cmp_str);
	}
	qsort(fs->fam, fs->n_fam, sizeof(*fs->fam), cmp_fam);
	for (size_t j = 0; j < fs->n_fam; j++)
		fam_of_root[fs->fam[j].root] = j;
	for (size_t i = 0; i < fs->n; i++) {
		size_t r = uf_find(fs->d, i);
		fs->d[i].family = fs->d[r].size >= 2 ? (int)fam_of_root[r] : -1;
	}
	free(tab);
	free(oldest);
	free(fam_of_root);
	return fs->n_fam;
}

const char *tip_flux_families_name(const struct tip_flux_families *fs, size_t i)
{
	if (i >= fs->n || fs->d[i].family < 0)
		return NULL;
	return fs->fam[fs->d[i].family].name;
}

int tip_flux_families_each(const struct tip_flux_families *fs, tip_flux_family_cb cb, void *arg)
{
	for (size_t j = 0; j < fs->n_fam; j++) {
		const struct fam *f = &fs->fam[j];
		int rc = cb(arg, f->name, f->domains, f->n_domains, f->agents, f->n_agents);
		if (rc)
			return rc;
	}
	return 0;
}

void tip_flux_families_free(struct tip_flux_families *fs)
{
	if (!fs)
		return;
	for (size_t i = 0; i < fs->n; i++)
		free(fs->d[i].domain);
	for (size_t i = 0; i < fs->n_agents; i++)
		free(fs->agents[i]);
	for (size_t j = 0; j < fs->n_fam; j++) {
		free(fs->fam[j].name);
		free(fs->fam[j].domains);
		free(fs->fam[j].agents);
	}
	free(fs->d);
	free(fs->agents);
	free(fs->fam);
	free(fs);
}
