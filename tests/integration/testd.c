/*
 * testd.c — tip-testd: the real `tip` command line (run, status, run --once, init…) with a
 * module table of misbehaving test modules instead of TIP's real ones. The daemon tests
 * (tests/integration/daemon_*.sh) start it and watch the master survive them.
 *
 * Each module does one thing badly (or well), so that a run's recorded status says which
 * path of the supervisor it went through. Modules that must die use _exit or a signal, never
 * exit(), so that a sanitizer build's atexit leak check does not run in the child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "module/module.h"

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* sleeps ms, returning early when the master asks (SIGTERM → *cancel) */
static bool nap(struct tip_module_ctx *ctx, long ms)
{
	for (long i = 0; i < ms / 5; i++) {
		if (*ctx->cancel)
			return false;
		sleep_ms(5);
	}
	return !*ctx->cancel;
}

static int run_quick(struct tip_module_ctx *ctx)
{
	tip_debug("a quick run"); /* daemon_lifecycle.sh: tip -v reaches the children */
	ctx->items = 1;
	return 0;
}

/* items = how many arguments it was given (tip run --once echo a b c) */
static int run_echo(struct tip_module_ctx *ctx)
{
	ctx->items = ctx->n_args;
	for (int i = 0; i < ctx->n_args; i++)
		if (!strcmp(ctx->args[i], "fail"))
			return tip_error_set(&ctx->err, TIP_EINVAL, "asked to fail by argument %d", i + 1);
	return 0;
}

static int run_segv(struct tip_module_ctx *ctx)
{
	(void)ctx;
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	return 0;
}

/* ignores SIGTERM's cancel: only SIGKILL ends it */
static int run_hang(struct tip_module_ctx *ctx)
{
	(void)ctx;
	for (;;)
		pause();
	return 0;
}

/* 4 MiB a run, touched and never freed: the child's exit frees it, not the module */
static int run_leak(struct tip_module_ctx *ctx)
{
	size_t n = 4u << 20;
	char *p = malloc(n);
	if (!p)
		return tip_error_set(&ctx->err, TIP_ENOMEM, "malloc failed");
	memset(p, 0xa5, n);
	ctx->items = (int64_t)n;
	__asm__ volatile("" : : "r"(p) : "memory"); /* keep it, unfreed */
	return 0;
}

/* opens 64 descriptors and never closes them */
static int run_fdleak(struct tip_module_ctx *ctx)
{
	for (int i = 0; i < 64; i++) {
		if (open("/dev/null", O_RDONLY) < 0)
			return tip_error_set(&ctx->err, TIP_ELIMIT, "open #%d: %s", i + 1,
					     strerror(errno));
		ctx->items++;
	}
	return 0;
}

static int run_exit3(struct tip_module_ctx *ctx)
{
	(void)ctx;
	_exit(3);
}

static int run_fail(struct tip_module_ctx *ctx)
{
	return tip_error_set(&ctx->err, TIP_EIO, "source unreachable (test module)");
}

/* takes 250 ms, longer than its interval in the tests; stops early when cancelled */
static int run_overrun(struct tip_module_ctx *ctx)
{
	if (!nap(ctx, 250))
		return tip_error_set(&ctx->err, TIP_ETIMEOUT, "cancelled");
	ctx->items = 1;
	return 0;
}

/* allocates 1 MiB blocks until refused: shows [daemon] rlimit_as_mb */
static int run_hog(struct tip_module_ctx *ctx)
{
	for (int i = 0; i < 1 << 16; i++) {
		char *p = malloc(1 << 20);
		if (!p)
			return tip_error_set(&ctx->err, TIP_ENOMEM, "out of memory after %d MiB", i);
		memset(p, 1, 1 << 20);
		ctx->items = i + 1;
	}
	return 0;
}

/* burns CPU until killed: shows [daemon] rlimit_cpu_s */
static int run_spin(struct tip_module_ctx *ctx)
{
	volatile uint64_t x = 0;
	(void)ctx;
	for (;;)
		x++;
	return 0;
}

/* a service that crashes 200 ms after it starts */
static int run_crashsvc(struct tip_module_ctx *ctx)
{
	nap(ctx, 200);
	if (*ctx->cancel)
		return 0;
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
	return 0;
}

#define PASS(n, fn) { .name = n, .kind = TIP_MODULE_PASS, .default_interval_s = 3600, .run = fn }
static const struct tip_module m_quick = PASS("quick", run_quick);
static const struct tip_module m_quick2 = PASS("quick2", run_quick);
static const struct tip_module m_echo = PASS("echo", run_echo);
static const struct tip_module m_segv = PASS("segv", run_segv);
static const struct tip_module m_hang = PASS("hang", run_hang);
static const struct tip_module m_leak = PASS("leak", run_leak);
static const struct tip_module m_fdleak = PASS("fdleak", run_fdleak);
static const struct tip_module m_exit3 = PASS("exit3", run_exit3);
static const struct tip_module m_fail = PASS("fail", run_fail);
static const struct tip_module m_overrun = PASS("overrun", run_overrun);
static const struct tip_module m_hog = PASS("hog", run_hog);
static const struct tip_module m_spin = PASS("spin", run_spin);
/* "second" runs only after a "first" run finished, as flux-classify after flux-resolve */
static const struct tip_module m_first = PASS("first", run_quick);
static const struct tip_module m_second = { .name = "second", .kind = TIP_MODULE_PASS,
					    .default_interval_s = 3600, .after = "first",
					    .run = run_quick };
static const struct tip_module m_crashsvc = { .name = "crashsvc", .kind = TIP_MODULE_SERVICE,
					      .default_interval_s = 60, .run = run_crashsvc };

static const struct tip_module *const test_modules[] = {
	&m_quick, &m_quick2, &m_echo, &m_segv, &m_hang, &m_leak, &m_fdleak, &m_exit3, &m_fail,
	&m_overrun, &m_hog, &m_spin, &m_first, &m_second, &m_crashsvc, NULL,
};

static const struct tip_module *const no_modules[] = { NULL };

/* TIP_TESTD_NO_MODULES=1: an empty table, to show the master idling with nothing to run */
int main(int argc, char **argv)
{
	const char *none = getenv("TIP_TESTD_NO_MODULES");
	return tip_cli_main_modules(argc, argv, none && *none == '1' ? no_modules : test_modules);
}
