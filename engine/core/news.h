/* News from the other processes sharing the database: the emergency stop and the settings,
 * read when the store reports a change. Read in the loop, so a slow database delays the news
 * and never a host's frame. */
#ifndef NYX_CORE_NEWS_H
#define NYX_CORE_NEWS_H

typedef struct nyx_engine nyx_engine;

/* Starts reading the stop flag and the settings, unless a read is under way (e->news), and
 * applies them when both are answered: a stop set elsewhere stops this engine, a cleared one
 * lets calls go again. A read that failed, or that this process's own stop, resume or setting
 * overtook, sets e->news_again instead. With a database that answers at once, all of it
 * happens here. */
void news_read(nyx_engine *e);

/* The engine is closing: answers still to come are dropped. */
void news_abandon(nyx_engine *e);

#endif
