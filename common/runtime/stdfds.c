/*  fanfold's standard descriptors: opens /dev/null on any of fds 0, 1, 2
    that is closed, so that they cannot be handed out to a socket or file. */

#include "fanfold/runtime/stdfds.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int
ff_stdfds_guard (void)
{
    int found = 0, fd;
    for (fd = 0; fd <= 2; fd++) {
        if (fcntl (fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        /* the lowest free descriptor is fd itself: the ones below are open */
        int opened = open ("/dev/null", fd == 0? O_RDONLY: O_WRONLY);
        if (opened < 0)
            return -1;
        if (opened != fd) {
            int rc = dup2 (opened, fd);
            close (opened);
            if (rc < 0)
                return -1;
        }
        found |= 1 << fd;
    }
    return found;
}
