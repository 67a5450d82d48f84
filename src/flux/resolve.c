/*
 * resolve.c — fast-flux pass 1, the flux-resolve module: resolve every due watched domain with
 * c-ares on a libevent loop and record passive DNS, rounds and enrichment in batched
 * transactions. See docs/flux.md.
 *
 * Shape: one c-ares channel per configured server (a small fixed pool: the per-server rate limit
 * and in-flight window are then exact), each with tries = 1 — retries are ours, so a timeout is a
 * prompt congestion signal. c-ares tells us its sockets through ARES_OPT_SOCK_STATE_CB; each
 * gets a libevent event that calls ares_process_fd. A periodic tick refills the rate-limit
 * tokens and lets c-ares expire timed-out queries (ares_process_fd with no fd), so we never call
 * ares_timeout (which walks every query in c-ares 1.18).
 *
 * The due list is streamed from the store in chunks; nothing is kept per domain but the state of
 * the domains in flight, so memory and descriptors do not grow with the watch list.
 *
 * Adaptive concurrency (per server): a window of queries in flight that grows by one per answer
 * (slow start) up to ssthresh, then by 1/window per answer, and halves on a timeout (once per
 * timeout period) — TCP's congestion control, so that more queries than the server absorbs do not
 * turn into a retry storm. [dns] concurrency caps the window.
 *
 * Loss is found early. A server whose socket queue overflows loses a burst of queries at once
 * (against a local knotd at 2,000 in flight: ~1,800, its 208 KiB receive buffers full while its
 * workers wait for a core). Waited out with c-ares's timeout, each lost query holds a slot of
 * the window for timeout_ms, and the pass ends waiting for the last of them. So each server
 * keeps a smoothed round-trip time and its variance (TCP's estimator, RFC 6298), and a try
 * that is not the last is given up after srtt + 4 × rttvar (at least RTO_MIN, at most
 * timeout_ms, doubled for each try already made): it leaves the window, counts as a loss and is
 * sent again. Its late answer, if one comes, is dropped. The last try always waits the full
 * timeout_ms (c-ares's own timer), so a slow server — a recursive resolver's cache miss — is
 * never recorded as a timeout sooner than configured.
 *
 * The channels' sockets are rs_io's (resolve_io.c, flux_int.h): c-ares's one send(2) per query
 * and one recvfrom(2) per answer become a sendmmsg(2) per socket each time the loop is about to
 * wait (pump ends with the flush) and a recvmmsg(2) per batch of answers.
 *
 * EDNS(0): queries advertise [dns] edns_size bytes of UDP payload (c-ares's ARES_FLAG_EDNS and
 * ARES_OPT_EDNSPSZ), so answers up to that size need no TCP round trip; larger ones come back
 * truncated and c-ares asks again over TCP. A server that answers FORMERR without an OPT record
 * makes c-ares 1.18 drop EDNS for that channel and resend that query; the queries already in
 * flight on the channel come back to us as FORMERR, and we send them again (on_answer).
 */
#include <ares.h>
#include <ares_dns.h>
#include <ares_nameser.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "enrich/enrich.h"
#include "flux.h"
#include "flux_int.h"

#define MAX_TYPES 3
#define CHUNK 8192          /* due domains read from the store at a time */
#define BATCH 32768         /* answers per transaction (fewer, larger commits: fewer page rewrites) */
#define FLUSH_ANSWERS 512   /* answers per batch handed to the writer */
/* an idle writer commits once its transaction is this old (not at every lull: a pass whose
 * writer keeps up made ~1,400 commits per 1M answers, each rewriting the same upper pages) */
#define IDLE_COMMIT (250 * TIP_MSEC)
#define MAX_QUEUED 64       /* batches waiting for the writer before the loop stops sending */
/* The writer and the checkpointer run this much nicer than the loop: on a machine whose cores
 * the loop shares with the DNS server and the writer, a loop that waits for a core lets answers
 * pile up in its sockets and queries in the server's (losses, a smaller window, idle cores);
 * a writer that waits only lets its queue grow, and the loop stops sending at MAX_QUEUED. */
#define WRITER_NICE 10
/* how often the checkpointer copies the committed WAL into the database during a pass */
#define CHECKPOINT_EVERY (500 * TIP_MSEC)
#define TICK_USEC (10 * TIP_MSEC)
#define MAX_RECORDS 4096    /* records per answer we keep (a 64 KiB TCP answer holds fewer) */
#define RESOLVE_FOLD_PER_SET 8 /* passes' answer-log rounds a set before a pass takes them first */
#define INITIAL_WINDOW 64
#define MIN_WINDOW 8
#define RTO_MIN (50 * TIP_MSEC)
#define MAX_TRIES 11 /* [dns] retries is at most 10 */
/* c-ares channels (so UDP sockets, so source ports) per server. A server that spreads its
 * workers over SO_REUSEPORT sockets (knotd, unbound, …) hashes each source port to one worker:
 * a single socket would load one worker and overflow its receive buffer while the others idle. */
#define CHANNELS_PER_SERVER 4

struct rs_type {
	const char *name;
	int type; /* ns_t_a, … */
};

static const struct rs_type known_types[] = {
	{ "A", 1 },
	{ "AAAA", 28 },
	{ "NS", 2 },
};

struct resolver;

struct rs_server;
struct sent;
struct rs_chan {
	struct rs_server *srv;
	ares_channel ch;
	/* c-ares has dropped EDNS on this channel: a FORMERR without an OPT record came back to
	 * us from it (see on_answer) */
	bool edns_off;
};

struct rs_server {
	struct resolver *r;
	struct rs_chan chans[CHANNELS_PER_SERVER];
	int next_chan;
	char label[80];
	int inflight;
	double window, ssthresh;
	tip_time_t last_cut;
	/* round-trip time (RFC 6298), and the tries that may be given up early, oldest first, by
	 * try number (each list then has one deadline order) */
	double srtt, rttvar;
	struct sent *early_head[MAX_TRIES], *early_tail[MAX_TRIES];
	double tokens;
	int64_t sent, timeouts, gave_up;
	int64_t edns_resent; /* queries sent again without EDNS after a FORMERR */
};

/* A domain in flight: freed when its last query ends. */
struct rs_domain {
	int64_t id; /* the watch row, 0: unknown (a domain given by hand) */
	int pending;
	bool any_ok;
	int outcome;         /* the first failure (O_*), when nothing succeeded; -1: none */
	int64_t min_ttl;     /* over every answer of the round, -1: none */
	int64_t neg_ttl;     /* over its negative answers (NXDOMAIN, NODATA: RFC 2308), -1: none */
	char name[];
};

struct rs_query {
	struct rs_domain *d;
	const struct rs_type *t;
	int attempt;
	struct rs_query *next; /* in the retry queue */
};

struct rs_fd {
	struct event *ev;
};


/* ---------------------------------------------------------------------------------------- */
/* The writer thread. The loop parses answers with c-ares's parsers and hands them, serialised
 * into batches, to one writer thread that owns the store for the pass: it merges them into
 * passive DNS, writes the rounds, enriches new addresses and moves due times, in transactions
 * of up to BATCH answers. So a slow commit or WAL checkpoint (fsync) never stalls the DNS
 * sockets (a stalled loop overflows its socket buffer: losses, timeouts, a smaller window), and
 * the store's CPU runs beside the loop's. The loop stops sending while MAX_QUEUED batches wait.
 *
 * Beside it, a checkpointer: the pass's store is in bulk mode (no automatic checkpoint), and the
 * checkpointer copies the committed WAL into the database every CHECKPOINT_EVERY on a
 * connection of its own (a PASSIVE checkpoint, which waits for no one), so that its I/O
 * overlaps the DNS work instead of following it (it had taken 0.55 s at the end of a
 * 300,000-domain next pass, 1.8 s at 1M), and the WAL stays short. */

