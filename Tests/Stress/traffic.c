/*
 * Random but valid traffic through the C datapath, checked from what reaches the server and the client. See
 * traffic.h for the model.
 */
#define _GNU_SOURCE
#include "traffic.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- timing ------------------------------------------------------------------------------------------------ */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int hist_index(uint64_t v) {
  if (v < 16) return (int)v;
  int e = 63 - __builtin_clzll(v);
  int sub = (int)((v >> (e - 4)) & 15);
  return 16 + (e - 4) * 16 + sub;
}

static double hist_value(int b) {
  if (b < 16) return b;
  int e = (b - 16) / 16 + 4, sub = (b - 16) % 16;
  double low = (double)((uint64_t)(16 + sub) << (e - 4));
  return low + (double)((uint64_t)1 << (e - 4)) / 2;
}

static void hist_add(tr_hist *h, uint64_t ns) {
  h->buckets[hist_index(ns)]++;
  h->count++;
  h->total_ns += ns;
  if (ns > h->max_ns) h->max_ns = ns;
}

double tr_hist_percentile(const tr_hist *h, double p) {
  if (h->count == 0) return 0;
  uint64_t rank = (uint64_t)((p / 100.0) * (double)(h->count - 1)) + 1, seen = 0;
  for (int b = 0; b < TR_BUCKETS; b++) {
    seen += h->buckets[b];
    if (seen >= rank) {
      double v = hist_value(b);
      return v > (double)h->max_ns ? (double)h->max_ns : v;
    }
  }
  return (double)h->max_ns;
}

/* The library's entry points, timed into the calling thread's stats. */
static dp_on_new_connection_fn real_new_connection;
static dp_on_data_fn real_on_data;
static dp_close_fn real_close;
static _Thread_local tr_stats *current_stats;

static FilterResult timed_new_connection(GoUint64 instance, GoString proto, GoUint64 id, GoUint8 ingress,
                                         GoUint32 src, GoUint32 dst, GoString src_addr, GoString dst_addr,
                                         GoString policy, GoSlice *orig, GoSlice *reply) {
  uint64_t t0 = now_ns();
  FilterResult r = real_new_connection(instance, proto, id, ingress, src, dst, src_addr, dst_addr, policy, orig, reply);
  if (current_stats) hist_add(&current_stats->calls[TR_CALL_NEW], now_ns() - t0);
  return r;
}

static FilterResult timed_on_data(GoUint64 id, GoUint8 reply, GoUint8 end_stream, GoSlice *data, GoSlice *ops) {
  uint64_t t0 = now_ns();
  FilterResult r = real_on_data(id, reply, end_stream, data, ops);
  if (current_stats) hist_add(&current_stats->calls[TR_CALL_DATA], now_ns() - t0);
  return r;
}

static void timed_close(GoUint64 id) {
  uint64_t t0 = now_ns();
  real_close(id);
  if (current_stats) hist_add(&current_stats->calls[TR_CALL_CLOSE], now_ns() - t0);
}

void tr_wrap_library(const dp_library *real, dp_library *wrapped) {
  real_new_connection = real->on_new_connection;
  real_on_data = real->on_data;
  real_close = real->close;
  *wrapped = *real;
  wrapped->on_new_connection = timed_new_connection;
  wrapped->on_data = timed_on_data;
  wrapped->close = timed_close;
}

/* ---- stats --------------------------------------------------------------------------------------------------- */

static void violation(tr_stats *s, const char *fmt, ...) {
  s->violations++;
  if (s->violations > 1) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->first_violation, sizeof s->first_violation, fmt, ap);
  va_end(ap);
}

void tr_stats_merge(tr_stats *into, const tr_stats *from) {
  for (int c = 0; c < TR_N_CALLS; c++) {
    for (int b = 0; b < TR_BUCKETS; b++) into->calls[c].buckets[b] += from->calls[c].buckets[b];
    into->calls[c].count += from->calls[c].count;
    into->calls[c].total_ns += from->calls[c].total_ns;
    if (from->calls[c].max_ns > into->calls[c].max_ns) into->calls[c].max_ns = from->calls[c].max_ns;
  }
  into->connections += from->connections;
  into->refused += from->refused;
  into->requests += from->requests;
  for (int k = 0; k < TR_N_CLASSES; k++) {
    into->allowed[k] += from->allowed[k];
    into->denied[k] += from->denied[k];
  }
  for (int p = 0; p < TR_N_PARSERS; p++) into->per_parser[p] += from->per_parser[p];
  into->log_expected += from->log_expected;
  if (from->violations && !into->violations) memcpy(into->first_violation, from->first_violation, sizeof into->first_violation);
  into->violations += from->violations;
}

static const char *call_names[TR_N_CALLS] = {"OnNewConnection", "OnData", "Close"};

