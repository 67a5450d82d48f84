/*
 * feeds_int.h — what the files of src/feeds share and nobody else sees.
 */
#ifndef TIP_FEEDS_INT_H
#define TIP_FEEDS_INT_H

#include "feeds.h"

/* The parse thread of a feed run (pipe.c). A feed run is two jobs of about the same size on a
 * big feed: parsing (normalising every line: libidn2, libcurl's URL parser) and the
 * store's work (hashing, the diff, the writes). The parser runs in a thread of its own and hands
 * the accepted entries over in batches, in order, to the thread that owns the store, which calls
 * `cb` for each as the parser would have. Memory is bounded by a few batches in flight.
 *
 * `hint` (may be NULL) is called with each entry's type and value a few entries before `cb` gets
 * it (the store prefetches its look-up then).
 *
 * Returns what the parse returned (0, or its fatal error in *err), or the first negative value
 * `cb` returned (its own error then lives with the callback's argument, as for the parser). */
typedef void (*tip_feed_hint_cb)(void *arg, enum tip_ind_type type, const char *value);
int tip_feed_parse_piped(const struct tip_feed_def *def, FILE *body, tip_feed_entry_cb cb,
			 tip_feed_hint_cb hint, void *arg,
			 struct tip_feed_stats *stats, struct tip_error *err);

/* XML feeds (parse_xml.c, expat): see there. The record callback gets the record's fields'
 * text (NULL: absent), indexed by FEED_XML_*, and the line the record starts on; a negative
 * return stops the parse (its error lives with the callback's argument). */
enum { FEED_XML_FIELD, FEED_XML_CATEGORY, FEED_XML_THREAT, FEED_XML_TAGS, FEED_XML_FIRST_SEEN,
       FEED_XML_SKIP_IF, FEED_XML_FIELDS };
struct feed_xml;
typedef int (*feed_xml_record_cb)(void *arg, const char *const *text, int64_t line);
typedef void (*feed_xml_reject_cb)(void *arg, int64_t line, const char *why);
struct feed_xml *feed_xml_new(const struct tip_feed_def *def, feed_xml_record_cb on_record,
			      feed_xml_reject_cb on_reject, void *arg);
/* final: the body's end (a document not closed by then is broken) */
int feed_xml_push(struct feed_xml *x, const char *data, size_t len, bool final,
		  struct tip_error *err);
int64_t feed_xml_lines(const struct feed_xml *x);
void feed_xml_free(struct feed_xml *x);

#endif
