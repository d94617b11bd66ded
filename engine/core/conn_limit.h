/* How many connections the engine may hold open at once without running the process out of
 * descriptors. The soft RLIMIT_NOFILE caps the descriptors of the whole process: a call past
 * it could not open its socket and failed at once (EMFILE), so asking for 1,500 calls at once
 * under the usual limit of 1,024 failed most of them. Bounded, the transfers past the bound
 * wait inside curl for a connection instead (CURLMOPT_MAX_TOTAL_CONNECTIONS). The library
 * reads the limit, never changes it: the host decides its process's limits. */
#ifndef NYX_CONN_LIMIT_H
#define NYX_CONN_LIMIT_H

/* Descriptors left for all but connections: the database (SQLite's file, journal, WAL and
 * shared memory, or a PostgreSQL socket), the log, watched files, the loop's epoll sets, the
 * simulator's listening socket, and files a script opens. A quarter of a small limit. */
#define CONN_LIMIT_RESERVE 64

/* The most connections at once for a process whose soft limit is soft_limit descriptors, of
 * which open_now are in use, each connection holding per_connection descriptors at its
 * busiest: at least 1; 0 (no bound) when soft_limit is negative (RLIM_INFINITY). */
long conn_limit_of(long soft_limit, long open_now, int per_connection);

/* conn_limit_of for this process as it stands: its soft RLIMIT_NOFILE and the descriptors
 * open now (/proc/self/fd; none counted where that cannot be read). 0 when the limit cannot
 * be read or is infinite. */
long conn_limit_now(int per_connection);

#endif
