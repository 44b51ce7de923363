// System headers that Swift's Glibc module does not export. Header only: no logic lives here.
#ifndef SESAME_CSYSTEM_H
#define SESAME_CSYSTEM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <sys/random.h>
// accept4 is declared by <sys/socket.h> only under _GNU_SOURCE, which Swift's Glibc module
// is not built with; this is its prototype, nothing more.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);
#endif