void tr_stats_print(const tr_stats *s, const char *indent) {
  for (int c = 0; c < TR_N_CALLS; c++) {
    const tr_hist *h = &s->calls[c];
    printf("%s%-15s %10llu calls  p50 %8.0f ns  p99 %9.0f ns  max %11.0f ns  mean %8.0f ns\n", indent, call_names[c],
           (unsigned long long)h->count, tr_hist_percentile(h, 50), tr_hist_percentile(h, 99), (double)h->max_ns,
           h->count ? (double)h->total_ns / (double)h->count : 0.0);
  }
  printf("%s%llu connections, %llu requests; always-allowed %llu allowed / %llu denied; never-allowed %llu allowed / "
         "%llu denied; maybe %llu allowed / %llu denied; content-decided %llu\n",
         indent, (unsigned long long)s->connections, (unsigned long long)s->requests,
         (unsigned long long)s->allowed[TR_ALWAYS], (unsigned long long)s->denied[TR_ALWAYS],
         (unsigned long long)s->allowed[TR_NEVER], (unsigned long long)s->denied[TR_NEVER],
         (unsigned long long)s->allowed[TR_MAYBE], (unsigned long long)s->denied[TR_MAYBE],
         (unsigned long long)(s->allowed[TR_CONTENT] + s->denied[TR_CONTENT]));
}

/* ---- scripts --------------------------------------------------------------------------------------------------- */

#define ARENA 65536
#define REPLY_ARENA 8192
#define MAX_REQ 48
#define MAX_REPLIES 16

/* What a request does, for the parsers whose verdict is in the bytes. */
enum { K_PASS, K_DROP, K_INJECT, K_INSERT };

typedef struct tr_req {
  uint32_t off, len;
  uint8_t klass, kind;
} tr_req;

typedef struct tr_slot {
  dp_conn *conn;
  int parser;
  uint8_t arena[ARENA];
  size_t len;     /* script bytes */
  size_t sent;    /* bytes written so far */
  size_t stop_at; /* len, or a point inside the last request (the client gives up mid-request) */
  tr_req reqs[MAX_REQ];
  int n_reqs;
  uint8_t replies[REPLY_ARENA];
  size_t replies_len;
  int n_replies;
  dp_buf to_server, to_client;
} tr_slot;

struct tr_worker {
  const dp_library *lib;
  tr_config config;
  int index;
  uint64_t rng;
  uint64_t next_conn;
  tr_stats stats;
  tr_slot *slots;
};

static uint64_t rnd(tr_worker *w) {
  /* xorshift64* */
  w->rng ^= w->rng >> 12;
  w->rng ^= w->rng << 25;
  w->rng ^= w->rng >> 27;
  return w->rng * 0x2545F4914F6CDD1DULL;
}

static uint32_t below(tr_worker *w, uint32_t n) { return n ? (uint32_t)(rnd(w) % n) : 0; }

/* Appends printf output to the slot's arena as a new request. */
static void add_req(tr_slot *s, uint8_t klass, uint8_t kind, const char *fmt, ...) {
  if (s->n_reqs >= MAX_REQ) return;
  size_t room = ARENA - s->len;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf((char *)s->arena + s->len, room, fmt, ap);
  va_end(ap);
  if (n <= 0 || (size_t)n >= room) return;
  s->reqs[s->n_reqs++] = (tr_req){(uint32_t)s->len, (uint32_t)n, klass, kind};
  s->len += (size_t)n;
}

/* Padding that cannot spell a rule's keyword ("maybe", "the end", "PASS", ...). */
static void pad(tr_worker *w, char *out, size_t max) {
  static const char chars[] = "0123456789xyz";
  size_t n = below(w, (uint32_t)max);
  for (size_t i = 0; i < n; i++) out[i] = chars[below(w, sizeof chars - 1)];
  out[n] = 0;
}

static size_t digits(size_t n) {
  size_t d = 1;
  while (n >= 10) n /= 10, d++;
  return d;
}

/* A test.blockparser block "<length>:<body>", the length counting the whole block. */
static void add_block(tr_slot *s, uint8_t kind, const char *body) {
  size_t body_len = strlen(body) + 1; /* with the ':' */
  size_t total = body_len + 1;
  while (digits(total) + body_len != total) total++;
  add_req(s, TR_CONTENT, kind, "%zu:%s", total, body);
}

