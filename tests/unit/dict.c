/* Unit tests for common/dict.h: the string-keyed hash table.
 *
 * The .c is included so that one test can check the documented growth policy (load factor 1),
 * which is invisible through the public API except as a slowdown. */
#include "common/dict.c"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define V(i) ((void *)(uintptr_t)(i))
#define I(v) ((uintptr_t)(v))

static size_t key_of(char *buf, size_t cap, int i)
{
    return (size_t)snprintf(buf, cap, "key-%d", i);
}

/* ---- basics ------------------------------------------------------------------------------ */

Test(dict, empty)
{
    bf_dict *d = bf_dict_new();
    cr_assert_not_null(d);
    cr_expect_eq(bf_dict_size(d), 0);
    cr_expect_null(bf_dict_get(d, "a", 1));
    cr_expect_null(bf_dict_del(d, "a", 1));
    cr_expect_eq(bf_dict_size(d), 0);
    bf_dict_free(d);
    bf_dict_free(NULL);
}

Test(dict, put_get)
{
    bf_dict *d = bf_dict_new();
    cr_expect_null(bf_dict_put(d, "alpha", 5, V(1)));
    cr_expect_null(bf_dict_put(d, "beta", 4, V(2)));
    cr_expect_eq(bf_dict_size(d), 2);
    cr_expect_eq(I(bf_dict_get(d, "alpha", 5)), 1);
    cr_expect_eq(I(bf_dict_get(d, "beta", 4)), 2);
    cr_expect_null(bf_dict_get(d, "gamma", 5));
    cr_expect_null(bf_dict_get(d, "alph", 4), "a prefix is a different key");
    cr_expect_null(bf_dict_get(d, "alphas", 6), "an extension is a different key");
    bf_dict_free(d);
}

Test(dict, replace_returns_old_value)
{
    bf_dict *d = bf_dict_new();
    cr_expect_null(bf_dict_put(d, "k", 1, V(10)));
    cr_expect_eq(I(bf_dict_put(d, "k", 1, V(20))), 10);
    cr_expect_eq(bf_dict_size(d), 1, "replacing does not add");
    cr_expect_eq(I(bf_dict_get(d, "k", 1)), 20);
    cr_expect_eq(I(bf_dict_put(d, "k", 1, V(30))), 20);
    cr_expect_eq(I(bf_dict_get(d, "k", 1)), 30);
    bf_dict_free(d);
}

Test(dict, del_returns_value_once)
{
    bf_dict *d = bf_dict_new();
    bf_dict_put(d, "a", 1, V(1));
    bf_dict_put(d, "b", 1, V(2));
    cr_expect_eq(I(bf_dict_del(d, "a", 1)), 1);
    cr_expect_eq(bf_dict_size(d), 1);
    cr_expect_null(bf_dict_get(d, "a", 1));
    cr_expect_null(bf_dict_del(d, "a", 1), "second delete finds nothing");
    cr_expect_eq(bf_dict_size(d), 1);
    cr_expect_eq(I(bf_dict_get(d, "b", 1)), 2, "the other key is untouched");
    cr_expect_null(bf_dict_put(d, "a", 1, V(3)), "re-insert after delete is new");
    cr_expect_eq(I(bf_dict_get(d, "a", 1)), 3);
    cr_expect_eq(bf_dict_size(d), 2);
    bf_dict_free(d);
}

Test(dict, keys_are_copied)
{
    char key[16] = "mutable";
    bf_dict *d = bf_dict_new();
    bf_dict_put(d, key, 7, V(5));
    memset(key, 'z', 7);
    cr_expect_eq(I(bf_dict_get(d, "mutable", 7)), 5);
    cr_expect_null(bf_dict_get(d, key, 7));
    bf_dict_free(d);
}

Test(dict, binary_safe_keys)
{
    bf_dict *d = bf_dict_new();
    bf_dict_put(d, "a\0b", 3, V(1));
    bf_dict_put(d, "a\0c", 3, V(2));
    bf_dict_put(d, "a", 1, V(3));
    bf_dict_put(d, "a\0", 2, V(4));
    bf_dict_put(d, "", 0, V(5));
    bf_dict_put(d, "\xff\x80", 2, V(6));
    cr_expect_eq(bf_dict_size(d), 6);
    cr_expect_eq(I(bf_dict_get(d, "a\0b", 3)), 1);
    cr_expect_eq(I(bf_dict_get(d, "a\0c", 3)), 2);
    cr_expect_eq(I(bf_dict_get(d, "a", 1)), 3);
    cr_expect_eq(I(bf_dict_get(d, "a\0", 2)), 4);
    cr_expect_eq(I(bf_dict_get(d, "", 0)), 5);
    cr_expect_eq(I(bf_dict_get(d, "\xff\x80", 2)), 6);
    cr_expect_null(bf_dict_get(d, "a\0d", 3));
    cr_expect_eq(I(bf_dict_del(d, "a\0b", 3)), 1);
    cr_expect_eq(I(bf_dict_get(d, "a\0c", 3)), 2);
    cr_expect_eq(I(bf_dict_get(d, "a", 1)), 3);
    bf_dict_free(d);
}

/* ---- growth ------------------------------------------------------------------------------ */

