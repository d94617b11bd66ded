/* engine/claude/reply: what each kind of content block is to the conversation that goes on
 * from a reply (an empty text block left out, a text block with text or of another shape sent
 * back, tool_use and thinking sent back and told apart, what is no object left out), and the
 * thinking texts joined with "\n" (a thinking block without a text string skipped, none
 * leaving the buffer untouched). */
#include "check.h"

#include "claude/reply.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static claude_block_part part_of(const char *json)
{
    cJSON *b = cJSON_Parse(json);
    claude_block_part p = claude_block_part_of(b);
    cJSON_Delete(b);
    return p;
}

static void parts(void)
{
    static const struct {
        const char *block;
        claude_block_part part;
    } rows[] = {
        {"{\"type\":\"text\",\"text\":\"Hello\"}", CLAUDE_BLOCK_SENT},
        {"{\"type\":\"text\",\"text\":\"\"}", CLAUDE_BLOCK_DROPPED},
        {"{\"type\":\"text\",\"text\":\" \"}", CLAUDE_BLOCK_SENT},
        {"{\"type\":\"text\"}", CLAUDE_BLOCK_SENT},          /* not an empty text: sent as it came */
        {"{\"type\":\"text\",\"text\":0}", CLAUDE_BLOCK_SENT},
        {"{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"n\"}", CLAUDE_BLOCK_TOOL_USE},
        {"{\"type\":\"thinking\",\"thinking\":\"x\"}", CLAUDE_BLOCK_THINKING},
        {"{\"type\":\"redacted_thinking\",\"data\":\"x\"}", CLAUDE_BLOCK_SENT},
        {"{\"type\":\"server_tool_use\",\"id\":\"s\"}", CLAUDE_BLOCK_SENT},
        {"{\"text\":\"\"}", CLAUDE_BLOCK_SENT}, /* no type: not a text block */
        {"{\"type\":7}", CLAUDE_BLOCK_SENT},
        {"null", CLAUDE_BLOCK_DROPPED},
        {"\"text\"", CLAUDE_BLOCK_DROPPED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        CHECK_ROW("%s", rows[i].block);
        CHECK_INT(part_of(rows[i].block), rows[i].part);
    }
    CHECK_ROW_END();
    CHECK_INT(claude_block_part_of(NULL), CLAUDE_BLOCK_DROPPED);
}

/* claude_reply_thinking of content (JSON); returns its count, the text in *out. */
static int thinking_of(const char *content, textbuf *out)
{
    cJSON *c = cJSON_Parse(content);
    REQUIRE_OR(c != NULL, -2);
    int n = claude_reply_thinking(c, out);
    cJSON_Delete(c);
    return n;
}

static void thinking(void)
{
    textbuf b = {0};
    CHECK_INT(thinking_of("[{\"type\":\"thinking\",\"thinking\":\"First.\",\"signature\":\"s\"},"
                          "{\"type\":\"text\",\"text\":\"Answer\"},"
                          "{\"type\":\"thinking\",\"signature\":\"s\"},"
                          "{\"type\":\"redacted_thinking\",\"data\":\"d\"},"
                          "{\"type\":\"thinking\",\"thinking\":\"Second.\"}]",
                          &b),
              2);
    CHECK_STR(b.s, "First.\nSecond.");
    free(b.s);

    textbuf none = {0};
    CHECK_INT(thinking_of("[{\"type\":\"text\",\"text\":\"Answer\"},{\"type\":\"thinking\",\"thinking\":3}]", &none), 0);
    CHECK(none.s == NULL && none.len == 0);
    CHECK_INT(thinking_of("[]", &none), 0);

    textbuf empty = {0}; /* one thinking text, empty: counted, nothing written */
    CHECK_INT(thinking_of("[{\"type\":\"thinking\",\"thinking\":\"\"}]", &empty), 1);
    CHECK_INT((long)empty.len, 0);
    free(empty.s);

    textbuf two_empty = {0};
    CHECK_INT(thinking_of("[{\"type\":\"thinking\",\"thinking\":\"\"},{\"type\":\"thinking\",\"thinking\":\"\"}]",
                          &two_empty),
              2);
    CHECK_STR(two_empty.s, "\n");
    free(two_empty.s);
}

int main(void)
{
    parts();
    thinking();
    return check_failures;
}
