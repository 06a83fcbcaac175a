/*
 * swift-proxylib datapath harness: built-in tests against the loaded library.
 *
 *   builtin/concurrent-lineparser   several threads, each driving its own test.lineparser connection through the
 *                                   datapath (random write sizes, PASS/DROP/INJECT/INSERT lines, reply traffic),
 *                                   outputs compared with what the line semantics predict
 *   builtin/concurrent-churn        several threads opening and closing connections at the same time
 *   builtin/concurrent-logging      several threads opening one access-logging instance at once, their r2d2
 *                                   denials logged from every thread while the sender thread delivers them to a
 *                                   collector (a SOCK_SEQPACKET listener in the harness), then closing it at once
 *   builtin/connection-cycles       1000 connection open/use/close cycles on one instance, then CloseModule
 *   builtin/unknown-connection      OnData on ids never opened or already closed
 */
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define N_THREADS 4
#define LINES_PER_THREAD 20000

typedef struct {
  const dp_library *lib;
  uint64_t instance;
  pthread_barrier_t *start; /* all workers begin together */
  int index;
  uint64_t seed;
  int failed;
  char why[2048];
} worker;

static void worker_fail(worker *w, const char *fmt, ...) {
  if (w->failed) {
    return;
  }
  w->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->why, sizeof(w->why), fmt, ap);
  va_end(ap);
}

typedef struct {
  size_t end;  /* offset just past the line in the orig stream */
  size_t len;
  int kind;    /* 0 PASS, 1 DROP, 2 INJECT, 3 INSERT */
} line_info;

