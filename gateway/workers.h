/* --workers N: one gateway process per core.
 *
 * Each worker is a complete gateway with its own event loop, its own Redis links and its own
 * instance id; they share the listening port through SO_REUSEPORT, so the kernel spreads new
 * connections over them. The supervising process only forks, forwards SIGTERM/SIGINT (each
 * worker drains) and restarts a worker that died unexpectedly (after a 1 s pause); it holds no
 * sockets and runs no loop of its own. */
#ifndef BF_WORKERS_H
#define BF_WORKERS_H

/* Forks n workers. In each worker it returns 0 (the caller goes on to run a gateway); in the
 * supervisor it returns only when every worker has exited, with the exit status to use. */
int bf_workers_run(int n);

#endif
