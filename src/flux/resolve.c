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
 */
#include <ares.h>
#include <ares_dns.h>
#include <ares_nameser.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <unistd.h>

#include "enrich/enrich.h"
#include "flux.h"

#define MAX_TYPES 3
#define CHUNK 8192          /* due domains read from the store at a time */
#define BATCH 4096          /* answers per transaction */
#define BATCH_USEC (1 * TIP_SEC)
#define TICK_USEC (10 * TIP_MSEC)
#define MAX_RECORDS 4096    /* records per answer we keep (a 64 KiB TCP answer holds fewer) */
#define INITIAL_WINDOW 64

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

struct rs_server {
	struct resolver *r;
	ares_channel ch;
	char label[80];
	int inflight;
	double window, ssthresh;
	tip_time_t last_cut;
	double tokens;
	int64_t sent, timeouts;
};

/* A domain in flight: freed when its last query ends. */
struct rs_domain {
	int pending;
	bool any_ok;
	const char *outcome; /* the first failure, when nothing succeeded */
	int64_t min_ttl;     /* over every answer of the round, -1: none */
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
	struct rs_server *srv;
};

struct resolver {
	struct tip_module_ctx *ctx;
	const struct tip_config *cfg;
	struct tip_store *st;
	struct tip_enrich *enrich;
	struct event_base *base;
	struct event *tick;

	struct rs_server *srv;
	int n_srv, next_srv;

	struct rs_fd *fds;
	int n_fds;

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
	size_t chunk_pos;
	int64_t last_id;
	bool source_done;

	/* the domain whose queries are being started */
	struct rs_domain *cur;
	int cur_type;
	struct rs_query *retry_head, *retry_tail;
	int inflight;

	/* the open transaction */
	bool in_tx;
	int tx_answers;
	tip_time_t tx_started;
	int failed; /* a store error: stop */

	struct ares_addrttl *a4;
	struct ares_addr6ttl *a6;

	/* counts */
	int64_t domains, queries, answers, retried, records, new_records, enriched;
	int64_t n_ok, n_nodata, n_nxdomain, n_servfail, n_refused, n_timeout, n_other;
	int max_inflight;
};

static tip_time_t now_usec(void)
{
	return tip_now();
}

/* ---------------------------------------------------------------------------------------- */
/* The store: answers go into a transaction committed every BATCH answers or BATCH_USEC. */

static int tx_open(struct resolver *r)
{
	if (r->in_tx)
		return 0;
	if (tip_store_begin(r->st, &r->ctx->err) < 0)
		return r->failed = TIP_ESTORE;
	r->in_tx = true;
	r->tx_answers = 0;
	r->tx_started = tip_monotonic();
	return 0;
}

static int tx_close(struct resolver *r)
{
	if (!r->in_tx)
		return 0;
	r->in_tx = false;
	if (tip_store_commit(r->st, &r->ctx->err) < 0) {
		tip_store_rollback(r->st);
		return r->failed = TIP_ESTORE;
	}
	return 0;
}

static void tx_maybe_commit(struct resolver *r)
{
	if (r->in_tx && (r->tx_answers >= BATCH || tip_monotonic() - r->tx_started >= BATCH_USEC))
		tx_close(r);
}

/* ---------------------------------------------------------------------------------------- */
/* Recording one answer. */

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct answer {
	struct resolver *r;
	struct rs_query *q;
	tip_time_t at;
	int64_t n, n_new, min_ttl;
	uint64_t set_hash;
};

static int record(struct answer *a, const char *value, int64_t ttl)
{
	struct resolver *r = a->r;
	bool is_new = false;
	if (ttl < 0)
		ttl = 0;
	if (tip_store_pdns_observe(r->st, a->q->d->name, a->q->t->name, value, ttl, a->at, &is_new,
				   &r->ctx->err) < 0)
		return r->failed = TIP_ESTORE;
	a->n++;
	a->set_hash += fnv1a(value);
	if (a->min_ttl < 0 || ttl < a->min_ttl)
		a->min_ttl = ttl;
	if (is_new) {
		a->n_new++;
		if (a->q->t->type != 2 && r->enrich) {
			bool looked = false;
			if (tip_enrich_cached(r->enrich, r->st, value, a->at, &looked, &r->ctx->err) < 0)
				return r->failed = TIP_ESTORE;
			r->enriched += looked;
		}
	}
	return 0;
}

