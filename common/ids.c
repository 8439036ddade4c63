#include "ids.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void bf_ids_random_hex(char *out, size_t nbytes)
{
    unsigned char b[32];
    if (nbytes > sizeof(b)) nbytes = sizeof(b);
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, nbytes, f) != nbytes) {
        unsigned long long x =
            (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
        for (size_t i = 0; i < nbytes; i++)
            b[i] = (unsigned char)(x >> (8 * (i % 8))) ^ (unsigned char)i;
    }
    if (f) fclose(f);
    for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * nbytes] = '\0';
}
