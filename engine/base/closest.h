/* The known name a mistyped one was most likely meant to be, for errors that suggest it
 * ("unknown option 'temprature' (did you mean 'temperature'?)"): a misspelt option is
 * otherwise read as absent, and a budget or a schema silently not applied. */
#ifndef NYX_BASE_CLOSEST_H
#define NYX_BASE_CLOSEST_H

#include <stddef.h>

/* The name among names[0..n) nearest to word by edit distance (one insertion, deletion,
 * substitution or swap of two neighbours each), when it is near enough to be a slip: at most 2
 * edits, and fewer than half word's length; the first such name of the least distance, or
 * NULL. */
const char *closest_name(const char *word, const char *const *names, size_t n);

/* The first name among names[0..n) made of the same words as word in another order, the words
 * split on '.' and '_' and compared without case ("daily_budget_usd" for "budget.daily_usd"), or
 * NULL: a dotted key typed as the words a person says is no slip of letters closest_name sees. */
const char *same_words_name(const char *word, const char *const *names, size_t n);

#endif
