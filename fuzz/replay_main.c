#define _POSIX_C_SOURCE 200809L
/* The main of a fuzz target built for ctest (cmake/tests.cmake): runs the target's
 * LLVMFuzzerTestOneInput on the empty input, as libFuzzer does first, and then on every file of
 * the directories it is given (fuzz/corpus/<name>/), in name order. A fault the fuzzer found
 * once is kept by committing its input there: a crash, an abort of the target's own checks, or
 * under the sanitizer build an invalid access, undefined behaviour or a leak fails the test.
 * Each input is a buffer of exactly its size, as libFuzzer gives it, so a read past its end is
 * caught. Exits 0, or 1 when a directory cannot be read or holds no input (a target tested on
 * nothing would pass unseen). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* the target's */

/* Runs the target on the file at path; -1 when it cannot be read. */
static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fprintf(stderr, "replay: cannot stat %s\n", path);
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data || (size && fread(data, 1, size, f) != size)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        free(data);
        fclose(f);
        return -1;
    }
    fclose(f);
    /* Named before it runs: a crash leaves the name of the input behind it. */
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, size);
    (void)LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 0;
}

static int visible(const struct dirent *e) { return e->d_name[0] != '.'; }

/* Every regular file of dir; the number run, or -1. */
static long replay_dir(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, visible, alphasort);
    if (n < 0) {
        fprintf(stderr, "replay: cannot read the directory %s\n", dir);
        return -1;
    }
    long run = 0;
    int failed = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
        char *path = malloc(len);
        struct stat st;
        if (!path) {
            failed = 1;
        } else {
            snprintf(path, len, "%s/%s", dir, names[i]->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                if (replay_file(path) == 0)
                    run++;
                else
                    failed = 1;
            }
        }
        free(path);
        free(names[i]);
    }
    free(names);
    return failed ? -1 : run;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR...\n", argv[0]);
        return 2;
    }
    static const uint8_t empty[1];
    (void)LLVMFuzzerTestOneInput(empty, 0);
    long total = 0;
    for (int i = 1; i < argc; i++) {
        long run = replay_dir(argv[i]);
        if (run < 0)
            return 1;
        if (run == 0) {
            fprintf(stderr, "replay: %s holds no input\n", argv[i]);
            return 1;
        }
        total += run;
    }
    printf("replay: %ld inputs and the empty one, no fault\n", total);
    return 0;
}