static void build_script(tr_worker *w, tr_slot *s, int *src_id, const char **policy_name, const char **dst) {
  s->len = s->sent = 0;
  s->n_reqs = 0;
  s->replies_len = 0;
  s->n_replies = 0;
  dp_buf_truncate(&s->to_server, 0);
  dp_buf_truncate(&s->to_client, 0);
  int n = 1 + (int)below(w, (uint32_t)w->config.max_requests);
  char tok[64], p[160];
  /* Bytes the INJECT requests of this connection may inject towards the client: within one inject buffer,
     since pipelined requests inject before the datapath drains it (a parser that meets a full buffer cuts its
     injection short, upstream's behaviour and not what this test is about). */
  size_t inject_budget = 900;
  *src_id = 1;
  *policy_name = "1.1.1.1";
  /* Connections whose remote identity or policy name no policy names: everything denied. */
  int never_conn = 0;
  if (s->parser == TR_R2D2 || s->parser == TR_HEADER) {
    uint32_t r = below(w, 20);
    if (r == 0) *src_id = 9, never_conn = 1;
    else if (r == 1) *policy_name = "9.9.9.9", never_conn = 1;
    else if (r < 6) *src_id = 3;
  }
  static const char *ports[TR_N_PARSERS] = {"10.0.0.2:84", "10.0.0.2:83", "1.1.1.1:81", "10.0.0.2:82", "1.1.1.1:80"};
  *dst = ports[s->parser];
  for (int i = 0; i < n; i++) {
    snprintf(tok, sizeof tok, "t%dc%llur%d", w->index, (unsigned long long)w->next_conn, i);
    uint32_t r = below(w, 100);
    switch (s->parser) {
      case TR_PASSER:
        pad(w, p, 150);
        add_req(s, TR_CONTENT, K_PASS, "any bytes %s %s|", tok, p);
        break;
      case TR_LINE: {
        pad(w, p, 150);
        uint8_t kind = r < 50 ? K_PASS : r < 70 ? K_DROP : r < 85 ? K_INJECT : K_INSERT;
        if (kind == K_INJECT && inject_budget < 200) kind = K_PASS;
        if (kind == K_INJECT) inject_budget -= 200;
        static const char *verbs[] = {"PASS", "DROP", "INJECT", "INSERT"};
        add_req(s, TR_CONTENT, kind, "%s %s %s\n", verbs[kind], tok, p);
        break;
      }
      case TR_HEADER:
        pad(w, p, 100);
        if (r < 45) add_req(s, never_conn ? TR_NEVER : TR_ALWAYS, 0, "Beginning %s %s\n", tok, p);
        else if (r < 75) add_req(s, TR_NEVER, 0, "Forbidden %s %s\n", tok, p);
        else if (r < 88) add_req(s, never_conn ? TR_NEVER : TR_MAYBE, 0, "Perhaps maybe %s %s\n", tok, p);
        else add_req(s, never_conn ? TR_NEVER : TR_MAYBE, 0, "Line %s %s the end\n", tok, p);
        break;
      case TR_BLOCK: {
        char body[3200];
        uint8_t kind = r < 45 ? K_PASS : r < 75 ? K_DROP : r < 90 ? K_INSERT : K_INJECT;
        if (kind == K_INJECT && inject_budget < 340) kind = K_DROP;
        if (kind == K_INJECT) inject_budget -= 340;
        static const char *kw[] = {"PASS", "DROP", "INJECT", "INSERT"};
        size_t extra = kind == K_INJECT ? below(w, 300) : below(w, 3000);
        int m = snprintf(body, sizeof body, "%s %s ", kw[kind], tok);
        for (size_t k = 0; k < extra && (size_t)m + 1 < sizeof body; k++) body[m++] = "abcfghjkl"[k % 9];
        body[m] = 0;
        add_block(s, kind, body);
        break;
      }
      case TR_R2D2: {
        pad(w, p, 60);
        uint8_t maybe = never_conn ? TR_NEVER : TR_MAYBE;
        if (r < 40) add_req(s, never_conn ? TR_NEVER : TR_ALWAYS, 0, "READ /public/%s%s\r\n", tok, p);
        else if (r < 65) add_req(s, TR_NEVER, 0, "WRITE /secret/%s%s\r\n", tok, p);
        else if (r < 75) add_req(s, maybe, 0, "HALT\r\n");
        else if (r < 82) add_req(s, maybe, 0, "RESET\r\n");
        else if (r < 91) add_req(s, maybe, 0, "READ /private/%s\r\n", tok);
        else add_req(s, maybe, 0, "WRITE /upload/%s%s\r\n", tok, p);
        break;
      }
    }
  }
  s->stop_at = s->len;
  /* Sometimes the client gives up in the middle of its last request (the line parsers hold a partial line, so
     nothing of it may come out). */
  if ((s->parser == TR_R2D2 || s->parser == TR_HEADER || s->parser == TR_LINE) && below(w, 10) == 0) {
    tr_req *last = &s->reqs[s->n_reqs - 1];
    if (last->len >= 2) s->stop_at = last->off + 1 + below(w, last->len - 1);
  }
}

/* The server's next reply on the slot's connection (whole), recorded as expected client-side bytes. */
static int make_reply(tr_slot *s, char *out, size_t cap) {
  int n = s->n_replies;
  switch (s->parser) {
    case TR_PASSER: return snprintf(out, cap, "server bytes %d;", n);
    case TR_LINE: return snprintf(out, cap, "PASS reply %d\n", n);
    case TR_HEADER: return snprintf(out, cap, "reply %d\n", n);
    case TR_R2D2: return snprintf(out, cap, "OK %d\r\n", n);
    case TR_BLOCK: {
      char body[64];
      snprintf(body, sizeof body, "PASS reply %d", n);
      size_t body_len = strlen(body) + 1, total = body_len + 1;
      while (digits(total) + body_len != total) total++;
      return snprintf(out, cap, "%zu:%s", total, body);
    }
  }
  return 0;
}

