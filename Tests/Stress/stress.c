/*
 * swift-proxylib stress driver (`make stress`, `make stress-smoke`).
 *
 *   usage: stress [--smoke] [--threads N] [--connections N] [--rounds N] [--warmup-rounds N] [--seed N]
 *                 [--push-ms N] [--rss-bound-kib N] [--python PATH] [--parsers MASK] [--no-access-log] [LIB]
 *   (--parsers: bit 0 test.passer, 1 test.lineparser, 2 test.headerparser, 3 test.blockparser, 4 r2d2; default all)
 *
 * Loads LIB (default build/libcilium.so) through the C datapath (Sources/CDatapath, as cilium-envoy drives it)
 * and opens one instance with an NPDS server and an access-log collector:
 *   - Tests/Stress/npds_churn.py (the test suite's grpcio server) pushes a changed policy every --push-ms
 *     (10 ms): three valid variants in turn, every tenth push an invalid one that must be NACKed;
 *   - a SOCK_SEQPACKET collector in this process that reads slowly (bursts of 32 packets, 2 ms apart: at most
 *     16,000 entries/s), checks that every packet is well-formed protobuf and counts Denied entries.
 * --rounds rounds (8, the first --warmup-rounds 2 of them warm-up; smoke: 5 and 1), in each of which --threads
 * worker threads (8) run --connections connections each (10,000: 80,000 a round, 640,000 in all; smoke 4,000
 * each: 32,000 a round), with random valid traffic over test.passer, test.lineparser,
 * test.headerparser, test.blockparser and r2d2 (Tests/Stress/traffic.c: every byte that reaches the server and
 * the client is checked; a request no policy variant allows must never reach the server, one every variant
 * allows must always reach it, the others may go either way).
 *
 * After each round: RSS and the round's OnData p50/p99/max. At the end: the checks, one line each, and the
 * closing line `N passed, M failed`; the exit status is 0 only if every check passed:
 *   traffic      no violation (wrong bytes, a never-allowed request forwarded, an always-allowed one denied, a
 *                failed datapath call)
 *   maybe        requests whose verdict depends on the variant were seen both allowed and denied (the pushes
 *                really change what is enforced)
 *   rss          RSS after every round past the warm-up stays within --rss-bound-kib (8 MiB) of RSS after the
 *                warm-up (in the full run 480,000 connections later: a leak of ~17 bytes a connection fails it)
 *   npds         every valid push ACKed with its version, every invalid one NACKed, none left unanswered
 *   access-log   every packet decodes; delivered <= entries the library should have made; some delivered
 *   call-bounds  no OnNewConnection, OnData or Close call took 1 s or more
 *   latency      OnData p50 below 20 us
 *   library-log  the library wrote nothing on stderr but the NACK reason of the invalid pushes (its stderr is
 *                captured in a file for the run)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "datapath.h"
#include "traffic.h"

extern char **environ;

#define CALL_BOUND_NS 1000000000ull

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  printf("stress: %s\n", what);
  printf("0 passed, 1 failed\n");
  exit(1);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = -1;
  if (f == NULL) return -1;
  if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- the NPDS server child ------------------------------------------------------------------------------------- */

typedef struct child {
  pid_t pid;
  int to, from;
  char buf[8192];
  size_t len;
} child;

static void child_start(child *c, char *const argv[]) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) die("pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_addclose(&fa, in[1]);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  if (posix_spawn(&c->pid, argv[0], &fa, NULL, argv, environ) != 0) die("cannot start the NPDS server");
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  c->to = in[1];
  c->from = out[0];
  c->len = 0;
}

