/*
 * child.c — one generic child runner for every module run (after httpd's proc.c and Redis's
 * redisFork): the master and tip_sched_run_once both come through sched_sup_start.
 *
 * The child does the same steps in the same order for every module: die with the parent
 * (PR_SET_PDEATHSIG), default signal dispositions, only its socket to the parent kept open,
 * its role for logging, the rlimits, SIGTERM/SIGINT → ctx->cancel, wait for the parent's "go"
 * (the run's id, so the run is recorded before it starts), its own store connection,
 * module->run(ctx), the result (items, error text) to the parent, _exit with the status.
 *
 * The parent learns how the run ended from two places: the child's message (what the module
 * said) and waitpid's status (how the process ended). sched_cause turns the two, with what the
 * supervisor did to the child (timeout, stop), into one cause: ok, failed, crashed, timeout,
 * killed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "sched_int.h"

/* ---------------------------------------------------------------------------------------- */
/* In the child */

static volatile sig_atomic_t child_cancel;

static void on_cancel(int sig)
{
	(void)sig;
	child_cancel = 1;
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static bool read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static void set_limit(int res, long long v, const char *what)
{
	struct rlimit rl;
	if (v <= 0)
		return;
	rl.rlim_cur = (rlim_t)v;
	rl.rlim_max = (rlim_t)v;
	if (res == RLIMIT_CPU)
		rl.rlim_max = (rlim_t)v + 1; /* SIGXCPU first, SIGKILL a second later */
	if (setrlimit(res, &rl) < 0)
		tip_warn("setrlimit %s %lld", what, v);
}

/* The parent's event loop, signal pipe, syslog socket and its other children's sockets are
 * not the child's: every descriptor that is not a regular file goes, but stdio and the socket
 * to the parent. Regular files stay open on purpose: they are the parent's SQLite connection.
 * SQLite keeps one table per process of the files it has open (with their lock state and the
 * WAL-index mapping), and the child inherits it; the child's own new connection to the same
 * file finds and shares those entries, descriptors included. Closing them under SQLite made
 * the child's connection spin on locks it could not take. Keeping them is safe because the
 * parent keeps its connection open (and so its hold on the WAL index) for as long as the child
 * runs, and never has a transaction open at fork time (it is single-threaded and its writes
 * are synchronous). */
static void close_inherited(int keep)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	if (!d) {
		/* no /proc: the loop and pipes stay open; nothing breaks, the child exits anyway */
		return;
	}
	while ((de = readdir(d))) {
		struct stat sb;
		int fd = atoi(de->d_name);
		if (fd <= 2 || fd == keep || fd == dirfd(d) || de->d_name[0] == '.')
			continue;
		if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode))
			continue;
		close(fd);
	}
	closedir(d);
}

