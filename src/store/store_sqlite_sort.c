/*
 * store_sqlite_sort.c — the entries a listing pass writes, sorted by (type, value) in bounded
 * memory: an external merge sort for store_sqlite_feeds.c.
 *
 * Why: the (type, value) index takes new indicators cheaply only in key order (a first load of
 * 1M entries: 8.0 s in the order listed, under 1 s sorted; docs/performance.md). The entries
 * went into temporary SQLite tables, which SQLite's sorter then ordered: for a first load about
 * 2 s to write them and 2 s to sort them, one after the other on the store's thread. Here an
 * entry costs a copy into a chunk of memory while the parser's thread goes on; a full chunk is
 * sorted (qsort of 16-byte items: the key's first bytes as an integer and the record's address)
 * and written to an unlinked temporary file as one sorted run, by a thread of its own while the
 * store's thread fills the other chunk (done on the store's thread, the sort made the parser's
 * thread wait: both waited ~0.4 s of a 1.5 s parse of 1M entries). The settle then merges the
 * runs and the last chunk, still in memory, and gives each distinct key once.
 *
 * An entry listed twice is one merged entry: its attributes are those of its later listings
 * where they give them (as the sighting upsert keeps a stored attribute that a listing leaves
 * out), its attribute hash that of its last listing. Ties are broken by the order listed: a
 * chunk's items by their address (records are appended), the runs by their number (the last
 * chunk is the latest).
 *
 * Memory: two chunks (SORT_CHUNK), their items, and a read buffer a run at the merge.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_sqlite.h"

#define SORT_CHUNK (8u << 20)
#define RUN_BUF (64u << 10)
#define NO_STR UINT32_MAX
#define N_STR 6 /* value, host, registrable, category, threat, tags */

/* One entry, packed: this header, the address (16 bytes) if family, then the strings present
 * with their NULs; the whole a multiple of 8 bytes. A registrable domain left for later
 * (REC_REG_LATER) is found by the sort thread and kept as a suffix of the host, or of the value
 * where the host is the value (REC_REG_SUFFIX: len[2] is where it starts); neither is stored as a
 * string of its own. */
struct rec {
	uint64_t h;
	uint32_t h2, ah;
	int64_t listed_since;
	uint32_t len[N_STR]; /* without the NUL; NO_STR for NULL */
	uint32_t size;
	uint8_t type, family, prefix, flags;
};
#define REC_REG_LATER 1u
#define REC_REG_SUFFIX 2u

struct item {
	uint64_t o; /* sort_prefix of the record's (type, value) */
	const struct rec *r;
};

struct run {
	off_t off, end; /* a run in the file: its bytes */
};

/* A run being merged: one of the file, read through buf, or the last chunk (mem) */
struct reader {
	bool mem;
	off_t next, end;    /* file: the next byte to read into buf, the run's end */
	uint8_t *buf;       /* file: [pos, len) read and not yet taken */
	size_t cap, pos, len;
	size_t i;           /* mem: the next item */
	const struct rec *cur;
	uint64_t o;
};

struct chunk {
	uint8_t *buf;
	size_t len, cap;
	struct item *items;
	size_t n_items, cap_items;
};

struct sq_sort {
	size_t chunk_size;
	struct chunk ch[2];
	struct chunk *cur; /* the chunk being filled */
	FILE *file; /* the runs, one after the other; NULL until the first is written */
	struct run *runs;
	size_t n_runs;
	off_t file_len;
	/* the thread that sorts and writes a full chunk: job is the chunk it has (NULL: idle),
	 * werr its first failure */
	pthread_t th;
	bool th_on, quit;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct chunk *job;
	struct tip_error werr;
	/* the merge */
	struct reader *rd;
	size_t n_rd;
	size_t *heap; /* reader indexes, a binary min-heap */
	size_t n_heap;
	uint8_t *out;  /* the merged entry's first record, copied */
	size_t out_cap;
	char *own[3];  /* its attributes given by later listings */
	struct sq_sort_ent ent;
};

/* (type, value)'s sort key: the type and the value's first 7 bytes as one integer, in the order
 * of (type, value) (missing bytes are 0, below any byte of text) */
