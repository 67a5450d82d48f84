/*
 * master.c — `tip run`: the process that owns the schedule and nothing heavy.
 *
 * One libevent loop. A single timer is armed for when the plan next needs a look (at most a
 * second away, so a wall-clock step is noticed). SIGCHLD reaps every ended child
 * (sched_sup_reap: waitpid(WNOHANG) in a loop, pid → child, end → cause, run recorded), then
 * tells the plan, which computes that module's next start. SIGHUP re-reads the config: on an
 * error the old one stays; running children are never touched. SIGTERM/SIGINT stop: no new
 * runs, SIGTERM to every child, SIGKILL after [daemon] grace_ms, exit when the last is reaped.
 *
 * After every change the master checks the plan's invariant (every enabled module is running
 * or has a next start); a module found off the schedule is logged as an error and put back,
 * due now. That is the safety net under the plan's own logic, which the tests prove.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sched_int.h"

struct master {
	const struct tip_sched_opts *o;
	struct event_base *base;
	struct tip_config cfg_own; /* after a SIGHUP */
	bool cfg_owned;
	const struct tip_config *cfg;
	struct tip_sched_plan plan;
	struct sched_sup sup;
	struct tip_store *st;
	struct event *tick;
	struct event *sig[5];
	bool stopping;
	char *store_url; /* as started: a reload does not change it */
	tip_time_t wall, mono; /* at the last look, to notice the wall clock being stepped */
};

/* ---------------------------------------------------------------------------------------- */
/* pidfile: a POSIX write lock, held by the master process only (not inherited by children,
 * released when the master dies however it dies). */

static int pidfile_lock(const char *path, int *fdp, pid_t *holder, struct tip_error *err)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char buf[32];
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	*holder = 0;
	if (fd < 0)
		return tip_error_set(err, TIP_EIO, "pidfile %s: %s", path, strerror(errno));
	if (fcntl(fd, F_SETLK, &fl) < 0) {
		int e = errno;
		if (e == EACCES || e == EAGAIN) {
			fl.l_type = F_WRLCK;
			if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
				*holder = fl.l_pid;
			close(fd);
			return tip_error_set(err, TIP_EEXIST,
					     "another tip run holds %s (pid %ld): not starting a second",
					     path, (long)*holder);
		}
		close(fd);
		return tip_error_set(err, TIP_EIO, "pidfile %s: lock: %s", path, strerror(e));
	}
	snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, strlen(buf), 0) != (ssize_t)strlen(buf)) {
		int e = errno;
		close(fd);
		return tip_error_set(err, TIP_EIO, "pidfile %s: %s", path, strerror(e));
	}
	*fdp = fd;
	return 0;
}