enum { O_OK, O_NODATA, O_NXDOMAIN, O_SERVFAIL, O_REFUSED, O_TIMEOUT, O_CONNREFUSED,
       O_FORMERR, O_NOTIMP, O_BADRESP, O_ERROR, O_MAX };
static const char *const outcomes[O_MAX] = { "ok", "nodata", "nxdomain", "servfail",
					     "refused", "timeout", "connrefused", "formerr",
					     "notimp", "badresp", "error" };

enum { W_ROUND = 1, W_DONE = 2 };
/* W_ROUND: u8 kind, u8 type index, u8 outcome, i64 at, u32 n, i64 watch id, domain NUL,
 *          n x (i64 ttl, value NUL)
 * W_DONE:  u8 kind, u8 outcome, i64 at, i64 next_due, i64 watch id, domain NUL */
#define ROUND_HDR 23
#define DONE_HDR 26

struct wbatch {
	struct wbatch *next;
	char *buf;
	size_t len, cap;
	int answers;
};

struct writer {
	pthread_t th, ck_th;
	bool started, ck_started;
	pthread_mutex_t mu;
	pthread_cond_t cv, ck_cv;
	struct tip_store *ck; /* the checkpointer's own connection, NULL: none */
	struct wbatch *head, *tail;
	int queued;
	bool closing;
	int failed;
	struct tip_error err;
	/* the writer thread's own while it runs */
	struct tip_store *st;
	struct tip_enrich *enrich;
	int64_t new_records, enriched, commits;
	double cpu_s; /* the writer thread's CPU time */
	struct tip_pdns_rec *recs; /* one answer's records, grown as needed */
	struct tip_watch_done *done; /* a batch's ended watched domains, written at its end */
	size_t n_done, cap_done;
	struct tip_answer *ans; /* a batch's answers (their records in recs, is_new) */
	size_t cap_ans;
	bool *is_new;
	size_t cap_recs;
};

struct resolver {
	struct tip_module_ctx *ctx;
	const struct tip_config *cfg;
	struct tip_enrich *enrich;
	struct event_base *base;
	struct event *tick;

	struct rs_server *srv;
	int n_srv, next_srv;

	struct rs_fd *fds;
	int n_fds;
	struct rs_io *io; /* every channel's sockets (batched UDP) */

	const struct rs_type *types[MAX_TYPES];
	int n_types;
	int max_window, retries;
	int64_t qps;
	tip_time_t timeout, min_interval, last_tick;

	/* where domains come from: the given list, or the store's due list in chunks */
	char **args;
	int n_args, next_arg;
	bool all; /* every active watched domain, due or not */
	tip_time_t due_at;
	struct tip_strv chunk;
	int64_t *chunk_ids;
	size_t chunk_pos;
	int64_t last_id;
	bool source_done;

	/* the domain whose queries are being started */
	struct rs_domain *cur;
	int cur_type;
	struct rs_query *retry_head, *retry_tail;
	int inflight;

	/* the writer thread and the batch being filled */
	struct writer w;
	struct wbatch *wb;
	struct tip_store *ro; /* a read-only connection for the due list */
	int failed; /* a store error: stop */
	/* `tip resolve --no-store`: parse answers, write nothing — to measure c-ares and the loop
	 * alone against the same server (bench/flux-resolve.sh) */
	bool nostore;

	struct ares_addrttl *a4;
	struct ares_addr6ttl *a6;

