/*
 * pipe.c — the parse thread of a feed run (feeds_int.h says why).
 *
 * The parser thread encodes each accepted entry into the current batch (a flat buffer: a fixed
 * header, then the strings with their NULs) and queues the batch when it is full; the store's
 * thread decodes the entries in order and calls the callback. At most QUEUE_MAX batches wait, so
 * a parser that runs ahead blocks instead of growing memory. Either side stops the other: the
 * callback's failure sets `stop`, which the parser sees at its next entry; the parser's end (or
 * failure) is `done`.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "feeds_int.h"

#define CHUNK (64 * 1024)
#define BATCH_BYTES (256 * 1024)
#define QUEUE_MAX 4
#define NO_STR UINT32_MAX /* a NULL attribute */

/* One entry in a batch; the strings follow in this order, each with its NUL. */
struct ent_head {
	int64_t line, listed_since;
	uint32_t len[6]; /* value, host, registrable, category, threat, tags */
	uint8_t addr[16];
	int16_t prefix;
	uint8_t type, family, idn, defanged, registrable_pending;
};

struct batch {
	char *buf;
	size_t len, cap, n;
	struct batch *next;
};

struct pipe {
	pthread_mutex_t mu;
	pthread_cond_t cond; /* a batch queued, a batch freed, done or stop */
	struct batch *head, *tail, *free;
	int queued;
	bool done, stop;

	/* the parser's side */
	const struct tip_feed_def *def;
	FILE *body;
	struct batch *cur;
	int prc;
	struct tip_error perr;
	struct tip_feed_stats stats;
	/* for the debug log: the parser's CPU time, the time each side waited for the other */
	double parse_cpu, parse_wait, store_wait;
};

static struct batch *batch_get(struct pipe *p)
{
	struct batch *b;
	pthread_mutex_lock(&p->mu);
	if ((b = p->free))
		p->free = b->next;
	pthread_mutex_unlock(&p->mu);
	if (!b) {
		b = tip_xcalloc(1, sizeof(*b));
		b->cap = BATCH_BYTES;
		b->buf = tip_xmalloc(b->cap);
	}
	b->len = b->n = 0;
	b->next = NULL;
	return b;
}

static void batch_free(struct batch *b)
{
	while (b) {
		struct batch *next = b->next;
		free(b->buf);
		free(b);
		b = next;
	}
}

/* Parser side: queue the current batch (waiting while the queue is full). False: stopped. */
static bool publish(struct pipe *p)
{
	bool stop;
	struct batch *b = p->cur;
	p->cur = NULL;
	if (!b)
		return true;
	pthread_mutex_lock(&p->mu);
	if (p->queued >= QUEUE_MAX && !p->stop) {
		tip_time_t t0 = tip_monotonic();
		while (p->queued >= QUEUE_MAX && !p->stop)
			pthread_cond_wait(&p->cond, &p->mu);
		p->parse_wait += (double)(tip_monotonic() - t0) / TIP_SEC;
	}
	if (!(stop = p->stop)) {
		if (p->tail)
			p->tail->next = b;
		else
			p->head = b;
		p->tail = b;
		p->queued++;
		pthread_cond_broadcast(&p->cond);
	} else {
		b->next = p->free;
		p->free = b;
	}
	pthread_mutex_unlock(&p->mu);
	return !stop;
}

static void put_str(struct batch *b, const char *s, uint32_t *len)
{
	size_t l;
	if (!s) {
		*len = NO_STR;
		return;
	}
	l = strlen(s);
	memcpy(b->buf + b->len, s, l + 1);
	b->len += l + 1;
	*len = (uint32_t)l;
}

static int on_parsed(void *arg, const struct tip_indicator *ind,
		     const struct tip_sighting_attrs *attrs, int64_t line)
{
	struct pipe *p = arg;
	const char *strs[6] = { ind->value, ind->host, ind->registrable, NULL, NULL, NULL };
	size_t need = sizeof(struct ent_head) + 8;
	struct ent_head h = { 0 };
	struct batch *b;
	size_t at;

	if (attrs) {
		strs[3] = attrs->category;
		strs[4] = attrs->threat;
		strs[5] = attrs->tags;
		h.listed_since = attrs->listed_since;
	}
	for (int i = 0; i < 6; i++)
		need += strs[i] ? strlen(strs[i]) + 1 : 0;
	if (p->cur && p->cur->len + need > p->cur->cap && !publish(p))
		return TIP_ELIMIT; /* the store's side stopped: its error is the one to report */
	if (!(b = p->cur))
		b = p->cur = batch_get(p);
	if (b->len + need > b->cap) { /* one entry bigger than a batch: a long URL with tags */
		b->cap = b->len + need;
		b->buf = tip_xrealloc(b->buf, b->cap);
	}
	/* headers are written at aligned offsets */
	at = (b->len + 7) & ~(size_t)7;
	b->len = at + sizeof(h);
	h.line = line;
	h.type = (uint8_t)ind->type;
	h.family = (uint8_t)ind->family;
	h.prefix = (int16_t)ind->prefix;
	h.idn = ind->idn;
	h.defanged = ind->defanged;
	h.registrable_pending = ind->registrable_pending;
	memcpy(h.addr, ind->addr, sizeof(h.addr));
	for (int i = 0; i < 6; i++)
		put_str(b, strs[i], &h.len[i]);
	memcpy(b->buf + at, &h, sizeof(h));
	b->n++;
	return 0;
}