int tip_sched_master_pid(const struct tip_config *cfg, pid_t *pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(cfg->daemon.pidfile, O_RDONLY | O_CLOEXEC);

	*pid = 0;
	if (fd < 0)
		return 0;
	/* F_GETLK on a read-only fd: ask about a read lock, which the master's write lock blocks */
	fl.l_type = F_RDLCK;
	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		*pid = fl.l_pid;
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */

static void schedule(struct master *M);

static void on_end(void *arg, struct sched_child *c, const struct tip_sched_result *r)
{
	struct master *M = arg;
	struct tip_sched_entry *e = c->tag;
	if (e)
		tip_sched_plan_ended(&M->plan, e, r->ended, r->status, r->items);
}

static void start_one(struct master *M, struct tip_sched_entry *e, tip_time_t now)
{
	struct tip_error err = { 0 };
	struct sched_child *c = NULL;

	if (sched_sup_start(&M->sup, e->m, e->m->kind == TIP_MODULE_SERVICE ? 0 : e->mc.timeout,
			    NULL, 0, e, &c, &err) < 0) {
		/* could not fork: a failed run, so it is retried with back-off, not lost */
		tip_warnx("%s", err.msg);
		tip_sched_plan_started(&M->plan, e, now, 0);
		tip_sched_plan_ended(&M->plan, e, now, TIP_RUN_FAILED, 0);
		return;
	}
	tip_sched_plan_started(&M->plan, e, now, c->run_id);
}

static void schedule(struct master *M)
{
	tip_time_t now = tip_now(), wake, delay;
	struct tip_sched_entry *e;
	const struct tip_sched_entry *lost;
	struct timeval tv;
	int guard = 0;

	if (M->stopping)
		return;
	{
		/* the plan runs on the wall clock (the store's times are wall times); a step of it
		 * (an admin, a bad NTP start) moves the plan with it */
		tip_time_t mono = tip_monotonic(), step = 0;
		if (M->mono)
			step = now - (M->wall + (mono - M->mono));
		if (step > TIP_SEC || step < -TIP_SEC) {
			tip_warnx("the wall clock was stepped by %+llds: the schedule moves with it",
				  (long long)(step / TIP_SEC));
			tip_sched_plan_shift(&M->plan, step);
		}
		M->wall = now;
		M->mono = mono;
	}
	while ((e = tip_sched_plan_due(&M->plan, now)) && guard++ < 1000)
		start_one(M, e, now);
	while ((lost = tip_sched_plan_lost(&M->plan))) {
		/* never expected: the plan's logic keeps every module scheduled; if it did not,
		 * say so loudly and put the module back rather than let it go quiet */
		struct tip_sched_entry *le = (struct tip_sched_entry *)lost;
		tip_warnx("BUG: module %s fell off the schedule (next %lld, running %d): due now",
			  le->m->name, (long long)le->next, le->running);
		if (le->after >= 0 && !M->plan.e[le->after].mc.enabled)
			le->after = -1;
		le->next_slot = le->next = now;
		M->plan.n_running = 0;
		for (size_t i = 0; i < M->plan.n; i++)
			M->plan.n_running += M->plan.e[i].running &&
					     M->plan.e[i].m->kind != TIP_MODULE_SERVICE;
	}
	wake = tip_sched_plan_wake(&M->plan, now);
	delay = wake ? wake - now : TIP_SEC;
	if (delay > TIP_SEC)
		delay = TIP_SEC;
	if (delay < 0)
		delay = 0;
	tv.tv_sec = delay / TIP_SEC;
	tv.tv_usec = delay % TIP_SEC;
	evtimer_add(M->tick, &tv);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schedule(arg);
}

static void reload(struct master *M)
{
	struct tip_config nc;
	struct tip_error err = { 0 };
	enum tip_log_level lvl;

	if (tip_config_load(&nc, M->o->config_path, &err) < 0 ||
	    tip_sched_plan_reload(&M->plan, &nc, tip_now(), &err) < 0) {
		tip_warnx("SIGHUP: config not reloaded, the old one stays: %s", err.msg);
		tip_config_free(&nc);
		return;
	}
	if (M->o->log_level) {
		free(nc.daemon.log_level);
		nc.daemon.log_level = tip_xstrdup(M->o->log_level);
	}
	if (M->cfg_owned)
		tip_config_free(&M->cfg_own);
	M->cfg_own = nc;
	M->cfg_owned = true;
	M->cfg = &M->cfg_own;
	M->sup.cfg = M->cfg;
	/* the recording connection must outlive every running child (child.c): a new store url
	 * takes effect at the next start */
	if (strcmp(M->store_url, M->cfg->store.url))
		tip_warnx("SIGHUP: [store] url changed: restart tip run to use %s (still using %s)",
			  M->cfg->store.url, M->store_url);
	if (tip_log_level_parse(M->cfg->daemon.log_level, &lvl) == 0)
		tip_log_init("master", !strcmp(M->cfg->daemon.log, "syslog"), lvl);
	tip_info("SIGHUP: config %s reloaded (%d runs in progress kept)",
		 M->o->config_path ? M->o->config_path : "(defaults)", M->sup.n_children);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct master *M = arg;
	(void)what;
	switch (sig) {
	case SIGCHLD:
		sched_sup_reap(&M->sup);
		if (M->stopping && M->sup.n_children == 0)
			event_base_loopbreak(M->base);
		else
			schedule(M);
		break;
	case SIGHUP:
		if (!M->stopping) {
			reload(M);
			schedule(M);
		}
		break;
	case SIGTERM:
	case SIGINT:
		if (M->stopping)
			tip_info("signal %d again: SIGKILL to %d children", (int)sig, M->sup.n_children);
		else
			tip_info("signal %d: stopping (%d children, %lldms grace)", (int)sig,
				 M->sup.n_children, M->cfg->daemon.grace_ms);
		M->stopping = true;
		evtimer_del(M->tick);
		sched_sup_stop_all(&M->sup);
		if (M->sup.n_children == 0)
			event_base_loopbreak(M->base);
		break;
	}
}

/* Forks into the background; the foreground process waits for the daemon to say it holds the
 * pidfile (byte 0) or why it could not (the message), so that `tip run` fails visibly. */
static int daemonise(int *report_fd, struct tip_error *err)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return tip_error_set(err, TIP_EIO, "pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) < 0)
		return tip_error_set(err, TIP_EIO, "fork: %s", strerror(errno));
	if (pid > 0) {
		char buf[600];
		ssize_t n;
		int st;
		close(p[1]);
		n = read(p[0], buf, sizeof(buf) - 1);
		close(p[0]);
		waitpid(pid, &st, 0); /* the intermediate process */
		if (n == 1 && buf[0] == 0)
			_exit(0);
		if (n > 1) {
			buf[n] = '\0';
			fprintf(stderr, "tip run: %s\n", buf + 1);
			_exit(1);
		}
		fprintf(stderr, "tip run: the daemon did not start\n");
		_exit(1);
	}
	close(p[0]);
	if (setsid() < 0)
		_exit(1);
	if ((pid = fork()) < 0)
		_exit(1);
	if (pid > 0)
		_exit(0);
	/* no chdir("/"): a relative store url or pidfile keeps meaning what it meant */
	{
		int nul = open("/dev/null", O_RDWR);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			/* stderr stays: with log = stderr it is where the log goes */
			if (nul > 2)
				close(nul);
		}
	}
	*report_fd = p[1];
	return 0;
}

