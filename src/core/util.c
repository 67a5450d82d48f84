/* util.c — allocation that aborts on OOM (for small bounded data), strings, numbers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core.h"

static void oom(size_t n)
{
	fprintf(stderr, "tip: out of memory (%zu bytes)\n", n);
	abort();
}

void *tip_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *tip_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		oom(n * m);
	return p;
}

void *tip_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *tip_xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom(strlen(s));
	return p;
}

bool tip_strlcpy(char *dst, const char *src, size_t len)
{
	size_t n = strlen(src);
	if (len == 0)
		return false;
	if (n >= len) {
		memcpy(dst, src, len - 1);
		dst[len - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

int tip_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	/* strtoll would take leading blanks and '+': a config value is digits, optionally '-' */
	if (!s || !(isdigit((unsigned char)s[0]) || (s[0] == '-' && isdigit((unsigned char)s[1]))))
		return TIP_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return TIP_EINVAL;
	*out = v;
	return 0;
}

int tip_parse_bool(const char *s, bool *out)
{
	if (!strcasecmp(s, "yes") || !strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcmp(s, "1"))
		*out = true;
	else if (!strcasecmp(s, "no") || !strcasecmp(s, "false") || !strcasecmp(s, "off") ||
		 !strcmp(s, "0"))
		*out = false;
	else
		return TIP_EINVAL;
	return 0;
}

void tip_strv_push(struct tip_strv *sv, const char *s)
{
	if (sv->n == sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 8;
		sv->v = tip_xrealloc(sv->v, sv->cap * sizeof(*sv->v));
	}
	sv->v[sv->n++] = tip_xstrdup(s);
}

FILE *tip_tmpfile(const char *what, struct tip_error *err)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	FILE *f;
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	if ((size_t)snprintf(path, sizeof(path), "%s/tip-%s.XXXXXX", dir, what) >= sizeof(path)) {
		tip_error_set(err, TIP_EINVAL, "%s: the temporary directory's name is too long", what);
		return NULL;
	}
	if ((fd = mkstemp(path)) < 0) {
		tip_error_set(err, TIP_EIO, "%s: cannot create a temporary file in %s: %s", what, dir,
			      strerror(errno));
		return NULL;
	}
	unlink(path);
	if (!(f = fdopen(fd, "w+"))) {
		int e = errno;
		close(fd);
		tip_error_set(err, TIP_EIO, "%s: temporary file: %s", what, strerror(e));
		return NULL;
	}
	return f;
}

void tip_strv_free(struct tip_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}
