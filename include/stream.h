/*
 * stream.h - what the rest of the server asks of the WebSocket stream.
 * The protocol itself is wired up in server.c (see server.h).
 */
#ifndef STREAMAVG_STREAM_H
#define STREAMAVG_STREAM_H

struct app;
struct series;

/* Create and free the subscriber registry. Returns -1 on no memory. */
int stream_init(struct app *app);
void stream_free(struct app *app);

/* A point was just appended to s: encode each subscribed window's new
 * average once and queue it for every subscriber of that window. */
void stream_publish(struct app *app, struct series *s);

#endif
