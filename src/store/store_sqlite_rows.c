/*
 * store_sqlite_rows.c — a C array as a table for one statement: an eponymous table-valued
 * function (SQLite's virtual table interface) whose hidden last column takes the array as a
 * pointer (sqlite3_bind_pointer, type-tagged with the function's name). A writer that has a
 * batch of rows to apply then runs one set-based statement over them, e.g.
 *
 *   UPDATE t SET x = r.x FROM tip_something(?1) AS r WHERE t.id = r.id
 *
 * instead of a statement per row: one cursor on t, SQLite's next-row fast path when the rows
 * come in t's key order, and none of the per-statement work (reset, binds, cursor set-up).
 * A function called without its array is a usage error (SQLITE_CONSTRAINT at prepare time).
 *
 * The rows may also be made one at a time by the caller's next() and column() (a merge that
 * streams them, store_sqlite_feeds.c): the same table, nothing held in memory.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

struct rows_vtab {
	sqlite3_vtab base;
	const struct sq_rows_def *def;
	int ncols;
};

struct rows_cursor {
	sqlite3_vtab_cursor base;
	const struct sq_rows *rows;
	size_t i;
	bool eof; /* rows made one at a time: past the last */
};

static int rows_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
			sqlite3_vtab **vt, char **msg)
{
	const struct sq_rows_def *def = aux;
	struct rows_vtab *v;
	int rc;
	(void)argc, (void)argv, (void)msg;
	if ((rc = sqlite3_declare_vtab(db, def->decl)) != SQLITE_OK)
		return rc;
	if (!(v = sqlite3_malloc(sizeof(*v))))
		return SQLITE_NOMEM;
	memset(v, 0, sizeof(*v));
	v->def = def;
	v->ncols = (int)strlen(def->types);
	*vt = &v->base;
	return SQLITE_OK;
}

static int rows_disconnect(sqlite3_vtab *vt)
{
	sqlite3_free(vt);
	return SQLITE_OK;
}

static int rows_best_index(sqlite3_vtab *vt, sqlite3_index_info *ix)
{
	const struct rows_vtab *v = (const struct rows_vtab *)vt;
	for (int i = 0; i < ix->nConstraint; i++) {
		if (ix->aConstraint[i].iColumn != v->ncols)
			continue;
		if (!ix->aConstraint[i].usable || ix->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_EQ)
			return SQLITE_CONSTRAINT;
		ix->aConstraintUsage[i].argvIndex = 1;
		ix->aConstraintUsage[i].omit = 1;
		ix->estimatedCost = 1;
		ix->estimatedRows = 512;
		return SQLITE_OK;
	}
	return SQLITE_CONSTRAINT; /* only as name(?) */
}

static int rows_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **cur)
{
	struct rows_cursor *c = sqlite3_malloc(sizeof(*c));
	(void)vt;
	if (!c)
		return SQLITE_NOMEM;
	memset(c, 0, sizeof(*c));
	*cur = &c->base;
	return SQLITE_OK;
}

static int rows_close(sqlite3_vtab_cursor *cur)
{
	sqlite3_free(cur);
	return SQLITE_OK;
}

/* rows made one at a time: the next one, or the end, or the caller's error as the statement's */
static int stream_next(struct rows_cursor *c)
{
	char *msg = NULL;
	int rc = c->rows->next(c->rows->arg, &msg);
	if (rc < 0) {
		sqlite3_free(c->base.pVtab->zErrMsg);
		c->base.pVtab->zErrMsg = msg ? msg : sqlite3_mprintf("row source failed");
		return SQLITE_ERROR;
	}
	c->eof = rc == 0;
	return SQLITE_OK;
}

static int rows_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
		       sqlite3_value **argv)
{
	struct rows_cursor *c = (struct rows_cursor *)cur;
	const struct rows_vtab *v = (const struct rows_vtab *)cur->pVtab;
	(void)idx_num, (void)idx_str;
	/* a pointer of another type (or none) reads as NULL: no rows */
	c->rows = argc == 1 ? sqlite3_value_pointer(argv[0], v->def->name) : NULL;
	c->i = 0;
	c->eof = false;
	return c->rows && c->rows->next ? stream_next(c) : SQLITE_OK;
}