/* Waits (at most timeout_s) for a line starting with `prefix`; copies it into line. Other lines are skipped. */
static int child_expect(child *c, const char *prefix, char *line, size_t cap, double timeout_s) {
  double deadline = now_s() + timeout_s;
  for (;;) {
    char *nl;
    while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
      size_t n = (size_t)(nl - c->buf);
      *nl = 0;
      int match = strncmp(c->buf, prefix, strlen(prefix)) == 0;
      if (match) {
        size_t copy = n < cap ? n : cap - 1;
        memcpy(line, c->buf, copy);
        line[copy] = 0;
      }
      memmove(c->buf, nl + 1, c->len - n - 1);
      c->len -= n + 1;
      if (match) return 0;
    }
    double left = deadline - now_s();
    if (left <= 0 || c->len >= sizeof c->buf - 1) return -1;
    struct pollfd p = {c->from, POLLIN, 0};
    if (poll(&p, 1, (int)(left * 1000) + 1) <= 0) continue;
    ssize_t n = read(c->from, c->buf + c->len, sizeof c->buf - 1 - c->len);
    if (n <= 0) return -1;
    c->len += (size_t)n;
  }
}

static void child_reap(child *c) {
  int status;
  for (int i = 0; i < 300; i++) {
    if (waitpid(c->pid, &status, WNOHANG) == c->pid) goto done;
    usleep(50000);
  }
  kill(c->pid, SIGKILL);
  waitpid(c->pid, &status, 0);
done:
  close(c->from);
}

/* ---- the slow access-log collector ------------------------------------------------------------------------------ */

typedef struct collector {
  int listener, stop_pipe[2];
  pthread_t thread;
  atomic_long entries, denied, undecodable;
  int burst, pause_us;
} collector;

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return 0;
  }
  return -1;
}

/* Walks the top-level fields of a cilium.LogEntry; -1 if it is not well-formed protobuf. *type = entry_type. */
static int parse_entry(const uint8_t *p, size_t n, uint64_t *type) {
  const uint8_t *end = p + n;
  *type = 0;
  while (p < end) {
    uint64_t key, v;
    if (read_varint(&p, end, &key) != 0 || (key >> 3) == 0) return -1;
    switch (key & 7) {
      case 0:
        if (read_varint(&p, end, &v) != 0) return -1;
        if ((key >> 3) == 3) *type = v;
        break;
      case 1:
        if (end - p < 8) return -1;
        p += 8;
        break;
      case 2:
        if (read_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) return -1;
        p += v;
        break;
      case 5:
        if (end - p < 4) return -1;
        p += 4;
        break;
      default:
        return -1;
    }
  }
  return 0;
}

