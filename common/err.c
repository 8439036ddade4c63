#include "err.h"

const char *bf_strerror(int code)
{
    switch (code) {
    case 0:
        return "success";
#define BF_ERR_CASE(name, c, msg)                                                                  \
    case c:                                                                                        \
        return msg;
        BF_ERRNO_MAP(BF_ERR_CASE)
#undef BF_ERR_CASE
    }
    return "unknown error";
}
