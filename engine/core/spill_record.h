/* One waiting record as a line of the spill file (pending_spill.h): the interaction, every
 * field the store writes, with the budget settlement that goes with it, as one JSON object.
 * Numbers round-trip exactly (cJSON prints a double with 17 digits when 15 do not); texts
 * byte for byte. */
#ifndef NYX_SPILL_RECORD_H
#define NYX_SPILL_RECORD_H

#include "store/store.h"

#include <cjson/cJSON.h>

/* The line (no newline), malloc'd; NULL when out of memory. reservation: NULL for none. */
char *spill_record_line(const interaction_rec *it, const char *reservation, double actual_usd);

/* A record read back. Its strings live in json: valid until spill_record_free. */
typedef struct spill_record {
    interaction_rec it;
    char reservation[STORE_RESERVATION_ID_SIZE];
    int has_reservation;
    double actual_usd;
    cJSON *json;
} spill_record;

/* Reads one line (len bytes, not NUL-terminated). 0, or -1 when it is no record (torn by a
 * crash while it was written, not JSON at all, or a JSON object followed by more than spaces,
 * which is no line the writer wrote): then nothing needs freeing. */
int spill_record_parse(const char *line, size_t len, spill_record *out);
void spill_record_free(spill_record *r);

/* A spill file's text read as records, one a line, in order. A line that is no record (a line
 * without its newline was torn: its writer stopped before the end) is counted in unreadable
 * and said through bad, when given, with its number; it ends nothing: the records before and
 * after it are read all the same. A blank line holds no record and is skipped unsaid. */
typedef struct spill_file {
    spill_record *recs;
    size_t n;
    long unreadable;
} spill_file;
typedef void (*spill_bad_line_fn)(void *ud, size_t line, int torn);

/* 0, or -1 when out of memory (out then holds nothing). */
int spill_file_parse(const char *text, size_t len, spill_file *out, spill_bad_line_fn bad, void *ud);
void spill_file_free(spill_file *f);

#endif