	/* counts */
	int64_t domains, queries, answers, retried, records;
	int64_t n_out[O_MAX];
	int max_inflight;
	int64_t ticks, full_ticks; /* ticks, and those that found the writer behind */
	int64_t sum_inflight, sum_window; /* summed at each tick: their means over the pass */
	bool cancelled;
};

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void wb_put(struct wbatch *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64 * 1024;
		while (b->len + n > b->cap)
			b->cap *= 2;
		b->buf = tip_xrealloc(b->buf, b->cap);
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void wb_free(struct wbatch *b)
{
	free(b->buf);
	free(b);
}

/* *ts = now + in, for pthread_cond_timedwait (CLOCK_REALTIME, the condition's default clock) */
static void deadline(struct timespec *ts, tip_time_t in)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)(in / TIP_SEC);
	ts->tv_nsec += (long)(in % TIP_SEC) * 1000;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* This thread runs WRITER_NICE nicer (Linux: a thread's nice value is its own). */
static void lower_priority(void)
{
	id_t tid = (id_t)gettid();
	int p;
	errno = 0;
	p = getpriority(PRIO_PROCESS, tid);
	if (errno == 0 && setpriority(PRIO_PROCESS, tid, p + WRITER_NICE > 19 ? 19 : p + WRITER_NICE) < 0)
		tip_debug("cannot lower the writer's priority: %s", strerror(errno));
}

static void *ck_main(void *arg)
{
	struct writer *w = arg;
	struct tip_error err = { 0 };
	bool warned = false;
	lower_priority();
	pthread_mutex_lock(&w->mu);
	while (!w->closing) {
		struct timespec ts;
		deadline(&ts, CHECKPOINT_EVERY);
		pthread_cond_timedwait(&w->ck_cv, &w->mu, &ts);
		if (w->closing)
			break;
		pthread_mutex_unlock(&w->mu);
		/* a failure costs only the overlap: the closing checkpoint does the work */
		if (tip_store_checkpoint(w->ck, &err) < 0 && !warned) {
			tip_warnx("checkpoint during the pass: %s", err.msg);
			warned = true;
		}
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static int w_fail(struct writer *w, int rc)
{
	pthread_mutex_lock(&w->mu);
	if (!w->failed)
		w->failed = rc < 0 ? rc : TIP_ESTORE;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* A batch as the store wants it: its answers (records and round) in one call, then the new
 * addresses enriched, then its ended watched domains in one call. */
static int w_apply(struct writer *w, const struct wbatch *b)
{
	const char *p = b->buf, *end = b->buf + b->len;
	size_t n_ans = 0, n_recs = 0;
	int rc;
	while (p < end) {
		uint8_t kind = (uint8_t)p[0];
		int64_t at;
		if (kind == W_ROUND) {
			const struct rs_type *t = &known_types[(uint8_t)p[1]];
			struct tip_answer *x;
			uint32_t n;
			uint64_t h = 0;
			int64_t wid;
			if (n_ans == w->cap_ans) {
				w->cap_ans = w->cap_ans ? 2 * w->cap_ans : FLUSH_ANSWERS;
				w->ans = tip_xrealloc(w->ans, w->cap_ans * sizeof(*w->ans));
			}
			x = &w->ans[n_ans++];
			memcpy(&at, p + 3, 8);
			memcpy(&n, p + 11, 4);
			memcpy(&wid, p + 15, 8);
			*x = (struct tip_answer){
				.watch_id = wid, .n = n,
				.rd = { .domain = p + ROUND_HDR, .rrtype = t->name,
					.outcome = outcomes[(uint8_t)p[2]], .at = at, .n_records = n,
					.min_ttl = -1 },
			};
			p = x->rd.domain + strlen(x->rd.domain) + 1;
			if (n_recs + n > w->cap_recs) {
				w->cap_recs = 2 * (n_recs + n) > 1024 ? 2 * (n_recs + n) : 1024;
				w->recs = tip_xrealloc(w->recs, w->cap_recs * sizeof(*w->recs));
				w->is_new = tip_xrealloc(w->is_new, w->cap_recs * sizeof(*w->is_new));
			}
			for (uint32_t i = 0; i < n; i++) {
				int64_t ttl;
				const char *v = p + 8;
				memcpy(&ttl, p, 8);
				p = v + strlen(v) + 1;
				w->recs[n_recs + i] = (struct tip_pdns_rec){ .value = v, .ttl = ttl };
				h += fnv1a(v);
				if (x->rd.min_ttl < 0 || ttl < x->rd.min_ttl)
					x->rd.min_ttl = ttl;
			}
			n_recs += n;
			x->rd.set_hash = n ? (int64_t)(h ? h : 1) : 0;
		} else {
			int64_t next_due, id;
			const char *outcome = outcomes[(uint8_t)p[1]], *domain = p + DONE_HDR;
			memcpy(&at, p + 2, 8);
			memcpy(&next_due, p + 10, 8);
			memcpy(&id, p + 18, 8);
			p = domain + strlen(domain) + 1;
			if (id <= 0) { /* not from the watch list (tip resolve NAME): by name */
				if ((rc = tip_store_watch_resolved(w->st, id, domain, at, next_due,
								   outcome, &w->err)) < 0)
					return rc;
				continue;
			}
			if (w->n_done == w->cap_done) {
				w->cap_done = w->cap_done ? 2 * w->cap_done : FLUSH_ANSWERS;
				w->done = tip_xrealloc(w->done, w->cap_done * sizeof(*w->done));
			}
			w->done[w->n_done++] = (struct tip_watch_done){
				.id = id, .at = at, .next_due = next_due, .outcome = outcome
			};
		}
	}
	/* the records and rounds: an answer with the same set as last time rewrites no pdns row
	 * and adds no round row (its set row counts it) */
	/* each answer's records follow the previous one's in recs (which may have moved) */
	for (size_t i = 0, off = 0; i < n_ans; off += w->ans[i++].n) {
		w->ans[i].rec = w->recs + off;
		w->ans[i].is_new = w->is_new + off;
	}
	if ((rc = tip_store_pdns_answer_batch(w->st, w->ans, n_ans, &w->err)) < 0)
		return rc;
	for (size_t i = 0; i < n_ans; i++) {
		const struct tip_answer *x = &w->ans[i];
		w->new_records += x->rd.n_new;
		if (!x->rd.n_new || !w->enrich || !strcmp(x->rd.rrtype, "NS"))
			continue;
		for (size_t k = 0; k < x->n; k++) {
			bool looked = false;
			if (!x->is_new[k])
				continue;
			if ((rc = tip_enrich_cached(w->enrich, w->st, x->rec[k].value, x->rd.at,
						    &looked, &w->err)) < 0)
				return rc;
			w->enriched += looked;
		}
	}
	/* the batch's watch rows in one statement */
	rc = tip_store_watch_resolved_batch(w->st, w->done, w->n_done, &w->err);
	w->n_done = 0;
	return rc < 0 ? rc : 0;
}

static void *w_main(void *arg)
{
	struct writer *w = arg;
	bool in_tx = false;
	int tx_answers = 0, rc;
	tip_time_t tx_start = 0;
	lower_priority();

	for (;;) {
		struct wbatch *b;
		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->closing) {
			tip_time_t age = in_tx ? tip_monotonic() - tx_start : 0;
			if (in_tx && age < IDLE_COMMIT) {
				/* idle, but the transaction is young: wait for more (or its age) */
				struct timespec ts;
				deadline(&ts, IDLE_COMMIT - age);
				pthread_cond_timedwait(&w->cv, &w->mu, &ts);
				continue;
			}
			if (in_tx) {
				/* idle: commit what we have */
				pthread_mutex_unlock(&w->mu);
				in_tx = false;
				tx_answers = 0;
				w->commits++;
				if ((rc = tip_store_commit(w->st, &w->err)) < 0) {
					tip_store_rollback(w->st);
					w_fail(w, rc);
				}
				pthread_mutex_lock(&w->mu);
				continue;
			}
			pthread_cond_wait(&w->cv, &w->mu);
		}
		b = w->head;
		if (b) {
			w->head = b->next;
			if (!w->head)
				w->tail = NULL;
			w->queued--;
		}
		rc = w->failed;
		pthread_mutex_unlock(&w->mu);
		if (!b)
			break; /* closing and drained */
		if (rc == 0 && !in_tx) {
			if ((rc = tip_store_begin(w->st, &w->err)) < 0)
				w_fail(w, rc);
			else
				in_tx = true;
			tx_start = tip_monotonic();
		}
		if (rc == 0 && (rc = w_apply(w, b)) < 0)
			w_fail(w, rc);
		tx_answers += b->answers;
		wb_free(b);
		if (in_tx && (rc < 0 || tx_answers >= BATCH)) {
			in_tx = false;
			tx_answers = 0;
			if (rc < 0) {
				tip_store_rollback(w->st);
			} else {
				w->commits++;
				if ((rc = tip_store_commit(w->st, &w->err)) < 0) {
					tip_store_rollback(w->st);
					w_fail(w, rc);
				}
			}
		}
	}
	if (in_tx) {
		w->commits++;
		if ((rc = tip_store_commit(w->st, &w->err)) < 0) {
			tip_store_rollback(w->st);
			w_fail(w, rc);
		}
	}
	w->cpu_s = tip_thread_cpu();
	free(w->recs);
	free(w->is_new);
	free(w->done);
	w->done = NULL;
	free(w->ans);
	w->ans = NULL;
	w->recs = NULL;
	w->is_new = NULL;
	w->cap_recs = 0;
	return NULL;
}

/* ck: the checkpointer's connection (the writer owns it from here), or NULL for none. */
static int writer_start(struct writer *w, struct tip_store *st, struct tip_store *ck,
			struct tip_enrich *e, struct tip_error *err)
{
	int rc;
	w->st = st;
	w->ck = ck;
	w->enrich = e;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	pthread_cond_init(&w->ck_cv, NULL);
	if ((rc = pthread_create(&w->th, NULL, w_main, w)) != 0)
		return tip_error_set(err, TIP_ENOMEM, "flux-resolve: cannot start the writer thread: %s",
				     strerror(rc));
	w->started = true;
	if (ck && (rc = pthread_create(&w->ck_th, NULL, ck_main, w)) == 0)
		w->ck_started = true;
	else if (ck)
		tip_warnx("no checkpointer thread (%s): one checkpoint at the end",
			  strerror(rc));
	return 0;
}

/* Waits for the writer to write everything queued; returns its error, if any. */
static int writer_stop(struct writer *w)
{
	if (!w->started)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->closing = true;
	pthread_cond_signal(&w->cv);
	pthread_cond_signal(&w->ck_cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->th, NULL);
	if (w->ck_started)
		pthread_join(w->ck_th, NULL);
	w->started = w->ck_started = false;
	if (w->ck)
		tip_store_close(w->ck);
	w->ck = NULL;
	while (w->head) {
		struct wbatch *b = w->head;
		w->head = b->next;
		wb_free(b);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	pthread_cond_destroy(&w->ck_cv);
	return w->failed;
}

/* ---------------------------------------------------------------------------------------- */
/* The loop's side: answers into batches. */

static struct wbatch *cur_batch(struct resolver *r)
{
	if (!r->wb)
		r->wb = tip_xcalloc(1, sizeof(*r->wb));
	return r->wb;
}

static void wb_flush(struct resolver *r)
{
	struct writer *w = &r->w;
	struct wbatch *b = r->wb;
	if (!b)
		return;
	r->wb = NULL;
	if (!w->started) {
		wb_free(b);
		return;
	}
	pthread_mutex_lock(&w->mu);
	if (w->tail)
		w->tail->next = b;
	else
		w->head = b;
	w->tail = b;
	w->queued++;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* How many batches wait; notes a writer failure in r->failed. */
static int writer_poll(struct resolver *r)
{
	struct writer *w = &r->w;
	int q, f;
	if (!w->started)
		return 0;
	pthread_mutex_lock(&w->mu);
	q = w->queued;
	f = w->failed;
	pthread_mutex_unlock(&w->mu);
	if (f && !r->failed)
		r->failed = f;
	return q;
}

struct answer {
	struct wbatch *b; /* NULL: nothing is stored */
	uint32_t n;
	int64_t min_ttl;
};

static void add_record(struct answer *a, const char *value, int64_t ttl)
{
	if (ttl < 0)
		ttl = 0;
	if (a->b) {
		wb_put(a->b, &ttl, 8);
		wb_put(a->b, value, strlen(value) + 1);
	}
	a->n++;
	if (a->min_ttl < 0 || ttl < a->min_ttl)
		a->min_ttl = ttl;
}

/* The TTLs c-ares 1.18 has no parser for: the NS records' (ares_parse_ns_reply gives the names
 * but no TTL) and a negative answer's (ares_parse_soa_reply reads only the answer section, and a
 * NXDOMAIN or NODATA answer has its SOA in the authority section); and whether a FORMERR has an
 * OPT record (the additional section). After c-ares has validated the packet (or found its
 * rcode), rr_scan walks the sections with c-ares's own name expander (ares_expand_name, which
 * handles compression) and its public wire macros (ares_dns.h: DNS_HEADER_*, DNS_RR_*), reading
 * only each record's fixed header, and for SOA the last 32 bits of its RDATA (MINIMUM, RFC 1035
 * §3.3.13). c-ares >= 1.22 replaces this with ares_dns_parse. */
enum { SEC_ANSWER = 1, SEC_AUTHORITY = 2, SEC_ADDITIONAL = 3 };

static int64_t rr_ttl_of(const unsigned char *rr)
{
	int64_t ttl = (int64_t)(uint32_t)DNS_RR_TTL(rr);
	return ttl > INT32_MAX ? 0 : ttl; /* RFC 2181 §8 */
}

/* The records of `type` in `section` (class IN; for OPT any class: its class is a payload
 * size): how many there are, and in *min their smallest TTL, or -1 (for SOA: of min(TTL,
 * MINIMUM), RFC 2308 §5). A malformed record ends the walk: what came before it counts. */
static int rr_scan(const unsigned char *abuf, int alen, int section, int type, int64_t *min)
{
	const unsigned char *p = abuf + HFIXEDSZ, *end = abuf + alen;
	int qd, counts[3], n = 0;
	long len;
	char *name;

	*min = -1;
	if (alen < HFIXEDSZ)
		return 0;
	qd = DNS_HEADER_QDCOUNT(abuf);
	counts[0] = DNS_HEADER_ANCOUNT(abuf);
	counts[1] = DNS_HEADER_NSCOUNT(abuf);
	counts[2] = DNS_HEADER_ARCOUNT(abuf);
	for (int i = 0; i < qd; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
			return 0;
		ares_free_string(name);
		if (len + QFIXEDSZ > end - p)
			return 0;
		p += len + QFIXEDSZ;
	}
	for (int sec = SEC_ANSWER; sec <= section; sec++) {
		for (int i = 0; i < counts[sec - 1]; i++) {
			int64_t ttl;
			long rdlen;
			if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
				return n;
			ares_free_string(name);
			p += len;
			if (end - p < RRFIXEDSZ)
				return n;
			rdlen = DNS_RR_LEN(p);
			if (rdlen > end - p - RRFIXEDSZ) /* lengths, not a pointer past the end */
				return n;
			if (sec == section && DNS_RR_TYPE(p) == type &&
			    (type == T_OPT || DNS_RR_CLASS(p) == 1)) {
				ttl = rr_ttl_of(p);
				if (type == 6) { /* SOA: min(TTL, MINIMUM) */
					const unsigned char *m = p + RRFIXEDSZ + rdlen - 4;
					int64_t minimum;
					if (rdlen < 22)
						return n;
					minimum = (int64_t)(((uint32_t)m[0] << 24) | ((uint32_t)m[1] << 16) |
							    ((uint32_t)m[2] << 8) | (uint32_t)m[3]);
					if (minimum > INT32_MAX)
						minimum = 0;
					if (minimum < ttl)
						ttl = minimum;
				}
				if (*min < 0 || ttl < *min)
					*min = ttl;
				n++;
			}
			p += RRFIXEDSZ + rdlen;
		}
	}
	return n;
}

/* The smallest NS TTL in the answer section, or -1. */
static int64_t ns_ttl(const unsigned char *abuf, int alen)
{
	int64_t min;
	rr_scan(abuf, alen, SEC_ANSWER, 2, &min);
	return min;
}

/* A negative answer's TTL (NXDOMAIN, NODATA): its authority SOA's min(TTL, MINIMUM), or -1. */
static int64_t negative_ttl(const unsigned char *abuf, int alen)
{
	int64_t min;
	rr_scan(abuf, alen, SEC_AUTHORITY, 6, &min);
	return min;
}

/* Has the answer an OPT record (does its server speak EDNS, RFC 6891 §7)? */
static bool has_opt(const unsigned char *abuf, int alen)
{
	int64_t min;
	return rr_scan(abuf, alen, SEC_ADDITIONAL, T_OPT, &min) > 0;
}

static int parse_answer(struct resolver *r, const struct rs_type *t, struct answer *a,
			const unsigned char *abuf, int alen)
{
	char buf[INET6_ADDRSTRLEN];
	int n = MAX_RECORDS, rc;

	switch (t->type) {
	case 1:
		rc = ares_parse_a_reply(abuf, alen, NULL, r->a4, &n);
		if (rc != ARES_SUCCESS)
			break;
		for (int i = 0; i < n; i++) {
			tip_addr_format(4, (const uint8_t *)&r->a4[i].ipaddr, buf, sizeof(buf));
			add_record(a, buf, r->a4[i].ttl);
		}
		break;
	case 28:
		rc = ares_parse_aaaa_reply(abuf, alen, NULL, r->a6, &n);
		if (rc != ARES_SUCCESS)
			break;
		for (int i = 0; i < n; i++) {
			/* the canonical form tip lookup asks for (RFC 5952, as the indicator
			 * model writes it: glibc's inet_ntop alone writes ::1:2 as ::0.1.0.2) */
			tip_addr_format(6, (const uint8_t *)&r->a6[i].ip6addr, buf, sizeof(buf));
			add_record(a, buf, r->a6[i].ttl);
		}
		break;
	default: {
		struct hostent *h = NULL;
		rc = ares_parse_ns_reply(abuf, alen, &h);
		if (rc != ARES_SUCCESS)
			break;
		int64_t ttl = ns_ttl(abuf, alen);
		for (char **al = h->h_aliases; al && *al; al++) {
			char lower[TIP_DOMAIN_MAX + 2];
			size_t i;
			for (i = 0; (*al)[i] && i < sizeof(lower) - 1; i++)
				lower[i] = (char)((*al)[i] >= 'A' && (*al)[i] <= 'Z' ? (*al)[i] + 32 : (*al)[i]);
			lower[i] = '\0';
			if (i > 0 && lower[i - 1] == '.')
				lower[i - 1] = '\0';
			add_record(a, lower, ttl);
		}
		ares_free_hostent(h);
	}
	}
	if (rc == ARES_ENODATA)
		return O_NODATA;
	if (rc != ARES_SUCCESS)
		return O_BADRESP;
	return a->n ? O_OK : O_NODATA;
}

static int outcome_of(int status)
{
	switch (status) {
	case ARES_SUCCESS: return O_OK;
	case ARES_ENODATA: return O_NODATA;
	case ARES_ENOTFOUND: return O_NXDOMAIN;
	case ARES_ESERVFAIL: return O_SERVFAIL;
	case ARES_EREFUSED: return O_REFUSED;
	case ARES_ETIMEOUT: return O_TIMEOUT;
	case ARES_ECONNREFUSED: return O_CONNREFUSED;
	case ARES_EFORMERR: return O_FORMERR;
	case ARES_ENOTIMP: return O_NOTIMP;
	case ARES_EBADRESP: return O_BADRESP;
	default: return O_ERROR;
	}
}

/* The domain's last query ended: it is due again after its shortest TTL, and no sooner than
 * [dns] min_interval. A domain that answered only negatively (NXDOMAIN, NODATA: a dead or
 * parked name) is due again when its negative answer expires (the SOA's min(TTL, MINIMUM),
 * RFC 2308 §5), not at every min_interval; one with records keeps the schedule of its records'
 * TTLs (a NODATA AAAA beside an A record does not bring it forward). */
static void domain_done(struct resolver *r, struct rs_domain *d, tip_time_t at)
{
	int64_t ttl = d->any_ok ? d->min_ttl : d->neg_ttl;
	tip_time_t wait = ttl >= 0 ? ttl * TIP_SEC : 0, next_due;
	if (wait < r->min_interval)
		wait = r->min_interval;
	next_due = at + wait;
	if (!r->nostore) {
		struct wbatch *b = cur_batch(r);
		uint8_t kind = W_DONE, o = (uint8_t)(d->any_ok ? O_OK : d->outcome >= 0 ? d->outcome : O_ERROR);
		wb_put(b, &kind, 1);
		wb_put(b, &o, 1);
		wb_put(b, &at, 8);
		wb_put(b, &next_due, 8);
		wb_put(b, &d->id, 8);
		wb_put(b, d->name, strlen(d->name) + 1);
	}
	r->domains++;
	free(d);
}

static void query_done(struct resolver *r, struct rs_query *q, int outcome,
		       const unsigned char *abuf, int alen)
{
	struct answer a = { .min_ttl = -1 };
	struct rs_domain *d = q->d;
	tip_time_t at = tip_now();
	size_t hdr = 0;

	if (!r->nostore) {
		uint8_t h[ROUND_HDR] = { W_ROUND, (uint8_t)(q->t - known_types), 0 };
		a.b = cur_batch(r);
		hdr = a.b->len;
		memcpy(h + 3, &at, 8);
		memcpy(h + 15, &d->id, 8);
		wb_put(a.b, h, ROUND_HDR);
		wb_put(a.b, d->name, strlen(d->name) + 1);
	}
	if (abuf && outcome == O_OK)
		outcome = parse_answer(r, q->t, &a, abuf, alen);
	if (a.b) {
		/* the outcome and the record count, now known */
		a.b->buf[hdr + 2] = (char)outcome;
		memcpy(a.b->buf + hdr + 11, &a.n, 4);
		a.b->answers++;
	}
	r->n_out[outcome]++;
	r->records += a.n;
	if (outcome == O_OK)
		d->any_ok = true;
	else if (d->outcome < 0)
		d->outcome = outcome;
	if (a.min_ttl >= 0 && (d->min_ttl < 0 || a.min_ttl < d->min_ttl))
		d->min_ttl = a.min_ttl;
	if (abuf && (outcome == O_NXDOMAIN || outcome == O_NODATA)) {
		int64_t n = negative_ttl(abuf, alen);
		if (n >= 0 && (d->neg_ttl < 0 || n < d->neg_ttl))
			d->neg_ttl = n;
	}
	if (--d->pending == 0)
		domain_done(r, d, at);
	free(q);
	if (r->wb && r->wb->answers >= FLUSH_ANSWERS)
		wb_flush(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Sending. */

static void retry_push(struct resolver *r, struct rs_query *q)
{
	q->next = NULL;
	if (r->retry_tail)
		r->retry_tail->next = q;
	else
		r->retry_head = q;
	r->retry_tail = q;
}

/* One try of a query, c-ares's callback argument. */
struct sent {
	struct rs_server *srv;
	struct rs_chan *chan;
	bool edns;          /* sent on a channel that still had EDNS, as far as we know */
	struct rs_query *q; /* NULL: given up early (its late answer is dropped) */
	tip_time_t at;      /* sent (monotonic) */
	int try_no;         /* q->attempt when sent */
	bool early;         /* in srv->early_* (not the last try) */
	struct sent *prev, *next;
};

static void early_unlink(struct rs_server *srv, struct sent *s)
{
	int t = s->try_no;
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->early_head[t] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	else
		srv->early_tail[t] = s->prev;
	s->prev = s->next = NULL;
	s->early = false;
}

static void early_link(struct rs_server *srv, struct sent *s)
{
	int t = s->try_no;
	s->next = NULL;
	s->prev = srv->early_tail[t];
	if (s->prev)
		s->prev->next = s;
	else
		srv->early_head[t] = s;
	srv->early_tail[t] = s;
	s->early = true;
}

/* The time after which a try that is not the last is given up. */
static tip_time_t rto(const struct resolver *r, const struct rs_server *srv, int try_no)
{
	double t = srv->srtt > 0 ? srv->srtt + 4 * srv->rttvar : (double)r->timeout;
	if (t < RTO_MIN)
		t = RTO_MIN;
	for (int i = 0; i < try_no && t < (double)r->timeout; i++)
		t *= 2;
	return t < (double)r->timeout ? (tip_time_t)t : r->timeout;
}

static void rtt_sample(struct rs_server *srv, tip_time_t rtt)
{
	if (srv->srtt <= 0) {
		srv->srtt = (double)rtt;
		srv->rttvar = (double)rtt / 2;
	} else {
		double d = srv->srtt - (double)rtt;
		srv->rttvar = 0.75 * srv->rttvar + 0.25 * (d < 0 ? -d : d);
		srv->srtt = 0.875 * srv->srtt + 0.125 * (double)rtt;
	}
}

/* A loss (a timeout, a refusal, a try given up): multiplicative decrease, once per period. */
static void loss(struct resolver *r, struct rs_server *srv, tip_time_t now)
{
	srv->timeouts++;
	if (now - srv->last_cut >= rto(r, srv, 0)) {
		srv->ssthresh = srv->window / 2 > MIN_WINDOW ? srv->window / 2 : MIN_WINDOW;
		srv->window = srv->ssthresh;
		srv->last_cut = now;
	}
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct sent *s = arg;
	struct rs_server *srv = s->srv;
	struct resolver *r = srv->r;
	struct rs_query *q = s->q;
	tip_time_t now;
	(void)timeouts;
	if (!q) {
		free(s); /* given up already, and sent again */
		return;
	}
	if (s->early)
		early_unlink(srv, s);
	srv->inflight--;
	r->inflight--;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		free(s);
		/* the pass is ending early: the domain stays due */
		if (--q->d->pending == 0)
			free(q->d);
		free(q);
		return;
	}
	if (status == ARES_EFORMERR && s->edns && abuf && !has_opt(abuf, alen)) {
		/* A server that does not speak EDNS (FORMERR without an OPT record). c-ares 1.18
		 * then turns EDNS off for the whole channel and sends that one query again without
		 * it; but the queries already sent with EDNS on the channel, when their FORMERR
		 * comes, find EDNS off and end here as FORMERR. Send them again (without EDNS: the
		 * channel has dropped it; on a channel that has not, c-ares drops it as above). Not
		 * a loss, and not one of [dns] retries, as c-ares's own resend is not. Each channel
		 * gives this at most once per query in flight on it: after it, s->edns is false. */
		s->chan->edns_off = true;
		srv->edns_resent++;
		free(s);
		retry_push(r, q);
		return;
	}
	now = tip_monotonic();
	if (status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED) {
		free(s);
		loss(r, srv, now);
		if (q->attempt < r->retries) {
			q->attempt++;
			r->retried++;
			retry_push(r, q);
			return;
		}
	} else {
		rtt_sample(srv, now - s->at);
		free(s);
		if (srv->window < srv->ssthresh)
			srv->window += 1;
		else
			srv->window += 1.0 / srv->window;
		if (srv->window > r->max_window)
			srv->window = r->max_window;
	}
	r->answers++;
	/* a negative answer's packet too: its SOA says how long the answer holds */
	query_done(r, q, outcome_of(status),
		   status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA
			   ? abuf : NULL,
		   alen);
}

static struct rs_server *pick_server(struct resolver *r)
{
	for (int i = 0; i < r->n_srv; i++) {
		struct rs_server *s = &r->srv[(r->next_srv + i) % r->n_srv];
		if (s->inflight < (int)s->window && (r->qps == 0 || s->tokens >= 1)) {
			r->next_srv = (r->next_srv + i + 1) % r->n_srv;
			return s;
		}
	}
	return NULL;
}

static int chunk_row(void *arg, int64_t id, const char *domain)
{
	struct resolver *r = arg;
	if (!r->chunk_ids)
		r->chunk_ids = tip_xmalloc(CHUNK * sizeof(*r->chunk_ids));
	r->chunk_ids[r->chunk.n] = id;
	tip_strv_push(&r->chunk, domain);
	r->last_id = id;
	return 0;
}

/* The next domain name to resolve (and its watch id in *id), or NULL when there are no more. */
static const char *next_name(struct resolver *r, int64_t *id)
{
	*id = 0;
	if (r->args)
		return r->next_arg < r->n_args ? r->args[r->next_arg++] : NULL;
	if (r->chunk_pos < r->chunk.n) {
		*id = r->chunk_ids[r->chunk_pos];
		return r->chunk.v[r->chunk_pos++];
	}
	if (r->source_done)
		return NULL;
	/* read on a connection of its own: the writer thread owns the other */
	tip_strv_free(&r->chunk);
	r->chunk_pos = 0;
	if (tip_store_watch_due(r->ro, r->due_at, r->last_id, CHUNK, chunk_row, r, &r->ctx->err) < 0) {
		r->failed = TIP_ESTORE;
		return NULL;
	}
	if (r->chunk.n < CHUNK)
		r->source_done = true;
	if (r->chunk_pos >= r->chunk.n)
		return NULL;
	*id = r->chunk_ids[r->chunk_pos];
	return r->chunk.v[r->chunk_pos++];
}

static struct rs_query *next_query(struct resolver *r)
{
	struct rs_query *q;
	if (r->retry_head) {
		q = r->retry_head;
		r->retry_head = q->next;
		if (!r->retry_head)
			r->retry_tail = NULL;
		return q;
	}
	if (r->ctx->cancel && *r->ctx->cancel)
		return NULL;
	if (!r->cur) {
		int64_t id;
		const char *name = next_name(r, &id);
		size_t len;
		if (!name)
			return NULL;
		len = strlen(name);
		r->cur = tip_xmalloc(sizeof(*r->cur) + len + 1);
		memcpy(r->cur->name, name, len + 1);
		r->cur->id = id;
		r->cur->pending = r->n_types;
		r->cur->any_ok = false;
		r->cur->outcome = -1;
		r->cur->min_ttl = -1;
		r->cur->neg_ttl = -1;
		r->cur_type = 0;
	}
	q = tip_xcalloc(1, sizeof(*q));
	q->d = r->cur;
	q->t = r->types[r->cur_type++];
	if (r->cur_type == r->n_types)
		r->cur = NULL;
	return q;
}

static void pump(struct resolver *r)
{
	struct rs_server *srv;
	bool full = writer_poll(r) >= MAX_QUEUED; /* the writer is behind: wait */
	while (!r->failed && !full && (srv = pick_server(r))) {
		struct rs_query *q = next_query(r);
		struct sent *s;
		if (!q)
			break;
		s = tip_xcalloc(1, sizeof(*s));
		s->srv = srv;
		s->chan = &srv->chans[srv->next_chan];
		s->edns = r->cfg->dns.edns_size > 0 && !s->chan->edns_off;
		s->q = q;
		s->at = tip_monotonic();
		s->try_no = q->attempt;
		if (q->attempt < r->retries)
			early_link(srv, s);
		srv->inflight++;
		r->inflight++;
		srv->sent++;
		r->queries++;
		if (r->qps)
			srv->tokens -= 1;
		if (r->inflight > r->max_inflight)
			r->max_inflight = r->inflight;
		ares_query(s->chan->ch, q->d->name, 1 /* IN */, q->t->type, on_answer, s);
		srv->next_chan = (srv->next_chan + 1) % CHANNELS_PER_SERVER;
	}
	rs_io_flush(r->io); /* what c-ares sent since the loop woke up: before it waits again */
	if (r->failed || (r->inflight == 0 && !r->retry_head && !r->cur &&
			  (r->args ? r->next_arg >= r->n_args
				   : (r->source_done && r->chunk_pos >= r->chunk.n))) ||
	    (r->inflight == 0 && r->ctx->cancel && *r->ctx->cancel))
		event_base_loopbreak(r->base);
}

/* ---------------------------------------------------------------------------------------- */
/* c-ares on libevent. */

static void on_fd(evutil_socket_t fd, short what, void *arg)
{
	struct rs_chan *c = arg;
	if (what & EV_READ)
		rs_io_readable(c->srv->r->io, fd);
	ares_process_fd(c->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	pump(c->srv->r);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct rs_chan *c = data;
	struct resolver *r = c->srv->r;
	if (fd < 0)
		return;
	r->fds = rs_fd_table_grow(r->fds, &r->n_fds, fd, sizeof(*r->fds));
	if (r->fds[fd].ev) {
		event_free(r->fds[fd].ev);
		r->fds[fd].ev = NULL;
	}
	if (readable || writable) {
		r->fds[fd].ev = event_new(r->base, fd,
					  (short)(EV_PERSIST | (readable ? EV_READ : 0) |
						  (writable ? EV_WRITE : 0)),
					  on_fd, c);
		if (!r->fds[fd].ev || event_add(r->fds[fd].ev, NULL) < 0)
			tip_warnx("cannot watch socket %d", fd);
	}
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;
	tip_time_t now = tip_monotonic();
	(void)fd;
	(void)what;
	for (int i = 0; i < r->n_srv; i++) {
		struct rs_server *s = &r->srv[i];
		if (r->qps) {
			double burst = r->qps / 50.0 > 1 ? r->qps / 50.0 : 1;
			s->tokens += (double)r->qps * (double)(now - r->last_tick) / TIP_SEC;
			if (s->tokens > burst)
				s->tokens = burst;
		}
		/* give up the tries that are overdue (the last try is c-ares's to time out) */
		for (int t = 0; t < r->retries && t < MAX_TRIES; t++) {
			tip_time_t limit = rto(r, s, t);
			struct sent *x;
			while ((x = s->early_head[t]) && now - x->at >= limit) {
				struct rs_query *q = x->q;
				early_unlink(s, x);
				x->q = NULL; /* c-ares still owns x; its callback frees it */
				s->inflight--;
				r->inflight--;
				s->gave_up++;
				loss(r, s, now);
				q->attempt++;
				r->retried++;
				retry_push(r, q);
			}
		}
		/* expire timed-out queries */
		for (int c = 0; c < CHANNELS_PER_SERVER; c++)
			ares_process_fd(s->chans[c].ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	if (r->ctx->cancel && *r->ctx->cancel && !r->cancelled) {
		/* the master wants us to stop: drop what waits for a retry and end what is in
		 * flight (ARES_ECANCELLED); those domains stay due. Answers already in are written. */
		r->cancelled = true;
		while (r->retry_head) {
			struct rs_query *q = r->retry_head;
			r->retry_head = q->next;
			if (--q->d->pending == 0)
				free(q->d);
			free(q);
		}
		r->retry_tail = NULL;
		for (int i = 0; i < r->n_srv; i++)
			for (int c = 0; c < CHANNELS_PER_SERVER; c++)
				ares_cancel(r->srv[i].chans[c].ch);
	}
	r->last_tick = now;
	r->ticks++;
	r->sum_inflight += r->inflight;
	for (int i = 0; i < r->n_srv; i++)
		r->sum_window += (int64_t)r->srv[i].window;
	if (writer_poll(r) >= MAX_QUEUED)
		r->full_ticks++;
	wb_flush(r); /* a partial batch waits no longer than a tick */
	pump(r);
}

static int server_open(struct resolver *r, struct rs_server *s, const struct tip_dns_server *ds,
		       struct tip_error *err)
{
	struct ares_options o = { 0 };
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
	int rc;

	s->r = r;
	s->window = INITIAL_WINDOW < r->max_window ? INITIAL_WINDOW : r->max_window;
	s->ssthresh = r->max_window;
	s->tokens = 1;
	/* NOCHECKRESP: SERVFAIL/REFUSED are answers to record, not reasons to try elsewhere */
	o.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP;
	o.timeout = (int)(r->timeout / TIP_MSEC);
	o.tries = 1;
	o.sock_state_cb = on_sock_state;
	if (r->cfg->dns.edns_size > 0) {
		o.flags |= ARES_FLAG_EDNS;
		o.ednspsz = (int)r->cfg->dns.edns_size;
		mask |= ARES_OPT_EDNSPSZ;
	}
	for (int i = 0; i < CHANNELS_PER_SERVER; i++) {
		struct rs_chan *c = &s->chans[i];
		c->srv = s;
		o.sock_state_cb_data = c;
		if ((rc = ares_init_options(&c->ch, &o, mask)) != ARES_SUCCESS)
			return tip_error_set(err, TIP_EIO, "c-ares: %s", ares_strerror(rc));
		/* its sockets, their receive buffer ([dns] rcvbuf) included, are rs_io's */
		ares_set_socket_functions(c->ch, rs_io_funcs(), r->io);
		if (ds) {
			char csv[96];
			bool v6 = strchr(ds->host, ':') != NULL;
			snprintf(csv, sizeof(csv), "%s%s%s:%d", v6 ? "[" : "", ds->host,
				 v6 ? "]" : "", ds->port);
			snprintf(s->label, sizeof(s->label), "%s", csv);
			if ((rc = ares_set_servers_ports_csv(c->ch, csv)) != ARES_SUCCESS)
				return tip_error_set(err, TIP_EINVAL, "[dns] servers: %s: %s", csv,
						     ares_strerror(rc));
		} else {
			snprintf(s->label, sizeof(s->label), "resolv.conf");
		}
	}
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Config. */

static int parse_types(const char *spec, const struct rs_type **out, int *n, struct tip_error *err)
{
	char buf[128], *save = NULL, *tok;
	*n = 0;
	tip_strlcpy(buf, spec ? spec : "", sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		const struct rs_type *t = NULL;
		for (size_t i = 0; i < sizeof(known_types) / sizeof(known_types[0]); i++)
			if (!strcasecmp(tok, known_types[i].name))
				t = &known_types[i];
		if (!t)
			return tip_error_set(err, TIP_EINVAL,
					     "[dns] rrtypes: '%s' is not one of A, AAAA, NS", tok);
		for (int i = 0; i < *n; i++)
			if (out[i] == t)
				return tip_error_set(err, TIP_EINVAL, "[dns] rrtypes: %s twice", tok);
		out[(*n)++] = t;
	}
	if (*n == 0)
		return tip_error_set(err, TIP_EINVAL, "[dns] rrtypes: empty");
	return 0;
}

static int resolve_check_config(const struct tip_config *cfg, struct tip_error *err)
{
	const struct rs_type *t[MAX_TYPES];
	int n, rc;
	struct tip_enrich *e = NULL;
	if ((rc = parse_types(cfg->dns.rrtypes, t, &n, err)) < 0)
		return rc;
	if ((rc = tip_enrich_open(cfg, &e, err)) < 0)
		return rc;
	tip_enrich_close(e);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The pass. */

static void resolver_free(struct resolver *r)
{
	for (int i = 0; i < r->n_srv; i++)
		for (int c = 0; c < CHANNELS_PER_SERVER; c++)
			if (r->srv[i].chans[c].ch) /* ends what is in flight (ARES_EDESTRUCTION) */
				ares_destroy(r->srv[i].chans[c].ch);
	while (r->retry_head) {
		struct rs_query *q = r->retry_head;
		r->retry_head = q->next;
		if (--q->d->pending == 0)
			free(q->d);
		free(q);
	}
	if (r->cur) {
		/* queries not started yet */
		r->cur->pending -= r->n_types - r->cur_type;
		if (r->cur->pending == 0)
			free(r->cur);
	}
	for (int i = 0; i < r->n_fds; i++)
		if (r->fds[i].ev)
			event_free(r->fds[i].ev);
	free(r->fds);
	rs_io_free(r->io); /* after ares_destroy, which closes the sockets through it */
	free(r->srv);
	if (r->tick)
		event_free(r->tick);
	if (r->base)
		event_base_free(r->base);
	tip_enrich_close(r->enrich);
	if (r->ro)
		tip_store_close(r->ro);
	if (r->wb)
		wb_free(r->wb);
	tip_strv_free(&r->chunk);
	free(r->chunk_ids);
	free(r->a4);
	free(r->a6);
}

static int resolve_run(struct tip_module_ctx *ctx)
{
	struct resolver r = { 0 };
	struct tip_error *err = &ctx->err;
	const struct tip_config *cfg = ctx->cfg;
	struct timeval tv = { 0, TICK_USEC };
	tip_time_t t0, t1, fin;
	double fin_cpu;
	int rc, nsrv;
	int64_t refreshed = 0;

	r.ctx = ctx;
	r.cfg = cfg;
	if ((rc = parse_types(cfg->dns.rrtypes, r.types, &r.n_types, err)) < 0)
		return rc;
	r.max_window = (int)cfg->dns.concurrency;
	r.retries = (int)cfg->dns.retries;
	r.qps = cfg->dns.qps;
	r.timeout = cfg->dns.timeout_ms * TIP_MSEC;
	r.min_interval = cfg->dns.min_interval_s * TIP_SEC;
	r.due_at = ctx->started ? ctx->started : tip_now();
	{
		char **args = ctx->args;
		int n_args = ctx->n_args;
		if (n_args > 0 && !strcmp(args[0], TIP_FLUX_RESOLVE_NOSTORE)) {
			r.nostore = true;
			args++;
			n_args--;
			tip_info("--no-store: answers are parsed and counted, nothing "
				 "is written");
		}
		if (n_args == 1 && !strcmp(args[0], TIP_FLUX_RESOLVE_ALL)) {
			r.all = true;
			r.due_at = INT64_MAX;
		} else if (n_args > 0) {
			r.args = args;
			r.n_args = n_args;
		}
	}

	if ((rc = tip_enrich_open(cfg, &r.enrich, err)) < 0)
		goto out;
	if (!strcmp(tip_enrich_db(r.enrich), "none")) {
		tip_enrich_close(r.enrich); /* no database: addresses are not enriched */
		r.enrich = NULL;
	}
	if (!(r.base = event_base_new())) {
		rc = tip_error_set(err, TIP_ENOMEM, "libevent: event_base_new failed");
		goto out;
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		rc = tip_error_set(err, TIP_EIO, "c-ares: %s", ares_strerror(rc));
		goto out;
	}
	r.io = rs_io_new(cfg->dns.rcvbuf > 0 ? (int)cfg->dns.rcvbuf : 0);
	nsrv = cfg->dns.n_servers > 0 ? cfg->dns.n_servers : 1;
	r.srv = tip_xcalloc((size_t)nsrv, sizeof(*r.srv));
	for (int i = 0; i < nsrv; i++) {
		r.n_srv++;
		if ((rc = server_open(&r, &r.srv[i], cfg->dns.n_servers ? &cfg->dns.servers[i] : NULL,
				      err)) < 0)
			goto out;
	}
	r.a4 = tip_xmalloc(MAX_RECORDS * sizeof(*r.a4));
	r.a6 = tip_xmalloc(MAX_RECORDS * sizeof(*r.a6));

	/* addresses cached by an older enrichment database are redone first */
	if (!r.nostore && r.enrich &&
	    (rc = tip_enrich_refresh(r.enrich, ctx->store, tip_now(), &refreshed, err)) < 0)
		goto out;
	if (refreshed)
		tip_info("%lld cached addresses enriched again (now %s: %s)",
			 (long long)refreshed, tip_enrich_db(r.enrich), tip_enrich_version(r.enrich));

	if (!r.args &&
	    (rc = tip_store_open(cfg->store.url, TIP_STORE_READONLY, &r.ro, err)) < 0)
		goto out;
	if (!r.nostore) {
		struct tip_store *ck = NULL;
		struct tip_error ckerr = { 0 };
		if (tip_store_open(cfg->store.url, TIP_STORE_NOMIGRATE, &ck, &ckerr) < 0)
			tip_warnx("no checkpointer connection (%s): one checkpoint at "
				  "the end", ckerr.msg);
		/* the rounds left for later by earlier passes (the answer log), taken into their
		 * rows once they are a few a set: pass 2 does it too, this bounds what readers
		 * merge when pass 2 does not run */
		tip_time_t f0 = tip_monotonic();
		if ((rc = tip_store_pdns_fold(ctx->store, RESOLVE_FOLD_PER_SET, err)) > 0)
			tip_info("answer log: %d rounds taken into their set rows first, in %.2f s", rc,
				 (double)(tip_monotonic() - f0) / TIP_SEC);
		if (rc < 0 || (rc = tip_store_bulk(ctx->store, true, err)) < 0 ||
		    (rc = writer_start(&r.w, ctx->store, ck, r.enrich, err)) < 0) {
			if (ck && !r.w.started)
				tip_store_close(ck);
			goto out;
		}
	}

	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
	event_add(r.tick, &tv);
	r.last_tick = tip_monotonic();
	t0 = tip_monotonic();
	pump(&r);
	if (!r.failed)
		event_base_dispatch(r.base);
	wb_flush(&r);
	rc = writer_stop(&r.w); /* everything answered is stored when it returns */
	fin = tip_monotonic();
	fin_cpu = tip_thread_cpu();
	if (!r.nostore && rc == 0)
		rc = tip_store_bulk(ctx->store, false, &r.w.err); /* index build, one checkpoint */
	t1 = tip_monotonic();
	fin_cpu = tip_thread_cpu() - fin_cpu;
	if (rc < 0)
		*err = r.w.err;
	else if (r.failed)
		rc = r.failed; /* err already set (the due list) */
	ctx->items = r.domains;
	{
		double s = (double)(t1 - t0) / TIP_SEC;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		int64_t other = 0, gave_up = 0;
		struct rs_io_stats io;
		rs_io_stats(r.io, &io);
		for (int i = 0; i < r.n_srv; i++)
			gave_up += r.srv[i].gave_up;
		for (int i = O_CONNREFUSED; i < O_MAX; i++)
			other += r.n_out[i];
		tip_info("%lld domains, %lld queries sent (%lld of them retries), "
			 "%lld answers in %.3f s: %.0f queries/s; ok %lld, nodata %lld, nxdomain %lld, "
			 "servfail %lld, refused %lld, timeout %lld, other %lld; %lld records (%lld "
			 "new), %lld addresses enriched (%s); %lld commits, writer CPU %.2f s, end of pass "
			 "(index, checkpoint) %.2f s, CPU %.2f s; behind %lld of %lld ticks; peak in flight "
			 "%d, mean %lld (window %lld); max RSS %ld KiB; %lld tries given up early; UDP: %lld datagrams sent in "
			 "%lld sendmmsg calls (%lld dropped), %lld read in %lld recvmmsg calls",
			 (long long)r.domains, (long long)r.queries, (long long)r.retried,
			 (long long)r.answers, s, s > 0 ? (double)r.answers / s : 0.0,
			 (long long)r.n_out[O_OK], (long long)r.n_out[O_NODATA],
			 (long long)r.n_out[O_NXDOMAIN], (long long)r.n_out[O_SERVFAIL],
			 (long long)r.n_out[O_REFUSED], (long long)r.n_out[O_TIMEOUT], (long long)other,
			 (long long)r.records, (long long)r.w.new_records, (long long)r.w.enriched,
			 r.enrich ? tip_enrich_db(r.enrich) : "none", (long long)r.w.commits,
			 r.w.cpu_s, (double)(t1 - fin) / TIP_SEC, fin_cpu, (long long)r.full_ticks, (long long)r.ticks, r.max_inflight,
			 (long long)(r.ticks ? r.sum_inflight / r.ticks : 0),
			 (long long)(r.ticks ? r.sum_window / r.ticks : 0),
			 ru.ru_maxrss, (long long)gave_up, (long long)io.sent, (long long)io.send_calls,
			 (long long)io.dropped, (long long)io.received, (long long)io.recv_calls);
	}
	for (int i = 0; i < r.n_srv; i++)
		if (r.srv[i].edns_resent)
			tip_info("%s answered FORMERR to EDNS queries: %lld queries sent "
				 "again without EDNS ([dns] edns_size = 0 avoids the round trip)",
				 r.srv[i].label, (long long)r.srv[i].edns_resent);
	if (ctx->cancel && *ctx->cancel && !rc)
		tip_info("cancelled; %lld domains done, the rest stay due",
			 (long long)r.domains);
out:
	writer_stop(&r.w);
	resolver_free(&r);
	ares_library_cleanup();
	return rc;
}

const struct tip_module tip_flux_resolve_module = {
	.name = "flux-resolve",
	.kind = TIP_MODULE_PASS,
	.default_interval_s = 300,
	.default_timeout_s = 3600,
	.after = NULL,
	.check_config = resolve_check_config,
	.run = resolve_run,
};