/* The TTL of the NS records in an answer. c-ares 1.18's ares_parse_ns_reply gives the names but
 * no TTL, and no other c-ares parser reads NS; so, after ares_parse_ns_reply has validated the
 * packet, we walk its answer section with c-ares's own name expander (ares_expand_name, which
 * handles compression) and c-ares's public wire macros (ares_dns.h: DNS_HEADER_*, DNS_RR_*) —
 * reading only the fixed RR header. c-ares ≥ 1.22 replaces this with ares_dns_parse +
 * ares_dns_rr_get_ttl. Returns the smallest NS TTL, or -1. */
static int64_t ns_ttl(const unsigned char *abuf, int alen)
{
	const unsigned char *p = abuf + HFIXEDSZ, *end = abuf + alen;
	int qd, an;
	int64_t min = -1;
	long len;
	char *name;

	if (alen < HFIXEDSZ)
		return -1;
	qd = DNS_HEADER_QDCOUNT(abuf);
	an = DNS_HEADER_ANCOUNT(abuf);
	for (int i = 0; i < qd; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
			return -1;
		ares_free_string(name);
		p += len + QFIXEDSZ;
		if (p > end)
			return -1;
	}
	for (int i = 0; i < an; i++) {
		if (ares_expand_name(p, abuf, alen, &name, &len) != ARES_SUCCESS)
			return min;
		ares_free_string(name);
		p += len;
		if (p + RRFIXEDSZ > end)
			return min;
		if (DNS_RR_TYPE(p) == 2 && DNS_RR_CLASS(p) == 1) {
			int64_t ttl = (int64_t)(uint32_t)DNS_RR_TTL(p);
			if (ttl > INT32_MAX)
				ttl = 0; /* RFC 2181 §8 */
			if (min < 0 || ttl < min)
				min = ttl;
		}
		p += RRFIXEDSZ + DNS_RR_LEN(p);
		if (p > end)
			return min;
	}
	return min;
}

static const char *parse_answer(struct answer *a, const unsigned char *abuf, int alen)
{
	struct resolver *r = a->r;
	char buf[INET6_ADDRSTRLEN];
	int n = MAX_RECORDS, rc;

	switch (a->q->t->type) {
	case 1:
		rc = ares_parse_a_reply(abuf, alen, NULL, r->a4, &n);
		if (rc != ARES_SUCCESS)
			break;
		for (int i = 0; i < n && !r->failed; i++) {
			inet_ntop(AF_INET, &r->a4[i].ipaddr, buf, sizeof(buf));
			record(a, buf, r->a4[i].ttl);
		}
		break;
	case 28:
		rc = ares_parse_aaaa_reply(abuf, alen, NULL, r->a6, &n);
		if (rc != ARES_SUCCESS)
			break;
		for (int i = 0; i < n && !r->failed; i++) {
			inet_ntop(AF_INET6, &r->a6[i].ip6addr, buf, sizeof(buf));
			record(a, buf, r->a6[i].ttl);
		}
		break;
	default: {
		struct hostent *h = NULL;
		rc = ares_parse_ns_reply(abuf, alen, &h);
		if (rc != ARES_SUCCESS)
			break;
		int64_t ttl = ns_ttl(abuf, alen);
		for (char **al = h->h_aliases; al && *al && !r->failed; al++) {
			char lower[TIP_DOMAIN_MAX + 2];
			size_t i;
			for (i = 0; (*al)[i] && i < sizeof(lower) - 1; i++)
				lower[i] = (char)((*al)[i] >= 'A' && (*al)[i] <= 'Z' ? (*al)[i] + 32 : (*al)[i]);
			lower[i] = '\0';
			if (i > 0 && lower[i - 1] == '.')
				lower[i - 1] = '\0';
			record(a, lower, ttl);
		}
		ares_free_hostent(h);
	}
	}
	if (rc == ARES_ENODATA)
		return "nodata";
	if (rc != ARES_SUCCESS)
		return "badresp";
	return a->n ? "ok" : "nodata";
}

static const char *outcome_of(int status)
{
	switch (status) {
	case ARES_SUCCESS: return "ok";
	case ARES_ENODATA: return "nodata";
	case ARES_ENOTFOUND: return "nxdomain";
	case ARES_ESERVFAIL: return "servfail";
	case ARES_EREFUSED: return "refused";
	case ARES_ETIMEOUT: return "timeout";
	case ARES_ECONNREFUSED: return "connrefused";
	case ARES_EFORMERR: return "formerr";
	case ARES_ENOTIMP: return "notimp";
	case ARES_EBADRESP: return "badresp";
	default: return "error";
	}
}

