/* A GStreamer RTSP server on 127.0.0.1 for tests and the soak (tests/peers/rtsp_server.py), one
 * process per server. Used by tests/test-rtsp.c and bench/soak.c. */
#ifndef PANOPTES_TESTS_RTSP_SERVER_H
#define PANOPTES_TESTS_RTSP_SERVER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RTSP_SERVER_PYTHON "/usr/bin/python3"

/* A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released). */
static inline int rtsp_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

typedef struct rtsp_server {
    pid_t pid;
    int port;
    int out; /* read end of its stdout, kept open while it runs (it must never write to a closed pipe) */
} rtsp_server;

static inline double rtsp__now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Starts `script` (the path of rtsp_server.py) on `port` (mode NULL: H.264 test pattern; else one
 * option, e.g. "--stall": accepts, never answers) and waits up to 20 s for its "ready" line.
 * 0 = running, 77 = GStreamer's RTSP server (or the interpreter) is missing, -1 = failed. */
static inline int rtsp_server_start(rtsp_server *s, int port, const char *mode, const char *script)
{
    int fds[2];
    char portstr[16];
    s->pid = -1;
    s->port = port;
    s->out = -1;
    if (access(RTSP_SERVER_PYTHON, X_OK) != 0) return 77;
    if (pipe(fds) != 0) return -1;
    snprintf(portstr, sizeof portstr, "%d", port);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        if (mode) execl(RTSP_SERVER_PYTHON, RTSP_SERVER_PYTHON, script, portstr, mode, (char *)NULL);
        else execl(RTSP_SERVER_PYTHON, RTSP_SERVER_PYTHON, script, portstr, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    s->pid = pid;
    char buf[64] = {0};
    size_t got = 0;
    double end = rtsp__now_s() + 20;
    while (got < sizeof buf - 1 && !strstr(buf, "ready") && rtsp__now_s() < end) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, 200) <= 0) continue;
        ssize_t k = read(fds[0], buf + got, sizeof buf - 1 - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (strstr(buf, "ready")) {
        s->out = fds[0];
        return 0;
    }
    close(fds[0]);
    int status = 0;
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    s->pid = -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 77 ? 77 : -1;
}

/* Sends sig: SIGSTOP/SIGCONT pause and resume it; anything else ends it (waited for). */
static inline void rtsp_server_stop(rtsp_server *s, int sig)
{
    if (s->pid <= 0) return;
    kill(s->pid, sig);
    if (sig == SIGSTOP || sig == SIGCONT) return;
    waitpid(s->pid, NULL, 0);
    s->pid = -1;
    if (s->out >= 0) close(s->out);
    s->out = -1;
}

#endif