static uint64_t sort_prefix(int type, const char *value)
{
	uint64_t o = (uint64_t)type << 56;
	for (int i = 0; i < 7 && value[i]; i++)
		o |= (uint64_t)(unsigned char)value[i] << (48 - 8 * i);
	return o;
}

static const char *rec_value(const struct rec *r)
{
	return (const char *)(r + 1) + (r->family ? 16 : 0);
}

/* the record's strings: v[i] NULL for an absent one */
static void rec_strs(const struct rec *r, const char *v[N_STR])
{
	const char *p = rec_value(r);
	for (int i = 0; i < N_STR; i++) {
		if (r->len[i] == NO_STR || (i == 2 && r->flags)) {
			v[i] = NULL;
			continue;
		}
		v[i] = p;
		p += r->len[i] + 1;
	}
	if (r->flags & REC_REG_SUFFIX)
		v[2] = (v[1] ? v[1] : v[0]) + r->len[2];
}

/* The chunk's registrable domains left for later: found now (libpsl), as suffixes. One that is
 * the value itself stays NULL (schema 9), as does a host without one (a public suffix). */
static void find_registrable(struct chunk *c)
{
	for (size_t i = 0; i < c->n_items; i++) {
		struct rec *r = (struct rec *)c->items[i].r;
		const char *v[N_STR], *base, *reg;
		if (!(r->flags & REC_REG_LATER))
			continue;
		rec_strs(r, v);
		base = v[1] ? v[1] : v[0];
		reg = tip_registrable_suffix(base);
		r->flags = 0;
		if (reg && !(reg == base && base == v[0])) {
			r->flags = REC_REG_SUFFIX;
			r->len[2] = (uint32_t)(reg - base);
		}
	}
}

struct sq_sort *sq_sort_new(size_t chunk)
{
	struct sq_sort *so = tip_xcalloc(1, sizeof(*so));
	so->chunk_size = chunk ? chunk : SORT_CHUNK;
	so->cur = &so->ch[0];
	pthread_mutex_init(&so->mu, NULL);
	pthread_cond_init(&so->cond, NULL);
	return so;
}

/* The sort thread done with its chunk, and stopped. */
static void stop_thread(struct sq_sort *so)
{
	if (!so->th_on)
		return;
	pthread_mutex_lock(&so->mu);
	so->quit = true;
	pthread_cond_broadcast(&so->cond);
	pthread_mutex_unlock(&so->mu);
	pthread_join(so->th, NULL);
	so->th_on = false;
}

static void chunk_free(struct chunk *c)
{
	free(c->items);
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

void sq_sort_free(struct sq_sort *so)
{
	if (!so)
		return;
	stop_thread(so);
	pthread_cond_destroy(&so->cond);
	pthread_mutex_destroy(&so->mu);
	if (so->file)
		fclose(so->file);
	for (size_t i = 0; i < so->n_rd; i++)
		free(so->rd[i].buf);
	for (int i = 0; i < 3; i++)
		free(so->own[i]);
	free(so->rd);
	free(so->heap);
	free(so->out);
	free(so->runs);
	chunk_free(&so->ch[0]);
	chunk_free(&so->ch[1]);
	free(so);
}

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c;
	if (x->o != y->o)
		return x->o < y->o ? -1 : 1;
	if ((c = strcmp(rec_value(x->r), rec_value(y->r))))
		return c;
	return x->r < y->r ? -1 : x->r > y->r; /* the earlier listed first */
}

/* An unlinked file for the runs, where the feeds' spool goes too ($TMPDIR, else /tmp). */
static int open_file(struct sq_sort *so, struct tip_error *err)
{
	if (!(so->file = tip_tmpfile("listing-sort", err)))
		return err->code;
	setvbuf(so->file, NULL, _IOFBF, 256u << 10);
	return 0;
}

