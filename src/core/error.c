/* error.c — tip_error: a code and a message a user can act on. */
#include <stdio.h>
#include <string.h>

#include "core.h"

int tip_error_set(struct tip_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		err->code = code;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

void tip_error_prefix(struct tip_error *err, const char *fmt, ...)
{
	char pre[256], old[sizeof(err->msg)];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", pre, old);
}

void tip_error_clear(struct tip_error *err)
{
	if (err) {
		err->code = 0;
		err->msg[0] = '\0';
	}
}

const char *tip_strerror(int code)
{
	switch (code) {
	case TIP_OK: return "ok";
	case TIP_EINVAL: return "invalid input";
	case TIP_ENOMEM: return "out of memory";
	case TIP_EIO: return "I/O error";
	case TIP_ESTORE: return "store error";
	case TIP_ENOTFOUND: return "not found";
	case TIP_EEXIST: return "already exists";
	case TIP_ETIMEOUT: return "timed out";
	case TIP_EUSAGE: return "usage error";
	case TIP_ELIMIT: return "limit reached";
	}
	return "unknown error";
}
