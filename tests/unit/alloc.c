/* Unit tests for common/alloc.h: the daemons' out-of-memory policy (abort with file:line) also
 * holds for what jansson allocates once bf_alloc_init() has run. */
#include "common/alloc.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

Test(alloc, init_routes_jansson_through_bf_malloc)
{
    json_malloc_t m0;
    json_free_t f0;
    json_get_alloc_funcs(&m0, &f0);
    bf_alloc_init();
    json_malloc_t m;
    json_free_t f;
    json_get_alloc_funcs(&m, &f);
    cr_expect_neq((void *)m, (void *)m0, "jansson still uses its own malloc");
    cr_expect_eq((void *)f, (void *)free, "memory from jansson is freed with free()");
    /* and it works: json_dumps' result is freed with free() as before */
    json_t *j = json_pack("{s:s}", "a", "b");
    char *s = json_dumps(j, JSON_COMPACT);
    cr_expect_str_eq(s, "{\"a\":\"b\"}");
    free(s);
    json_decref(j);
}

#if defined(__SANITIZE_ADDRESS__)
#define BF_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BF_ASAN 1
#endif
#endif

/* With the address space capped, a large jansson allocation fails: jansson alone would return
 * NULL to its caller; through bf_malloc the process aborts (SIGABRT), as for any daemon
 * allocation. (Not under ASan: it reserves terabytes of address space and reports OOM itself.) */
#ifdef BF_ASAN
Test(alloc, jansson_out_of_memory_aborts)
{
    cr_skip_test("address-space limits do not apply under ASan");
}
#else
Test(alloc, jansson_out_of_memory_aborts, .signal = SIGABRT)
{
    bf_alloc_init();
    size_t n = 64u << 20;
    char *big = malloc(n);
    cr_assert_not_null(big);
    memset(big, 'a', n);
    struct rlimit rl;
    getrlimit(RLIMIT_AS, &rl);
    /* what is mapped now plus less than the copy jansson is about to make */
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    cr_assert(f && fscanf(f, "%lu", &pages) == 1);
    fclose(f);
    rl.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + n / 2;
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
    json_t *s = json_stringn(big, n); /* jansson copies the string: jsonp_malloc(n + 1) */
    /* reached only if jansson's allocation returned NULL instead of aborting */
    cr_assert_fail("jansson returned %p without aborting", (void *)s);
}
#endif
