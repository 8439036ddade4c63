/* The entry point of every test suite: Criterion's own main, plus one rule it lacks. Criterion
 * 2.4 prints an assertion that fails in a .fini (teardown) but still counts the test as passed
 * and exits 0 — and the integration suites check in their teardowns that every daemon exited
 * cleanly (status 0: no leak reported by LeakSanitizer or valgrind, no crash). Here such a
 * test makes the suite exit 1. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>

static int teardown_failures;

ReportHook(POST_FINI)(struct criterion_test_stats *st)
{
    if (st->test_status != CR_STATUS_PASSED || st->failed_asserts == 0) return;
    teardown_failures++;
    fprintf(stderr, "[FAIL] %s::%s: %d assertion(s) failed in its teardown (see above)\n",
            st->test->category, st->test->name, st->failed_asserts);
}

int main(int argc, char *argv[])
{
    struct criterion_test_set *tests = criterion_initialize();
    int failed = 0;
    if (criterion_handle_args(argc, argv, true)) failed = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    if (teardown_failures)
        fprintf(stderr, "%d test(s) failed in their teardown: exit status 1\n", teardown_failures);
    return failed || teardown_failures ? 1 : 0;
}
