/* store_sqlite_runs.c — the record of every module pass, in SQLite. */
#include "store_sqlite.h"

static const char q_run_start[] =
	"INSERT INTO run (module, pid, started, status) VALUES (?1, ?2, ?3, 'running')";
static const char q_run_end[] =
	"UPDATE run SET ended = ?2, status = ?3, exit_code = ?4, signal = ?5, items = ?6, error = ?7"
	" WHERE id = ?1";
#define RUN_COLS                                                                              \
	"SELECT id, module, pid, started, coalesce(ended, 0), status, coalesce(exit_code, -1),"  \
	" coalesce(signal, 0), items, error FROM run "
static const char q_runs_all[] = RUN_COLS "ORDER BY started DESC, id DESC LIMIT ?1";
static const char q_runs_module[] =
	RUN_COLS "WHERE module = ?2 ORDER BY started DESC, id DESC LIMIT ?1";

int sq_run_start(struct tip_store *st, const char *module, int64_t pid, tip_time_t started,
		 int64_t *id, struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_run_start, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_text(q, 1, module);
	sq_bind_int(q, 2, pid);
	sq_bind_int(q, 3, started);
	if ((rc = sq_done(s, q, err, "run start")) < 0)
		return rc;
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

int sq_run_end(struct tip_store *st, int64_t id, tip_time_t ended, const char *status,
	       int64_t exit_code, int64_t signal, int64_t items, const char *error,
	       struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, q_run_end, err);
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, id);
	sq_bind_int(q, 2, ended);
	sq_bind_text(q, 3, status);
	if (exit_code >= 0)
		sq_bind_int(q, 4, exit_code);
	if (signal)
		sq_bind_int(q, 5, signal);
	sq_bind_int(q, 6, items);
	sq_bind_text(q, 7, error);
	return sq_done(s, q, err, "run end");
}

int sq_runs(struct tip_store *st, const char *module, int limit, tip_run_cb cb, void *arg,
	    struct tip_error *err)
{
	struct sq_store *s = sq_of(st);
	sqlite3_stmt *q = sq_prep(s, module ? q_runs_module : q_runs_all, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	sq_bind_int(q, 1, limit > 0 ? limit : -1);
	if (module)
		sq_bind_text(q, 2, module);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct tip_run r = {
			.id = sqlite3_column_int64(q, 0),
			.module = sq_col_text(q, 1),
			.pid = sqlite3_column_int64(q, 2),
			.started = sqlite3_column_int64(q, 3),
			.ended = sqlite3_column_int64(q, 4),
			.status = sq_col_text(q, 5),
			.exit_code = sqlite3_column_int64(q, 6),
			.signal = sqlite3_column_int64(q, 7),
			.items = sqlite3_column_int64(q, 8),
			.error = sq_col_text(q, 9),
		};
		int x = cb(arg, &r);
		if (x) {
			sqlite3_reset(q);
			return x;
		}
	}
	sqlite3_reset(q);
	return rc == SQLITE_DONE ? 0 : sq_fail(s, err, "runs");
}

void sq_release_memory(struct tip_store *st)
{
	sqlite3_db_release_memory(sq_of(st)->db);
}