static void *lineparser_worker(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(w->start);
  rng_t rng;
  rng_seed(&rng, w->seed);
  static const char *const verbs[] = {"PASS", "DROP", "INJECT", "INSERT"};

  /* The client's byte stream and what each line is. */
  dp_buf stream = {0};
  line_info *lines = malloc(LINES_PER_THREAD * sizeof(*lines));
  if (lines == NULL) {
    worker_fail(w, "out of memory");
    return NULL;
  }
  for (int k = 0; k < LINES_PER_THREAD; k++) {
    uint64_t r = rng_range(&rng, 0, 9);
    int kind = r < 5 ? 0 : r < 7 ? 1 : r < 8 ? 2 : 3;
    char text[128];
    int pad = (int)rng_range(&rng, 0, 40);
    int n = snprintf(text, sizeof(text), "%s thread %d line %d %.*s\n", verbs[kind], w->index, k, pad,
                     "........................................");
    dp_buf_append(&stream, text, (size_t)n);
    lines[k].end = stream.len;
    lines[k].len = (size_t)n;
    lines[k].kind = kind;
  }

  dp_conn_options opts;
  memset(&opts, 0, sizeof(opts));
  opts.log = harness_log;
  opts.log_ctx = "concurrent";
  dp_conn *conn = NULL;
  uint64_t conn_id = 900000000ULL + (uint64_t)w->index;
  FilterResult res = dp_conn_new_ex(w->lib, w->instance, "test.lineparser", conn_id, 1, 1, 2, "1.1.1.1:34567",
                                    "10.0.0.2:80", "1.1.1.1", &opts, &conn);
  if (res != FILTER_OK) {
    worker_fail(w, "thread %d: OnNewConnection: %s", w->index, dp_result_name(res));
    free(lines);
    dp_buf_free(&stream);
    return NULL;
  }

  dp_buf to_server = {0};
  dp_buf to_client = {0};
  dp_buf want_server = {0};
  dp_buf want_client = {0};
  size_t pos = 0;
  int next_line = 0;
  int reply_no = 0;
  while (pos < stream.len && !w->failed) {
    size_t n = (size_t)rng_range(&rng, 1, 200);
    if (n > stream.len - pos) {
      n = stream.len - pos;
    }
    res = dp_filter_on_data(conn, stream.data + pos, n, 0, &to_server, &to_client);
    if (res != FILTER_OK) {
      worker_fail(w, "thread %d: orig write at offset %zu: %s", w->index, pos, dp_result_name(res));
      break;
    }
    pos += n;
    /* Every complete line has been parsed by now. */
    while (next_line < LINES_PER_THREAD && lines[next_line].end <= pos) {
      const line_info *li = &lines[next_line];
      const uint8_t *text = stream.data + li->end - li->len;
      if (li->kind == 0 || li->kind == 3) {
        dp_buf_append(&want_server, text, li->len);
      } else if (li->kind == 2) {
        dp_buf_append(&want_client, text, li->len);
      }
      next_line++;
    }
    /* Now and then the server says something, in one or two pieces. */
    if (rng_range(&rng, 0, 7) == 0) {
      char text[96];
      int pass = rng_range(&rng, 0, 2) != 0;
      int tn = snprintf(text, sizeof(text), "%s reply %d from thread %d\n", pass ? "PASS" : "DROP", reply_no++,
                        w->index);
      size_t cut = (size_t)rng_range(&rng, 1, (uint64_t)tn);
      res = dp_filter_on_write(conn, (const uint8_t *)text, cut, 0, &to_client);
      if (res == FILTER_OK && cut < (size_t)tn) {
        res = dp_filter_on_write(conn, (const uint8_t *)text + cut, (size_t)tn - cut, 0, &to_client);
      }
      if (res != FILTER_OK) {
        worker_fail(w, "thread %d: reply write: %s", w->index, dp_result_name(res));
        break;
      }
      if (pass) {
        dp_buf_append(&want_client, text, (size_t)tn);
      }
    }
  }
  if (!w->failed) {
    char why[1024];
    if (describe_mismatch(why, sizeof(why), want_server.data, want_server.len, to_server.data, to_server.len)) {
      worker_fail(w, "thread %d: stream to the server: %s", w->index, why);
    } else if (describe_mismatch(why, sizeof(why), want_client.data, want_client.len, to_client.data,
                                 to_client.len)) {
      worker_fail(w, "thread %d: stream to the client: %s", w->index, why);
    } else if (dp_conn_buffered(conn, 0) != 0 || dp_conn_buffered(conn, 1) != 0) {
      worker_fail(w, "thread %d: input left buffered at the end (%zu orig, %zu reply)", w->index,
                  dp_conn_buffered(conn, 0), dp_conn_buffered(conn, 1));
    }
  }
  dp_conn_free(conn);
  dp_buf_free(&to_server);
  dp_buf_free(&to_client);
  dp_buf_free(&want_server);
  dp_buf_free(&want_client);
  dp_buf_free(&stream);
  free(lines);
  return NULL;
}

static void *churn_worker(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(w->start);
  for (int i = 0; i < 250 && !w->failed; i++) {
    uint64_t id = 910000000ULL + (uint64_t)w->index * 1000 + (uint64_t)i;
    dp_conn *conn = NULL;
    FilterResult res = dp_conn_new(w->lib, w->instance, "test.passer", id, i & 1, 1, 2, "1.1.1.1:34567",
                                   "10.0.0.2:80", "1.1.1.1", &conn);
    if (res != FILTER_OK) {
      worker_fail(w, "thread %d cycle %d: OnNewConnection: %s", w->index, i, dp_result_name(res));
      break;
    }
    dp_buf out = {0};
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "cycle %d of thread %d", i, w->index);
    res = dp_filter_on_write(conn, (const uint8_t *)msg, (size_t)n, 0, &out);
    if (res != FILTER_OK || out.len != (size_t)n || memcmp(out.data, msg, (size_t)n) != 0) {
      worker_fail(w, "thread %d cycle %d: passer did not pass the reply (%s, %zu bytes)", w->index, i,
                  dp_result_name(res), out.len);
    }
    dp_buf_free(&out);
    dp_conn_free(conn);
  }
  return NULL;
}

/* ---- concurrent-logging ---- */

#define LOG_CONNS_PER_THREAD 100
#define LOG_REQUESTS_PER_CONN 2 /* one access-log entry each */
#define COLLECTOR_MAX_FDS 16