static void *parse_main(void *arg)
{
	struct pipe *p = arg;
	struct tip_feed_parser *parser = NULL;
	char *buf = tip_xmalloc(CHUNK);
	size_t n;
	int rc;

	if ((rc = tip_feed_parser_new(p->def, on_parsed, p, &parser, &p->perr)) < 0)
		goto out;
	while ((n = fread(buf, 1, CHUNK, p->body)) > 0)
		if ((rc = tip_feed_parser_push(parser, buf, n, &p->perr)) < 0)
			goto out;
	if (ferror(p->body)) {
		rc = tip_error_set(&p->perr, TIP_EIO, "reading the spool file failed");
		goto out;
	}
	rc = tip_feed_parser_finish(parser, &p->perr);
	if (rc == 0 && !publish(p))
		rc = TIP_ELIMIT;
out:
	if (parser)
		p->stats = *tip_feed_parser_stats(parser);
	tip_feed_parser_free(parser);
	free(buf);
	pthread_mutex_lock(&p->mu);
	p->parse_cpu = tip_thread_cpu();
	p->prc = rc;
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Store side: the next batch, NULL when the parser is done and everything was taken. */
static struct batch *take(struct pipe *p)
{
	struct batch *b;
	pthread_mutex_lock(&p->mu);
	if (!p->head && !p->done) {
		tip_time_t t0 = tip_monotonic();
		while (!p->head && !p->done)
			pthread_cond_wait(&p->cond, &p->mu);
		p->store_wait += (double)(tip_monotonic() - t0) / TIP_SEC;
	}
	if ((b = p->head)) {
		if (!(p->head = b->next))
			p->tail = NULL;
		p->queued--;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->mu);
	return b;
}

static void give_back(struct pipe *p, struct batch *b)
{
	pthread_mutex_lock(&p->mu);
	b->next = p->free;
	p->free = b;
	pthread_mutex_unlock(&p->mu);
}

static const char *get_str(const char **at, uint32_t len)
{
	const char *s = *at;
	if (len == NO_STR)
		return NULL;
	*at += len + 1;
	return s;
}

/* How far ahead of the entry handed over the hint goes: enough entries for a cache miss to
 * complete meanwhile, few enough that what was fetched is still cached. */
#define HINT_AHEAD 8

/* The entry at off (the end of the previous one): its header and strings; returns where the
 * next one starts. */
static size_t entry_at(const struct batch *b, size_t off, struct ent_head *h, const char *str[6])
{
	const char *s;
	off = (off + 7) & ~(size_t)7;
	memcpy(h, b->buf + off, sizeof(*h));
	s = b->buf + off + sizeof(*h);
	for (int k = 0; k < 6; k++)
		str[k] = get_str(&s, h->len[k]);
	return (size_t)(s - b->buf);
}

static int deliver(struct batch *b, struct tip_indicator *ind, tip_feed_entry_cb cb,
		   tip_feed_hint_cb hint, void *arg)
{
	size_t off = 0, ahead = 0, n_ahead = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct ent_head h;
		struct tip_sighting_attrs attrs;
		const char *str[6];
		int rc;

		if (hint)
			for (; n_ahead < b->n && n_ahead <= i + HINT_AHEAD; n_ahead++) {
				ahead = entry_at(b, ahead, &h, str);
				hint(arg, (enum tip_ind_type)h.type, str[0]);
			}

		off = entry_at(b, off, &h, str);
		ind->type = (enum tip_ind_type)h.type;
		memcpy(ind->value, str[0], h.len[0] + 1);
		memcpy(ind->host, str[1], h.len[1] + 1);
		memcpy(ind->registrable, str[2], h.len[2] + 1);
		ind->family = h.family;
		memcpy(ind->addr, h.addr, sizeof(ind->addr));
		ind->prefix = h.prefix;
		ind->idn = h.idn;
		ind->defanged = h.defanged;
		ind->registrable_pending = h.registrable_pending;
		attrs = (struct tip_sighting_attrs){ .category = str[3], .threat = str[4],
						     .tags = str[5], .listed_since = h.listed_since };
		if ((rc = cb(arg, ind, &attrs, h.line)) < 0)
			return rc;
	}
	return 0;
}

int tip_feed_parse_piped(const struct tip_feed_def *def, FILE *body, tip_feed_entry_cb cb,
			 tip_feed_hint_cb hint, void *arg,
			 struct tip_feed_stats *stats, struct tip_error *err)
{
	struct pipe p = { .def = def, .body = body };
	struct tip_indicator *ind = tip_xmalloc(sizeof(*ind));
	struct batch *b;
	pthread_t th;
	int rc = 0, e;

	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cond, NULL);
	if ((e = pthread_create(&th, NULL, parse_main, &p)) != 0) {
		rc = tip_error_set(err, TIP_ENOMEM, "cannot start the parse thread: %s", strerror(e));
		goto out;
	}
	while ((b = take(&p))) {
		rc = deliver(b, ind, cb, hint, arg);
		give_back(&p, b);
		if (rc < 0)
			break;
	}
	if (rc < 0) { /* the callback failed: stop the parser */
		pthread_mutex_lock(&p.mu);
		p.stop = true;
		pthread_cond_broadcast(&p.cond);
		pthread_mutex_unlock(&p.mu);
	}
	pthread_join(th, NULL);
	tip_debug("feed parse: the parser's thread %.3f s CPU, %.3f s waiting for the store's; the "
		  "store's waiting %.3f s", p.parse_cpu, p.parse_wait, p.store_wait);
	if (rc == 0 && p.prc < 0) {
		rc = p.prc;
		*err = p.perr;
	}
	*stats = p.stats;
out:
	batch_free(p.head);
	batch_free(p.free);
	batch_free(p.cur);
	pthread_cond_destroy(&p.cond);
	pthread_mutex_destroy(&p.mu);
	free(ind);
	return rc;
}
