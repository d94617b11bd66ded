/* Rows from JSON Lines (cJSON) or CSV (RFC 4180: quoted fields, doubled quotes, CRLF). */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"
#include "rows.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_var(cli_row *r, const char *key, size_t klen, const char *val, size_t vlen)
{
    char **nv = realloc(r->vars, (r->n + 1) * sizeof *nv);
    if (!nv)
        return -1;
    r->vars = nv;
    char *s = malloc(klen + vlen + 2);
    if (!s)
        return -1;
    memcpy(s, key, klen);
    s[klen] = '=';
    memcpy(s + klen + 1, val, vlen);
    s[klen + 1 + vlen] = '\0';
    r->vars[r->n++] = s;
    return 0;
}

static int add_row(cli_rows *out, int line)
{
    cli_row *nr = realloc(out->rows, (out->n + 1) * sizeof *nr);
    if (!nr)
        return -1;
    out->rows = nr;
    memset(&nr[out->n], 0, sizeof *nr);
    nr[out->n++].line = line;
    return 0;
}

/* A scalar as the template sees it: strings as they are, numbers and booleans as JSON writes them.
 * -4: a string that is not UTF-8 (*bad: the offset of its first bad byte). */
static int add_json_value(cli_row *r, const char *key, const cJSON *v, long *bad, unsigned *byte)
{
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        if ((*bad = nyx_utf8_check(v->valuestring, n)) >= 0) {
            *byte = (unsigned char)v->valuestring[*bad];
            return -4;
        }
        return add_var(r, key, strlen(key), v->valuestring, n);
    }
    if (cJSON_IsBool(v))
        return add_var(r, key, strlen(key), cJSON_IsTrue(v) ? "true" : "false", cJSON_IsTrue(v) ? 4 : 5);
    if (cJSON_IsNumber(v)) {
        /* As nyx writes it: 0.30000000000000004 stays itself (cJSON's print made it 0.3). A
         * number too large for a double is infinity to cJSON: JSON's null. */
        char t[32];
        int n = nyx_json_number(v->valuedouble, t, sizeof t);
        return n > 0 ? add_var(r, key, strlen(key), t, (size_t)n) : add_var(r, key, strlen(key), "null", 4);
    }
    return -2;
}

/* A string of the object on line p[0..n) that holds \u0000: cJSON's C strings end at the NUL,
 * so the rest of that field would be dropped unseen. Returns 1 and copies the name of the
 * top-level field it is in (or is) into key, 0 when there is none. The line parsed as JSON. */
static int nul_field(const char *p, size_t n, char *key, size_t keylen)
{
    int depth = 0, want_key = 0, in_key = 0;
    const char *name = "", *str = NULL;
    size_t name_len = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (str) {
            if (c == '\\') {
                if (i + 5 < n && p[i + 1] == 'u' && memcmp(p + i + 2, "0000", 4) == 0) {
                    if (in_key) {
                        name = str;
                        name_len = (size_t)(p + i - str);
                    }
                    snprintf(key, keylen, "%.*s", (int)(name_len < 60 ? name_len : 60), name);
                    return 1;
                }
                i++;
            } else if (c == '"') {
                if (in_key) {
                    name = str;
                    name_len = (size_t)(p + i - str);
                }
                str = NULL;
            }
        } else if (c == '"') {
            str = p + i + 1;
            in_key = depth == 1 && want_key;
        } else if (c == '{' || c == '[') {
            depth++;
            want_key = depth == 1;
        } else if (c == '}' || c == ']') {
            depth--;
        } else if (depth == 1 && (c == ',' || c == ':')) {
            want_key = c == ',';
        }
    }
    return 0;
}

