#include "fdtable.h"

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/time.h>

uint64_t bf_fdtable_raise_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
    return (uint64_t)rl.rlim_cur;
}

uint64_t bf_fdtable_slots(uint64_t max_connections, uint64_t limit)
{
    uint64_t headroom = max_connections / 8 > 1024 ? max_connections / 8 : 1024;
    uint64_t want = max_connections + BF_GW_FD_RESERVE + headroom;
    return want < limit ? want : limit;
}

struct lws_context *bf_fdtable_create_lws(const struct lws_context_creation_info *info,
                                          uint64_t slots)
{
    struct rlimit rl, small;
    bool lowered = false;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && slots < rl.rlim_cur) {
        small = rl;
        small.rlim_cur = (rlim_t)slots;
        lowered = setrlimit(RLIMIT_NOFILE, &small) == 0;
    }
    struct lws_context *ctx = lws_create_context(info);
    if (lowered) setrlimit(RLIMIT_NOFILE, &rl);
    return ctx;
}