/* A full chunk sorted and written as one run (on the sort thread); the chunk is empty after. */
static int write_run(struct sq_sort *so, struct chunk *c, struct tip_error *err)
{
	int rc;
	if (!so->file && (rc = open_file(so, err)) < 0)
		return rc;
	find_registrable(c);
	qsort(c->items, c->n_items, sizeof(*c->items), item_cmp);
	for (size_t i = 0; i < c->n_items; i++)
		if (fwrite(c->items[i].r, c->items[i].r->size, 1, so->file) != 1)
			goto fail;
	if (fflush(so->file) != 0)
		goto fail;
	so->runs = tip_xrealloc(so->runs, (so->n_runs + 1) * sizeof(*so->runs));
	so->runs[so->n_runs].off = so->file_len;
	so->file_len = ftello(so->file);
	so->runs[so->n_runs++].end = so->file_len;
	c->n_items = 0;
	c->len = 0;
	return 0;
fail:
	return tip_error_set(err, TIP_EIO, "listing sort: writing the temporary file: %s",
			     strerror(errno));
}

static void *sort_main(void *arg)
{
	struct sq_sort *so = arg;
	pthread_mutex_lock(&so->mu);
	for (;;) {
		struct chunk *c;
		while (!so->job && !so->quit)
			pthread_cond_wait(&so->cond, &so->mu);
		if (!(c = so->job))
			break;
		pthread_mutex_unlock(&so->mu);
		if (!so->werr.code) /* after a failure: nothing more to write */
			write_run(so, c, &so->werr);
		pthread_mutex_lock(&so->mu);
		so->job = NULL;
		pthread_cond_broadcast(&so->cond);
	}
	pthread_mutex_unlock(&so->mu);
	return NULL;
}

/* Waits for the sort thread to be idle; its failure, if any. */
static int wait_idle(struct sq_sort *so, struct tip_error *err)
{
	int rc = 0;
	pthread_mutex_lock(&so->mu);
	while (so->job)
		pthread_cond_wait(&so->cond, &so->mu);
	if (so->werr.code) {
		*err = so->werr;
		rc = so->werr.code;
	}
	pthread_mutex_unlock(&so->mu);
	return rc;
}

/* The current chunk to the sort thread; the store's thread goes on with the other one. */
static int spill(struct sq_sort *so, struct tip_error *err)
{
	int rc, e;
	if ((rc = wait_idle(so, err)) < 0)
		return rc;
	if (!so->th_on) {
		if ((e = pthread_create(&so->th, NULL, sort_main, so)) != 0) {
			/* no thread: sorted and written here */
			tip_warnx("listing sort: no sort thread (%s)", strerror(e));
			return write_run(so, so->cur, err);
		}
		so->th_on = true;
	}
	pthread_mutex_lock(&so->mu);
	so->job = so->cur;
	pthread_cond_broadcast(&so->cond);
	pthread_mutex_unlock(&so->mu);
	so->cur = so->cur == &so->ch[0] ? &so->ch[1] : &so->ch[0];
	return 0;
}

