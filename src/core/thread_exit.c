/* vt_on_thread_exit (see thread_exit.h): one pthread key whose destructor runs the thread's list. */
#include "core/thread_exit.h"

#include <pthread.h>

enum { MAX_FNS = 16 };
static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int have_key;
static _Thread_local void (*fns[MAX_FNS])(void);
static _Thread_local int n_fns;

/* The key's destructor: called at thread exit while the thread's _Thread_local variables still exist. */
static void run_all(void *unused) {
    (void)unused;
    for (int i = n_fns - 1; i >= 0; i--) fns[i]();
    n_fns = 0;
}

static void make_key(void) { have_key = pthread_key_create(&key, run_all) == 0; }

void vt_on_thread_exit(void (*fn)(void)) {
    pthread_once(&once, make_key);
    if (!have_key) return;
    for (int i = 0; i < n_fns; i++)
        if (fns[i] == fn) return;
    if (n_fns == MAX_FNS) return;
    fns[n_fns++] = fn;
    pthread_setspecific(key, (void *)1); /* non-NULL: the destructor runs */
}