/* The agent's access-log socket: accepts connections and counts the packets (one cilium.LogEntry each). */
typedef struct {
  int listen_fd;
  char path[108];
  atomic_int stop;
  atomic_long entries;
} collector;

static void *collector_main(void *arg) {
  collector *c = arg;
  struct pollfd fds[COLLECTOR_MAX_FDS];
  int n = 1;
  fds[0].fd = c->listen_fd;
  fds[0].events = POLLIN;
  while (!atomic_load(&c->stop)) {
    if (poll(fds, (nfds_t)n, 20) <= 0) {
      continue;
    }
    if (fds[0].revents & POLLIN) {
      int fd = accept(c->listen_fd, NULL, NULL);
      if (fd >= 0 && n < COLLECTOR_MAX_FDS) {
        fds[n].fd = fd;
        fds[n].events = POLLIN;
        fds[n].revents = 0;
        n++;
      } else if (fd >= 0) {
        close(fd);
      }
    }
    for (int i = 1; i < n; i++) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        continue;
      }
      char packet[8192];
      ssize_t k = recv(fds[i].fd, packet, sizeof(packet), 0);
      if (k > 0) {
        atomic_fetch_add(&c->entries, 1);
      } else { /* 0: the client closed (an entry is never empty) */
        close(fds[i].fd);
        fds[i] = fds[--n];
        i--;
      }
    }
  }
  for (int i = 1; i < n; i++) {
    close(fds[i].fd);
  }
  return NULL;
}

static int collector_start(collector *c, pthread_t *thread) {
  memset(c, 0, sizeof(*c));
  snprintf(c->path, sizeof(c->path), "/tmp/proxylib-harness-%ld-log.sock", (long)getpid());
  unlink(c->path);
  c->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (c->listen_fd < 0) {
    return -1;
  }
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, c->path, strlen(c->path) + 1);
  if (bind(c->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(c->listen_fd, 16) != 0 ||
      pthread_create(thread, NULL, collector_main, c) != 0) {
    close(c->listen_fd);
    unlink(c->path);
    return -1;
  }
  return 0;
}

static void collector_stop(collector *c, pthread_t thread) {
  atomic_store(&c->stop, 1);
  pthread_join(thread, NULL);
  close(c->listen_fd);
  unlink(c->path);
}

typedef struct {
  const dp_library *lib;
  const char *log_path;
  collector *collector;
  long expected_entries;
  pthread_barrier_t *start;
  pthread_barrier_t *logged;
  int index;
  int failed;
  char why[1024];
} log_worker;

static void log_worker_fail(log_worker *w, const char *fmt, ...) {
  if (w->failed) {
    return;
  }
  w->failed = 1;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(w->why, sizeof(w->why), fmt, ap);
  va_end(ap);
}