int sq_sort_add(struct sq_sort *so, const struct sq_sort_ent *e, struct tip_error *err)
{
	const char *v[N_STR] = { e->value, e->host, e->registrable, e->category, e->threat, e->tags };
	size_t len[N_STR], size = sizeof(struct rec) + (e->family ? 16 : 0);
	struct chunk *c = so->cur;
	struct rec *r;
	uint8_t *p;
	int rc;

	for (int i = 0; i < N_STR; i++) {
		len[i] = v[i] ? strlen(v[i]) : 0;
		if (v[i] && len[i] >= NO_STR)
			return tip_error_set(err, TIP_EINVAL, "listing sort: a field of %zu bytes",
					     len[i]);
		size += v[i] ? len[i] + 1 : 0;
	}
	size = (size + 7) & ~(size_t)7;
	if (size > UINT32_MAX)
		return tip_error_set(err, TIP_EINVAL, "listing sort: an entry of %zu bytes", size);
	if (c->len + size > c->cap) {
		if (c->n_items) {
			if ((rc = spill(so, err)) < 0)
				return rc;
			c = so->cur;
		}
		if (size > c->cap) { /* empty: a first chunk, or an entry bigger */
			c->cap = size > so->chunk_size ? size : so->chunk_size;
			free(c->buf);
			c->buf = tip_xmalloc(c->cap);
		}
	}
	if (c->n_items == c->cap_items) {
		c->cap_items = c->cap_items ? 2 * c->cap_items : 4096;
		c->items = tip_xrealloc(c->items, c->cap_items * sizeof(*c->items));
	}
	r = (struct rec *)(c->buf + c->len);
	memset(r, 0, sizeof(*r));
	r->h = e->h;
	r->h2 = e->h2;
	r->ah = e->ah;
	r->listed_since = e->listed_since;
	r->size = (uint32_t)size;
	r->type = (uint8_t)e->type;
	r->family = (uint8_t)e->family;
	r->prefix = (uint8_t)e->prefix;
	r->flags = e->registrable_later && !e->registrable ? REC_REG_LATER : 0;
	p = (uint8_t *)(r + 1);
	if (e->family) {
		memcpy(p, e->addr, 16);
		p += 16;
	}
	for (int i = 0; i < N_STR; i++) {
		r->len[i] = v[i] ? (uint32_t)len[i] : NO_STR;
		if (v[i]) {
			memcpy(p, v[i], len[i] + 1);
			p += len[i] + 1;
		}
	}
	c->len += size;
	c->items[c->n_items].o = sort_prefix(e->type, e->value);
	c->items[c->n_items++].r = r;
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The merge */

/* the reader's next record (rd->cur), or NULL at its run's end */
static int reader_next(struct sq_sort *so, struct reader *rd, struct tip_error *err)
{
	const struct rec *r;
	if (rd->mem) {
		const struct chunk *c = so->cur;
		rd->cur = rd->i < c->n_items ? c->items[rd->i].r : NULL;
		rd->o = rd->cur ? c->items[rd->i++].o : 0;
		return 0;
	}
	for (;;) {
		size_t have = rd->len - rd->pos, want;
		r = (const struct rec *)(rd->buf + rd->pos);
		want = have >= sizeof(*r) ? r->size : sizeof(*r);
		if (have >= want && have >= sizeof(*r))
			break;
		if (rd->next >= rd->end) {
			if (have)
				return tip_error_set(err, TIP_EIO,
						     "listing sort: a run of the temporary file ends "
						     "inside an entry");
			rd->cur = NULL;
			return 0;
		}
		/* keep what is left at the start, read more after it */
		memmove(rd->buf, rd->buf + rd->pos, have);
		rd->pos = 0;
		rd->len = have;
		if (want > rd->cap) {
			rd->cap = want;
			rd->buf = tip_xrealloc(rd->buf, rd->cap);
		}
		{
			size_t room = rd->cap - rd->len;
			ssize_t got;
			if ((off_t)room > rd->end - rd->next)
				room = (size_t)(rd->end - rd->next);
			got = pread(fileno(so->file), rd->buf + rd->len, room, rd->next);
			if (got <= 0)
				return tip_error_set(err, TIP_EIO,
						     "listing sort: reading the temporary file: %s",
						     got < 0 ? strerror(errno) : "short file");
			rd->len += (size_t)got;
			rd->next += got;
		}
	}
	rd->cur = r;
	rd->pos += r->size;
	rd->o = sort_prefix(r->type, rec_value(r));
	return 0;
}

static bool reader_less(const struct sq_sort *so, size_t a, size_t b)
{
	const struct reader *x = &so->rd[a], *y = &so->rd[b];
	int c;
	if (x->o != y->o)
		return x->o < y->o;
	if ((c = strcmp(rec_value(x->cur), rec_value(y->cur))))
		return c < 0;
	return a < b; /* the runs in the order written, the last chunk last */
}

static void sift_down(struct sq_sort *so, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i, t;
		if (l < so->n_heap && reader_less(so, so->heap[l], so->heap[m]))
			m = l;
		if (l + 1 < so->n_heap && reader_less(so, so->heap[l + 1], so->heap[m]))
			m = l + 1;
		if (m == i)
			return;
		t = so->heap[i], so->heap[i] = so->heap[m], so->heap[m] = t;
		i = m;
	}
}

