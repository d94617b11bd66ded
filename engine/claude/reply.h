/* What a reply's content blocks are to the conversation that goes on from it: the blocks sent
 * back in the assistant's turn, the tool calls the script answers, and the thinking text. */
#ifndef NYX_CLAUDE_REPLY_H
#define NYX_CLAUDE_REPLY_H

#include <cjson/cJSON.h>

#include "base/textbuf.h"

typedef enum claude_block_part {
    CLAUDE_BLOCK_SENT,     /* goes back as it is: text, redacted thinking, a server tool's block */
    CLAUDE_BLOCK_DROPPED,  /* an empty text block (the API refuses it sent back; it says nothing),
                              or what is no block at all (not an object) */
    CLAUDE_BLOCK_TOOL_USE, /* goes back, and is a tool call for the script */
    CLAUDE_BLOCK_THINKING, /* goes back, and its text is part of the reply's thinking */
} claude_block_part;

/* What block (one element of a reply's content array) is to the conversation. */
claude_block_part claude_block_part_of(const cJSON *block);

/* Appends to out the texts of content's thinking blocks (those whose thinking is a string),
 * joined with "\n". Returns how many there were (0: none, out untouched), or -1 when out ran out
 * of memory. */
int claude_reply_thinking(const cJSON *content, textbuf *out);

#endif
