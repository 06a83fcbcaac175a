/*
 * The benchmark's workloads (bench/bench.c; the memcache ones also in bench/alloc-bench.c): a parser, the
 * connection's identities and destination (picking the policy of bench/policy.txt), and a cycle of requests,
 * each marked allowed or denied under that policy. Adding a parser is one row here.
 *
 * Request/reply protocols (memcache) also carry the server's reply to every allowed request (a denied request
 * never reaches the server; the library answers it with `denial`). The drivers send each reply through the
 * reply direction after its request (or, pipelined, all replies of a pipeline after it), as a server would.
 *
 * Static data and functions: include this file in one translation unit, and call workloads_init() first.
 */
#ifndef SWIFT_PROXYLIB_BENCH_WORKLOADS_H
#define SWIFT_PROXYLIB_BENCH_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MAX_CYCLE 8

typedef struct request {
  const char *bytes;
  int allowed;
  /* The server's reply (allowed requests of request/reply protocols); NULL: the protocol has none here. */
  const char *reply;
  /* Lengths of bytes and reply; 0: strlen (binary messages set them). */
  size_t len, reply_len;
} request;

typedef struct workload {
  const char *name;
  const char *parser;
  uint32_t src_id;
  const char *dst_addr;
  const char *policy_name;
  request cycle[MAX_CYCLE];
  /* A destination whose port runs the same parser without L7 rules (every request allowed); NULL: none. */
  const char *l7_free_addr;
  /* What the library sends the client in place of a denied request's reply (checked for workloads with
     replies); NULL: not checked. */
  const char *denial;
  size_t denial_len;
} workload;

static inline size_t request_len(const request *r) { return r->len ? r->len : strlen(r->bytes); }
static inline size_t reply_len(const request *r) {
  return r->reply == NULL ? 0 : r->reply_len ? r->reply_len : strlen(r->reply);
}
static inline int workload_has_replies(const workload *w) {
  for (int i = 0; i < MAX_CYCLE && w->cycle[i].bytes != NULL; i++)
    if (w->cycle[i].reply != NULL) return 1;
  return 0;
}

/* memcache binary protocol: the denial (status 0x0008, body "access denied"); bytes 1 and 12-15 carry the
   request's opcode and opaque in ours, 0 in the Go parser's, so only the length is compared. */
#define MC_BINARY_DENIAL_LEN (24 + 13)
#define MC_TEXT_DENIAL "CLIENT_ERROR access denied\r\n"

/* A cycle entry: allowed (no reply modelled), denied, or allowed and answered with `reply` by the server. */
#define ALLOW(bytes) {bytes, 1, NULL, 0, 0}
#define DENY(bytes) {bytes, 0, NULL, 0, 0}
#define ASK(bytes, reply) {bytes, 1, reply, 0, 0}

static workload workloads[] = {
    {"r2d2", "r2d2", 1, "1.1.1.1:80", "1.1.1.1",
     {ALLOW("READ /public/index.html\r\n"),
      ALLOW("READ /public/images/logo.png\r\n"),
      ALLOW("READ /public/docs/manual-v2.pdf\r\n"),
      DENY("READ /secret/deathstar-plans.txt\r\n"),
      ALLOW("READ /public/css/site.css\r\n"),
      ALLOW("READ /public/js/app.js\r\n"),
      ALLOW("HALT\r\n"),
      ALLOW("READ /public/robots.txt\r\n")},
     "1.1.1.1:82", NULL, 0},
    {"headerparser", "test.headerparser", 1, "1.1.1.1:81", "1.1.1.1",
     {ALLOW("Beginning of a request line with some payload\n"),
      ALLOW("Beginning again, a slightly longer line of text here\n"),
      ALLOW("this one is allowed by the contains rule\n"),
      DENY("Forbidden: neither prefix nor keyword\n"),
      ALLOW("Beginning short\n"),
      ALLOW("Beginning of a request line with some payload\n"),
      ALLOW("Beginning yet another line\n"),
      ALLOW("Beginning the last line of the cycle\n")},
     "1.1.1.1:83", NULL, 0},
    /* memcached's text protocol: get/set/delete of short keys, `get admin:config` denied (rules: get, storage
       and delete of keys under "user:"). */
    {"memcache text", "memcache", 1, "1.1.1.1:11211", "1.1.1.1",
     {ASK("get user:1001\r\n", "VALUE user:1001 0 5\r\nalice\r\nEND\r\n"),
      ASK("set user:1001 0 0 5\r\nalice\r\n", "STORED\r\n"),
      ASK("get user:1002\r\n", "VALUE user:1002 0 3\r\nbob\r\nEND\r\n"),
      DENY("get admin:config\r\n"),
      ASK("set user:1002 0 3600 3\r\nbob\r\n", "STORED\r\n"),
      ASK("get user:1003\r\n", "VALUE user:1003 0 5\r\ncarol\r\nEND\r\n"),
      ASK("delete user:1003\r\n", "DELETED\r\n"),
      ASK("get user:1004\r\n", "VALUE user:1004 0 4\r\ndave\r\nEND\r\n")},
     NULL, MC_TEXT_DENIAL, sizeof MC_TEXT_DENIAL - 1},
    /* The binary protocol: the same conversation as GET/SET/DELETE packets (filled in by workloads_init). */
    {"memcache bin", "memcache", 1, "1.1.1.1:11211", "1.1.1.1", {DENY(NULL)}, NULL, "", MC_BINARY_DENIAL_LEN},
    /* The meta protocol (memcached >= 1.6): mg/ms/md with flags. */
    {"memcache meta", "memcache", 1, "1.1.1.1:11211", "1.1.1.1",
     {ASK("mg user:1001 v\r\n", "VA 5\r\nalice\r\n"),
      ASK("ms user:1001 5 T0\r\nalice\r\n", "HD\r\n"),
      ASK("mg user:1002 v f\r\n", "VA 3 f0\r\nbob\r\n"),
      DENY("mg admin:config v\r\n"),
      ASK("ms user:1002 3 T3600\r\nbob\r\n", "HD\r\n"),
      ASK("mg user:1003 v\r\n", "VA 5\r\ncarol\r\n"),
      ASK("md user:1003\r\n", "HD\r\n"),
      ASK("mg user:1004 v t\r\n", "VA 4 t-1\r\ndave\r\n")},
     NULL, MC_TEXT_DENIAL, sizeof MC_TEXT_DENIAL - 1},
};
#define N_WORKLOADS (sizeof workloads / sizeof workloads[0])
/* The line-protocol workloads (r2d2, headerparser): the memchr comparison, the worker-thread rows and the idle
   connections run these only. */