static void *logging_worker(void *arg) {
  log_worker *w = arg;
  dp_param param = {"access-log-path", w->log_path};
  pthread_barrier_wait(w->start);
  /* All threads open the same instance at once; each open is counted and closed below. */
  uint64_t instance = dp_open_module(w->lib, &param, 1, harness_verbose);
  if (instance == 0) {
    log_worker_fail(w, "thread %d: OpenModule(access-log-path) returned 0", w->index);
  }
  static const char requests[] = "READ /a\r\nWRITE /b\r\n"; /* no policy: both denied and logged */
  static const char denied[] = "ERROR\r\nERROR\r\n";
  for (int i = 0; i < LOG_CONNS_PER_THREAD && !w->failed; i++) {
    uint64_t id = 930000000ULL + (uint64_t)w->index * 1000 + (uint64_t)i;
    dp_conn *conn = NULL;
    FilterResult res = dp_conn_new(w->lib, instance, "r2d2", id, i & 1, 1, 2, "1.1.1.1:34567", "10.0.0.2:80",
                                   "1.1.1.1", &conn);
    if (res != FILTER_OK) {
      log_worker_fail(w, "thread %d connection %d: OnNewConnection: %s", w->index, i, dp_result_name(res));
      break;
    }
    dp_buf to_server = {0};
    dp_buf to_client = {0};
    res = dp_filter_on_data(conn, (const uint8_t *)requests, sizeof(requests) - 1, 0, &to_server, &to_client);
    char why[512];
    if (res != FILTER_OK) {
      log_worker_fail(w, "thread %d connection %d: %s", w->index, i, dp_result_name(res));
    } else if (to_server.len != 0) {
      log_worker_fail(w, "thread %d connection %d: %zu denied bytes reached the server", w->index, i, to_server.len);
    } else if (describe_mismatch(why, sizeof(why), (const uint8_t *)denied, sizeof(denied) - 1, to_client.data,
                                 to_client.len)) {
      log_worker_fail(w, "thread %d connection %d: to the client: %s", w->index, i, why);
    }
    dp_buf_free(&to_server);
    dp_buf_free(&to_client);
    dp_conn_free(conn);
  }
  /* Every entry is delivered while the instance is open (the queue holds them all), then all close at once. */
  pthread_barrier_wait(w->logged);
  struct timespec pause = {0, 5 * 1000 * 1000};
  for (int waited = 0; waited < 2000 && atomic_load(&w->collector->entries) < w->expected_entries; waited++) {
    nanosleep(&pause, NULL);
  }
  if (instance != 0) {
    dp_close_module(w->lib, instance);
  }
  return NULL;
}

static void test_concurrent_logging(const dp_library *lib) {
  const char *name = "builtin/concurrent-logging";
  if (!harness_selected(name)) {
    return;
  }
  report_set_current(name);
  collector c;
  pthread_t collector_thread;
  if (collector_start(&c, &collector_thread) != 0) {
    report_fail(name, "cannot listen on a SOCK_SEQPACKET socket for the access log");
    return;
  }
  long expected = (long)N_THREADS * LOG_CONNS_PER_THREAD * LOG_REQUESTS_PER_CONN;
  pthread_barrier_t start, logged;
  pthread_barrier_init(&start, NULL, N_THREADS);
  pthread_barrier_init(&logged, NULL, N_THREADS);
  log_worker ws[N_THREADS];
  pthread_t th[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    memset(&ws[i], 0, sizeof(ws[i]));
    ws[i].lib = lib;
    ws[i].log_path = c.path;
    ws[i].collector = &c;
    ws[i].expected_entries = expected;
    ws[i].start = &start;
    ws[i].logged = &logged;
    ws[i].index = i;
    if (pthread_create(&th[i], NULL, logging_worker, &ws[i]) != 0) {
      fprintf(stderr, "harness: pthread_create failed\n");
      exit(2);
    }
  }
  for (int i = 0; i < N_THREADS; i++) {
    pthread_join(th[i], NULL);
  }
  pthread_barrier_destroy(&start);
  pthread_barrier_destroy(&logged);
  collector_stop(&c, collector_thread);
  for (int i = 0; i < N_THREADS; i++) {
    if (ws[i].failed) {
      report_fail(name, "%s", ws[i].why);
      return;
    }
  }
  long got = atomic_load(&c.entries);
  if (got != expected) {
    report_fail(name, "the collector received %ld access-log entries, expected %ld", got, expected);
    return;
  }
  report_ok(name);
}

static void run_threads(const char *name, const dp_library *lib, void *(*fn)(void *)) {
  if (!harness_selected(name)) {
    return;
  }
  report_set_current(name);
  uint64_t instance = dp_open_module(lib, NULL, 0, harness_verbose);
  if (instance == 0) {
    report_fail(name, "OpenModule with empty parameters returned 0");
    return;
  }
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, N_THREADS);
  worker ws[N_THREADS];
  pthread_t th[N_THREADS];
  int started[N_THREADS];
  for (int i = 0; i < N_THREADS; i++) {
    memset(&ws[i], 0, sizeof(ws[i]));
    ws[i].lib = lib;
    ws[i].instance = instance;
    ws[i].start = &start;
    ws[i].index = i;
    ws[i].seed = harness_seed ^ hash_str(name) ^ ((uint64_t)i << 48);
    started[i] = pthread_create(&th[i], NULL, fn, &ws[i]) == 0;
    if (!started[i]) {
      /* Nobody could join the barrier for this thread: give up before anyone waits forever. */
      fprintf(stderr, "harness: pthread_create failed\n");
      exit(2);
    }
  }
  for (int i = 0; i < N_THREADS; i++) {
    if (started[i]) {
      pthread_join(th[i], NULL);
    }
  }
  pthread_barrier_destroy(&start);
  dp_close_module(lib, instance);
  for (int i = 0; i < N_THREADS; i++) {
    if (ws[i].failed) {
      report_fail(name, "%s (seed %llu)", ws[i].why, (unsigned long long)harness_seed);
      return;
    }
  }
  report_ok(name);
}

