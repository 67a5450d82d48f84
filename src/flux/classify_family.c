/*
 * classify_family.c — network families: flux domains that share agents are one botnet's.
 *
 * The graph has a node per flux domain and an edge wherever two domains resolved to the same
 * address within the window. Addresses are interned as they are added (one copy of each agent,
 * however many domains share it); each remembers the first domain seen on it, and each further
 * domain on it is united with that one: union-find (path halving, union by size), linear in the
 * number of (domain, address) pairs.
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
	size_t first_ref, n_refs; /* into fs->refs */
	int family;               /* index into fs->fam, -1: none */
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
	char **agents;   /* the distinct agents (owned), by index */
	size_t n_agents, cap_agents;
	uint32_t *slots; /* open addressing over agents: index + 1, 0 empty */
	size_t n_slots;
	uint32_t *refs;  /* every domain's agents as indices, in add order */
	size_t n_refs, cap_refs;
	struct fam *fam;
	size_t n_fam, cap_fam;
};

struct tip_flux_families *tip_flux_families_new(void)
{
	return tip_xcalloc(1, sizeof(struct tip_flux_families));
}

/* FNV-1a: the table only needs to spread addresses. */
static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return h;
}

static void slots_grow(struct tip_flux_families *fs)
{
	size_t ncap = fs->n_slots ? fs->n_slots * 2 : 1024;
	uint32_t *n = tip_xcalloc(ncap, sizeof(*n));
	for (size_t i = 0; i < fs->n_agents; i++) {
		size_t h = hash_str(fs->agents[i]) & (ncap - 1);
		while (n[h])
			h = (h + 1) & (ncap - 1);
		n[h] = (uint32_t)i + 1;
	}
	free(fs->slots);
	fs->slots = n;
	fs->n_slots = ncap;
}

/* The index of agent a, added when new. */
static uint32_t intern(struct tip_flux_families *fs, const char *a)
{
	size_t h;
	if ((fs->n_agents + 1) * 2 > fs->n_slots)
		slots_grow(fs);
	h = hash_str(a) & (fs->n_slots - 1);
	while (fs->slots[h]) {
		uint32_t i = fs->slots[h] - 1;
		if (!strcmp(fs->agents[i], a))
			return i;
		h = (h + 1) & (fs->n_slots - 1);
	}
	if (fs->n_agents == fs->cap_agents) {
		fs->cap_agents = fs->cap_agents ? fs->cap_agents * 2 : 1024;
		fs->agents = tip_xrealloc(fs->agents, fs->cap_agents * sizeof(*fs->agents));
	}
	fs->agents[fs->n_agents] = tip_xstrdup(a);
	fs->slots[h] = (uint32_t)fs->n_agents + 1;
	return (uint32_t)fs->n_agents++;
}

size_t tip_flux_families_add(struct tip_flux_families *fs, const char *domain,
			     tip_time_t first_seen, const char *const *agents, size_t n_agents)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 256;
		fs->d = tip_xrealloc(fs->d, fs->cap * sizeof(*fs->d));
	}
	if (fs->n_refs + n_agents > fs->cap_refs) {
		while (fs->n_refs + n_agents > fs->cap_refs)
			fs->cap_refs = fs->cap_refs ? fs->cap_refs * 2 : 1024;
		fs->refs = tip_xrealloc(fs->refs, fs->cap_refs * sizeof(*fs->refs));
	}
	fs->d[fs->n] = (struct fdom){
		.domain = tip_xstrdup(domain),
		.first_seen = first_seen,
		.parent = fs->n,
		.size = 1,
		.first_ref = fs->n_refs,
		.n_refs = n_agents,
		.family = -1,
	};
	for (size_t i = 0; i < n_agents; i++)
		fs->refs[fs->n_refs++] = intern(fs, agents[i]);
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
	size_t *oldest, *fam_of_root;
	/* the first domain seen on each agent; every later one is united with it */
	size_t *owner = tip_xmalloc((fs->n_agents ? fs->n_agents : 1) * sizeof(*owner));

	for (size_t k = 0; k < fs->n_agents; k++)
		owner[k] = SIZE_MAX;
	for (size_t i = 0; i < fs->n; i++)
		for (size_t k = 0; k < fs->d[i].n_refs; k++) {
			uint32_t a = fs->refs[fs->d[i].first_ref + k];
			if (owner[a] == SIZE_MAX)
				owner[a] = i;
			else
				uf_union(fs->d, owner[a], i);
		}
	free(owner);

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
				cnt[j] += fs->d[i].n_refs;
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
			for (size_t k = 0; k < fs->d[i].n_refs; k++)
				f->agents[f->n_agents++] =
					fs->agents[fs->refs[fs->d[i].first_ref + k]];
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
	if (fs->n_fam)
		qsort(fs->fam, fs->n_fam, sizeof(*fs->fam), cmp_fam);
	for (size_t j = 0; j < fs->n_fam; j++)
		fam_of_root[fs->fam[j].root] = j;
	for (size_t i = 0; i < fs->n; i++) {
		size_t r = uf_find(fs->d, i);
		fs->d[i].family = fs->d[r].size >= 2 ? (int)fam_of_root[r] : -1;
	}
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
	free(fs->slots);
	free(fs->refs);
	free(fs->fam);
	free(fs);
}
