/*
 * sockread.h - how many bytes the process has read from a TCP socket.
 */
#ifndef STREAMAVG_SOCKREAD_H
#define STREAMAVG_SOCKREAD_H

#include <stdint.h>

/* The number of payload bytes read from connected TCP socket fd so far
 * (by any reader: here, libwebsockets), into *n.  A FIN the peer sent
 * counts as one byte.  Urgent data must be inline (SO_OOBINLINE) for the
 * count to be exact.  Returns 0, or -1 when the kernel cannot tell (not
 * TCP, or a kernel before Linux 4.1). */
int sock_bytes_read(int fd, uint64_t *n);

/* The payload bytes received on fd so far, read or not (one system call;
 * never less than sock_bytes_read()).  Returns 0, or -1 as above. */
int sock_bytes_received(int fd, uint64_t *n);

#endif