static void __attribute__((noreturn))
child_main(const struct tip_config *cfg, const struct tip_module *m, int fd, pid_t parent,
	   char **args, int n_args)
{
	struct tip_module_ctx ctx;
	struct sched_go go;
	struct sched_msg msg;
	struct sigaction sa;
	sigset_t all;
	enum tip_log_level lvl = TIP_LOG_INFO;
	bool use_syslog = cfg->daemon.log && !strcmp(cfg->daemon.log, "syslog");
	int rc;

	/* an orphan exits: the parent's death kills us; if it died before prctl, go now */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(126);

	/* nothing of the parent's signal handling (libevent's) survives; the fault signals are
	 * left alone, so that a sanitizer build still reports a module's crash */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	{
		static const int reset[] = { SIGCHLD, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };
		for (size_t i = 0; i < sizeof(reset) / sizeof(reset[0]); i++)
			sigaction(reset[i], &sa, NULL);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_cancel;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	closelog();
	close_inherited(fd);

	tip_log_level_parse(cfg->daemon.log_level, &lvl);
	tip_log_init(m->name, use_syslog, lvl);

	set_limit(RLIMIT_AS, cfg->daemon.rlimit_as_mb * 1024 * 1024, "as");
	set_limit(RLIMIT_NOFILE, cfg->daemon.rlimit_nofile, "nofile");
	set_limit(RLIMIT_CPU, cfg->daemon.rlimit_cpu_s, "cpu");

	if (!read_all(fd, &go, sizeof(go)))
		_exit(124); /* the parent went away before the run started */

	memset(&ctx, 0, sizeof(ctx));
	memset(&msg, 0, sizeof(msg));
	ctx.cfg = cfg;
	ctx.run_id = go.run_id;
	ctx.started = go.started;
	ctx.cancel = &child_cancel;
	ctx.args = args;
	ctx.n_args = n_args;
	rc = tip_store_open(cfg->store.url, 0, &ctx.store, &ctx.err);
	if (rc == 0) {
		rc = m->run(&ctx);
		if (rc < 0 && !ctx.err.msg[0])
			tip_error_set(&ctx.err, rc, "%s", tip_strerror(rc));
		tip_store_close(ctx.store);
	}
	msg.items = ctx.items;
	msg.rc = rc;
	msg.cancelled = child_cancel != 0;
	if (rc < 0)
		tip_strlcpy(msg.error, ctx.err.msg, sizeof(msg.error));
	if (!write_all(fd, &msg, sizeof(msg)))
		_exit(123); /* the parent is gone: nobody to tell */
	_exit(rc < 0 ? 1 : 0);
}

/* ---------------------------------------------------------------------------------------- */
/* In the parent */

static void child_free(struct sched_child *c)
{
	if (c->timer)
		event_free(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void child_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sched_child *c = arg;
	struct timeval tv;
	long long grace = c->sup->cfg->daemon.grace_ms;
	(void)fd;
	(void)what;

	if (c->timed_out || c->stopped) {
		/* the grace period is over */
		if (!c->kill_sent) {
			tip_warnx("module %s: pid %ld did not end %lldms after SIGTERM: SIGKILL",
				  c->m->name, (long)c->pid, grace);
			kill(c->pid, SIGKILL);
			c->kill_sent = true;
		}
		return;
	}
	c->timed_out = true;
	tip_warnx("module %s: pid %ld still running after its timeout of %lldms: SIGTERM",
		  c->m->name, (long)c->pid, (long long)(c->timeout / TIP_MSEC));
	kill(c->pid, SIGTERM);
	tv.tv_sec = grace / 1000;
	tv.tv_usec = (grace % 1000) * 1000;
	evtimer_add(c->timer, &tv);
}

static struct tip_store *sup_store(struct sched_sup *s)
{
	struct tip_error err = { 0 };
	if (!s->st && s->store_url && tip_store_open(s->store_url, 0, &s->st, &err) < 0) {
		tip_warnx("runs cannot be recorded: %s", err.msg);
		s->st = NULL;
	}
	return s->st;
}

static void sup_store_close(struct sched_sup *s)
{
	if (s->st)
		tip_store_close(s->st);
	s->st = NULL;
}

int sched_sup_start(struct sched_sup *s, const struct tip_module *m, tip_time_t timeout,
		    char **args, int n_args, void *tag, struct sched_child **out,
		    struct tip_error *err)
{
	struct sched_child *c;
	struct sched_go go;
	struct tip_error serr = { 0 };
	int sv[2];
	pid_t pid, self = getpid();

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return tip_error_set(err, TIP_EIO, "module %s: socketpair: %s", m->name,
				     strerror(errno));
	fflush(NULL); /* nothing buffered is written twice */
	/* the recording connection is open before the fork and stays open while the child runs
	 * (see close_inherited) */
	sup_store(s);
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return tip_error_set(err, TIP_EIO, "module %s: fork: %s", m->name, strerror(e));
	}
	if (pid == 0)
		child_main(s->cfg, m, sv[1], self, args, n_args);
	close(sv[1]);

	c = tip_xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->fd = sv[0];
	c->m = m;
	c->tag = tag;
	c->sup = s;
	c->timeout = timeout;
	c->started = tip_now();
	c->next = s->children;
	s->children = c;
	s->n_children++;
	if (sup_store(s) && tip_store_run_start(s->st, m->name, pid, c->started, &c->run_id, &serr) < 0)
		tip_warnx("module %s: the run could not be recorded: %s", m->name, serr.msg);
	c->timer = evtimer_new(s->base, child_timer, c);
	if (timeout > 0) {
		struct timeval tv = { .tv_sec = timeout / TIP_SEC, .tv_usec = timeout % TIP_SEC };
		evtimer_add(c->timer, &tv);
	}
	go.run_id = c->run_id;
	go.started = c->started;
	/* a child that died already shows up at reaping; nothing to do here */
	if (!write_all(c->fd, &go, sizeof(go)))
		tip_debug("module %s: pid %ld gone before its start", m->name, (long)pid);
	tip_debug("module %s: started pid %ld (run %lld)", m->name, (long)pid, (long long)c->run_id);
	if (out)
		*out = c;
	return 0;
}

static void drain(struct sched_child *c)
{
	while (c->fd >= 0 && c->got < sizeof(c->msg)) {
		ssize_t n = recv(c->fd, (char *)&c->msg + c->got, sizeof(c->msg) - c->got,
				 MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		c->got += (size_t)n;
	}
}

/* waitpid's status + what the module said + what we did → one cause */
static void sched_cause(const struct sched_child *c, int wstatus, struct tip_sched_result *r)
{
	bool have_msg = c->got == sizeof(c->msg);

	memset(r, 0, sizeof(*r));
	r->pid = c->pid;
	r->run_id = c->run_id;
	r->started = c->started;
	r->ended = tip_now();
	r->exit_code = -1;
	if (have_msg) {
		r->items = c->msg.items;
		if (c->msg.rc < 0)
			snprintf(r->error, sizeof(r->error), "%.*s", (int)sizeof(c->msg.error) - 1,
				 c->msg.error);
	}
	if (WIFEXITED(wstatus)) {
		r->exit_code = WEXITSTATUS(wstatus);
		if (c->timed_out) {
			r->status = TIP_RUN_TIMEOUT;
			snprintf(r->error, sizeof(r->error),
				 "timed out after %lldms; ended on SIGTERM (exit %d)",
				 (long long)(c->timeout / TIP_MSEC), r->exit_code);
		} else if (c->stopped && !(r->exit_code == 0 && have_msg && c->msg.rc == 0 &&
					   !c->msg.cancelled)) {
			/* asked to stop, and it did (a pass that finished anyway is ok) */
			r->status = TIP_RUN_KILLED;
			if (!r->error[0] && have_msg && c->msg.cancelled)
				snprintf(r->error, sizeof(r->error),
					 "stopped before the pass ended; %lld items kept",
					 (long long)c->msg.items);
			else if (!r->error[0])
				snprintf(r->error, sizeof(r->error), "stopped by the master (exit %d)",
					 r->exit_code);
		} else if (r->exit_code == 0 && have_msg && c->msg.rc == 0 && c->msg.cancelled) {
			r->status = TIP_RUN_CANCELLED;
			snprintf(r->error, sizeof(r->error),
				 "interrupted by a signal; partial pass, %lld items kept",
				 (long long)c->msg.items);
		} else if (r->exit_code == 0 && have_msg && c->msg.rc == 0) {
			r->status = TIP_RUN_OK;
		} else {
			r->status = TIP_RUN_FAILED;
			if (!r->error[0])
				snprintf(r->error, sizeof(r->error), "exit %d%s", r->exit_code,
					 have_msg ? "" : " without a result");
		}
	} else if (WIFSIGNALED(wstatus)) {
		int sig = WTERMSIG(wstatus);
		r->signal = sig;
		if (c->timed_out) {
			r->status = TIP_RUN_TIMEOUT;
			snprintf(r->error, sizeof(r->error), "timed out after %lldms; ended by signal %d (%s)",
				 (long long)(c->timeout / TIP_MSEC), sig, strsignal(sig));
		} else if (c->stopped && (sig == SIGTERM || sig == SIGKILL)) {
			r->status = TIP_RUN_KILLED;
			snprintf(r->error, sizeof(r->error), "stopped by the master; signal %d (%s)", sig,
				 strsignal(sig));
		} else {
			r->status = TIP_RUN_CRASHED;
			snprintf(r->error, sizeof(r->error), "terminated; signal %d (%s)%s", sig,
				 strsignal(sig),
				 sig == SIGXCPU ? ": CPU limit ([daemon] rlimit_cpu_s)" :
				 sig == SIGKILL ? ": killed from outside (out of memory?)" : "");
		}
	} else {
		r->status = TIP_RUN_CRASHED;
		snprintf(r->error, sizeof(r->error), "ended with wait status %#x", wstatus);
	}
}

static struct sched_child **find(struct sched_sup *s, pid_t pid)
{
	for (struct sched_child **pp = &s->children; *pp; pp = &(*pp)->next)
		if ((*pp)->pid == pid)
			return pp;
	return NULL;
}

static void ended(struct sched_sup *s, struct sched_child **pp, int wstatus)
{
	struct sched_child *c = *pp;
	struct tip_sched_result r;
	struct tip_error err = { 0 };

	*pp = c->next;
	s->n_children--;
	drain(c);
	sched_cause(c, wstatus, &r);
	if (c->run_id && sup_store(s) &&
	    tip_store_run_end(s->st, c->run_id, r.ended, r.status, r.exit_code, r.signal, r.items,
			      r.error[0] ? r.error : NULL, &err) < 0)
		tip_warnx("module %s: the end of run %lld could not be recorded: %s", c->m->name,
			  (long long)c->run_id, err.msg);
	/* the run table only grows; its pages need not stay cached in a process that lives for
	 * months and only ever appends */
	if (s->st)
		tip_store_release_memory(s->st);
	if (!strcmp(r.status, TIP_RUN_OK))
		tip_info("module %s: ok, %lld items in %lldms (pid %ld)", c->m->name,
			 (long long)r.items, (long long)((r.ended - r.started) / TIP_MSEC),
			 (long)c->pid);
	else
		tip_warnx("module %s: %s after %lldms (pid %ld): %s", c->m->name, r.status,
			  (long long)((r.ended - r.started) / TIP_MSEC), (long)c->pid, r.error);
	if (s->on_end)
		s->on_end(s->arg, c, &r);
	child_free(c);
}

void sched_sup_reap(struct sched_sup *s)
{
	int wstatus;
	pid_t pid;

	if (!s->reap_any) {
		/* only our own children: the caller (a CLI command) may have others */
		struct sched_child **pp = &s->children;
		while (*pp) {
			pid = waitpid((*pp)->pid, &wstatus, WNOHANG);
			if (pid == (*pp)->pid)
				ended(s, pp, wstatus);
			else
				pp = &(*pp)->next;
		}
		return;
	}
	for (;;) {
		struct sched_child **pp;
		pid = waitpid(-1, &wstatus, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			break;
		if (!(pp = find(s, pid))) {
			tip_warnx("reaped pid %ld, which is no child of ours", (long)pid);
			continue;
		}
		ended(s, pp, wstatus);
	}
}

void sched_sup_stop_all(struct sched_sup *s)
{
	long long grace = s->cfg->daemon.grace_ms;
	for (struct sched_child *c = s->children; c; c = c->next) {
		struct timeval tv = { .tv_sec = grace / 1000, .tv_usec = (grace % 1000) * 1000 };
		if (c->stopped) {
			if (!c->kill_sent)
				kill(c->pid, SIGKILL);
			c->kill_sent = true;
			continue;
		}
		c->stopped = true;
		kill(c->pid, SIGTERM);
		evtimer_del(c->timer);
		evtimer_add(c->timer, &tv);
	}
}

void sched_sup_free(struct sched_sup *s)
{
	sup_store_close(s);
	while (s->children) {
		struct sched_child *c = s->children;
		s->children = c->next;
		child_free(c);
	}
	s->n_children = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* One run by hand, through the same path */

struct once {
	struct sched_sup sup;
	struct tip_sched_result *res;
	bool done;
};

static void once_end(void *arg, struct sched_child *c, const struct tip_sched_result *r)
{
	struct once *o = arg;
	(void)c;
	*o->res = *r;
	o->done = true;
	event_base_loopbreak(o->sup.base);
}

static void once_sig(evutil_socket_t sig, short what, void *arg)
{
	struct once *o = arg;
	(void)what;
	if (sig == SIGCHLD)
		sched_sup_reap(&o->sup);
	else
		sched_sup_stop_all(&o->sup);
}

int tip_sched_run_once(const struct tip_config *cfg, const struct tip_module *m, char **args,
		       int n_args, struct tip_sched_result *res, struct tip_error *err)
{
	static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM };
	struct event *ev[3] = { NULL };
	struct tip_sched_modcfg mc;
	struct once o;
	struct sigaction sa_pipe, old_pipe;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(res, 0, sizeof(*res));
	o.res = res;
	if ((rc = tip_sched_modcfg(cfg, m, &mc, err)) < 0)
		return rc;
	if (m->check_config && (rc = m->check_config(cfg, err)) < 0)
		return rc;
	/* the store must exist and be current before a child is forked to use it */
	if ((rc = tip_store_open(cfg->store.url, 0, &o.sup.st, err)) < 0)
		return rc;
	tip_store_close(o.sup.st);
	o.sup.st = NULL;
	o.sup.store_url = cfg->store.url;
	if (!(o.sup.base = event_base_new())) {
		return tip_error_set(err, TIP_ENOMEM, "cannot create an event loop");
	}
	memset(&sa_pipe, 0, sizeof(sa_pipe));
	sa_pipe.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa_pipe, &old_pipe);
	o.sup.cfg = cfg;
	o.sup.on_end = once_end;
	o.sup.arg = &o;
	for (int i = 0; i < 3; i++) {
		ev[i] = evsignal_new(o.sup.base, sigs[i], once_sig, &o);
		evsignal_add(ev[i], NULL);
	}
	rc = sched_sup_start(&o.sup, m, mc.timeout, args, n_args, NULL, NULL, err);
	if (rc == 0) {
		/* a child that ended before the SIGCHLD event was set up is reaped here */
		sched_sup_reap(&o.sup);
		while (!o.done && event_base_loop(o.sup.base, EVLOOP_ONCE) >= 0)
			if (!o.done)
				sched_sup_reap(&o.sup);
	}
	for (int i = 0; i < 3; i++)
		if (ev[i])
			event_free(ev[i]);
	sched_sup_free(&o.sup);
	event_base_free(o.sup.base);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return rc;
}
