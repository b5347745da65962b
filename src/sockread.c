/*
 * sockread.c - bytes read from a TCP socket, from the kernel's counters:
 * everything received in order (TCP_INFO's tcpi_bytes_received) less what
 * still waits in the receive queue (SIOCINQ).  http_api.c uses it to tell
 * whether libwebsockets read from a connection between two points.
 *
 * <linux/tcp.h>, not glibc's <netinet/tcp.h>: glibc's struct tcp_info
 * stops before tcpi_bytes_received (Linux 4.1).
 */
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <linux/tcp.h>

#include "sockread.h"

static int bytes_received(int fd, uint64_t *n)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);

    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
        len < offsetof(struct tcp_info, tcpi_bytes_received) +
                  sizeof(ti.tcpi_bytes_received))
        return -1;
    *n = ti.tcpi_bytes_received;
    return 0;
}

int sock_bytes_received(int fd, uint64_t *n)
{
    return bytes_received(fd, n);
}

int sock_bytes_read(int fd, uint64_t *n)
{
    int tries;

    /* The two counters come from two calls: data that arrives between
     * them would count in one and not the other.  If the queue is as long
     * after reading the received count as before, nothing arrived. */
    for (tries = 0; tries < 16; tries++) {
        uint64_t received;
        int q1, q2;

        if (ioctl(fd, SIOCINQ, &q1) < 0 ||
            bytes_received(fd, &received) < 0 ||
            ioctl(fd, SIOCINQ, &q2) < 0)
            return -1;
        if (q1 == q2 && q1 >= 0 && (uint64_t)q1 <= received) {
            *n = received - (uint64_t)q1;
            return 0;
        }
    }
    return -1;
}