static void *collector_main(void *arg) {
  collector *col = arg;
  static uint8_t packet[1 << 16];
  struct pollfd fds[2 + 8];
  int n_conns = 0, since_pause = 0;
  fds[0] = (struct pollfd){col->listener, POLLIN, 0};
  fds[1] = (struct pollfd){col->stop_pipe[0], POLLIN, 0};
  for (;;) {
    if (poll(fds, (nfds_t)(2 + n_conns), 100) < 0 && errno != EINTR) break;
    if (fds[1].revents) break;
    if ((fds[0].revents & POLLIN) && n_conns < 8) {
      int fd = accept(col->listener, NULL, NULL);
      if (fd >= 0) fds[2 + n_conns++] = (struct pollfd){fd, POLLIN, 0};
    }
    for (int i = 0; i < n_conns; i++) {
      if (!fds[2 + i].revents) continue;
      /* One packet per wake-up, a pause every `burst`: a collector that cannot keep up. */
      ssize_t n = recv(fds[2 + i].fd, packet, sizeof packet, MSG_DONTWAIT);
      if (n > 0) {
        uint64_t type;
        if (parse_entry(packet, (size_t)n, &type) != 0) atomic_fetch_add(&col->undecodable, 1);
        else {
          atomic_fetch_add(&col->entries, 1);
          if (type == 2) atomic_fetch_add(&col->denied, 1);
        }
        if (++since_pause >= col->burst) {
          since_pause = 0;
          usleep((useconds_t)col->pause_us);
        }
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
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
  if (strlen(path) >= sizeof addr.sun_path) die("socket path too long");
  memcpy(addr.sun_path, path, strlen(path) + 1);
  col->listener = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  if (col->listener < 0 || bind(col->listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(col->listener, 8) != 0 || pipe(col->stop_pipe) != 0)
    die("access-log socket");
  if (pthread_create(&col->thread, NULL, collector_main, col) != 0) die("pthread_create");
}

/* Waits until no entry has arrived for 500 ms (at most 20 s). */
static void collector_settle(collector *col) {
  long seen = atomic_load(&col->entries);
  for (int i = 0; i < 40; i++) {
    usleep(500000);
    long now = atomic_load(&col->entries);
    if (now == seen) return;
    seen = now;
  }
}

static void collector_stop(collector *col) {
  if (write(col->stop_pipe[1], "x", 1) != 1) die("collector stop");
  pthread_join(col->thread, NULL);
  close(col->listener);
}

/* ---- workers ------------------------------------------------------------------------------------------------------- */

typedef struct shared {
  pthread_barrier_t start, end;
  int rounds;
  uint64_t per_round;
  volatile uint64_t instance;
} shared;

typedef struct worker_arg {
  shared *sh;
  tr_worker *w;
} worker_arg;

static void *worker_main(void *arg) {
  worker_arg *a = arg;
  for (int r = 0; r < a->sh->rounds; r++) {
    pthread_barrier_wait(&a->sh->start);
    tr_worker_run(a->w, &a->sh->instance, a->sh->per_round, NULL);
    pthread_barrier_wait(&a->sh->end);
  }
  /* Let the connections still open run to their end, so every request is checked and counted. */
  pthread_barrier_wait(&a->sh->start);
  tr_worker_finish(a->w);
  pthread_barrier_wait(&a->sh->end);
  return NULL;
}

/* ---- main ---------------------------------------------------------------------------------------------------------- */

static int passed, failed;

static void check(int ok, const char *name, const char *fmt, ...) {
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  printf("%s %s: %s\n", ok ? "ok" : "FAIL", name, detail);
  if (ok) passed++;
  else failed++;
}

static tr_hist hist_delta(const tr_hist *now, const tr_hist *before) {
  tr_hist d;
  memset(&d, 0, sizeof d);
  for (int b = 0; b < TR_BUCKETS; b++) {
    d.buckets[b] = now->buckets[b] - before->buckets[b];
  }
  d.count = now->count - before->count;
  d.total_ns = now->total_ns - before->total_ns;
  /* The exact maximum of the round is not kept; the highest occupied bucket's top bounds it. */
  uint64_t top = 0;
  for (int b = TR_BUCKETS - 1; b >= 0; b--)
    if (d.buckets[b]) {
      if (b < 16) top = (uint64_t)b;
      else {
        int e = (b - 16) / 16 + 4, sub = (b - 16) % 16;
        top = ((uint64_t)(16 + sub + 1) << (e - 4)) - 1;
      }
      break;
    }
  d.max_ns = top < now->max_ns ? top : now->max_ns;
  return d;
}

int main(int argc, char **argv) {
  const char *lib_path = "build/libcilium.so";
  const char *python = getenv("PYTHON") ? getenv("PYTHON") : ".venv/bin/python";
  int smoke = 0, threads = 8, rounds = 8, warmup = 2, push_ms = 10;
  long connections = 10000, rss_bound_kib = 8192;
  uint32_t parser_mask = 0;
  int no_log = 0;
  uint64_t seed = (uint64_t)time(NULL);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--smoke") == 0) smoke = 1, connections = 4000, rounds = 5, warmup = 1;
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--connections") == 0 && i + 1 < argc) connections = atol(argv[++i]);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--warmup-rounds") == 0 && i + 1 < argc) warmup = atoi(argv[++i]);
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--push-ms") == 0 && i + 1 < argc) push_ms = atoi(argv[++i]);
    else if (strcmp(argv[i], "--rss-bound-kib") == 0 && i + 1 < argc) rss_bound_kib = atol(argv[++i]);
    else if (strcmp(argv[i], "--python") == 0 && i + 1 < argc) python = argv[++i];
    else if (strcmp(argv[i], "--parsers") == 0 && i + 1 < argc) parser_mask = (uint32_t)strtoul(argv[++i], NULL, 0);
    else if (strcmp(argv[i], "--no-access-log") == 0) no_log = 1;
    else if (argv[i][0] != '-') lib_path = argv[i];
    else die("unknown option (see the comment at the top of Tests/Stress/stress.c)");
  }
  if (threads < 1 || threads > 64 || rounds < 2 || warmup < 1 || warmup >= rounds || connections < 1)
    die("bad --threads/--rounds/--warmup-rounds/--connections");
  signal(SIGPIPE, SIG_IGN);
  double t_start = now_s();
  printf("# stress: %s, %d rounds (%d warm-up) of %d threads x %ld connections each (%ld per round, %ld in all), "
         "policy pushed every %d ms, seed %llu%s\n",
         lib_path, rounds, warmup, threads, connections, connections * threads, connections * threads * rounds,
         push_ms, (unsigned long long)seed, smoke ? " (smoke)" : "");

  char dir_template[] = "/tmp/proxylib-stress-XXXXXX";
  char *dir = mkdtemp(dir_template);
  if (dir == NULL) die("mkdtemp");
  char xds[256], log_path[256], push_arg[16], line[512];
  snprintf(xds, sizeof xds, "%s/xds.sock", dir);
  snprintf(log_path, sizeof log_path, "%s/access_log.sock", dir);
  snprintf(push_arg, sizeof push_arg, "%d", push_ms);

  child npds;
  char *npds_argv[] = {(char *)python, "Tests/Stress/npds_churn.py", xds, push_arg, NULL};
  child_start(&npds, npds_argv);
  if (child_expect(&npds, "LISTENING", line, sizeof line, 120) != 0) die("the NPDS server did not start");
  collector col = {.burst = 32, .pause_us = 2000};
  collector_start(&col, log_path);

  /* The library's stderr goes to a file, read back at the end: the NACK of every invalid push is logged there,
     and anything else it says is a finding. */
  char stderr_path[300];
  snprintf(stderr_path, sizeof stderr_path, "%s/library-stderr.log", dir);
  fflush(stderr);
  int saved_stderr = dup(2), log_fd = open(stderr_path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
  if (saved_stderr < 0 || log_fd < 0 || dup2(log_fd, 2) < 0) die("cannot redirect stderr");
  close(log_fd);

  dp_library real, lib;
  char err[512];
  if (dp_library_open(lib_path, &real, err, sizeof err) != 0) die(err);
  tr_wrap_library(&real, &lib);
  long rss_loaded = rss_kib();
  dp_param params[2] = {{"xds-path", xds}, {"access-log-path", log_path}};
  double t0 = now_s();
  uint64_t instance = dp_open_module(&real, params, no_log ? 1 : 2, 0);
  double open_s = now_s() - t0;
  if (instance == 0) die("OpenModule returned 0");
  if (child_expect(&npds, "FIRST-ACK", line, sizeof line, 60) != 0) die("the library never ACKed a policy");
  printf("# OpenModule %.1f ms; first policy accepted after %.1f ms; RSS after dlopen %ld KiB\n", open_s * 1e3,
         (now_s() - t0) * 1e3, rss_loaded);

  shared sh = {.rounds = rounds, .per_round = (uint64_t)connections, .instance = instance};
  pthread_barrier_init(&sh.start, NULL, (unsigned)threads + 1);
  pthread_barrier_init(&sh.end, NULL, (unsigned)threads + 1);
  tr_config config = {.seed = seed, .strict_allowed = 1, .slots = 8, .max_requests = 24, .conn_id_base = 1,
                      .parser_mask = parser_mask};
  tr_worker **workers = calloc((size_t)threads, sizeof *workers);
  worker_arg *args = calloc((size_t)threads, sizeof *args);
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  for (int i = 0; i < threads; i++) {
    workers[i] = tr_worker_new(&lib, &config, i);
    if (workers[i] == NULL) die("out of memory");
    args[i] = (worker_arg){&sh, workers[i]};
    if (pthread_create(&tids[i], NULL, worker_main, &args[i]) != 0) die("pthread_create");
  }

  long *rss = calloc((size_t)rounds, sizeof *rss);
  tr_stats total, previous;
  memset(&previous, 0, sizeof previous);
  for (int r = 0; r < rounds; r++) {
    double rt = now_s();
    pthread_barrier_wait(&sh.start);
    pthread_barrier_wait(&sh.end);
    rss[r] = rss_kib();
    memset(&total, 0, sizeof total);
    for (int i = 0; i < threads; i++) tr_stats_merge(&total, tr_worker_stats(workers[i]));
    tr_hist d = hist_delta(&total.calls[TR_CALL_DATA], &previous.calls[TR_CALL_DATA]);
    printf("round %2d: %6.1f s, RSS %7ld KiB%s, %8llu connections so far, OnData p50 %6.0f ns p99 %8.0f ns "
           "max <= %9.0f ns, access log %ld delivered so far\n",
           r + 1, now_s() - rt, rss[r], r + 1 == warmup ? " (end of warm-up)" : "",
           (unsigned long long)total.connections, tr_hist_percentile(&d, 50), tr_hist_percentile(&d, 99),
           (double)d.max_ns, atomic_load(&col.entries));
    fflush(stdout);
    previous = total;
  }
  pthread_barrier_wait(&sh.start);
  pthread_barrier_wait(&sh.end);
  for (int i = 0; i < threads; i++) pthread_join(tids[i], NULL);
  memset(&total, 0, sizeof total);
  for (int i = 0; i < threads; i++) tr_stats_merge(&total, tr_worker_stats(workers[i]));
  double traffic_s = now_s() - t0;

  /* Stop the pushes and collect the server's tally, then let the collector drain and close the instance. */
  if (write(npds.to, "STOP\n", 5) != 5) fprintf(stderr, "stress: cannot stop the pushes\n");
  char summary[512] = "";
  int have_summary = child_expect(&npds, "SUMMARY", summary, sizeof summary, 60) == 0;
  collector_settle(&col);
  double c0 = now_s();
  dp_close_module(&real, instance);
  double close_module_s = now_s() - c0;
  close(npds.to);
  child_reap(&npds);
  long delivered = atomic_load(&col.entries), denied_entries = atomic_load(&col.denied);
  long undecodable = atomic_load(&col.undecodable);
  collector_stop(&col);
  long rss_final = rss_kib();
  fflush(stderr);
  dup2(saved_stderr, 2);
  close(saved_stderr);
  /* Library lines: the expected NACK reason, and the rest (each distinct one printed, at most 5). */
  long nack_lines = 0, other_lines = 0;
  {
    FILE *f = fopen(stderr_path, "r");
    char l[1024], shown[5][200];
    int n_shown = 0;
    while (f && fgets(l, sizeof l, f)) {
      if (strstr(l, "rejecting invalid policy") && strstr(l, "\"(unclosed\"")) {
        nack_lines++;
        continue;
      }
      other_lines++;
      int seen = 0;
      for (int i = 0; i < n_shown; i++) seen |= strncmp(shown[i], l, sizeof shown[i] - 1) == 0;
      if (!seen && n_shown < 5) {
        memcpy(shown[n_shown], l, sizeof shown[0] - 1);
        shown[n_shown++][sizeof shown[0] - 1] = 0;
        printf("# library stderr: %s", l);
      }
    }
    if (f) fclose(f);
    unlink(stderr_path);
  }

  printf("\n# totals after %.1f s of traffic (%d threads):\n", traffic_s, threads);
  tr_stats_print(&total, "#   ");
  printf("#   per parser (requests): passer %llu, lineparser %llu, headerparser %llu, blockparser %llu, r2d2 %llu\n",
         (unsigned long long)total.per_parser[TR_PASSER], (unsigned long long)total.per_parser[TR_LINE],
         (unsigned long long)total.per_parser[TR_HEADER], (unsigned long long)total.per_parser[TR_BLOCK],
         (unsigned long long)total.per_parser[TR_R2D2]);
  printf("#   access log: %llu entries made, %ld delivered (%ld Denied), %lld dropped (%.1f%%), %ld undecodable\n",
         (unsigned long long)total.log_expected, delivered, denied_entries,
         (long long)total.log_expected - delivered,
         total.log_expected ? 100.0 * (double)((long long)total.log_expected - delivered) / (double)total.log_expected : 0.0,
         undecodable);
  printf("#   NPDS: %s\n", have_summary ? summary : "(no summary)");
  printf("#   CloseModule %.1f ms; RSS per round (KiB):", close_module_s * 1e3);
  for (int r = 0; r < rounds; r++) printf(" %ld", rss[r]);
  printf("; after CloseModule %ld\n\n", rss_final);

  if (total.violations)
    check(0, "traffic", "%llu violation(s), first: %s", (unsigned long long)total.violations, total.first_violation);
  else
    check(1, "traffic", "%llu requests on %llu connections checked byte for byte; never-allowed forwarded: %llu; "
          "always-allowed denied: %llu", (unsigned long long)total.requests, (unsigned long long)total.connections,
          (unsigned long long)total.allowed[TR_NEVER], (unsigned long long)total.denied[TR_ALWAYS]);
  check(total.allowed[TR_MAYBE] > 0 && total.denied[TR_MAYBE] > 0, "maybe",
        "variant-dependent requests: %llu allowed, %llu denied", (unsigned long long)total.allowed[TR_MAYBE],
        (unsigned long long)total.denied[TR_MAYBE]);
  long base = rss[warmup - 1], worst = base;
  for (int r = warmup; r < rounds; r++)
    if (rss[r] > worst) worst = rss[r];
  check(worst - base <= rss_bound_kib, "rss", "after warm-up %ld KiB, highest later %ld KiB: growth %ld KiB (bound %ld)",
        base, worst, worst - base, rss_bound_kib);
  long pushes = 0, acks = 0, nacks = 0, wrong = -1, unanswered = -1, invalid = 0;
  if (have_summary) {
    const char *p;
    if ((p = strstr(summary, "pushes="))) pushes = atol(p + 7);
    if ((p = strstr(summary, "invalid="))) invalid = atol(p + 8);
    if ((p = strstr(summary, "acks="))) acks = atol(p + 5);
    if ((p = strstr(summary, "nacks="))) nacks = atol(p + 6);
    if ((p = strstr(summary, "wrong="))) wrong = atol(p + 6);
    if ((p = strstr(summary, "unanswered="))) unanswered = atol(p + 11);
  }
  check(have_summary && wrong == 0 && unanswered == 0 && acks > 0 && nacks == invalid && pushes >= 10, "npds",
        "%ld pushes: %ld ACKed, %ld NACKed (%ld invalid), %ld contradicting, %ld unanswered", pushes, acks, nacks,
        invalid, wrong, unanswered);
  check(undecodable == 0 && (delivered > 0 || no_log) && (unsigned long long)delivered <= total.log_expected, "access-log",
        "%ld delivered of %llu made, %ld undecodable", delivered, (unsigned long long)total.log_expected, undecodable);
  uint64_t worst_call = 0;
  for (int c = 0; c < TR_N_CALLS; c++)
    if (total.calls[c].max_ns > worst_call) worst_call = total.calls[c].max_ns;
  check(worst_call < CALL_BOUND_NS, "call-bounds",
        "max OnNewConnection %.2f ms, OnData %.2f ms, Close %.2f ms (bound 1000 ms); OnData p50 %.0f ns, p99 %.0f ns",
        (double)total.calls[TR_CALL_NEW].max_ns / 1e6, (double)total.calls[TR_CALL_DATA].max_ns / 1e6,
        (double)total.calls[TR_CALL_CLOSE].max_ns / 1e6, tr_hist_percentile(&total.calls[TR_CALL_DATA], 50),
        tr_hist_percentile(&total.calls[TR_CALL_DATA], 99));
  double p50 = tr_hist_percentile(&total.calls[TR_CALL_DATA], 50);
  check(p50 < 20000, "latency", "OnData p50 %.0f ns (bound 20 us: the calls take well under 1 us; with the worker "
        "threads queueing on one priority-inheriting lock it was ~160 us)", p50);
  check(other_lines == 0, "library-log", "%ld NACK lines for the invalid pushes, %ld other lines on stderr",
        nack_lines, other_lines);
  printf("# run time %.1f s\n", now_s() - t_start);

  for (int i = 0; i < threads; i++) tr_worker_free(workers[i]);
  unlink(xds);
  unlink(log_path);
  rmdir(dir);
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