static void test_connection_cycles(const dp_library *lib) {
  const char *name = "builtin/connection-cycles";
  if (!harness_selected(name)) {
    return;
  }
  report_set_current(name);
  dp_param p = {"node-id", "host~127.0.0.9~swift-proxylib-harness-cycles~localdomain"};
  uint64_t instance = dp_open_module(lib, &p, 1, harness_verbose);
  if (instance == 0) {
    report_fail(name, "OpenModule(node-id) returned 0");
    return;
  }
  static const char input[] = "PASS first\nDROP second\nINJECT third\nPASS fou";
  for (int i = 0; i < 1000; i++) {
    uint64_t id = 800000000ULL + (uint64_t)i;
    dp_conn *conn = NULL;
    FilterResult res = dp_conn_new(lib, instance, "test.lineparser", id, 1, 1, 2, "1.1.1.1:34567", "10.0.0.2:80",
                                   "1.1.1.1", &conn);
    if (res != FILTER_OK) {
      report_fail(name, "cycle %d: OnNewConnection: %s", i, dp_result_name(res));
      dp_close_module(lib, instance);
      return;
    }
    dp_buf to_server = {0};
    dp_buf to_client = {0};
    res = dp_filter_on_data(conn, (const uint8_t *)input, sizeof(input) - 1, 0, &to_server, &to_client);
    char why[1024];
    int bad = res != FILTER_OK;
    if (!bad) {
      bad = describe_mismatch(why, sizeof(why), (const uint8_t *)"PASS first\n", 11, to_server.data, to_server.len);
    } else {
      snprintf(why, sizeof(why), "result %s", dp_result_name(res));
    }
    if (!bad) {
      bad = describe_mismatch(why, sizeof(why), (const uint8_t *)"INJECT third\n", 13, to_client.data, to_client.len);
    }
    dp_buf_free(&to_server);
    dp_buf_free(&to_client);
    dp_conn_free(conn);
    if (bad) {
      report_fail(name, "cycle %d: %s", i, why);
      dp_close_module(lib, instance);
      return;
    }
  }
  /* The last connection is gone at the library. */
  FilterOp ops[4];
  GoSlice op_slice = {ops, 0, 4};
  GoSlice one = {(void *)"PASS x\n", 7, 7};
  GoSlice input_slices = {&one, 1, 1};
  FilterResult res = lib->on_data(800000000ULL + 999, 0, 0, &input_slices, &op_slice);
  if (res != FILTER_UNKNOWN_CONNECTION || op_slice.len != 0) {
    report_fail(name, "OnData on a closed connection: expected UNKNOWN_CONNECTION and no ops, got %s with %lld ops",
                dp_result_name(res), (long long)op_slice.len);
    dp_close_module(lib, instance);
    return;
  }
  dp_close_module(lib, instance);
  /* That was the only open of this instance: it must be gone. */
  dp_conn *conn = NULL;
  res = dp_conn_new(lib, instance, "test.lineparser", 800001000ULL, 1, 1, 2, "1.1.1.1:34567", "10.0.0.2:80",
                    "1.1.1.1", &conn);
  dp_conn_free(conn);
  if (res != FILTER_INVALID_INSTANCE) {
    report_fail(name, "OnNewConnection after the last CloseModule: expected INVALID_INSTANCE, got %s",
                dp_result_name(res));
    return;
  }
  report_ok(name);
}

