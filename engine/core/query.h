/* The times the database's commands take (nyx log --since, nyx prune --before): one parser. */
#ifndef NYX_QUERY_H
#define NYX_QUERY_H

/* What query_parse_since reads, for messages. */
#define QUERY_TIME_FORMS                                                                              \
    "a date YYYY-MM-DD, an instant YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] or an age (30d, 12h, 15m, 90s)"

/* A UTC day (2026-12-01: its first instant), an instant to the minute or second
 * (2026-12-01T09:30, ...T09:30:00), an instant as nyx prints it (2026-12-01T09:30:00.057Z,
 * from nyx log or nyx audit; half a millisecond earlier, so the row it was copied from is
 * counted), or an age before now: a whole number of days, hours, minutes or seconds (30d, for
 * a retention job run from cron). 0 with *out in seconds since the epoch, or -1 when v is none
 * of them. */
int query_parse_since(const char *v, double *out);

#endif
