/* The identity of the database file (storage.h): a stat, about a microsecond, tells a file
 * deleted or replaced under a running process, which would otherwise swallow every record. */
#define _POSIX_C_SOURCE 200809L
#include "storage.h"

#include "store/store.h"

#include <sys/stat.h>

void storage_note_file(storage *s, const char *path)
{
    struct stat st;
    s->db_is_file = stat(path, &st) == 0 && S_ISREG(st.st_mode);
    s->db_dev = s->db_is_file ? (unsigned long long)st.st_dev : 0;
    s->db_ino = s->db_is_file ? (unsigned long long)st.st_ino : 0;
}

int storage_file_replaced(const storage *s, const char *path)
{
    if (!s->db || !s->db_is_file)
        return 0;
    struct stat st;
    return !(stat(path, &st) == 0 && (unsigned long long)st.st_dev == s->db_dev &&
             (unsigned long long)st.st_ino == s->db_ino);
}

int storage_spills(const storage *s, const char *db) { return s->db_is_file || store_uri_is_pg(db); }

void storage_lose(storage *s)
{
    store_close(s->db);
    s->db = NULL;
    s->degraded = 1;
    s->refusing = 0; /* the next file may take records */
}