int sq_sort_rewind(struct sq_sort *so, struct tip_error *err)
{
	int rc;
	if (!so->rd) { /* the first merge: the last chunk sorted in memory, a reader a run */
		const struct chunk *c = so->cur;
		if ((rc = wait_idle(so, err)) < 0)
			return rc;
		stop_thread(so);
		/* the other chunk is done with (its run is written, no entry comes after a merge
		 * began): its memory goes before the merge's read buffers come */
		chunk_free(so->cur == &so->ch[0] ? &so->ch[1] : &so->ch[0]);
		find_registrable(so->cur);
		qsort(c->items, c->n_items, sizeof(*c->items), item_cmp);
		so->n_rd = so->n_runs + (c->n_items ? 1 : 0);
		so->rd = tip_xcalloc(so->n_rd ? so->n_rd : 1, sizeof(*so->rd));
		so->heap = tip_xmalloc((so->n_rd ? so->n_rd : 1) * sizeof(*so->heap));
		for (size_t i = 0; i < so->n_runs; i++) {
			so->rd[i].cap = RUN_BUF;
			so->rd[i].buf = tip_xmalloc(RUN_BUF);
		}
		if (c->n_items)
			so->rd[so->n_runs].mem = true;
		tip_debug("listing sort: %zu sorted runs in the temporary file (%lld bytes), %zu "
			  "entries in the last chunk", so->n_runs, (long long)so->file_len, c->n_items);
	}
	so->n_heap = 0;
	for (size_t i = 0; i < so->n_rd; i++) {
		struct reader *rd = &so->rd[i];
		if (rd->mem) {
			rd->i = 0;
		} else {
			rd->next = so->runs[i].off;
			rd->end = so->runs[i].end;
			rd->pos = rd->len = 0;
		}
		if ((rc = reader_next(so, rd, err)) < 0)
			return rc;
		if (rd->cur)
			so->heap[so->n_heap++] = i;
	}
	for (size_t i = so->n_heap / 2; i-- > 0;)
		sift_down(so, i);
	return 0;
}

/* The reader on top of the heap moves on to its next record. */
static int pop(struct sq_sort *so, struct tip_error *err)
{
	struct reader *rd = &so->rd[so->heap[0]];
	int rc;
	if ((rc = reader_next(so, rd, err)) < 0)
		return rc;
	if (!rd->cur)
		so->heap[0] = so->heap[--so->n_heap];
	if (so->n_heap)
		sift_down(so, 0);
	return 0;
}

int sq_sort_next(struct sq_sort *so, const struct sq_sort_ent **ent, struct tip_error *err)
{
	struct sq_sort_ent *e = &so->ent;
	const struct rec *r;
	const char *v[N_STR];
	int rc;

	for (int i = 0; i < 3; i++) {
		free(so->own[i]);
		so->own[i] = NULL;
	}
	if (!so->n_heap)
		return 0;
	r = so->rd[so->heap[0]].cur;
	if (r->size > so->out_cap) {
		so->out_cap = r->size > 4096 ? r->size : 4096;
		free(so->out);
		so->out = tip_xmalloc(so->out_cap);
	}
	memcpy(so->out, r, r->size);
	r = (const struct rec *)so->out;
	rec_strs(r, v);
	e->type = r->type;
	e->family = r->family;
	e->prefix = r->prefix;
	e->addr = r->family ? (const uint8_t *)(r + 1) : NULL;
	e->value = v[0];
	e->host = v[1];
	e->registrable = v[2];
	e->category = v[3];
	e->threat = v[4];
	e->tags = v[5];
	e->listed_since = r->listed_since;
	e->h = r->h;
	e->h2 = r->h2;
	e->ah = r->ah;
	if ((rc = pop(so, err)) < 0)
		return rc;
	/* the same key listed again, later: its attributes where it gives them */
	while (so->n_heap) {
		const struct rec *n = so->rd[so->heap[0]].cur;
		const char *w[N_STR];
		if (n->type != r->type || strcmp(rec_value(n), e->value))
			break;
		rec_strs(n, w);
		for (int i = 0; i < 3; i++)
			if (w[3 + i]) {
				free(so->own[i]);
				so->own[i] = tip_xstrdup(w[3 + i]);
			}
		if (n->listed_since)
			e->listed_since = n->listed_since;
		e->ah = n->ah;
		if ((rc = pop(so, err)) < 0)
			return rc;
	}
	if (so->own[0])
		e->category = so->own[0];
	if (so->own[1])
		e->threat = so->own[1];
	if (so->own[2])
		e->tags = so->own[2];
	*ent = e;
	return 1;
}
