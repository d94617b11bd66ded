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
 * crash while it was written, or not JSON at all): then nothing needs freeing. */
int spill_record_parse(const char *line, size_t len, spill_record *out);
void spill_record_free(spill_record *r);

#endif
