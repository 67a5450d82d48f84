/*
 * fetch.c — one feed fetched with libcurl into an unlinked temporary file.
 *
 * The body is spooled, not parsed while it arrives, so that the store's write transaction is
 * held only while parsing (never during a slow download) and so that a fetch that fails half
 * way (timeout, truncation, oversize) has touched nothing. Memory stays at curl's buffer; the
 * disk use is bounded by max_size.
 *
 * Safety: TLS verification on (curl's default, set explicitly; there is no way to turn it off),
 * against the system's CA store or, with ca_file, against that file only; http/https/file only, a
 * redirect only to http or https and at most max_redirects of them, connect and total
 * timeouts, a size cap on the decoded body, gzip/deflate accepted.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feeds.h"

struct sink {
	FILE *f;
	int64_t size, max;
	bool too_big, write_failed;
	volatile sig_atomic_t *cancel;
	char *etag, *last_modified;
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	if (s->size + (int64_t)len > s->max) {
		s->too_big = true;
		return 0; /* abort the transfer */
	}
	if (fwrite(data, 1, len, s->f) != len) {
		s->write_failed = true;
		return 0;
	}
	s->size += (int64_t)len;
	return len;
}

static char *header_value(const char *h, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *v, *end = h + len;
	if (len <= nl || strncasecmp(h, name, nl) || h[nl] != ':')
		return NULL;
	v = h + nl + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (end == v || end - v > 1024)
		return NULL;
	{
		char *out = tip_xmalloc((size_t)(end - v) + 1);
		memcpy(out, v, (size_t)(end - v));
		out[end - v] = '\0';
		return out;
	}
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	char *v;
	/* a new response (after a redirect) starts with its status line: forget the old one's */
	if (len > 5 && !strncmp(data, "HTTP/", 5)) {
		free(s->etag);
		free(s->last_modified);
		s->etag = s->last_modified = NULL;
	}
	if ((v = header_value(data, len, "ETag"))) {
		free(s->etag);
		s->etag = v;
	} else if ((v = header_value(data, len, "Last-Modified"))) {
		free(s->last_modified);
		s->last_modified = v;
	}
	return len;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct sink *s = arg;
	(void)dt, (void)dn, (void)ut, (void)un;
	return s->cancel && *s->cancel ? 1 : 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

int tip_feed_fetch(const struct tip_feed_def *def, struct tip_feed_fetch *f, struct tip_error *err)
{
	struct sink s = { .max = def->max_size, .cancel = f->cancel };
	struct curl_slist *hdrs = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c;
	CURLcode cc;
	long status = 0;
	int rc = 0;
	bool is_file = !strncasecmp(def->url, "file://", 7);

	f->status = 0;
	f->not_modified = false;
	f->body = NULL;
	f->size = 0;
	f->new_etag = f->new_last_modified = NULL;

	pthread_once(&curl_once, curl_init);
	if (!(s.f = tip_tmpfile("spool", err)))
		return err->code;
	if (!(c = curl_easy_init())) {
		fclose(s.f);
		return tip_error_set(err, TIP_ENOMEM, "curl_easy_init failed");
	}
	curl_easy_setopt(c, CURLOPT_URL, def->url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, def->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, (long)def->max_redirects);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (def->ca_file) { /* instead of the system's store: no CA path either */
		curl_easy_setopt(c, CURLOPT_CAINFO, def->ca_file);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)def->connect_timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)def->timeout_s);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl decodes */
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tip/" TIP_VERSION);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)def->max_size);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_FAILONERROR, 0L);
	if (!is_file) {
		char h[1200];
		if (f->etag && *f->etag && strlen(f->etag) < 1024) {
			snprintf(h, sizeof(h), "If-None-Match: %s", f->etag);
			hdrs = curl_slist_append(hdrs, h);
		}
		if (f->last_modified && *f->last_modified && strlen(f->last_modified) < 1024) {
			snprintf(h, sizeof(h), "If-Modified-Since: %s", f->last_modified);
			hdrs = curl_slist_append(hdrs, h);
		}
		if (hdrs)
			curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	}

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	f->status = status;
	if (s.too_big || cc == CURLE_FILESIZE_EXCEEDED)
		rc = tip_error_set(err, TIP_ELIMIT, "%s: the body is larger than max_size (%lld bytes)",
				   def->url, (long long)def->max_size);
	else if (s.write_failed)
		rc = tip_error_set(err, TIP_EIO, "%s: cannot write the spool file: %s", def->url,
				   strerror(errno));
	else if (cc == CURLE_ABORTED_BY_CALLBACK)
		rc = tip_error_set(err, TIP_ETIMEOUT, "%s: cancelled", def->url);
	else if (cc == CURLE_OPERATION_TIMEDOUT)
		rc = tip_error_set(err, TIP_ETIMEOUT, "%s: timed out: %s", def->url,
				   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (cc == CURLE_UNSUPPORTED_PROTOCOL && status >= 300 && status < 400)
		rc = tip_error_set(err, TIP_EIO,
				   "%s: redirect refused (only to http or https): %s", def->url,
				   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (cc == CURLE_TOO_MANY_REDIRECTS)
		rc = tip_error_set(err, TIP_EIO, "%s: more than %lld redirects", def->url,
				   (long long)def->max_redirects);
	else if (cc == CURLE_PEER_FAILED_VERIFICATION)
		rc = tip_error_set(err, TIP_EIO, "%s: TLS verification failed: %s%s", def->url,
				   errbuf[0] ? errbuf : curl_easy_strerror(cc),
				   def->ca_file ? "" : " (a private CA is trusted with ca_file)");
	else if (cc != CURLE_OK)
		rc = tip_error_set(err, TIP_EIO, "%s: %s", def->url,
				   errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (!is_file && status == 304)
		f->not_modified = true;
	else if (!is_file && status != 200)
		rc = tip_error_set(err, TIP_EIO, "%s: HTTP status %ld", def->url, status);

	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (rc < 0 || f->not_modified) {
		fclose(s.f);
		free(s.etag);
		free(s.last_modified);
		return rc;
	}
	if (fflush(s.f) != 0 || fseek(s.f, 0, SEEK_SET) != 0) {
		fclose(s.f);
		free(s.etag);
		free(s.last_modified);
		return tip_error_set(err, TIP_EIO, "spool file: %s", strerror(errno));
	}
	f->body = s.f;
	f->size = s.size;
	f->new_etag = s.etag;
	f->new_last_modified = s.last_modified;
	return 0;
}

void tip_feed_fetch_free(struct tip_feed_fetch *f)
{
	if (f->body)
		fclose(f->body);
	free(f->new_etag);
	free(f->new_last_modified);
	f->body = NULL;
	f->new_etag = f->new_last_modified = NULL;
}
