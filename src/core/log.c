/* log.c — after OpenBSD's log.c: a role prefix, stderr or syslog, printf-checked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "core.h"

/* Per process: each child sets its role once after fork. */
static struct {
	char role[32];
	bool syslog;
	enum tip_log_level level;
} log_state = { "tip", false, TIP_LOG_INFO };

void tip_log_init(const char *role, bool use_syslog, enum tip_log_level level)
{
	tip_strlcpy(log_state.role, role, sizeof(log_state.role));
	log_state.level = level;
	if (log_state.syslog && !use_syslog)
		closelog();
	log_state.syslog = use_syslog;
	if (use_syslog)
		openlog("tip", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void tip_log_set_role(const char *role)
{
	tip_strlcpy(log_state.role, role, sizeof(log_state.role));
}

int tip_log_level_parse(const char *s, enum tip_log_level *out)
{
	static const char *names[] = { "err", "warn", "info", "debug" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum tip_log_level)i;
			return 0;
		}
	return TIP_EINVAL;
}

static void log_str(enum tip_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void tip_vlog(enum tip_log_level level, const char *fmt, va_list ap)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char msg[2048];
	int saved = errno;

	if (level > log_state.level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_state.syslog) {
		syslog(prio[level], "%s: %s", log_state.role, msg);
	} else {
		char ts[TIP_TIME_BUFLEN];
		fprintf(stderr, "%s tip[%ld] %s: %s\n", tip_time_format(tip_now(), ts, sizeof(ts)),
			(long)getpid(), log_state.role, msg);
	}
	errno = saved;
}

/* "message: strerror(errno)", with errno read before anything can change it. */
static void log_str(enum tip_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tip_vlog(level, fmt, ap);
	va_end(ap);
}

static void log_errno(enum tip_log_level level, const char *fmt, va_list ap)
{
	char buf[1536];
	const char *why = strerror(errno);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_str(level, "%s: %s", buf, why);
}

void tip_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_errno(TIP_LOG_WARN, fmt, ap);
	va_end(ap);
}

#define LOGFN(name, lvl)                       \
	void name(const char *fmt, ...)        \
	{                                      \
		va_list ap;                    \
		va_start(ap, fmt);             \
		tip_vlog(lvl, fmt, ap);        \
		va_end(ap);                    \
	}
LOGFN(tip_warnx, TIP_LOG_WARN)
LOGFN(tip_info, TIP_LOG_INFO)
LOGFN(tip_debug, TIP_LOG_DEBUG)

void tip_fatal(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_errno(TIP_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}

void tip_fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tip_vlog(TIP_LOG_ERR, fmt, ap);
	va_end(ap);
	exit(1);
}
