/* time.c — microsecond timestamps, RFC 3339 in and out, durations. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

static tip_time_t clock_us(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (tip_time_t)ts.tv_sec * TIP_SEC + ts.tv_nsec / 1000;
}

tip_time_t tip_now(void)
{
	return clock_us(CLOCK_REALTIME);
}

tip_time_t tip_monotonic(void)
{
	return clock_us(CLOCK_MONOTONIC);
}

double tip_thread_cpu(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

char *tip_time_format(tip_time_t t, char *buf, size_t len)
{
	time_t s = (time_t)(t / TIP_SEC);
	struct tm tm;
	if (t < 0 && t % TIP_SEC)
		s--;
	if (!gmtime_r(&s, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "invalid");
	return buf;
}

int tip_time_parse(const char *s, tip_time_t *out)
{
	struct tm tm;
	const char *p;
	long usec = 0;
	int off = 0;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p)
		return TIP_EINVAL;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p = strptime(p + 1, "%H:%M:%S", &tm);
		if (!p)
			return TIP_EINVAL;
		if (*p == '.') {
			long scale = 100000;
			p++;
			if (!isdigit((unsigned char)*p))
				return TIP_EINVAL;
			for (; isdigit((unsigned char)*p); p++, scale /= 10)
				usec += (*p - '0') * scale;
		}
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int hh, mm;
			/* exactly "+HH:MM": the p += 6 below must not step over the string's end */
			if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) ||
			    p[3] != ':' || !isdigit((unsigned char)p[4]) ||
			    !isdigit((unsigned char)p[5]))
				return TIP_EINVAL;
			if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
				return TIP_EINVAL;
			off = (hh * 60 + mm) * 60 * (*p == '-' ? -1 : 1);
			p += 6;
		}
	}
	if (*p != '\0')
		return TIP_EINVAL;
	/* strptime takes any day 1..31 for any month; timegm would roll 02-30 into March */
	{
		static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
		int y = tm.tm_year + 1900;
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		if (tm.tm_mon < 0 || tm.tm_mon > 11 ||
		    tm.tm_mday > mdays[tm.tm_mon] + (tm.tm_mon == 1 && leap))
			return TIP_EINVAL;
	}
	*out = ((tip_time_t)timegm(&tm) - off) * TIP_SEC + usec;
	return 0;
}

int tip_duration_parse(const char *s, tip_time_t *out)
{
	char *end;
	long long v;
	tip_time_t unit = TIP_SEC;

	if (!s || !isdigit((unsigned char)*s))
		return TIP_EINVAL;
	v = strtoll(s, &end, 10);
	if (strcmp(end, "") == 0 || strcmp(end, "s") == 0)
		unit = TIP_SEC;
	else if (strcmp(end, "ms") == 0)
		unit = TIP_MSEC;
	else if (strcmp(end, "m") == 0)
		unit = 60 * TIP_SEC;
	else if (strcmp(end, "h") == 0)
		unit = 3600 * TIP_SEC;
	else if (strcmp(end, "d") == 0)
		unit = 86400 * TIP_SEC;
	else
		return TIP_EINVAL;
	if (v < 0 || v > INT64_MAX / unit)
		return TIP_EINVAL;
	*out = v * unit;
	return 0;
}
