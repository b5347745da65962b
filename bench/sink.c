/*
 * sink.c - a TCP sink for the ingest benchmark: accepts on 127.0.0.1:PORT,
 * reads and discards everything, one thread per connection, and closes a
 * connection when its peer has finished.  The limit of the loopback path
 * that the Graphite servers are compared with.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void *drain(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static __thread char buf[1 << 18];

    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa = {0};
    int one = 1, lfd = socket(AF_INET, SOCK_STREAM, 0);

    if (argc != 2 || lfd < 0)
        return 2;
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64)) {
        perror("sink");
        return 1;
    }
    printf("sink listening on 127.0.0.1:%s\n", argv[1]);
    fflush(stdout);
    for (;;) {
        pthread_t t;
        int fd = accept(lfd, NULL, NULL);

        if (fd < 0)
            continue;
        if (pthread_create(&t, NULL, drain, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
}
