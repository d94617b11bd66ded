/* nyx models [list] | show ID: the model table, its prices, minimums and lifecycle. */
#include "cli.h"
#include "table.h"

#include <stdio.h>
#include <string.h>

int cli_models(int argc, char **argv)
{
    const char *db = NULL, *name = NULL;
    int json = 0, show = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: nyx models [list] [--json] [--db FILE]\n"
                   "       nyx models show ID [--json] [--db FILE]\n"
                   "Prices are USD per million tokens, the row in force now; a minimum marked ? is not\n"
                   "confirmed and is learned from usage. NYX_MODELS=FILE adds or corrects rows.\n");
            return 0;
        }
        if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc)
            db = argv[++i];
        else if (strcmp(argv[i], "list") == 0 && i == 1)
            continue;
        else if (strcmp(argv[i], "show") == 0 && i == 1)
            show = 1;
        else if (show && !name && argv[i][0] != '-')
            name = argv[i];
        else {
            fprintf(stderr, "nyx models: unexpected argument \"%s\" (nyx models [list] | show ID)\n", argv[i]);
            return 2;
        }
    }
    if (show && !name) {
        fprintf(stderr, "nyx models show: which model? give its ID (nyx models lists them)\n");
        return 2;
    }
    nyx_engine *e = cli_open_reading("nyx models", db, 0);
    if (!e)
        return 1;
    const char *date = NULL;
    if (nyx_models_date(e, &date))
        fprintf(stderr, "nyx: the model table is dated %s, more than 60 days ago; prices or models may have "
                        "changed: add or correct rows with NYX_MODELS\n", date ? date : "(no date)");
    char opt[300];
    snprintf(opt, sizeof opt, "name=%s", name ? name : "");
    const char *opts[] = {opt, json ? "format=json" : NULL, NULL};
    cli_table t = {0};
    int status = 0;
    if (!json && !name)
        printf("model table dated %s (USD per million tokens; NYX_MODELS adds or corrects rows)\n",
               date ? date : "(no date)");
    int rc = nyx_query(e, "models", opts, json ? cli_print_json : cli_table_add, json ? NULL : &t);
    if (rc != NYX_OK) {
        fprintf(stderr, "nyx models: %s\n", nyx_errmsg(e));
        /* The words were read above: what the query refuses is an ID not in the table, a
         * failure to find it as for a template or a batch, not bad usage. */
        status = 1;
    } else if (!json) {
        cli_table_print(&t, stdout);
    }
    cli_table_free(&t);
    nyx_close(e);
    return status;
}
