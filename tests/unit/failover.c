/* common/failover.c's reading of CLUSTER NODES on Redis Cluster: the lowest slot the "myself"
 * line owns names the shard's record (bf_key_shard_replid). Ranges and single slots count;
 * migration entries ("[slot->-id]", "[slot-<-id]") do not; a primary without slots has none. The
 * gate itself runs against a real cluster in tests/integration/rcluster_epochs.c. */
#include "common/failover.c"

#include <criterion/criterion.h>

#define OTHER                                                                                      \
    "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004 slave "                        \
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238317239 4 connected\n"

Test(failover, the_lowest_owned_slot_of_myself)
{
    char node[48];
    const char *nodes = OTHER
        "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30001@31001 myself,master - 0 0 "
        "1 connected 10923-16383 700 5461-5470 [5471->-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f] "
        "[15-<-292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f]\n"
        "292f8b365bb7edb5e285caf0b7e6ddc7265d2f4f 127.0.0.1:30002@31002 master - 0 1 2 "
        "connected 0-699\n";
    cr_expect_eq(own_lowest_slot(nodes, node, sizeof(node)), 700);
    cr_expect_str_eq(node, "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca");
}

Test(failover, a_primary_without_slots_or_without_myself_has_none)
{
    char node[48] = "";
    cr_expect_eq(
        own_lowest_slot("abc 127.0.0.1:1@2 myself,master - 0 0 1 connected\n", node, sizeof(node)),
        -1);
    cr_expect_str_eq(node, "abc");
    cr_expect_eq(own_lowest_slot("abc 127.0.0.1:1@2 myself,master - 0 0 1 connected 7 [7->-x]\n",
                                 node, sizeof(node)),
                 -1, "a slot being migrated away is not the record's slot");
    cr_expect_eq(own_lowest_slot(OTHER, node, sizeof(node)), -1);
    /* the lowest slot migrating away: its keys may be gone already; the next one names it */
    cr_expect_eq(own_lowest_slot("abc 127.0.0.1:1@2 myself,master - 0 0 1 connected 0-5 "
                                 "[0->-x] [1->-x]\n",
                                 node, sizeof(node)),
                 2);
    cr_expect_eq(own_lowest_slot("", node, sizeof(node)), -1);
}

Test(failover, a_long_line_of_many_ranges)
{
    /* a fragmented shard: thousands of single slots, longer than any fixed line buffer */
    char *s = malloc(200000);
    size_t n = (size_t)sprintf(s, "me 127.0.0.1:1@2 myself,master - 0 0 1 connected");
    for (int slot = 16383; slot >= 3; slot -= 2) n += (size_t)sprintf(s + n, " %d", slot);
    sprintf(s + n, "\n");
    char node[48];
    cr_expect_eq(own_lowest_slot(s, node, sizeof(node)), 3);
    free(s);
}
