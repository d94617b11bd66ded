/* Tools the host implements in C (nyx_tool_register): the registry a script's tool list names
 * them from, and the calls that wait for the host's answer (nyx_tool_result), now or frames
 * later. The host's function runs from the loop, outside any Lua, on the host's thread. */
#ifndef NYX_HOST_TOOLS_H
#define NYX_HOST_TOOLS_H

#include "host_api.h"

/* What a host tool's call answers: content (NUL-terminated, valid only during the call) and
 * whether it is an error the model reads as one (tool_result is_error). */
typedef void (*host_tool_done)(void *ud, const char *content, int is_error);

/* The description (NULL when the schema has none) and input schema (JSON text) of the tool
 * registered as name, both owned by the engine; 0, or -1 when there is none. */
int host_tool_find(nyx_engine *e, const char *name, const char **description, const char **schema);

/* Starts a call of tool name with input (JSON object text): the host's function runs at the
 * loop's next turn; done runs once the host answers, never before this returns. *id names the
 * call for host_tool_abandon. 0, or -1 with err (no such tool, out of memory). */
int host_tool_start(nyx_engine *e, const char *name, const char *input, host_tool_done done, void *ud,
                    long long *id, error_info *err);

/* Forgets a call whose answer nobody waits for any more (its task was cancelled or collected):
 * done never runs, and a later nyx_tool_result for it is refused. Unknown ids do nothing. */
void host_tool_abandon(nyx_engine *e, long long id);

/* Calls waiting for the host's answer: work that keeps nyx_poll busy. */
int host_tools_pending(const nyx_engine *e);

/* Frees the registry and every call still waiting (their done never runs). */
void host_tools_free(nyx_engine *e);

/* nyx_tool_register / nyx_tool_result. */
int host_tools_register(nyx_engine *e, const char *name, const char *schema_json, nyx_tool_fn fn, void *ud);
int host_tools_result(nyx_engine *e, long long call, const char *content, int is_error);

#endif