/* ---- checking ------------------------------------------------------------------------------------------------- */

static int starts(const uint8_t *p, size_t avail, const uint8_t *q, size_t n) { return avail >= n && memcmp(p, q, n) == 0; }

/* Length of the line (with its '\n') at p, 0 if none. */
static size_t line_len(const uint8_t *p, size_t avail) {
  const uint8_t *nl = memchr(p, '\n', avail);
  return nl ? (size_t)(nl - p) + 1 : 0;
}

/* Length of the test.blockparser block at p, 0 if malformed or incomplete. */
static size_t block_len(const uint8_t *p, size_t avail) {
  size_t n = 0, i = 0;
  while (i < avail && i < 8 && p[i] >= '0' && p[i] <= '9') n = n * 10 + (size_t)(p[i++] - '0');
  if (i == 0 || i >= avail || p[i] != ':' || n > avail || n <= i) return 0;
  return n;
}

#define FAIL(...)                          \
  do {                                     \
    violation(&w->stats, __VA_ARGS__);     \
    return;                                \
  } while (0)

static const char *parser_names[TR_N_PARSERS] = {"test.passer", "test.lineparser", "test.headerparser",
                                                 "test.blockparser", "r2d2"};

/* Checks what reached the server and the client against the script, counts verdicts and log entries. */
static void verify(tr_worker *w, tr_slot *s) {
  const char *pn = parser_names[s->parser];
  const uint8_t *out = s->to_server.data, *cl = s->to_client.data;
  size_t out_len = s->to_server.len, cl_len = s->to_client.len;
  int processed = 0;
  while (processed < s->n_reqs && s->reqs[processed].off + s->reqs[processed].len <= s->sent) processed++;
  w->stats.requests += (uint64_t)processed;
  w->stats.per_parser[s->parser] += (uint64_t)processed;
  unsigned long long conn = (unsigned long long)dp_conn_id(s->conn);

  if (s->parser == TR_PASSER) {
    if (out_len != s->sent || memcmp(out, s->arena, s->sent) != 0) FAIL("%s conn %llu: server did not get every byte", pn, conn);
    if (cl_len != s->replies_len || memcmp(cl, s->replies, cl_len) != 0) FAIL("%s conn %llu: client did not get every reply byte", pn, conn);
    w->stats.allowed[TR_CONTENT] += (uint64_t)processed;
    return;
  }

  if (s->parser == TR_LINE || s->parser == TR_BLOCK) {
    /* To the server: PASS and INSERT requests, in order, exactly. */
    size_t pos = 0;
    int injects = 0;
    for (int i = 0; i < processed; i++) {
      const tr_req *r = &s->reqs[i];
      const uint8_t *bytes = s->arena + r->off;
      if (r->kind == K_PASS || r->kind == K_INSERT) {
        if (!starts(out + pos, out_len - pos, bytes, r->len))
          FAIL("%s conn %llu: request %d (%.*s...) missing at server offset %zu", pn, conn, i, 20, bytes, pos);
        pos += r->len;
        w->stats.allowed[TR_CONTENT]++;
      } else {
        w->stats.denied[TR_CONTENT]++;
      }
      if (r->kind == K_INJECT) injects++;
      if (s->parser == TR_BLOCK && (r->kind == K_PASS || r->kind == K_DROP)) w->stats.log_expected++;
    }
    if (pos != out_len) FAIL("%s conn %llu: %zu unexpected bytes at the server after offset %zu", pn, conn, out_len - pos, pos);
    /* To the client: the server's replies and the INJECT requests, each in order, interleaved. */
    size_t cpos = 0, rpos = 0;
    int next_inject = 0;
    while (cpos < cl_len) {
      size_t n = s->parser == TR_LINE ? line_len(cl + cpos, cl_len - cpos) : block_len(cl + cpos, cl_len - cpos);
      if (n == 0) FAIL("%s conn %llu: torn frame at client offset %zu", pn, conn, cpos);
      if (starts(s->replies + rpos, s->replies_len - rpos, cl + cpos, n)) {
        rpos += n;
      } else {
        while (next_inject < processed && s->reqs[next_inject].kind != K_INJECT) next_inject++;
        if (next_inject >= processed) FAIL("%s conn %llu: unexpected frame at client offset %zu", pn, conn, cpos);
        const tr_req *r = &s->reqs[next_inject++];
        if (r->len != n || memcmp(s->arena + r->off, cl + cpos, n) != 0)
          FAIL("%s conn %llu: injected frame at client offset %zu is not the INJECT request", pn, conn, cpos);
        injects--;
      }
      cpos += n;
    }
    if (rpos != s->replies_len) FAIL("%s conn %llu: client missed reply bytes", pn, conn);
    if (injects != 0) FAIL("%s conn %llu: %d INJECT requests never reached the client", pn, conn, injects);
    if (s->parser == TR_BLOCK) w->stats.log_expected += (uint64_t)s->n_replies;
    return;
  }

  /* r2d2 and test.headerparser: policy verdicts, read off the server's bytes. */
  size_t pos = 0;
  int denied = 0;
  char denied_at[MAX_REQ];
  for (int i = 0; i < processed; i++) {
    const tr_req *r = &s->reqs[i];
    int allowed = starts(out + pos, out_len - pos, s->arena + r->off, r->len);
    denied_at[i] = (char)!allowed;
    if (allowed) {
      pos += r->len;
      w->stats.allowed[r->klass]++;
      if (r->klass == TR_NEVER)
        FAIL("%s conn %llu: a request no policy allows reached the server: %.*s", pn, conn, (int)r->len - 1, s->arena + r->off);
    } else {
      denied++;
      w->stats.denied[r->klass]++;
      if (r->klass == TR_ALWAYS && w->config.strict_allowed)
        FAIL("%s conn %llu: a request every policy allows was denied: %.*s", pn, conn, (int)r->len - 1, s->arena + r->off);
    }
  }
  if (pos != out_len) FAIL("%s conn %llu: %zu unexpected bytes at the server after offset %zu", pn, conn, out_len - pos, pos);
  w->stats.log_expected += (uint64_t)processed + (s->parser == TR_HEADER ? (uint64_t)s->n_replies : 0);
  size_t cpos = 0, rpos = 0;
  int errors = 0, next_denied = 0;
  static const char dropped[] = "Line dropped: ";
  while (cpos < cl_len) {
    size_t n = line_len(cl + cpos, cl_len - cpos);
    if (n == 0) FAIL("%s conn %llu: torn line at client offset %zu", pn, conn, cpos);
    if (starts(s->replies + rpos, s->replies_len - rpos, cl + cpos, n)) {
      rpos += n;
    } else if (s->parser == TR_R2D2 && n == 7 && memcmp(cl + cpos, "ERROR\r\n", 7) == 0) {
      errors++;
    } else if (s->parser == TR_HEADER && starts(cl + cpos, n, (const uint8_t *)dropped, sizeof dropped - 1)) {
      while (next_denied < processed && !denied_at[next_denied]) next_denied++;
      if (next_denied >= processed) FAIL("%s conn %llu: a line dropped that reached the server", pn, conn);
      const tr_req *r = &s->reqs[next_denied++];
      if (n != sizeof dropped - 1 + r->len || memcmp(cl + cpos + sizeof dropped - 1, s->arena + r->off, r->len) != 0)
        FAIL("%s conn %llu: 'Line dropped' names another line", pn, conn);
      errors++;
    } else {
      FAIL("%s conn %llu: unexpected line at client offset %zu: %.*s", pn, conn, cpos, (int)(n > 40 ? 40 : n), cl + cpos);
    }
    cpos += n;
  }
  if (rpos != s->replies_len) FAIL("%s conn %llu: client missed reply bytes", pn, conn);
  if (errors != denied) FAIL("%s conn %llu: %d denied requests but %d error replies", pn, conn, denied, errors);
}