static void count_outcome(struct resolver *r, const char *o)
{
	if (!strcmp(o, "ok"))
		r->n_ok++;
	else if (!strcmp(o, "nodata"))
		r->n_nodata++;
	else if (!strcmp(o, "nxdomain"))
		r->n_nxdomain++;
	else if (!strcmp(o, "servfail"))
		r->n_servfail++;
	else if (!strcmp(o, "refused"))
		r->n_refused++;
	else if (!strcmp(o, "timeout"))
		r->n_timeout++;
	else
		r->n_other++;
}

/* The domain's last query ended: it is due again after its shortest TTL, and no sooner than
 * [dns] min_interval. */
static void domain_done(struct resolver *r, struct rs_domain *d, tip_time_t at)
{
	tip_time_t wait = d->min_ttl >= 0 ? d->min_ttl * TIP_SEC : 0;
	if (wait < r->min_interval)
		wait = r->min_interval;
	if (!r->failed && tx_open(r) == 0 &&
	    tip_store_watch_resolved(r->st, d->name, at, at + wait,
				     d->any_ok ? "ok" : (d->outcome ? d->outcome : "error"),
				     &r->ctx->err) < 0)
		r->failed = TIP_ESTORE;
	r->domains++;
	free(d);
}

static void query_done(struct resolver *r, struct rs_query *q, const char *outcome,
		       const unsigned char *abuf, int alen)
{
	struct answer a = { .r = r, .q = q, .at = now_usec(), .min_ttl = -1 };
	struct rs_domain *d = q->d;

	if (!r->failed && tx_open(r) == 0) {
		if (abuf && !strcmp(outcome, "ok"))
			outcome = parse_answer(&a, abuf, alen);
		struct tip_round round = {
			.domain = d->name,
			.rrtype = q->t->name,
			.at = a.at,
			.outcome = outcome,
			.n_records = a.n,
			.n_new = a.n_new,
			.min_ttl = a.min_ttl,
			.set_hash = a.n ? (int64_t)(a.set_hash ? a.set_hash : 1) : 0,
		};
		if (!r->failed && tip_store_round_put(r->st, &round, &r->ctx->err) < 0)
			r->failed = TIP_ESTORE;
		r->tx_answers++;
	}
	count_outcome(r, outcome);
	r->records += a.n;
	r->new_records += a.n_new;
	if (!strcmp(outcome, "ok"))
		d->any_ok = true;
	else if (!d->outcome)
		d->outcome = outcome; /* a static string */
	if (a.min_ttl >= 0 && (d->min_ttl < 0 || a.min_ttl < d->min_ttl))
		d->min_ttl = a.min_ttl;
	if (--d->pending == 0)
		domain_done(r, d, a.at);
	free(q);
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

struct sent {
	struct rs_server *srv;
	struct rs_query *q;
};

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct sent *s = arg;
	struct rs_server *srv = s->srv;
	struct resolver *r = srv->r;
	struct rs_query *q = s->q;
	(void)timeouts;
	free(s);
	srv->inflight--;
	r->inflight--;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) {
		/* the pass is ending early: the domain stays due */
		if (--q->d->pending == 0)
			free(q->d);
		free(q);
		return;
	}
	if (status == ARES_ETIMEOUT || status == ARES_ECONNREFUSED) {
		tip_time_t now = tip_monotonic();
		srv->timeouts++;
		if (now - srv->last_cut >= r->timeout) {
			/* multiplicative decrease, once per timeout period */
			srv->ssthresh = srv->window / 2 > 8 ? srv->window / 2 : 8;
			srv->window = srv->ssthresh;
			srv->last_cut = now;
		}
		if (q->attempt < r->retries) {
			q->attempt++;
			r->retried++;
			retry_push(r, q);
			return;
		}
	} else {
		if (srv->window < srv->ssthresh)
			srv->window += 1;
		else
			srv->window += 1.0 / srv->window;
		if (srv->window > r->max_window)
			srv->window = r->max_window;
	}
	r->answers++;
	query_done(r, q, outcome_of(status), status == ARES_SUCCESS ? abuf : NULL, alen);
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
	tip_strv_push(&r->chunk, domain);
	r->last_id = id;
	return 0;
}

