/* sched_int.h — inside src/sched: the supervisor of children that the master (master.c) and
 * tip_sched_run_once (child.c) share, so that both run a module through one path. */
#ifndef TIP_SCHED_INT_H
#define TIP_SCHED_INT_H

#include <event2/event.h>

#include "sched.h"

/* What the child writes to its parent when run() returned (Redis's child info). */
struct sched_msg {
	int64_t items;
	int32_t rc;
	int32_t cancelled; /* run() returned after SIGTERM/SIGINT asked it to stop: a partial pass */
	char error[500];
};

/* What the parent writes to the child once the run is recorded: the child waits for it, so a
 * run never starts unrecorded, and a parent that died before sending it shows as EOF. */
struct sched_go {
	int64_t run_id;
	int64_t started;
};

struct sched_child {
	pid_t pid;
	int fd;                       /* our end of the socketpair; -1 once closed */
	const struct tip_module *m;
	void *tag;                    /* the owner's (the master's plan entry) */
	int64_t run_id;
	tip_time_t started, timeout;
	bool timed_out;               /* the timeout fired: SIGTERM sent */
	bool stopped;                 /* the supervisor is stopping: SIGTERM sent */
	bool kill_sent;
	struct sched_msg msg;
	size_t got;                   /* bytes of msg read */
	struct event *timer;          /* timeout, then grace → SIGKILL */
	struct sched_sup *sup;
	struct sched_child *next;
};

struct sched_sup {
	struct event_base *base;
	const struct tip_config *cfg; /* rlimits, grace_ms, store url; the owner may swap it */
	/* Where runs are recorded (the config's store url; NULL: not recorded). The connection is
	 * opened before the first fork and kept open while any child runs (child.c says why). */
	const char *store_url;
	struct tip_store *st;
	bool reap_any;                /* waitpid(-1): the master reaps every child it has */
	struct sched_child *children;
	int n_children;
	/* called when a child ended and its run is recorded; the child is freed after */
	void (*on_end)(void *arg, struct sched_child *c, const struct tip_sched_result *res);
	void *arg;
};

/* Forks a child for one run of m, records the run's start, lets the child go. args may be
 * NULL. On failure nothing is left behind. */
int sched_sup_start(struct sched_sup *s, const struct tip_module *m, tip_time_t timeout,
		    char **args, int n_args, void *tag, struct sched_child **out,
		    struct tip_error *err);
/* SIGCHLD: reaps every child that ended (waitpid(WNOHANG) in a loop), turns each end into a
 * cause, records it, calls on_end. */
void sched_sup_reap(struct sched_sup *s);
/* Stopping: SIGTERM to every child, SIGKILL after grace_ms. A second call sends SIGKILL now. */
void sched_sup_stop_all(struct sched_sup *s);
/* Frees what is left (children already gone). */
void sched_sup_free(struct sched_sup *s);

#endif