/* ---- workers ---------------------------------------------------------------------------------------------------- */

tr_worker *tr_worker_new(const dp_library *wrapped, const tr_config *config, int index) {
  tr_worker *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  w->lib = wrapped;
  w->config = *config;
  if (w->config.slots < 1) w->config.slots = 1;
  if (w->config.slots > 64) w->config.slots = 64;
  if (w->config.max_requests < 1) w->config.max_requests = 1;
  if (w->config.max_requests > MAX_REQ) w->config.max_requests = MAX_REQ;
  if (w->config.parser_mask == 0) w->config.parser_mask = (1u << TR_N_PARSERS) - 1;
  w->index = index;
  w->rng = (config->seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(index + 1))) | 1;
  w->slots = calloc((size_t)w->config.slots, sizeof *w->slots);
  if (w->slots == NULL) {
    free(w);
    return NULL;
  }
  for (int i = 0; i < w->config.slots; i++) {
    dp_buf_init(&w->slots[i].to_server);
    dp_buf_init(&w->slots[i].to_client);
  }
  return w;
}

static void finish(tr_worker *w, tr_slot *s) {
  verify(w, s);
  dp_conn_free(s->conn); /* Close, timed */
  s->conn = NULL;
  w->stats.connections++;
}

/* One step on one slot; returns 1 when a connection ended. */
static int step(tr_worker *w, tr_slot *s, uint64_t instance) {
  if (s->conn == NULL) {
    do s->parser = (int)below(w, TR_N_PARSERS);
    while (!(w->config.parser_mask & (1u << s->parser)));
    int src_id;
    const char *policy_name, *dst;
    build_script(w, s, &src_id, &policy_name, &dst);
    uint64_t id = w->config.conn_id_base + ((uint64_t)w->index << 32) + w->next_conn++;
    FilterResult res = dp_conn_new(w->lib, instance, parser_names[s->parser], id, 1, (uint32_t)src_id, 2,
                                   "10.1.1.1:34567", dst, policy_name, &s->conn);
    if (res == FILTER_INVALID_INSTANCE) {
      w->stats.refused++;
      return 0;
    }
    if (res != FILTER_OK) violation(&w->stats, "%s: OnNewConnection -> %s", parser_names[s->parser], dp_result_name(res));
    return 0;
  }
  FilterResult res;
  if (s->sent < s->stop_at && (s->n_replies >= MAX_REPLIES || below(w, 5) != 0)) {
    /* The client writes: one byte, part of the current request, the rest of it, or several requests at once. */
    int cur = 0;
    while (cur + 1 < s->n_reqs && s->reqs[cur].off + s->reqs[cur].len <= s->sent) cur++;
    size_t cur_end = s->reqs[cur].off + s->reqs[cur].len, n;
    if (cur_end > s->stop_at) cur_end = s->stop_at;
    uint32_t r = below(w, 8);
    if (r == 0) n = 1;
    else if (r <= 2) n = 1 + below(w, (uint32_t)(cur_end - s->sent));
    else if (r <= 4) n = cur_end - s->sent;
    else if (r <= 6) {
      /* test.headerparser injects "Line dropped: <line>" per denied line: at most 6 lines (< 1024 bytes) a
         write, so the injections fit the inject buffer (see build_script). */
      uint32_t span = (uint32_t)(s->n_reqs - cur);
      if (s->parser == TR_HEADER && span > 6) span = 6;
      int last = cur + (int)below(w, span);
      size_t end = s->reqs[last].off + s->reqs[last].len;
      n = (end > s->stop_at ? s->stop_at : end) - s->sent;
    } else n = s->stop_at - s->sent;
    if (s->parser == TR_HEADER) {
      /* Likewise for the "all the rest" write. */
      int last = cur + 5 < s->n_reqs ? cur + 5 : s->n_reqs - 1;
      size_t end = s->reqs[last].off + s->reqs[last].len;
      if (end > s->stop_at) end = s->stop_at;
      if (s->sent + n > end) n = end - s->sent;
    }
    if (n == 0) n = 1;
    res = dp_filter_on_data(s->conn, s->arena + s->sent, n, 0, &s->to_server, &s->to_client);
    s->sent += n;
  } else if (s->sent < s->stop_at) {
    char reply[96];
    int n = make_reply(s, reply, sizeof reply);
    if (n <= 0 || s->replies_len + (size_t)n > REPLY_ARENA) {
      s->n_replies = MAX_REPLIES;
      return 0;
    }
    memcpy(s->replies + s->replies_len, reply, (size_t)n);
    s->replies_len += (size_t)n;
    s->n_replies++;
    res = dp_filter_on_write(s->conn, (const uint8_t *)reply, (size_t)n, 0, &s->to_client);
  } else {
    finish(w, s);
    return 1;
  }
  if (res != FILTER_OK) {
    violation(&w->stats, "%s conn %llu: datapath -> %s", parser_names[s->parser],
              (unsigned long long)dp_conn_id(s->conn), dp_result_name(res));
    dp_conn_free(s->conn);
    s->conn = NULL;
  }
  return 0;
}

