/* nyx report: the fixed parts of the page (report_page.c). */
#ifndef NYX_CLI_REPORT_H
#define NYX_CLI_REPORT_H

extern const char cli_report_head[];   /* <!DOCTYPE> to </style> */
extern const char cli_report_body[];   /* the sections, tables and canvases */
extern const char cli_report_script[]; /* reads #nyx-data, draws the charts, fills the tables */

#endif