/* The next domain name to resolve, or NULL when there are no more. */
static const char *next_name(struct resolver *r)
{
	if (r->args)
		return r->next_arg < r->n_args ? r->args[r->next_arg++] : NULL;
	if (r->chunk_pos < r->chunk.n)
		return r->chunk.v[r->chunk_pos++];
	if (r->source_done)
		return NULL;
	/* the chunk is read inside no transaction of ours: commit what is pending first, so the
	 * read sees a consistent store and a long read does not hold the write lock */
	tx_close(r);
	tip_strv_free(&r->chunk);
	r->chunk_pos = 0;
	if (tip_store_watch_due(r->st, r->due_at, r->last_id, CHUNK, chunk_row, r, &r->ctx->err) < 0) {
		r->failed = TIP_ESTORE;
		return NULL;
	}
	if (r->chunk.n < CHUNK)
		r->source_done = true;
	return r->chunk_pos < r->chunk.n ? r->chunk.v[r->chunk_pos++] : NULL;
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
		const char *name = next_name(r);
		size_t len;
		if (!name)
			return NULL;
		len = strlen(name);
		r->cur = tip_xmalloc(sizeof(*r->cur) + len + 1);
		memcpy(r->cur->name, name, len + 1);
		r->cur->pending = r->n_types;
		r->cur->any_ok = false;
		r->cur->outcome = NULL;
		r->cur->min_ttl = -1;
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
	while (!r->failed && (srv = pick_server(r))) {
		struct rs_query *q = next_query(r);
		struct sent *s;
		if (!q)
			break;
		s = tip_xmalloc(sizeof(*s));
		s->srv = srv;
		s->q = q;
		srv->inflight++;
		r->inflight++;
		srv->sent++;
		r->queries++;
		if (r->qps)
			srv->tokens -= 1;
		if (r->inflight > r->max_inflight)
			r->max_inflight = r->inflight;
		ares_query(srv->ch, q->d->name, 1 /* IN */, q->t->type, on_answer, s);
	}
	tx_maybe_commit(r);
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
	struct rs_server *srv = arg;
	ares_process_fd(srv->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	pump(srv->r);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct rs_server *srv = data;
	struct resolver *r = srv->r;
	if (fd < 0)
		return;
	if (fd >= r->n_fds) {
		int n = r->n_fds ? r->n_fds : 64;
		while (n <= fd)
			n *= 2;
		r->fds = tip_xrealloc(r->fds, (size_t)n * sizeof(*r->fds));
		memset(r->fds + r->n_fds, 0, (size_t)(n - r->n_fds) * sizeof(*r->fds));
		r->n_fds = n;
	}
	if (r->fds[fd].ev) {
		event_free(r->fds[fd].ev);
		r->fds[fd].ev = NULL;
	}
	if (readable || writable) {
		r->fds[fd].ev = event_new(r->base, fd,
					  (short)(EV_PERSIST | (readable ? EV_READ : 0) |
						  (writable ? EV_WRITE : 0)),
					  on_fd, srv);
		r->fds[fd].srv = srv;
		if (!r->fds[fd].ev || event_add(r->fds[fd].ev, NULL) < 0)
			tip_warnx("flux-resolve: cannot watch socket %d", fd);
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
		/* expire timed-out queries */
		ares_process_fd(s->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	}
	r->last_tick = now;
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
	o.sock_state_cb_data = s;
	if (r->cfg->dns.rcvbuf > 0) {
		o.socket_receive_buffer_size = (int)r->cfg->dns.rcvbuf;
		mask |= ARES_OPT_SOCK_RCVBUF;
	}
	if ((rc = ares_init_options(&s->ch, &o, mask)) != ARES_SUCCESS)
		return tip_error_set(err, TIP_EIO, "c-ares: %s", ares_strerror(rc));
	if (ds) {
		char csv[96];
		bool v6 = strchr(ds->host, ':') != NULL;
		snprintf(csv, sizeof(csv), "%s%s%s:%d", v6 ? "[" : "", ds->host, v6 ? "]" : "",
			 ds->port);
		snprintf(s->label, sizeof(s->label), "%s", csv);
		if ((rc = ares_set_servers_ports_csv(s->ch, csv)) != ARES_SUCCESS)
			return tip_error_set(err, TIP_EINVAL, "[dns] servers: %s: %s", csv,
					     ares_strerror(rc));
	} else {
		snprintf(s->label, sizeof(s->label), "resolv.conf");
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
		if (r->srv[i].ch)
			ares_destroy(r->srv[i].ch); /* ends what is in flight (ARES_EDESTRUCTION) */
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
	free(r->srv);
	if (r->tick)
		event_free(r->tick);
	if (r->base)
		event_base_free(r->base);
	tip_enrich_close(r->enrich);
	tip_strv_free(&r->chunk);
	free(r->a4);
	free(r->a6);
}

static int resolve_run(struct tip_module_ctx *ctx)
{
	struct resolver r = { 0 };
	struct tip_error *err = &ctx->err;
	const struct tip_config *cfg = ctx->cfg;
	struct timeval tv = { 0, TICK_USEC };
	tip_time_t t0, t1;
	int rc, nsrv;
	int64_t refreshed = 0;

	r.ctx = ctx;
	r.cfg = cfg;
	r.st = ctx->store;
	if ((rc = parse_types(cfg->dns.rrtypes, r.types, &r.n_types, err)) < 0)
		return rc;
	r.max_window = (int)cfg->dns.concurrency;
	r.retries = (int)cfg->dns.retries;
	r.qps = cfg->dns.qps;
	r.timeout = cfg->dns.timeout_ms * TIP_MSEC;
	r.min_interval = cfg->dns.min_interval_s * TIP_SEC;
	r.due_at = ctx->started ? ctx->started : tip_now();
	if (ctx->n_args == 1 && !strcmp(ctx->args[0], TIP_FLUX_RESOLVE_ALL)) {
		r.all = true;
		r.due_at = INT64_MAX;
	} else if (ctx->n_args > 0) {
		r.args = ctx->args;
		r.n_args = ctx->n_args;
	}

	if ((rc = tip_enrich_open(cfg, &r.enrich, err)) < 0)
		goto out;
	if (!(r.base = event_base_new())) {
		rc = tip_error_set(err, TIP_ENOMEM, "libevent: event_base_new failed");
		goto out;
	}
	if ((rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		rc = tip_error_set(err, TIP_EIO, "c-ares: %s", ares_strerror(rc));
		goto out;
	}
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
	if ((rc = tip_enrich_refresh(r.enrich, r.st, tip_now(), &refreshed, err)) < 0)
		goto out;
	if (refreshed)
		tip_info("flux-resolve: %lld cached addresses enriched again (now %s %s)",
			 (long long)refreshed, tip_enrich_db(r.enrich), tip_enrich_version(r.enrich));

	r.tick = event_new(r.base, -1, EV_PERSIST, on_tick, &r);
	event_add(r.tick, &tv);
	r.last_tick = tip_monotonic();
	t0 = tip_monotonic();
	pump(&r);
	if (!r.failed)
		event_base_dispatch(r.base);
	t1 = tip_monotonic();
	rc = r.failed;
	if (tx_close(&r) < 0 && !rc)
		rc = r.failed;
	ctx->items = r.domains;
	{
		double s = (double)(t1 - t0) / TIP_SEC;
		struct rusage ru;
		getrusage(RUSAGE_SELF, &ru);
		tip_info("flux-resolve: %lld domains, %lld queries sent (%lld of them retries), %lld answers in "
			 "%.2f s: %.0f queries/s; ok %lld, nodata %lld, nxdomain %lld, servfail %lld, "
			 "refused %lld, timeout %lld, other %lld; %lld records (%lld new), %lld "
			 "addresses enriched (%s); peak in flight %d; max RSS %ld KiB",
			 (long long)r.domains, (long long)r.queries, (long long)r.retried,
			 (long long)r.answers, s, s > 0 ? (double)r.answers / s : 0.0,
			 (long long)r.n_ok, (long long)r.n_nodata, (long long)r.n_nxdomain,
			 (long long)r.n_servfail, (long long)r.n_refused, (long long)r.n_timeout,
			 (long long)r.n_other, (long long)r.records, (long long)r.new_records,
			 (long long)r.enriched, tip_enrich_db(r.enrich), r.max_inflight,
			 ru.ru_maxrss);
	}
	if (ctx->cancel && *ctx->cancel && !rc)
		tip_info("flux-resolve: cancelled; %lld domains done, the rest stay due",
			 (long long)r.domains);
out:
	if (r.in_tx)
		tip_store_rollback(r.st);
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
