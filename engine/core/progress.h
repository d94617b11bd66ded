/* The live progress line for hosts (nyx_progress): the parts scripts set (nyx.progress), the
 * nearest budget as the ledger last reported it, and where scripts' print() goes
 * (nyx_set_output). The engine holds one; the counters it adds come from the engine. */
#ifndef NYX_PROGRESS_H
#define NYX_PROGRESS_H

#include <stddef.h>

#define PROGRESS_PARTS 8

typedef struct progress_line {
    struct progress_part { /* nyx.progress(text [, key]): the script's, a council's, ... */
        char key[48];
        char text[200];
    } parts[PROGRESS_PARTS]; /* in the order they were first set; key "" is a free slot */
    double budget_remaining; /* share left of the nearest budget at the last settle; -1 */
    char budget_scope[160];
    void (*out_fn)(void *ud, const char *text, size_t len); /* nyx_set_output */
    void *out_ud;
} progress_line;

/* Sets the part under key; NULL or "" removes it. Past PROGRESS_PARTS parts a new key is
 * dropped: the line has no room for more anyway. */
void progress_line_set(progress_line *p, const char *key, const char *text);
/* The parts joined by " | ", cut to size. */
void progress_line_text(const progress_line *p, char *out, size_t size);

#endif
