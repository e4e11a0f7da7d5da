/* Per-thread clean-up for the grow-only scratch buffers kept in _Thread_local variables. The pool's
 * threads live as long as the process, but an application thread that calls the API and then exits
 * (a server's worker, a Python thread) would leave its buffers behind: a module registers a function
 * that frees its buffers, on the thread that allocated them, and it runs when that thread exits. */
#ifndef VT_THREAD_EXIT_H
#define VT_THREAD_EXIT_H

/* Runs fn on the calling thread when it exits (once per thread, however often registered; at most
 * 16 functions per thread). Not run for the main thread, whose buffers live until the process ends. */
void vt_on_thread_exit(void (*fn)(void));

#endif