static FilterResult raw_on_data(const dp_library *lib, uint64_t id, GoInt *n_ops) {
  FilterOp ops[4];
  GoSlice op_slice = {ops, 0, 4};
  GoSlice parts[2] = {{(void *)"PASS", 4, 4}, {(void *)" x\nPA", 5, 5}};
  GoSlice input = {parts, 2, 2};
  FilterResult res = lib->on_data(id, 0, 0, &input, &op_slice);
  *n_ops = op_slice.len;
  return res;
}

static void test_unknown_connection(const dp_library *lib) {
  const char *name = "builtin/unknown-connection";
  if (!harness_selected(name)) {
    return;
  }
  report_set_current(name);
  GoInt n_ops = 0;
  FilterResult res = raw_on_data(lib, 0xFFFFFFFFFFFFFFF0ULL, &n_ops);
  if (res != FILTER_UNKNOWN_CONNECTION || n_ops != 0) {
    report_fail(name, "OnData on an id never opened: expected UNKNOWN_CONNECTION and no ops, got %s with %lld ops",
                dp_result_name(res), (long long)n_ops);
    return;
  }
  lib->close(0xFFFFFFFFFFFFFFF0ULL); /* closing an unknown id is harmless */

  uint64_t instance = dp_open_module(lib, NULL, 0, harness_verbose);
  if (instance == 0) {
    report_fail(name, "OpenModule with empty parameters returned 0");
    return;
  }
  dp_conn *a = NULL;
  dp_conn *b = NULL;
  FilterResult ra =
      dp_conn_new(lib, instance, "test.lineparser", 920000001ULL, 1, 1, 2, "1.1.1.1:34567", "10.0.0.2:80", "1.1.1.1", &a);
  FilterResult rb =
      dp_conn_new(lib, instance, "test.lineparser", 920000002ULL, 0, 1, 2, "1.1.1.1:34567", "10.0.0.2:80", "1.1.1.1", &b);
  char why[512] = "";
  if (ra != FILTER_OK || rb != FILTER_OK) {
    snprintf(why, sizeof(why), "OnNewConnection: %s / %s", dp_result_name(ra), dp_result_name(rb));
  } else {
    dp_conn_close(a);
    res = raw_on_data(lib, 920000001ULL, &n_ops);
    if (res != FILTER_UNKNOWN_CONNECTION || n_ops != 0) {
      snprintf(why, sizeof(why), "OnData on a closed id: expected UNKNOWN_CONNECTION and no ops, got %s with %lld ops",
               dp_result_name(res), (long long)n_ops);
    }
    dp_buf out = {0};
    if (why[0] == '\0' && (res = dp_on_io(a, 0, (const uint8_t *)"PASS\n", 5, 0, &out)) != FILTER_UNKNOWN_CONNECTION) {
      snprintf(why, sizeof(why), "datapath I/O on a closed connection: expected UNKNOWN_CONNECTION, got %s",
               dp_result_name(res));
    }
    lib->close(920000001ULL); /* a second Close of the same id is harmless */
    if (why[0] == '\0') {
      res = raw_on_data(lib, 920000002ULL, &n_ops);
      if (res != FILTER_OK || n_ops != 2) {
        snprintf(why, sizeof(why), "the other connection must still work: expected OK with 2 ops, got %s with %lld",
                 dp_result_name(res), (long long)n_ops);
      }
    }
    dp_buf_free(&out);
  }
  dp_conn_free(a);
  dp_conn_free(b);
  dp_close_module(lib, instance);
  if (why[0] != '\0') {
    report_fail(name, "%s", why);
  } else {
    report_ok(name);
  }
}

void run_builtin_tests(const dp_library *lib) {
  run_threads("builtin/concurrent-lineparser", lib, lineparser_worker);
  run_threads("builtin/concurrent-churn", lib, churn_worker);
  test_concurrent_logging(lib);
  test_connection_cycles(lib);
  test_unknown_connection(lib);
}