#define N_LINE_WORKLOADS 2

/* ---- memcache binary packets ---------------------------------------------------------------------------- */

/* One packet of memcached's binary protocol (24-byte header, extras, key, value); returns its length. */
static size_t mc_binary_packet(uint8_t *out, uint8_t magic, uint8_t opcode, uint16_t status, uint32_t opaque,
                               uint64_t cas, const uint8_t *extras, size_t extras_len, const char *key,
                               const char *value) {
  size_t key_len = key ? strlen(key) : 0, value_len = value ? strlen(value) : 0;
  uint32_t body = (uint32_t)(extras_len + key_len + value_len);
  memset(out, 0, 24);
  out[0] = magic;
  out[1] = opcode;
  out[2] = (uint8_t)(key_len >> 8);
  out[3] = (uint8_t)key_len;
  out[4] = (uint8_t)extras_len;
  out[6] = (uint8_t)(status >> 8);
  out[7] = (uint8_t)status;
  for (int i = 0; i < 4; i++) out[8 + i] = (uint8_t)(body >> (24 - 8 * i));
  for (int i = 0; i < 4; i++) out[12 + i] = (uint8_t)(opaque >> (24 - 8 * i));
  for (int i = 0; i < 8; i++) out[16 + i] = (uint8_t)(cas >> (56 - 8 * i));
  if (extras_len) memcpy(out + 24, extras, extras_len);
  if (key_len) memcpy(out + 24 + extras_len, key, key_len);
  if (value_len) memcpy(out + 24 + extras_len + key_len, value, value_len);
  return 24 + body;
}

/* The binary conversation: the text workload's, as GET (0x00), SET (0x01, extras: flags and expiry) and
   DELETE (0x04) requests with distinct opaques, and the responses memcached sends (GET: 4 bytes of flags and
   the value; SET: the new CAS; DELETE: empty). */
static void workloads_init(void) {
  static uint8_t storage[2048];
  workload *w = NULL;
  for (size_t i = 0; i < N_WORKLOADS; i++)
    if (strcmp(workloads[i].name, "memcache bin") == 0) w = &workloads[i];
  if (w == NULL || w->cycle[0].bytes != NULL) return;
  static const struct {
    uint8_t opcode;
    const char *key, *value;
    uint32_t expiry;
    int allowed;
  } conversation[MAX_CYCLE] = {
      {0x00, "user:1001", "alice", 0, 1},   {0x01, "user:1001", "alice", 0, 1},
      {0x00, "user:1002", "bob", 0, 1},     {0x00, "admin:config", NULL, 0, 0},
      {0x01, "user:1002", "bob", 3600, 1},  {0x00, "user:1003", "carol", 0, 1},
      {0x04, "user:1003", NULL, 0, 1},      {0x00, "user:1004", "dave", 0, 1},
  };
  size_t used = 0;
  for (int i = 0; i < MAX_CYCLE; i++) {
    request *r = &w->cycle[i];
    uint8_t set_extras[8] = {0, 0, 0, 0, (uint8_t)(conversation[i].expiry >> 24),
                             (uint8_t)(conversation[i].expiry >> 16), (uint8_t)(conversation[i].expiry >> 8),
                             (uint8_t)conversation[i].expiry};
    uint8_t get_extras[4] = {0, 0, 0, 0};
    int is_set = conversation[i].opcode == 0x01, is_get = conversation[i].opcode == 0x00;
    uint32_t opaque = 0x1000u + (uint32_t)i;
    r->bytes = (const char *)storage + used;
    r->len = mc_binary_packet(storage + used, 0x80, conversation[i].opcode, 0, opaque, 0, is_set ? set_extras : NULL,
                              is_set ? 8 : 0, conversation[i].key, is_set ? conversation[i].value : NULL);
    used += r->len;
    r->allowed = conversation[i].allowed;
    if (!r->allowed) continue;
    r->reply = (const char *)storage + used;
    r->reply_len = mc_binary_packet(storage + used, 0x81, conversation[i].opcode, 0, opaque, is_set ? 0x5eed + (uint64_t)i : 0,
                                    is_get ? get_extras : NULL, is_get ? 4 : 0, NULL,
                                    is_get ? conversation[i].value : NULL);
    used += r->reply_len;
  }
}

#endif
