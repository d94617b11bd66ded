#define _POSIX_C_SOURCE 200809L
#include "types.h"

#include <stdlib.h>
#include <string.h>

int nyx_block_set(nyx_block *b, const char *text, size_t len, int mark)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, text, len);
    copy[len] = '\0';
    b->text = copy;
    b->len = len;
    b->mark = mark;
    b->mark_by_user = 0;
    b->kind = NYX_BLOCK_TEXT;
    b->no_mark = 0;
    return 0;
}

void nyx_request_init(nyx_request *r)
{
    memset(r, 0, sizeof *r);
    r->temperature = -1.0;
    r->cache_mode = NYX_CACHE_AUTO;
}

static void free_blocks(nyx_block *blocks, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(blocks[i].text);
    free(blocks);
}

void nyx_request_free(nyx_request *r)
{
    if (!r)
        return;
    free(r->model);
    free_blocks(r->system, r->nsystem);
    for (size_t i = 0; i < r->nmessages; i++)
        free_blocks(r->messages[i].blocks, r->messages[i].nblocks);
    free(r->messages);
    free(r->tools_json);
    free(r->tool_choice_json);
    free(r->effort);
    free(r->output_schema_json);
    for (size_t i = 0; i < r->nstop; i++)
        free(r->stop_sequences[i]);
    free(r->stop_sequences);
    free(r->user_id);
    nyx_request_init(r);
}

void nyx_response_init(nyx_response *r) { memset(r, 0, sizeof *r); }

void nyx_response_free(nyx_response *r)
{
    if (!r)
        return;
    free(r->id);
    free(r->model);
    free(r->stop_reason);
    free(r->stop_sequence);
    free(r->text);
    free(r->content_json);
    free(r->request_id);
    nyx_response_init(r);
}
