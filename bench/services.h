/*
 * The services the benchmark drivers run beside the library (bench/bench.c, bench/alloc-bench.c): the NPDS server
 * (bench/npds_serve.py, the test suite's grpcio server) as a child process, and an access-log collector thread
 * draining the library's SOCK_SEQPACKET socket. Static functions: include this file in one translation unit.
 */
#ifndef SWIFT_PROXYLIB_BENCH_SERVICES_H
#define SWIFT_PROXYLIB_BENCH_SERVICES_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#ifndef BENCH_NAME
#define BENCH_NAME "bench"
#endif

static void die(const char *fmt, const char *arg) {
  fprintf(stderr, BENCH_NAME ": ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  exit(1);
}

/* ---- the NPDS server (bench/npds_serve.py) -------------------------------------------------------------- */

typedef struct npds_child {
  pid_t pid;
  int to_child;   /* its stdin: closing it stops the server */
  int from_child; /* its stdout: LISTENING / ACK / NACK lines */
  char line[4096];
  size_t line_len;
} npds_child;

static void npds_start(npds_child *c, const char *python, const char *script, const char *sock,
                       const char *policy) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) die("pipe: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  char *argv[] = {(char *)python, (char *)script, (char *)sock, (char *)policy, NULL};
  int err = posix_spawn(&c->pid, python, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) die("cannot run the NPDS server: %s", strerror(err));
  close(in[0]);
  close(out[1]);
  c->to_child = in[1];
  c->from_child = out[0];
  c->line_len = 0;
}

/* Reads the next line from the server into c->line (NUL-terminated, no newline); -1 on timeout or EOF. */
static int npds_read_line(npds_child *c, int timeout_ms) {
  double deadline = now_ns() + timeout_ms * 1e6;
  for (;;) {
    char *nl = memchr(c->line, '\n', c->line_len);
    if (nl != NULL) {
      *nl = '\0';
      return 0;
    }
    int left = (int)((deadline - now_ns()) / 1e6);
    if (left <= 0 || c->line_len >= sizeof c->line - 1) return -1;
    struct pollfd p = {c->from_child, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) continue;
    ssize_t n = read(c->from_child, c->line + c->line_len, sizeof c->line - 1 - c->line_len);
    if (n <= 0) return -1;
    c->line_len += (size_t)n;
  }
}

/* Drops the line returned by the last npds_read_line. */
static void npds_consume_line(npds_child *c) {
  size_t used = strlen(c->line) + 1;
  memmove(c->line, c->line + used, c->line_len - used);
  c->line_len -= used;
}

/* Waits for a line starting with `prefix`; a NACK line is fatal. */
static void npds_expect(npds_child *c, const char *prefix, int timeout_ms) {
  for (;;) {
    if (npds_read_line(c, timeout_ms) != 0) die("no '%s' from the NPDS server in time", prefix);
    int nack = strncmp(c->line, "NACK", 4) == 0;
    int match = strncmp(c->line, prefix, strlen(prefix)) == 0;
    if (nack) die("the library rejected the policy: %s", c->line);
    npds_consume_line(c);
    if (match) return;
  }
}

static void npds_stop(npds_child *c) {
  close(c->to_child);
  int status;
  for (int i = 0; i < 100; i++) {
    if (waitpid(c->pid, &status, WNOHANG) == c->pid) goto done;
    usleep(50000);
  }
  kill(c->pid, SIGKILL);
  waitpid(c->pid, &status, 0);
done:
  close(c->from_child);
}

/* ---- the access-log collector --------------------------------------------------------------------------- */

typedef struct collector {
  int listener;
  int stop_pipe[2];
  pthread_t thread;
  atomic_long entries, bytes;
} collector;