Test(dict, hundred_thousand_keys)
{
    enum { N = 100000 };
    bf_dict *d = bf_dict_new();
    char k[32];
    for (int i = 0; i < N; i++) {
        size_t n = key_of(k, sizeof(k), i);
        cr_assert_null(bf_dict_put(d, k, n, V(i + 1)), "key %d is new", i);
    }
    cr_assert_eq(bf_dict_size(d), N);
    for (int i = 0; i < N; i++) {
        size_t n = key_of(k, sizeof(k), i);
        cr_assert_eq(I(bf_dict_get(d, k, n)), (uintptr_t)i + 1, "key %d after growth", i);
    }
    cr_expect_null(bf_dict_get(d, "key-100000", 10));
    for (int i = 0; i < N; i += 2) {
        size_t n = key_of(k, sizeof(k), i);
        cr_assert_eq(I(bf_dict_del(d, k, n)), (uintptr_t)i + 1);
    }
    cr_assert_eq(bf_dict_size(d), N / 2);
    for (int i = 0; i < N; i++) {
        size_t n = key_of(k, sizeof(k), i);
        void *v = bf_dict_get(d, k, n);
        if (i % 2)
            cr_assert_eq(I(v), (uintptr_t)i + 1, "odd key %d survives", i);
        else
            cr_assert_null(v, "even key %d is gone", i);
    }
    bf_dict_free(d);
}

static size_t longest_chain(const bf_dict *d)
{
    size_t longest = 0;
    for (size_t i = 0; i <= d->mask; i++) {
        size_t n = 0;
        for (const entry *e = d->b[i]; e; e = e->next) n++;
        if (n > longest) longest = n;
    }
    return longest;
}

Test(dict, grows_at_load_factor_one)
{
    bf_dict *d = bf_dict_new();
    char k[32];
    for (int i = 0; i < 100000; i++) {
        size_t n = key_of(k, sizeof(k), i);
        bf_dict_put(d, k, n, V(i + 1));
        cr_assert_leq(d->n, d->mask + 1, "load factor above 1 after %d keys", i + 1);
    }
    cr_expect_eq(d->mask & (d->mask + 1), 0, "bucket count is a power of two");
    cr_expect_leq(d->mask + 1, 2 * 131072, "no more than one doubling too many");
    cr_expect_leq(longest_chain(d), 16, "keys spread over the buckets");
    bf_dict_free(d);
}

/* ---- foreach ----------------------------------------------------------------------------- */

typedef struct visit {
    int seen[1000];
    int calls;
    int remove_even;
} visit;

static int visitor(const char *key, void *val, void *arg)
{
    visit *v = arg;
    int i = (int)I(val) - 1;
    char want[32];
    snprintf(want, sizeof(want), "key-%d", i);
    cr_assert_str_eq(key, want, "key is passed NUL-terminated and matches its value");
    v->seen[i]++;
    v->calls++;
    return v->remove_even && i % 2 == 0;
}

static bf_dict *filled(int n)
{
    bf_dict *d = bf_dict_new();
    char k[32];
    for (int i = 0; i < n; i++) {
        size_t len = key_of(k, sizeof(k), i);
        bf_dict_put(d, k, len, V(i + 1));
    }
    return d;
}

Test(dict, foreach_visits_every_entry_once)
{
    bf_dict *d = filled(1000);
    visit v = {.remove_even = 0};
    bf_dict_foreach(d, visitor, &v);
    cr_expect_eq(v.calls, 1000);
    for (int i = 0; i < 1000; i++) cr_assert_eq(v.seen[i], 1, "key %d seen once", i);
    cr_expect_eq(bf_dict_size(d), 1000);
    bf_dict_free(d);
}

Test(dict, foreach_with_deletion)
{
    bf_dict *d = filled(1000);
    visit v = {.remove_even = 1};
    bf_dict_foreach(d, visitor, &v);
    cr_expect_eq(v.calls, 1000, "deleting does not skip entries");
    for (int i = 0; i < 1000; i++) cr_assert_eq(v.seen[i], 1, "key %d seen once", i);
    cr_expect_eq(bf_dict_size(d), 500);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        size_t n = key_of(k, sizeof(k), i);
        if (i % 2)
            cr_assert_eq(I(bf_dict_get(d, k, n)), (uintptr_t)i + 1);
        else
            cr_assert_null(bf_dict_get(d, k, n));
    }
    /* a second pass sees only the survivors */
    visit w = {.remove_even = 0};
    bf_dict_foreach(d, visitor, &w);
    cr_expect_eq(w.calls, 500);
    bf_dict_free(d);
}

static int remove_all(const char *key, void *val, void *arg)
{
    (void)key, (void)val;
    ++*(int *)arg;
    return 1;
}

Test(dict, foreach_can_empty_the_dict)
{
    bf_dict *d = filled(300);
    int calls = 0;
    bf_dict_foreach(d, remove_all, &calls);
    cr_expect_eq(calls, 300);
    cr_expect_eq(bf_dict_size(d), 0);
    cr_expect_null(bf_dict_get(d, "key-0", 5));
    calls = 0;
    bf_dict_foreach(d, remove_all, &calls);
    cr_expect_eq(calls, 0);
    cr_expect_null(bf_dict_put(d, "again", 5, V(1)), "still usable");
    cr_expect_eq(I(bf_dict_get(d, "again", 5)), 1);
    bf_dict_free(d);
}
