/* The event-name rules of message.h, kept apart from message.c because they allocate nothing:
 * libbelfry (which must never abort on allocation failure) compiles this file as it is. */
#include "err.h"
#include "message.h"

#include <stdio.h>
#include <string.h>

int bf_message_check_event(const char *event, size_t len, char *err, size_t errlen)
{
    if (len == 0 || len > BF_EVENT_MAX) {
        snprintf(err, errlen, "\"event\" must be 1-%d bytes", BF_EVENT_MAX);
        return BF_EINVAL;
    }
    if (memchr(event, '\0', len)) {
        snprintf(err, errlen, "\"event\" must not contain NUL");
        return BF_EINVAL;
    }
    if ((len >= 9 && !strncmp(event, "presence:", 9)) ||
        (len >= 7 && !strncmp(event, "belfry:", 7)) ||
        (len == 7 && !strncmp(event, "whisper", 7)) || (len == 5 && !strncmp(event, "error", 5))) {
        snprintf(err, errlen,
                 "\"event\" uses a name reserved for server events (presence:*, belfry:*, "
                 "whisper, error)");
        return BF_EINVAL;
    }
    return 0;
}