static void report(int fd, int rc, const char *msg)
{
	char buf[600];
	if (fd < 0)
		return;
	buf[0] = rc < 0 ? 1 : 0;
	snprintf(buf + 1, sizeof(buf) - 1, "%s", rc < 0 ? msg : "");
	if (write(fd, buf, rc < 0 ? 1 + strlen(buf + 1) : 1) < 0) {
		/* the foreground process is gone; nothing to tell */
	}
	close(fd);
}

int tip_sched_master(const struct tip_sched_opts *o, const struct tip_config *cfg,
		     struct tip_error *err)
{
	static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
	struct master M;
	int pidfd = -1, report_fd = -1, rc;
	pid_t holder;
	enum tip_log_level lvl = TIP_LOG_INFO;
	bool use_syslog = !strcmp(cfg->daemon.log, "syslog");

	memset(&M, 0, sizeof(M));
	M.o = o;
	M.cfg = cfg;
	tip_log_level_parse(cfg->daemon.log_level, &lvl);
	if ((rc = tip_sched_check_config(cfg, o->modules, err)) < 0)
		return rc;
	if (!o->foreground && (rc = daemonise(&report_fd, err)) < 0)
		return rc;
	tip_log_init("master", use_syslog, lvl);
	if ((rc = pidfile_lock(cfg->daemon.pidfile, &pidfd, &holder, err)) < 0)
		goto out;
	if ((rc = tip_store_open(cfg->store.url, 0, &M.st, err)) < 0)
		goto out;
	if ((rc = tip_sched_plan_init(&M.plan, cfg, o->modules, tip_now(), err)) < 0 ||
	    (rc = tip_sched_plan_restore(&M.plan, M.st, tip_now(), TIP_RESTORE_MASTER, err)) < 0)
		goto out;
	if (!(M.base = event_base_new())) {
		rc = tip_error_set(err, TIP_ENOMEM, "cannot create the event loop");
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 4; i++) {
		M.sig[i] = evsignal_new(M.base, sigs[i], on_signal, &M);
		evsignal_add(M.sig[i], NULL);
	}
	M.tick = evtimer_new(M.base, on_tick, &M);
	M.sup.base = M.base;
	M.sup.cfg = cfg;
	/* the supervisor opens its own connection when it records; ours must not outlive the
	 * restore, as no connection may be open across a fork */
	tip_store_close(M.st);
	M.st = NULL;
	M.store_url = tip_xstrdup(cfg->store.url);
	M.sup.store_url = M.store_url;
	M.sup.reap_any = true;
	M.sup.on_end = on_end;
	M.sup.arg = &M;

	tip_info("tip %s started (pid %ld, %zu modules%s, max %lld children)", TIP_VERSION,
		 (long)getpid(), M.plan.n, M.plan.n ? "" : ": nothing to run, idling",
		 cfg->daemon.max_children);
	report(report_fd, 0, NULL);
	report_fd = -1;
	schedule(&M);
	event_base_dispatch(M.base);
	/* anything still not reaped (a loop error): make sure it is gone, then record it */
	if (M.sup.n_children) {
		sched_sup_stop_all(&M.sup);
		sched_sup_stop_all(&M.sup);
		for (int i = 0; M.sup.n_children && i < 1000; i++) {
			sched_sup_reap(&M.sup);
			if (M.sup.n_children)
				usleep(10000);
		}
	}
	tip_info("stopped");
	rc = 0;
out:
	if (rc < 0 && report_fd >= 0) {
		/* we are the daemon: the foreground process says why, and exits 1 */
		report(report_fd, rc, err ? err->msg : "failed");
		report_fd = -2;
	}
	for (int i = 0; i < 4; i++)
		if (M.sig[i])
			event_free(M.sig[i]);
	if (M.tick)
		event_free(M.tick);
	sched_sup_free(&M.sup);
	if (M.base)
		event_base_free(M.base);
	tip_sched_plan_free(&M.plan);
	if (M.st)
		tip_store_close(M.st);
	if (M.cfg_owned)
		tip_config_free(&M.cfg_own);
	free(M.store_url);
	if (pidfd >= 0) {
		if (rc == 0)
			unlink(cfg->daemon.pidfile);
		close(pidfd);
	}
	if (report_fd == -2)
		_exit(1);
	return rc;
}
