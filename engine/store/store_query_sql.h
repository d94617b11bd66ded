/* SQL text the two backends' query files (store_sqlite_query.c, store_pg_query.c) share word
 * for word: what is written once here cannot drift between SQLite and PostgreSQL. */
#ifndef NYX_STORE_QUERY_SQL_H
#define NYX_STORE_QUERY_SQL_H

/* Tokens of one row, every kind counted once. */
#define TOKENS_EXPR                                                                        \
    "(i.input_tokens + i.cache_creation_input_tokens + i.cache_read_input_tokens +"        \
    " i.output_tokens)"

/* One row per iteration of every tool loop; %s: the session condition in the backend's
 * placeholder syntax, or "". */
#define ITERATIONS_SQL                                                                     \
    "SELECT i.thought_id AS thought, i.iteration AS iteration, i.tool_calls AS tool_calls,"  \
    " i.stop_reason AS stop_reason, " TOKENS_EXPR " AS tokens, i.cost_usd AS cost"          \
    " FROM llm_interactions AS i"                                                          \
    " WHERE i.thought_id IS NOT NULL AND i.iteration IS NOT NULL%s"                         \
    " ORDER BY i.thought_id, i.created_at"

#endif
