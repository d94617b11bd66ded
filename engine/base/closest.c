/* Edit distance to a list of known names, and the same words in another order (closest.h). */
#define _POSIX_C_SOURCE 200809L /* strncasecmp */
#include "closest.h"

#include <string.h>
#include <strings.h>

enum { LONGEST = 64 }; /* names and words longer than this are not compared */

/* Edit distance of a[0..na) and b[0..nb) where swapping two neighbours is one edit ("rmp" for
 * "rpm", the commonest slip): the optimal string alignment distance, kept three rows at a time. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t rows[3][LONGEST + 1];
    size_t *before = rows[0], *prev = rows[1], *row = rows[2];
    for (size_t j = 0; j <= nb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= na; i++) {
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && before[j - 2] + 1 < best)
                best = before[j - 2] + 1;
            row[j] = best;
        }
        size_t *oldest = before;
        before = prev;
        prev = row;
        row = oldest;
    }
    return prev[nb];
}

const char *closest_name(const char *word, const char *const *names, size_t n)
{
    size_t nw = strlen(word);
    if (nw == 0 || nw > LONGEST)
        return NULL;
    const char *found = NULL;
    /* One more than the edits allowed: 2, and fewer than half the word's length. */
    size_t least = (nw + 1) / 2 < 3 ? (nw + 1) / 2 : 3;
    for (size_t i = 0; i < n; i++) {
        size_t nn = strlen(names[i]);
        if (nn > LONGEST || (nn > nw ? nn - nw : nw - nn) >= least)
            continue;
        size_t d = distance(word, nw, names[i], nn);
        if (d < least) {
            least = d;
            found = names[i];
        }
    }
    return found;
}

/* Whether each word of a (split on '.' and '_', empty words skipped) is a word of b. */
static int words_within(const char *a, const char *b)
{
    for (const char *w = a; *w;) {
        size_t nw = strcspn(w, "._");
        int found = nw == 0;
        for (const char *v = b; *v && !found;) {
            size_t nv = strcspn(v, "._");
            found = nv == nw && strncasecmp(v, w, nw) == 0;
            v += nv + (v[nv] != '\0');
        }
        if (!found)
            return 0;
        w += nw + (w[nw] != '\0');
    }
    return 1;
}

const char *same_words_name(const char *word, const char *const *names, size_t n)
{
    if (!*word)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (words_within(word, names[i]) && words_within(names[i], word))
            return names[i];
    return NULL;
}