void tr_worker_run(tr_worker *w, const volatile uint64_t *instance, uint64_t connections, const volatile int *stop) {
  current_stats = &w->stats;
  uint64_t ended = 0, steps = 0;
  while (ended < connections && !(stop && *stop)) {
    tr_slot *s = &w->slots[below(w, (uint32_t)w->config.slots)];
    uint64_t refused = w->stats.refused;
    ended += (uint64_t)step(w, s, *instance);
    steps++;
    /* With no instance to connect to, do not spin. */
    if (w->stats.refused != refused) usleep(500);
  }
  current_stats = NULL;
}

void tr_worker_close_all(tr_worker *w) {
  current_stats = &w->stats;
  for (int i = 0; i < w->config.slots; i++) {
    tr_slot *s = &w->slots[i];
    if (s->conn == NULL) continue;
    /* Whatever was sent whole has been decided: check it as for a client that gives up here, except in the
       middle of a test.blockparser block (its PASS verdict forwards a block's first bytes) or a test.passer
       write, where a partial request is not a request. */
    int at_boundary = 0;
    for (int i = 0; i < s->n_reqs; i++)
      if (s->reqs[i].off + s->reqs[i].len == s->sent || s->sent == 0) at_boundary = 1;
    s->stop_at = s->sent;
    if (s->parser == TR_BLOCK && !at_boundary) {
      dp_conn_free(s->conn);
      s->conn = NULL;
      continue;
    }
    finish(w, s);
  }
  current_stats = NULL;
}

void tr_worker_finish(tr_worker *w) {
  current_stats = &w->stats;
  for (int i = 0; i < w->config.slots; i++)
    while (w->slots[i].conn != NULL) step(w, &w->slots[i], 0);
  current_stats = NULL;
}

const tr_stats *tr_worker_stats(const tr_worker *w) { return &w->stats; }

