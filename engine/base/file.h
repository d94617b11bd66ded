/* Whole files read into memory: one reader for every layer. */
#ifndef NYX_BASE_FILE_H
#define NYX_BASE_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Reads f from where it stands to its end into malloc'd memory: *out holds *len bytes and a
 * NUL after them. Returns 0, or -1 with errno ENOMEM, EFBIG (max > 0 and there are max bytes
 * or more) or the failed read's (EIO when it left none); f stays open. */
int file_read_all(FILE *f, size_t max, char **out, size_t *len);

/* The file at path read whole as by file_read_all. Returns 0, -1 when it cannot be opened (errno
 * fopen's) or -2 when reading it failed (errno as file_read_all's): callers word the two apart. */
int file_read_path(const char *path, size_t max, char **out, size_t *len);

#endif