static void *collector_main(void *arg) {
  collector *col = arg;
  static char packet[1 << 16];
  struct pollfd fds[2 + 16];
  int n_conns = 0;
  fds[0] = (struct pollfd){col->listener, POLLIN, 0};
  fds[1] = (struct pollfd){col->stop_pipe[0], POLLIN, 0};
  for (;;) {
    if (poll(fds, (nfds_t)(2 + n_conns), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    if ((fds[0].revents & POLLIN) && n_conns < 16) {
      int fd = accept(col->listener, NULL, NULL);
      if (fd >= 0) fds[2 + n_conns++] = (struct pollfd){fd, POLLIN, 0};
    }
    for (int i = 0; i < n_conns; i++) {
      if (!fds[2 + i].revents) continue;
      /* Read everything waiting before polling again, as a real collector does. */
      ssize_t n;
      while ((n = recv(fds[2 + i].fd, packet, sizeof packet, MSG_DONTWAIT)) > 0) {
        atomic_fetch_add(&col->entries, 1);
        atomic_fetch_add(&col->bytes, n);
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fds[2 + i].fd);
        fds[2 + i] = fds[2 + n_conns - 1];
        n_conns--;
        i--;
      }
    }
  }
  for (int i = 0; i < n_conns; i++) close(fds[2 + i].fd);
  return NULL;
}

static void collector_start(collector *col, const char *path) {
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) die("socket path too long: %s", path);
  memcpy(addr.sun_path, path, strlen(path) + 1);
  col->listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (col->listener < 0 || bind(col->listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(col->listener, 16) != 0 || pipe(col->stop_pipe) != 0)
    die("access-log socket: %s", strerror(errno));
  atomic_store(&col->entries, 0);
  atomic_store(&col->bytes, 0);
  if (pthread_create(&col->thread, NULL, collector_main, col) != 0) die("%s", "pthread_create");
}

/* Waits until no entry has arrived for 50 ms (at most 5 s); returns the entry count. */
static long collector_settle(collector *col) {
  long seen = atomic_load(&col->entries);
  for (int i = 0; i < 100; i++) {
    usleep(50000);
    long now = atomic_load(&col->entries);
    if (now == seen) break;
    seen = now;
  }
  return seen;
}

/* The same, but returns as soon as the count reaches `expected` (every entry sent has arrived: nothing more can
   come); returns the entry count. */
static inline long collector_settle_at(collector *col, long expected) {
  long seen = atomic_load(&col->entries);
  for (int quiet_ms = 0, total_ms = 0; seen < expected && quiet_ms < 50 && total_ms < 5000; total_ms++) {
    usleep(1000);
    long now = atomic_load(&col->entries);
    quiet_ms = now == seen ? quiet_ms + 1 : 0;
    seen = now;
  }
  return seen;
}

static void collector_stop(collector *col) {
  if (write(col->stop_pipe[1], "x", 1) != 1) die("%s", "collector stop");
  pthread_join(col->thread, NULL);
  close(col->listener);
  close(col->stop_pipe[0]);
  close(col->stop_pipe[1]);
}

/* ---- both, on sockets in a private directory ------------------------------------------------------------ */

typedef struct bench_services {
  char dir[64], xds[256], log_path[256];
  npds_child npds; /* serving bench/policy.txt */
  collector col;
} bench_services;

/* Starts the NPDS server (bench/npds_serve.py with `python`; run from the repository root) and the collector. */
static void services_start(bench_services *s, const char *python) {
  snprintf(s->dir, sizeof s->dir, "/tmp/proxylib-%s-XXXXXX", BENCH_NAME);
  if (mkdtemp(s->dir) == NULL) die("mkdtemp: %s", strerror(errno));
  snprintf(s->xds, sizeof s->xds, "%s/xds.sock", s->dir);
  snprintf(s->log_path, sizeof s->log_path, "%s/access_log.sock", s->dir);
  npds_start(&s->npds, python, "bench/npds_serve.py", s->xds, "bench/policy.txt");
  npds_expect(&s->npds, "LISTENING", 60000);
  collector_start(&s->col, s->log_path);
}

/* Stops the collector and the NPDS server and removes their sockets and directory. */
static void services_stop(bench_services *s) {
  collector_stop(&s->col);
  npds_stop(&s->npds);
  unlink(s->xds);
  unlink(s->log_path);
  rmdir(s->dir);
}

#endif
