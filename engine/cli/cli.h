#ifndef NYX_CLI_H
#define NYX_CLI_H
#include "nyx.h"

/* Each subcommand takes argv[0] = its own name. */
int cli_run(int argc, char **argv);
int cli_sim(int argc, char **argv);
int cli_stats(int argc, char **argv);
int cli_log(int argc, char **argv);
int cli_thoughts(int argc, char **argv);
int cli_budget(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_stop(int argc, char **argv);

/* Prints engine notices to stderr. */
void cli_notice(void *ud, int level, const char *msg);

#endif