static int rows_next(sqlite3_vtab_cursor *cur)
{
	struct rows_cursor *c = (struct rows_cursor *)cur;
	c->i++;
	return c->rows->next ? stream_next(c) : SQLITE_OK;
}

static int rows_eof(sqlite3_vtab_cursor *cur)
{
	const struct rows_cursor *c = (const struct rows_cursor *)cur;
	if (c->rows && c->rows->next)
		return c->eof;
	return !c->rows || c->i >= c->rows->n;
}

static int rows_column(sqlite3_vtab_cursor *cur, sqlite3_context *cx, int col)
{
	const struct rows_cursor *c = (const struct rows_cursor *)cur;
	const struct rows_vtab *v = (const struct rows_vtab *)cur->pVtab;
	const union sq_cell *cell;
	if (col < 0 || col >= v->ncols) {
		sqlite3_result_null(cx);
		return SQLITE_OK;
	}
	if (c->rows->next) {
		c->rows->column(c->rows->arg, cx, col);
		return SQLITE_OK;
	}
	cell = &c->rows->cell[c->i * (size_t)v->ncols + (size_t)col];
	if (v->def->types[col] == 't') {
		if (cell->s)
			sqlite3_result_text(cx, cell->s, -1, SQLITE_STATIC);
		else
			sqlite3_result_null(cx);
	} else {
		sqlite3_result_int64(cx, cell->i);
	}
	return SQLITE_OK;
}

static int rows_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid)
{
	*rowid = (sqlite3_int64)((const struct rows_cursor *)cur)->i;
	return SQLITE_OK;
}

static const sqlite3_module rows_module = {
	.xConnect = rows_connect,
	.xBestIndex = rows_best_index,
	.xDisconnect = rows_disconnect,
	.xOpen = rows_open,
	.xClose = rows_close,
	.xFilter = rows_filter,
	.xNext = rows_next,
	.xEof = rows_eof,
	.xColumn = rows_column,
	.xRowid = rows_rowid,
};

int sq_rows_use(struct sq_store *s, const struct sq_rows_def *def, struct tip_error *err)
{
	size_t i;
	for (i = 0; i < s->n_rows_defs && s->rows_defs[i] != def; i++)
		;
	if (i < s->n_rows_defs)
		return 0;
	if (i == sizeof(s->rows_defs) / sizeof(s->rows_defs[0]))
		return tip_error_set(err, TIP_EINVAL, "store: too many row tables");
	if (sqlite3_create_module(s->db, def->name, &rows_module, (void *)def) != SQLITE_OK)
		return sq_fail(s, err, def->name);
	s->rows_defs[s->n_rows_defs++] = def;
	return 0;
}

sqlite3_stmt *sq_rows_query(struct sq_store *s, const char *sql, const struct sq_rows_def *def,
			    const struct sq_rows *rows, struct tip_error *err)
{
	sqlite3_stmt *q;
	if (sq_rows_use(s, def, err) < 0 || !(q = sq_prep(s, sql, err)) ||
	    sq_rows_bind(s, q, 1, def, rows, err) < 0)
		return NULL;
	return q;
}

int sq_rows_run(struct sq_store *s, const char *sql, const struct sq_rows_def *def,
		const union sq_cell *cells, size_t n, const char *what, struct tip_error *err)
{
	struct sq_rows rows = { cells, n };
	sqlite3_stmt *q = sq_rows_query(s, sql, def, &rows, err);
	int rc;
	if (!q)
		return TIP_ESTORE;
	rc = sq_done(s, q, err, what);
	sqlite3_bind_null(q, 1); /* no pointer to the caller's array left behind */
	return rc;
}

int sq_rows_bind(struct sq_store *s, sqlite3_stmt *q, int param, const struct sq_rows_def *def,
		 const struct sq_rows *rows, struct tip_error *err)
{
	if (sqlite3_bind_pointer(q, param, (void *)rows, def->name, NULL) != SQLITE_OK)
		return sq_fail(s, err, def->name);
	return 0;
}