void tr_worker_free(tr_worker *w) {
  if (w == NULL) return;
  tr_worker_close_all(w);
  for (int i = 0; i < w->config.slots; i++) {
    dp_buf_free(&w->slots[i].to_server);
    dp_buf_free(&w->slots[i].to_client);
  }
  free(w->slots);
  free(w);
}

/* ---- background load (fault suite) -------------------------------------------------------------------------------- */

#define MAX_LOAD_THREADS 16

struct tr_load {
  dp_library wrapped;
  volatile uint64_t instance;
  volatile int stop;
  int threads;
  pthread_t thread[MAX_LOAD_THREADS];
  tr_worker *worker[MAX_LOAD_THREADS];
};

typedef struct load_arg {
  tr_load *load;
  int index;
} load_arg;

static void *load_main(void *arg) {
  tr_load *load = ((load_arg *)arg)->load;
  tr_worker *w = load->worker[((load_arg *)arg)->index];
  free(arg);
  /* Short pauses leave CPU to the peers the fault tests start and stop (and to the rest of the machine). */
  while (!load->stop) {
    tr_worker_run(w, &load->instance, 16, &load->stop);
    usleep(1000);
  }
  tr_worker_close_all(w);
  return NULL;
}

static atomic_ullong load_generation;

tr_load *tr_load_start(const dp_library *real, uint64_t instance, int threads, uint64_t seed, int strict_allowed) {
  if (threads < 1) threads = 1;
  if (threads > MAX_LOAD_THREADS) threads = MAX_LOAD_THREADS;
  tr_load *load = calloc(1, sizeof *load);
  if (load == NULL) return NULL;
  tr_wrap_library(real, &load->wrapped);
  load->instance = instance;
  load->threads = threads;
  /* Connection ids unique across loads in one process. */
  uint64_t base = (atomic_fetch_add(&load_generation, 1) + 1) << 48;
  tr_config config = {.seed = seed, .strict_allowed = strict_allowed, .slots = 4, .max_requests = 12,
                      .conn_id_base = base};
  for (int i = 0; i < threads; i++) {
    load->worker[i] = tr_worker_new(&load->wrapped, &config, i);
    load_arg *arg = malloc(sizeof *arg);
    *arg = (load_arg){load, i};
    pthread_create(&load->thread[i], NULL, load_main, arg);
  }
  return load;
}

void tr_load_set_instance(tr_load *load, uint64_t instance) { load->instance = instance; }

tr_stats *tr_load_stop(tr_load *load) {
  load->stop = 1;
  tr_stats *total = calloc(1, sizeof *total);
  for (int i = 0; i < load->threads; i++) {
    pthread_join(load->thread[i], NULL);
    tr_stats_merge(total, tr_worker_stats(load->worker[i]));
    tr_worker_free(load->worker[i]);
  }
  free(load);
  return total;
}

static const char *short_call_names[TR_N_CALLS] = {"new", "data", "close"};
static const char *class_names[TR_N_CLASSES] = {"always", "never", "maybe", "content"};

double tr_stats_value(const tr_stats *s, const char *name) {
  if (strcmp(name, "violations") == 0) return (double)s->violations;
  if (strcmp(name, "connections") == 0) return (double)s->connections;
  if (strcmp(name, "refused") == 0) return (double)s->refused;
  if (strcmp(name, "requests") == 0) return (double)s->requests;
  if (strcmp(name, "log_expected") == 0) return (double)s->log_expected;
  for (int k = 0; k < TR_N_CLASSES; k++) {
    char a[32], d[32];
    snprintf(a, sizeof a, "allowed.%s", class_names[k]);
    snprintf(d, sizeof d, "denied.%s", class_names[k]);
    if (strcmp(name, a) == 0) return (double)s->allowed[k];
    if (strcmp(name, d) == 0) return (double)s->denied[k];
  }
  for (int c = 0; c < TR_N_CALLS; c++) {
    char m[32], p50[32], p99[32], n[32];
    snprintf(m, sizeof m, "max_ns.%s", short_call_names[c]);
    snprintf(p50, sizeof p50, "p50_ns.%s", short_call_names[c]);
    snprintf(p99, sizeof p99, "p99_ns.%s", short_call_names[c]);
    snprintf(n, sizeof n, "calls.%s", short_call_names[c]);
    if (strcmp(name, m) == 0) return (double)s->calls[c].max_ns;
    if (strcmp(name, p50) == 0) return tr_hist_percentile(&s->calls[c], 50);
    if (strcmp(name, p99) == 0) return tr_hist_percentile(&s->calls[c], 99);
    if (strcmp(name, n) == 0) return (double)s->calls[c].count;
  }
  return -1;
}

const char *tr_stats_violation(const tr_stats *s) { return s->first_violation; }

void tr_stats_free(tr_stats *s) { free(s); }

/* ---- Close racing OnData ---------------------------------------------------------------------------------------------- */

typedef struct race {
  dp_library wrapped;
  uint64_t instance;
  int batch, rounds;
  atomic_int closers_left;
  tr_stats stats[MAX_LOAD_THREADS];
} race;