/* Whether only white space is left in p[0..n). */
static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static int read_jsonl(const char *text, size_t len, cli_rows *out, char *err, size_t errlen)
{
    int line = 0;
    for (const char *p = text; p < text + len;) {
        const char *nl = memchr(p, '\n', (size_t)(text + len - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
        line++;
        size_t k = 0;
        while (k < n && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < n) {
            const char *stop = NULL;
            cJSON *o = cJSON_ParseWithLengthOpts(p, n, &stop, 0);
            if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                snprintf(err, errlen, "line %d: not a JSON object", line);
                return -1;
            }
            /* cJSON stops after the first value: a second object (or any text) after it on the
             * line would be dropped unseen. One line, one row. */
            if (!stop || stop < p || !blank(stop, n - (size_t)(stop - p))) {
                cJSON_Delete(o);
                snprintf(err, errlen, "line %d: more text after the JSON object (one object per line)", line);
                return -1;
            }
            char key[64];
            if (nul_field(p, n, key, sizeof key)) {
                cJSON_Delete(o);
                snprintf(err, errlen, "line %d: field \"%s\" holds a NUL byte (\\u0000), which a prompt cannot carry",
                         line, key);
                return -1;
            }
            if (add_row(out, line) != 0) {
                cJSON_Delete(o);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            cli_row *r = &out->rows[out->n - 1];
            long bad = -1;
            unsigned byte = 0;
            int field = 0;
            for (const cJSON *f = o->child; f; f = f->next) {
                int rc = 0;
                field++;
                /* The name becomes a template variable's, "name=value" on the command line: it
                 * must be text and hold no '=', or the row could not say which it is. */
                long kbad = nyx_utf8_check(f->string, strlen(f->string));
                if (kbad >= 0 || strchr(f->string, '=') || !*f->string) {
                    if (kbad >= 0)
                        snprintf(err, errlen, "line %d: field %d's name is not UTF-8 text (its byte %ld is 0x%02X): "
                                 "save the file as UTF-8", line, field, kbad + 1, (unsigned char)f->string[kbad]);
                    else
                        snprintf(err, errlen, "line %d: field %d's name \"%.60s\" is not usable (empty, or holding "
                                 "'=')", line, field, f->string);
                    cJSON_Delete(o);
                    return -1;
                }
                if (cJSON_IsNull(f))
                    continue;
                else if (cJSON_IsArray(f)) {
                    for (const cJSON *x = f->child; x && rc == 0; x = x->next)
                        rc = add_json_value(r, f->string, x, &bad, &byte);
                } else {
                    rc = add_json_value(r, f->string, f, &bad, &byte);
                }
                if (rc == -4) {
                    snprintf(err, errlen, "line %d: field \"%.60s\" is not UTF-8 text (its byte %ld is 0x%02X): save the "
                             "file as UTF-8", line, f->string, bad + 1, byte);
                    cJSON_Delete(o);
                    return -1;
                }
                if (rc != 0) {
                    snprintf(err, errlen, rc == -1 ? "out of memory" : "line %d: field \"%.60s\" must be a string, number, boolean or list of them",
                             line, f->string);
                    cJSON_Delete(o);
                    return -1;
                }
            }
            cJSON_Delete(o);
        }
        p += n + (nl ? 1 : 0);
    }
    return 0;
}

/* One CSV record from *p: fields into a NULL-terminated malloc'd list. Returns the number of
 * fields, 0 at the end, -1 on a quote left open or no memory. *nul is the index of the first
 * field holding a NUL byte (a C string would end there, the rest lost unseen), or -1. */
static int csv_record(const char **p, const char *end, int *line, char ***fields, int *nul)
{
    *fields = NULL;
    *nul = -1;
    if (*p >= end)
        return 0;
    int nf = 0;
    char **fs = NULL;
    for (;;) {
        size_t cap = 64, n = 0;
        char *buf = malloc(cap);
        if (!buf)
            return -1;
        int quoted = *p < end && **p == '"';
        if (quoted)
            (*p)++;
        for (;;) {
            if (*p >= end) {
                if (quoted) {
                    free(buf);
                    return -1;
                }
                break;
            }
            char c = **p;
            if (quoted) {
                if (c == '"') {
                    if (*p + 1 < end && (*p)[1] == '"') {
                        (*p)++;
                    } else {
                        (*p)++;
                        quoted = 0;
                        continue;
                    }
                } else if (c == '\n') {
                    (*line)++;
                }
            } else if (c == ',' || c == '\n' || c == '\r') {
                break;
            }
            if (n + 2 > cap) {
                char *nb = realloc(buf, cap *= 2);
                if (!nb) {
                    free(buf);
                    return -1;
                }
                buf = nb;
            }
            if (c == '\0' && *nul < 0)
                *nul = nf;
            buf[n++] = c;
            (*p)++;
        }
        buf[n] = '\0';
        char **nfs = realloc(fs, (size_t)(nf + 2) * sizeof *nfs);
        if (!nfs) {
            free(buf);
            return -1;
        }
        fs = nfs;
        fs[nf++] = buf;
        fs[nf] = NULL;
        *fields = fs;
        if (*p < end && **p == ',') {
            (*p)++;
            continue;
        }
        if (*p < end && **p == '\r')
            (*p)++;
        if (*p < end && **p == '\n') {
            (*p)++;
            (*line)++;
        }
        return nf;
    }
}

static void free_fields(char **fs)
{
    for (size_t i = 0; fs && fs[i]; i++)
        free(fs[i]);
    free(fs);
}

static int read_csv(const char *text, size_t len, cli_rows *out, char *err, size_t errlen)
{
    const char *p = text, *end = text + len;
    int line = 1, nul;
    char **header = NULL;
    int nh = csv_record(&p, end, &line, &header, &nul);
    if (nh <= 0) {
        free_fields(header);
        snprintf(err, errlen, "line 1: a CSV input needs a header row naming the fields");
        return -1;
    }
    for (int i = 0; i < nh; i++) {
        long bad = nyx_utf8_check(header[i], strlen(header[i]));
        if (bad >= 0 && nul != i)
            snprintf(err, errlen, "line 1: column %d's name is not UTF-8 text (its byte %ld is 0x%02X): save the "
                     "file as UTF-8", i + 1, bad + 1, (unsigned char)header[i][bad]);
        else if (!header[i][0] || strchr(header[i], '=') || nul == i)
            snprintf(err, errlen, "line 1: column %d has no usable name", i + 1);
        else
            continue;
        free_fields(header);
        return -1;
    }
    for (;;) {
        int start = line;
        char **fs = NULL;
        int nf = csv_record(&p, end, &line, &fs, &nul);
        if (nf == 0)
            break;
        if (nf < 0) {
            free_fields(fs);
            free_fields(header);
            snprintf(err, errlen, "line %d: a quoted field is not closed", start);
            return -1;
        }
        if (nf == 1 && !fs[0][0] && nul < 0) { /* a blank line (NUL bytes are no blank) */
            free_fields(fs);
            continue;
        }
        if (nf != nh) {
            free_fields(fs);
            free_fields(header);
            snprintf(err, errlen, "line %d: %d fields, the header names %d", start, nf, nh);
            return -1;
        }
        if (nul >= 0) {
            snprintf(err, errlen, "line %d: field \"%.60s\" holds a NUL byte, which a prompt cannot carry", start,
                     header[nul]);
            free_fields(fs);
            free_fields(header);
            return -1;
        }
        for (int i = 0; i < nf; i++) {
            long bad = nyx_utf8_check(fs[i], strlen(fs[i]));
            if (bad >= 0) {
                snprintf(err, errlen, "line %d: field \"%.60s\" is not UTF-8 text (its byte %ld is 0x%02X): save the file "
                         "as UTF-8", start, header[i], bad + 1, (unsigned char)fs[i][bad]);
                free_fields(fs);
                free_fields(header);
                return -1;
            }
        }
        int rc = add_row(out, start);
        for (int i = 0; rc == 0 && i < nf; i++)
            rc = add_var(&out->rows[out->n - 1], header[i], strlen(header[i]), fs[i], strlen(fs[i]));
        free_fields(fs);
        if (rc != 0) {
            free_fields(header);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    free_fields(header);
    return 0;
}

int cli_rows_parse(const char *text, size_t len, int csv, cli_rows *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* A UTF-8 byte-order mark, as spreadsheets write one, is not part of the first column's
     * name (nor of the first line's JSON). */
    size_t bom = len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    int rc = csv ? read_csv(text + bom, len - bom, out, err, errlen)
                 : read_jsonl(text + bom, len - bom, out, err, errlen);
    if (rc != 0)
        cli_rows_free(out);
    return rc;
}

void cli_rows_free(cli_rows *r)
{
    for (size_t i = 0; r->rows && i < r->n; i++) {
        for (size_t k = 0; k < r->rows[i].n; k++)
            free(r->rows[i].vars[k]);
        free(r->rows[i].vars);
    }
    free(r->rows);
    memset(r, 0, sizeof *r);
}

const char *cli_row_get(const cli_row *r, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i < r->n; i++)
        if (strncmp(r->vars[i], key, k) == 0 && r->vars[i][k] == '=')
            return r->vars[i] + k + 1;
    return NULL;
}