typedef struct race_arg {
  race *r;
  int index;
} race_arg;

static void *race_streamer(void *arg) {
  race *r = ((race_arg *)arg)->r;
  tr_stats *st = &r->stats[((race_arg *)arg)->index];
  current_stats = st;
  dp_conn *conn = NULL;
  FilterResult res = dp_conn_new(&r->wrapped, r->instance, "test.lineparser", 1, 1, 1, 2, "10.1.1.1:1",
                                 "10.0.0.2:83", "1.1.1.1", &conn);
  if (res != FILTER_OK) {
    violation(st, "close race: OnNewConnection -> %s", dp_result_name(res));
    current_stats = NULL;
    return NULL;
  }
  static _Thread_local char input[64 * 48], expected[64 * 48];
  dp_buf to_server, to_client;
  dp_buf_init(&to_server);
  dp_buf_init(&to_client);
  uint64_t seq = 0;
  while (atomic_load(&r->closers_left) > 0 && st->violations == 0) {
    size_t in = 0, ex = 0;
    for (int i = 0; i < 64; i++, seq++) {
      int pass = (seq * 2654435761u) % 3 != 0;
      int n = snprintf(input + in, sizeof input - in, "%s line %llu\n", pass ? "PASS" : "DROP", (unsigned long long)seq);
      if (pass) memcpy(expected + ex, input + in, (size_t)n), ex += (size_t)n;
      in += (size_t)n;
    }
    dp_buf_truncate(&to_server, 0);
    dp_buf_truncate(&to_client, 0);
    res = dp_filter_on_data(conn, (const uint8_t *)input, in, 0, &to_server, &to_client);
    if (res != FILTER_OK) violation(st, "close race: streaming OnData -> %s", dp_result_name(res));
    else if (to_server.len != ex || memcmp(to_server.data, expected, ex) != 0)
      violation(st, "close race: wrong bytes forwarded on the streaming connection");
    st->requests += 64;
  }
  dp_conn_free(conn);
  dp_buf_free(&to_server);
  dp_buf_free(&to_client);
  current_stats = NULL;
  return NULL;
}

static void *race_closer(void *arg) {
  race *r = ((race_arg *)arg)->r;
  int index = ((race_arg *)arg)->index;
  tr_stats *st = &r->stats[index];
  current_stats = st;
  dp_conn **conns = calloc((size_t)r->batch, sizeof *conns);
  uint64_t next = ((uint64_t)index << 40) + 1000;
  for (int round = 0; round < r->rounds && st->violations == 0; round++) {
    int opened = 0;
    for (int i = 0; i < r->batch; i++) {
      FilterResult res = dp_conn_new(&r->wrapped, r->instance, "test.passer", next++, 1, 1, 2, "10.1.1.1:1",
                                     "10.0.0.2:84", "1.1.1.1", &conns[i]);
      if (res != FILTER_OK) violation(st, "close race: OnNewConnection -> %s", dp_result_name(res));
      else opened++;
    }
    /* Close in an order unlike the opening one, each after a little traffic. */
    for (int i = 0; i < r->batch; i++) {
      dp_conn *c = conns[(i * 7919) % r->batch];
      if (c == NULL) continue;
      dp_buf out, back;
      dp_buf_init(&out);
      dp_buf_init(&back);
      if (i % 16 == 0 && dp_filter_on_data(c, (const uint8_t *)"x", 1, 0, &out, &back) != FILTER_OK)
        violation(st, "close race: passer OnData failed");
      dp_buf_free(&out);
      dp_buf_free(&back);
      dp_conn_free(c);
      st->connections++;
    }
    memset(conns, 0, (size_t)r->batch * sizeof *conns);
    (void)opened;
  }
  free(conns);
  atomic_fetch_sub(&r->closers_left, 1);
  current_stats = NULL;
  return NULL;
}

tr_stats *tr_close_race(const dp_library *real, uint64_t instance, int closers, int batch, int rounds) {
  if (closers < 1) closers = 1;
  if (closers > MAX_LOAD_THREADS - 1) closers = MAX_LOAD_THREADS - 1;
  /* batch is used with a stride of 7919 (prime): keep it coprime. */
  if (batch < 1) batch = 1;
  if (batch % 7919 == 0) batch++;
  race *r = calloc(1, sizeof *r);
  tr_wrap_library(real, &r->wrapped);
  r->instance = instance;
  r->batch = batch;
  r->rounds = rounds;
  atomic_store(&r->closers_left, closers);
  pthread_t threads[MAX_LOAD_THREADS];
  race_arg args[MAX_LOAD_THREADS];
  for (int i = 0; i <= closers; i++) {
    args[i] = (race_arg){r, i};
    pthread_create(&threads[i], NULL, i == 0 ? race_streamer : race_closer, &args[i]);
  }
  tr_stats *total = calloc(1, sizeof *total);
  for (int i = 0; i <= closers; i++) {
    pthread_join(threads[i], NULL);
    tr_stats_merge(total, &r->stats[i]);
  }
  free(r);
  return total;
}
