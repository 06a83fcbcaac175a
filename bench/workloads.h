/*
 * The benchmark's workloads (bench/bench.c; the memcache ones also in bench/alloc-bench.c): a parser, the
 * connection's identities and destination (picking the policy of bench/policy.txt), and a cycle of requests,
 * each marked allowed or denied under that policy. Adding a parser is one row here.
 *
 * Request/reply protocols (memcache, cassandra) also carry the server's reply to every allowed request (a denied
 * request never reaches the server; the library answers it with `denial`). The drivers send each reply through the
 * reply direction after its request (or, pipelined, all replies of a pipeline after it), as a server would.
 * A workload may also open each connection with a `setup` exchange, sent once before anything is timed (cassandra:
 * the PREPAREs and the server's RESULT Prepared answers that the EXECUTE workload's requests name).
 *
 * Static data and functions: include this file in one translation unit, and call workloads_init() first.
 */
#ifndef SWIFT_PROXYLIB_BENCH_WORKLOADS_H
#define SWIFT_PROXYLIB_BENCH_WORKLOADS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CYCLE 8
#define MAX_SETUP 2

typedef struct request {
  const char *bytes;
  int allowed;
  /* The server's reply (allowed requests of request/reply protocols); NULL: the protocol has none here. */
  const char *reply;
  /* Lengths of bytes and reply; 0: strlen (binary messages set them). */
  size_t len, reply_len;
  /* Access-log entries the request and its reply produce; 0: one for the request and one for its reply (memcache
     logs both; a cassandra reply logs nothing, and a BATCH logs one entry per statement). */
  int entries;
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
  /* Allowed requests with their replies, sent once on each new connection before its traffic (untimed). */
  request setup[MAX_SETUP];
} workload;

static inline size_t request_len(const request *r) { return r->len ? r->len : strlen(r->bytes); }
static inline int request_entries(const request *r) {
  return r->entries ? r->entries : 1 + (r->allowed && r->reply != NULL);
}
static inline size_t reply_len(const request *r) {
  return r->reply == NULL ? 0 : r->reply_len ? r->reply_len : strlen(r->reply);
}
/* A request/reply protocol: the server answers some request, or the library answers denials (a redis workload
   whose every request is denied has no server reply, and its client must still get every denial). */
static inline int workload_has_replies(const workload *w) {
  for (int i = 0; i < MAX_CYCLE && w->cycle[i].bytes != NULL; i++)
    if (w->cycle[i].reply != NULL) return 1;
  return w->denial != NULL && w->denial_len > 0;
}

/* memcache binary protocol: the denial (status 0x0008, body "access denied"); bytes 1 and 12-15 carry the
   request's opcode and opaque in ours, 0 in the Go parser's, so only the length is compared. */
#define MC_BINARY_DENIAL_LEN (24 + 13)
#define MC_TEXT_DENIAL "CLIENT_ERROR access denied\r\n"
/* cassandra: the Unauthorized ERROR frame answering a denied request (9-byte header, code 0x2100, the message
   "Request Unauthorized"), with the request's version and stream id: the same 35 bytes from ours and the Go
   parser; only the length is compared. */
#define CASS_DENIAL_LEN (9 + 4 + 2 + 20)

/* redis: a GET or SET of a 9-byte key as a multibulk request, a 16-byte bulk string reply, and the denial (the
   parser answers a denied GET in its reply's place). */
#define REDIS_GET(key) "*2\r\n$3\r\nGET\r\n$9\r\n" key "\r\n"
#define REDIS_SET(key, value) "*3\r\n$3\r\nSET\r\n$9\r\n" key "\r\n$16\r\n" value "\r\n"
#define REDIS_VALUE(value) "$16\r\n" value "\r\n"
#define REDIS_DENIAL "-NOPERM the network policy does not allow 'get'\r\n"

/* A cycle entry: allowed (no reply modelled), denied, or allowed and answered with `reply` by the server. */
#define ALLOW(bytes) {bytes, 1, NULL, 0, 0, 0}
#define DENY(bytes) {bytes, 0, NULL, 0, 0, 0}
#define ASK(bytes, reply) {bytes, 1, reply, 0, 0, 0}
/* A workload without a setup exchange. */
#define NO_SETUP {DENY(NULL)}

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
     "1.1.1.1:82", NULL, 0, NO_SETUP},
    {"headerparser", "test.headerparser", 1, "1.1.1.1:81", "1.1.1.1",
     {ALLOW("Beginning of a request line with some payload\n"),
      ALLOW("Beginning again, a slightly longer line of text here\n"),
      ALLOW("this one is allowed by the contains rule\n"),
      DENY("Forbidden: neither prefix nor keyword\n"),
      ALLOW("Beginning short\n"),
      ALLOW("Beginning of a request line with some payload\n"),
      ALLOW("Beginning yet another line\n"),
      ALLOW("Beginning the last line of the cycle\n")},
     "1.1.1.1:83", NULL, 0, NO_SETUP},
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
     NULL, MC_TEXT_DENIAL, sizeof MC_TEXT_DENIAL - 1, NO_SETUP},
    /* The binary protocol: the same conversation as GET/SET/DELETE packets (filled in by workloads_init). */
    {"memcache bin", "memcache", 1, "1.1.1.1:11211", "1.1.1.1", {DENY(NULL)}, NULL, "", MC_BINARY_DENIAL_LEN, NO_SETUP},
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
     NULL, MC_TEXT_DENIAL, sizeof MC_TEXT_DENIAL - 1, NO_SETUP},
    /* Cassandra's native protocol v4 against the port-9042 rules (select on ^ks\.public_, insert and update on
       ^ks\.orders$); frames filled in by cassandra_init. QUERY: 8 statements, `SELECT … FROM ks.secrets` denied. */
    {"cassandra query", "cassandra", 1, "1.1.1.1:9042", "1.1.1.1", {DENY(NULL)}, NULL, "", CASS_DENIAL_LEN, NO_SETUP},
    /* EXECUTE of two statements prepared on the connection first (setup: PREPARE, RESULT Prepared). */
    {"cassandra execute", "cassandra", 1, "1.1.1.1:9042", "1.1.1.1", {DENY(NULL)}, NULL, "", CASS_DENIAL_LEN, NO_SETUP},
    /* BATCH of 3 statements (2 INSERTs and an UPDATE); one batch with an INSERT into ks.orders_archive denied. */
    {"cassandra batch", "cassandra", 1, "1.1.1.1:9042", "1.1.1.1", {DENY(NULL)}, NULL, "", CASS_DENIAL_LEN, NO_SETUP},
    /* Kafka against the port-9092 rules (topics orders and payments for anyone, events for client "bench"):
       8 requests of one api key and version, each to one topic and partition, answered by the broker's
       response; the 4th names topic "secrets": dropped, answered by the library with the same response type
       carrying error 29. Frames filled in by kafka_init. Produce v3 (non-flexible) and v9 (flexible, compact
       encodings and tagged fields), Fetch v4 and v12 (flexible). */
    {"kafka produce v3", "kafka", 1, "1.1.1.1:9092", "1.1.1.1", {DENY(NULL)}, NULL, "", 0, NO_SETUP},
    {"kafka produce v9", "kafka", 1, "1.1.1.1:9092", "1.1.1.1", {DENY(NULL)}, NULL, "", 0, NO_SETUP},
    {"kafka fetch v4", "kafka", 1, "1.1.1.1:9092", "1.1.1.1", {DENY(NULL)}, NULL, "", 0, NO_SETUP},
    {"kafka fetch v12", "kafka", 1, "1.1.1.1:9092", "1.1.1.1", {DENY(NULL)}, NULL, "", 0, NO_SETUP},
    /* redis (multibulk requests, as clients send them) against the port-6379 rules (get and set of keys under
       "user:"): GET answered by a 16-byte bulk string, SET of a 16-byte value answered +OK; the 1k rows the same with
       1 KiB values (filled in by redis_init); `redis denied`: GETs of keys outside "user:", every one dropped and
       answered -NOPERM by the library (no reply from the server). Keys are 9 bytes: an access-log entry keeps keys
       up to 32 bytes without allocating. */
    {"redis get", "redis", 1, "1.1.1.1:6379", "1.1.1.1",
     {ASK(REDIS_GET("user:1001"), REDIS_VALUE("alice@example.co")), ASK(REDIS_GET("user:1002"), REDIS_VALUE("bob@example.com.")),
      ASK(REDIS_GET("user:1003"), REDIS_VALUE("carol@example.co")), ASK(REDIS_GET("user:1004"), REDIS_VALUE("dave@example.com")),
      ASK(REDIS_GET("user:1005"), REDIS_VALUE("erin@example.com")), ASK(REDIS_GET("user:1006"), REDIS_VALUE("frank@example.co")),
      ASK(REDIS_GET("user:1007"), REDIS_VALUE("grace@example.co")), ASK(REDIS_GET("user:1008"), REDIS_VALUE("heidi@example.co"))},
     NULL, REDIS_DENIAL, sizeof REDIS_DENIAL - 1, NO_SETUP},
    {"redis set", "redis", 1, "1.1.1.1:6379", "1.1.1.1",
     {ASK(REDIS_SET("user:1001", "alice@example.co"), "+OK\r\n"), ASK(REDIS_SET("user:1002", "bob@example.com."), "+OK\r\n"),
      ASK(REDIS_SET("user:1003", "carol@example.co"), "+OK\r\n"), ASK(REDIS_SET("user:1004", "dave@example.com"), "+OK\r\n"),
      ASK(REDIS_SET("user:1005", "erin@example.com"), "+OK\r\n"), ASK(REDIS_SET("user:1006", "frank@example.co"), "+OK\r\n"),
      ASK(REDIS_SET("user:1007", "grace@example.co"), "+OK\r\n"), ASK(REDIS_SET("user:1008", "heidi@example.co"), "+OK\r\n")},
     NULL, REDIS_DENIAL, sizeof REDIS_DENIAL - 1, NO_SETUP},
    {"redis 1k get", "redis", 1, "1.1.1.1:6379", "1.1.1.1", {DENY(NULL)}, NULL, REDIS_DENIAL, sizeof REDIS_DENIAL - 1, NO_SETUP},
    {"redis 1k set", "redis", 1, "1.1.1.1:6379", "1.1.1.1", {DENY(NULL)}, NULL, REDIS_DENIAL, sizeof REDIS_DENIAL - 1, NO_SETUP},
    {"redis denied", "redis", 1, "1.1.1.1:6379", "1.1.1.1",
     {DENY(REDIS_GET("admin:001")), DENY(REDIS_GET("admin:002")), DENY(REDIS_GET("admin:003")), DENY(REDIS_GET("admin:004")),
      DENY(REDIS_GET("admin:005")), DENY(REDIS_GET("admin:006")), DENY(REDIS_GET("admin:007")), DENY(REDIS_GET("admin:008"))},
     NULL, REDIS_DENIAL, sizeof REDIS_DENIAL - 1, NO_SETUP},
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
static void mc_binary_init(void) {
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

/* ---- Cassandra native protocol v4 frames ------------------------------------------------------------------ */

/* Frames per native_protocol_v4.spec: a 9-byte header (version 0x04 for requests, 0x84 for responses, flags,
   int16 stream id, opcode, int32 body length), then the body in the spec's notation ([int] and [short] big-endian,
   [long string] = [int] n + n bytes, [string] / [short bytes] = [short] n + n bytes, [value] = [int] n + n bytes). */
#define CASS_REQUEST 0x04
#define CASS_RESPONSE 0x84
enum { CASS_OP_QUERY = 0x07, CASS_OP_RESULT = 0x08, CASS_OP_PREPARE = 0x09, CASS_OP_EXECUTE = 0x0A,
       CASS_OP_BATCH = 0x0D };
enum { CASS_LOCAL_QUORUM = 0x0006 };
/* Query parameter flags: values, page size, default timestamp (as drivers send them). */
enum { CASS_WITH_VALUES = 0x01, CASS_WITH_PAGE_SIZE = 0x04, CASS_WITH_TIMESTAMP = 0x20 };

typedef struct cass_writer {
  uint8_t *base;
  size_t at, cap;
} cass_writer;

static void cw_bytes(cass_writer *w, const void *bytes, size_t n) {
  if (w->at + n > w->cap) {
    fprintf(stderr, "workloads: cassandra frames exceed their storage\n");
    exit(1);
  }
  memcpy(w->base + w->at, bytes, n);
  w->at += n;
}
static void cw_u8(cass_writer *w, uint8_t v) { cw_bytes(w, &v, 1); }
static void cw_u16(cass_writer *w, uint16_t v) {
  uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  cw_bytes(w, b, 2);
}
static void cw_u32(cass_writer *w, uint32_t v) {
  uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  cw_bytes(w, b, 4);
}
static void cw_u64(cass_writer *w, uint64_t v) {
  cw_u32(w, (uint32_t)(v >> 32));
  cw_u32(w, (uint32_t)v);
}
static void cw_string(cass_writer *w, const char *s) { /* [string] */
  cw_u16(w, (uint16_t)strlen(s));
  cw_bytes(w, s, strlen(s));
}
static void cw_long_string(cass_writer *w, const char *s) { /* [long string] */
  cw_u32(w, (uint32_t)strlen(s));
  cw_bytes(w, s, strlen(s));
}

/* A value written as "i:1001" (int), "b:1700000000" (bigint) or "s:alice" (varchar): [value], or its column type
   [option] id for result metadata. */
static void cw_value(cass_writer *w, const char *v) {
  if (v[0] == 'i') {
    cw_u32(w, 4);
    cw_u32(w, (uint32_t)strtol(v + 2, NULL, 10));
  } else if (v[0] == 'b') {
    cw_u32(w, 8);
    cw_u64(w, (uint64_t)strtoll(v + 2, NULL, 10));
  } else {
    cw_u32(w, (uint32_t)strlen(v + 2));
    cw_bytes(w, v + 2, strlen(v + 2));
  }
}
static uint16_t cass_type_id(const char *v) { return v[0] == 'i' ? 0x0009 : v[0] == 'b' ? 0x0002 : 0x000D; }

/* Values, NULL-terminated: [short] n, then n [value]s. */
#define CASS_MAX_VALUES 5
static void cw_values(cass_writer *w, const char *const *values) {
  uint16_t n = 0;
  while (n < CASS_MAX_VALUES && values[n] != NULL) n++;
  cw_u16(w, n);
  for (uint16_t i = 0; i < n; i++) cw_value(w, values[i]);
}

static size_t cw_frame_begin(cass_writer *w, uint8_t version, uint16_t stream, uint8_t opcode) {
  size_t start = w->at;
  cw_u8(w, version);
  cw_u8(w, 0); /* flags */
  cw_u16(w, stream);
  cw_u8(w, opcode);
  cw_u32(w, 0); /* body length, set by cw_frame_end */
  return start;
}
static const char *cw_frame_end(cass_writer *w, size_t start, size_t *len) {
  uint32_t body = (uint32_t)(w->at - start - 9);
  for (int i = 0; i < 4; i++) w->base[start + 5 + i] = (uint8_t)(body >> (24 - 8 * i));
  *len = w->at - start;
  return (const char *)w->base + start;
}

/* Query parameters after the query string or prepared id (v4): consistency, flags, values, page size for a
   SELECT, the client's timestamp. */
static void cw_parameters(cass_writer *w, const char *const *values, int select) {
  cw_u16(w, CASS_LOCAL_QUORUM);
  cw_u8(w, CASS_WITH_VALUES | CASS_WITH_TIMESTAMP | (select ? CASS_WITH_PAGE_SIZE : 0));
  cw_values(w, values);
  if (select) cw_u32(w, 5000);
  cw_u64(w, 1700000000123456ull);
}

/* RESULT Void (INSERT, UPDATE). */
static const char *cass_result_void(cass_writer *w, uint16_t stream, size_t *len) {
  size_t start = cw_frame_begin(w, CASS_RESPONSE, stream, CASS_OP_RESULT);
  cw_u32(w, 1);
  return cw_frame_end(w, start, len);
}

/* Metadata with the global table spec: [int] flags (0x0001), [int] column count, keyspace, table, then each
   column's [string] name and [option] type (taken from the example value). With pk_count >= 0, the prepared
   metadata of v4: the partition-key indexes (the first column) after the column count. */
static void cw_metadata(cass_writer *w, const char *table, const char *const *columns, const char *const *row,
                        int pk_count) {
  uint32_t n = 0;
  while (n < CASS_MAX_VALUES && columns[n] != NULL) n++;
  cw_u32(w, 0x0001);
  cw_u32(w, n);
  if (pk_count >= 0) {
    cw_u32(w, (uint32_t)pk_count);
    for (int i = 0; i < pk_count; i++) cw_u16(w, (uint16_t)i);
  }
  cw_string(w, "ks");
  cw_string(w, table);
  for (uint32_t i = 0; i < n; i++) {
    cw_string(w, columns[i]);
    cw_u16(w, cass_type_id(row[i]));
  }
}

/* RESULT Rows: the metadata, then one row. */
static const char *cass_result_rows(cass_writer *w, uint16_t stream, const char *table, const char *const *columns,
                                    const char *const *row, size_t *len) {
  size_t start = cw_frame_begin(w, CASS_RESPONSE, stream, CASS_OP_RESULT);
  cw_u32(w, 2);
  cw_metadata(w, table, columns, row, -1);
  cw_u32(w, 1);
  for (int i = 0; i < CASS_MAX_VALUES && columns[i] != NULL; i++) cw_value(w, row[i]);
  return cw_frame_end(w, start, len);
}

/* The tables the conversations touch: their columns and one row each (the SELECTs' answers). */
typedef struct cass_table {
  const char *name;
  const char *columns[CASS_MAX_VALUES];
  const char *row[CASS_MAX_VALUES];
} cass_table;
static const cass_table cass_users = {"public_users", {"id", "name", "email"}, {"i:1001", "s:alice", "s:alice@example.com"}};
static const cass_table cass_profiles = {"public_profiles", {"name", "email"}, {"s:bob", "s:bob@example.com"}};
static const cass_table cass_events = {"public_events", {"count"}, {"b:4096"}};
static const cass_table cass_orders = {"orders", {"id", "user_id", "item", "qty"}, {"b:7001", "i:1001", "s:book", "i:2"}};

#define CASS_INSERT_ORDER "INSERT INTO ks.orders (id, user_id, item, qty) VALUES (?, ?, ?, ?)"
#define CASS_UPDATE_ORDER "UPDATE ks.orders SET qty = ? WHERE id = ?"

static void cassandra_init(void) {
  static uint8_t storage[16384];
  cass_writer cw = {storage, 0, sizeof storage};
  workload *query = NULL, *execute = NULL, *batch = NULL;
  for (size_t i = 0; i < N_WORKLOADS; i++) {
    if (strcmp(workloads[i].name, "cassandra query") == 0) query = &workloads[i];
    if (strcmp(workloads[i].name, "cassandra execute") == 0) execute = &workloads[i];
    if (strcmp(workloads[i].name, "cassandra batch") == 0) batch = &workloads[i];
  }
  if (query == NULL || execute == NULL || batch == NULL || query->cycle[0].bytes != NULL) return;

  /* QUERY: SELECTs answered with RESULT Rows, INSERT and UPDATE with RESULT Void; the 4th is denied. */
  static const struct {
    const char *cql;
    const char *values[CASS_MAX_VALUES];
    const cass_table *rows; /* NULL: RESULT Void */
    int allowed;
  } queries[MAX_CYCLE] = {
      {"SELECT * FROM ks.public_users WHERE id = ?", {"i:1001"}, &cass_users, 1},
      {CASS_INSERT_ORDER, {"b:7001", "i:1001", "s:book", "i:2"}, NULL, 1},
      {"SELECT name, email FROM ks.public_profiles WHERE user_id = ?", {"i:1002"}, &cass_profiles, 1},
      {"SELECT * FROM ks.secrets WHERE id = ?", {"i:1"}, NULL, 0},
      {CASS_UPDATE_ORDER, {"i:3", "b:7001"}, NULL, 1},
      {"SELECT * FROM ks.public_users WHERE id = ?", {"i:1003"}, &cass_users, 1},
      {CASS_INSERT_ORDER, {"b:7002", "i:1003", "s:lamp", "i:1"}, NULL, 1},
      {"SELECT count(*) FROM ks.public_events WHERE day = ?", {"s:2024-05-01"}, &cass_events, 1},
  };
  for (int i = 0; i < MAX_CYCLE; i++) {
    request *r = &query->cycle[i];
    uint16_t stream = (uint16_t)(1 + i);
    size_t start = cw_frame_begin(&cw, CASS_REQUEST, stream, CASS_OP_QUERY);
    cw_long_string(&cw, queries[i].cql);
    cw_parameters(&cw, queries[i].values, queries[i].rows != NULL);
    r->bytes = cw_frame_end(&cw, start, &r->len);
    r->allowed = queries[i].allowed;
    r->entries = 1;
    if (!r->allowed) continue;
    const cass_table *t = queries[i].rows;
    r->reply = t ? cass_result_rows(&cw, stream, t->name, t->columns, t->row, &r->reply_len)
                 : cass_result_void(&cw, stream, &r->reply_len);
  }

  /* EXECUTE: a SELECT and an INSERT prepared on streams 100 and 101 (the server answers with RESULT Prepared: the
     id, the bind variables' metadata and the result's), then executed 6 and 2 times per cycle. */
  static const uint8_t ids[2][16] = {
      {0x5d, 0x41, 0x40, 0x2a, 0xbc, 0x4b, 0x2a, 0x76, 0xb9, 0x71, 0x9d, 0x91, 0x10, 0x17, 0xc5, 0x92},
      {0x7e, 0x71, 0x6d, 0x0e, 0x70, 0x2d, 0xf0, 0x50, 0x5f, 0xc7, 0x2e, 0x2b, 0x89, 0x46, 0x7d, 0x26}};
  static const char *bind_users[CASS_MAX_VALUES] = {"id"}, *bind_users_row[CASS_MAX_VALUES] = {"i:0"};
  for (int s = 0; s < 2; s++) {
    request *r = &execute->setup[s];
    uint16_t stream = (uint16_t)(100 + s);
    size_t start = cw_frame_begin(&cw, CASS_REQUEST, stream, CASS_OP_PREPARE);
    cw_long_string(&cw, s == 0 ? "SELECT * FROM ks.public_users WHERE id = ?" : CASS_INSERT_ORDER);
    r->bytes = cw_frame_end(&cw, start, &r->len);
    r->allowed = 1;
    r->entries = 1;
    start = cw_frame_begin(&cw, CASS_RESPONSE, stream, CASS_OP_RESULT);
    cw_u32(&cw, 4);
    cw_u16(&cw, 16);
    cw_bytes(&cw, ids[s], 16);
    if (s == 0) {
      cw_metadata(&cw, "public_users", bind_users, bind_users_row, 1);
      cw_metadata(&cw, "public_users", cass_users.columns, cass_users.row, -1);
    } else {
      cw_metadata(&cw, "orders", cass_orders.columns, cass_orders.row, 1);
      cw_u32(&cw, 0x0004); /* the result: no metadata */
      cw_u32(&cw, 0);
    }
    r->reply = cw_frame_end(&cw, start, &r->reply_len);
  }
  for (int i = 0; i < MAX_CYCLE; i++) {
    request *r = &execute->cycle[i];
    int insert = i == 2 || i == 6;
    uint16_t stream = (uint16_t)(1 + i);
    char id_value[16], order_id[24];
    snprintf(id_value, sizeof id_value, "i:%d", 1001 + i);
    snprintf(order_id, sizeof order_id, "b:%d", 7100 + i);
    const char *select_values[CASS_MAX_VALUES] = {id_value};
    const char *insert_values[CASS_MAX_VALUES] = {order_id, id_value, "s:pen", "i:5"};
    size_t start = cw_frame_begin(&cw, CASS_REQUEST, stream, CASS_OP_EXECUTE);
    cw_u16(&cw, 16);
    cw_bytes(&cw, ids[insert], 16);
    cw_parameters(&cw, insert ? insert_values : select_values, !insert);
    r->bytes = cw_frame_end(&cw, start, &r->len);
    r->allowed = 1;
    r->entries = 1;
    r->reply = insert ? cass_result_void(&cw, stream, &r->reply_len)
                      : cass_result_rows(&cw, stream, cass_users.name, cass_users.columns, cass_users.row, &r->reply_len);
  }

  /* BATCH (logged): [byte] type, [short] n, n x (kind 0, [long string] query, values), consistency, flags,
     timestamp. Each statement is logged (3 entries); the 4th batch inserts into ks.orders_archive: denied whole. */
  for (int i = 0; i < MAX_CYCLE; i++) {
    request *r = &batch->cycle[i];
    uint16_t stream = (uint16_t)(1 + i);
    int denied = i == 3;
    char id_a[24], id_b[24];
    snprintf(id_a, sizeof id_a, "b:%d", 8000 + 2 * i);
    snprintf(id_b, sizeof id_b, "b:%d", 8001 + 2 * i);
    const char *insert_a[CASS_MAX_VALUES] = {id_a, "i:1001", "s:book", "i:1"};
    const char *insert_b[CASS_MAX_VALUES] = {id_b, "i:1001", "s:pen", "i:3"};
    const char *update[CASS_MAX_VALUES] = {"i:4", id_a};
    const char *statements[3] = {CASS_INSERT_ORDER,
                                 denied ? "INSERT INTO ks.orders_archive (id, user_id, item, qty) VALUES (?, ?, ?, ?)"
                                        : CASS_INSERT_ORDER,
                                 CASS_UPDATE_ORDER};
    const char *const *values[3] = {insert_a, insert_b, update};
    size_t start = cw_frame_begin(&cw, CASS_REQUEST, stream, CASS_OP_BATCH);
    cw_u8(&cw, 0);
    cw_u16(&cw, 3);
    for (int k = 0; k < 3; k++) {
      cw_u8(&cw, 0);
      cw_long_string(&cw, statements[k]);
      cw_values(&cw, values[k]);
    }
    cw_u16(&cw, CASS_LOCAL_QUORUM);
    cw_u8(&cw, CASS_WITH_TIMESTAMP);
    cw_u64(&cw, 1700000000123456ull);
    r->bytes = cw_frame_end(&cw, start, &r->len);
    r->allowed = !denied;
    r->entries = 3;
    if (!denied) r->reply = cass_result_void(&cw, stream, &r->reply_len);
  }
}

/* ---- Kafka frames ---------------------------------------------------------------------------------------- */

/* Frames per Kafka's message definitions (the JSON files under clients/src/main/resources/common/message): an int32 size, the
   request header (api key, version, correlation id, client id as a nullable int16-length string; flexible
   versions add an empty tagged-field section) or the response header (correlation id; + tagged fields), then
   the body. Flexible versions write strings, bytes and arrays with unsigned-varint lengths (n + 1) and end each
   struct with a tagged-field section. */
static void kw_uvarint(cass_writer *w, uint32_t v) {
  while (v >= 0x80) {
    cw_u8(w, (uint8_t)(v | 0x80));
    v >>= 7;
  }
  cw_u8(w, (uint8_t)v);
}
static void kw_string(cass_writer *w, const char *s, int flexible) { /* NULL: null */
  if (flexible) {
    kw_uvarint(w, s ? (uint32_t)strlen(s) + 1 : 0);
  } else {
    cw_u16(w, s ? (uint16_t)strlen(s) : 0xFFFF);
  }
  if (s) cw_bytes(w, s, strlen(s));
}
static void kw_count(cass_writer *w, int n, int flexible) { /* -1: null */
  if (flexible) kw_uvarint(w, (uint32_t)(n + 1));
  else cw_u32(w, (uint32_t)n);
}
static void kw_bytes(cass_writer *w, const uint8_t *b, size_t n, int flexible) {
  kw_count(w, (int)n, flexible);
  cw_bytes(w, b, n);
}
static void kw_tags(cass_writer *w, int flexible) {
  if (flexible) cw_u8(w, 0);
}
static size_t kw_request_begin(cass_writer *w, int key, int version, int32_t correlation, int flexible) {
  size_t start = w->at;
  cw_u32(w, 0);
  cw_u16(w, (uint16_t)key);
  cw_u16(w, (uint16_t)version);
  cw_u32(w, (uint32_t)correlation);
  kw_string(w, "bench-client", 0);
  kw_tags(w, flexible);
  return start;
}
static size_t kw_response_begin(cass_writer *w, int32_t correlation, int flexible) {
  size_t start = w->at;
  cw_u32(w, 0);
  cw_u32(w, (uint32_t)correlation);
  kw_tags(w, flexible);
  return start;
}
static const char *kw_end(cass_writer *w, size_t start, size_t *len) {
  uint32_t n = (uint32_t)(w->at - start - 4);
  w->base[start] = (uint8_t)(n >> 24);
  w->base[start + 1] = (uint8_t)(n >> 16);
  w->base[start + 2] = (uint8_t)(n >> 8);
  w->base[start + 3] = (uint8_t)n;
  *len = w->at - start;
  return (const char *)w->base + start;
}

/* The records of a Produce request and a Fetch response: one RecordBatch (magic 2) of two records with a null
   key and a 20-byte value, as a client writes it (the CRC is CRC-32C over attributes .. end). The parser never
   looks inside; the Go parser reads it as a v0/v1 message set and stops at the CRC that is not its own. */
static uint8_t kafka_records[128];
static size_t kafka_records_len;

static uint32_t kafka_crc32c(const uint8_t *p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; i++) {
    crc ^= p[i];
    for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

static void kafka_records_init(void) {
  cass_writer w = {kafka_records, 0, sizeof kafka_records};
  cw_u64(&w, 0);          /* base offset */
  cw_u32(&w, 0);          /* batch length, set below */
  cw_u32(&w, 0);          /* partition leader epoch */
  cw_u8(&w, 2);           /* magic */
  cw_u32(&w, 0);          /* crc, set below */
  size_t crc_from = w.at;
  cw_u16(&w, 0);          /* attributes: no compression */
  cw_u32(&w, 1);          /* last offset delta */
  cw_u64(&w, 1700000000000ull);
  cw_u64(&w, 1700000000001ull);
  cw_u64(&w, (uint64_t)-1); /* producer id */
  cw_u16(&w, 0xFFFF);     /* producer epoch */
  cw_u32(&w, 0xFFFFFFFF); /* base sequence */
  cw_u32(&w, 2);          /* records */
  for (int i = 0; i < 2; i++) {
    static const char value[] = "order-created-000042";
    cw_u8(&w, (uint8_t)(2 * (6 + 20))); /* length (zigzag varint) */
    cw_u8(&w, 0);                        /* attributes */
    cw_u8(&w, (uint8_t)(2 * i));         /* timestamp delta */
    cw_u8(&w, (uint8_t)(2 * i));         /* offset delta */
    cw_u8(&w, 1);                        /* key length -1: null */
    cw_u8(&w, 2 * 20);                   /* value length */
    cw_bytes(&w, value, 20);
    cw_u8(&w, 0); /* headers */
  }
  kafka_records_len = w.at;
  uint32_t batch = (uint32_t)(w.at - 12), crc = kafka_crc32c(kafka_records + crc_from, w.at - crc_from);
  for (int i = 0; i < 4; i++) {
    kafka_records[8 + i] = (uint8_t)(batch >> (24 - 8 * i));
    kafka_records[17 + i] = (uint8_t)(crc >> (24 - 8 * i));
  }
}

/* Produce: transactional id (3+, null), acks -1, timeout, [topic [partition, records]]. */
static const char *kafka_produce(cass_writer *w, int version, int32_t corr, const char *topic, int partition,
                                 size_t *len) {
  int fx = version >= 9;
  size_t start = kw_request_begin(w, 0, version, corr, fx);
  if (version >= 3) kw_string(w, NULL, fx);
  cw_u16(w, 0xFFFF); /* acks: all */
  cw_u32(w, 30000);
  kw_count(w, 1, fx);
  kw_string(w, topic, fx);
  kw_count(w, 1, fx);
  cw_u32(w, (uint32_t)partition);
  kw_bytes(w, kafka_records, kafka_records_len, fx);
  kw_tags(w, fx);
  kw_tags(w, fx);
  kw_tags(w, fx);
  return kw_end(w, start, len);
}

/* Produce response: [topic [partition, error, base offset, log append time (2+), log start offset (5+), record
   errors (8+), error message (8+)]], throttle time. A denial has the same shape (error 29). */
static const char *kafka_produce_response(cass_writer *w, int version, int32_t corr, const char *topic,
                                          int partition, int16_t error, size_t *len) {
  int fx = version >= 9;
  size_t start = kw_response_begin(w, corr, fx);
  kw_count(w, 1, fx);
  kw_string(w, topic, fx);
  kw_count(w, 1, fx);
  cw_u32(w, (uint32_t)partition);
  cw_u16(w, (uint16_t)error);
  cw_u64(w, error ? (uint64_t)-1 : 1000 + (uint64_t)corr);
  if (version >= 2) cw_u64(w, (uint64_t)-1);
  if (version >= 5) cw_u64(w, error ? (uint64_t)-1 : 0);
  if (version >= 8) {
    kw_count(w, 0, fx);
    kw_string(w, NULL, fx);
  }
  kw_tags(w, fx);
  kw_tags(w, fx);
  cw_u32(w, 0);
  kw_tags(w, fx);
  return kw_end(w, start, len);
}

/* Fetch: replica id, max wait, min bytes, max bytes (3+), isolation level (4+), session id and epoch (7+),
   [topic [partition, current leader epoch (9+), fetch offset, last fetched epoch (12+), log start offset (5+),
   partition max bytes]], forgotten topics (7+), rack id (11+). */
static const char *kafka_fetch(cass_writer *w, int version, int32_t corr, const char *topic, int partition,
                               size_t *len) {
  int fx = version >= 12;
  size_t start = kw_request_begin(w, 1, version, corr, fx);
  cw_u32(w, 0xFFFFFFFF);
  cw_u32(w, 500);
  cw_u32(w, 1);
  if (version >= 3) cw_u32(w, 52428800);
  if (version >= 4) cw_u8(w, 0);
  if (version >= 7) {
    cw_u32(w, 0);
    cw_u32(w, 0xFFFFFFFF);
  }
  kw_count(w, 1, fx);
  kw_string(w, topic, fx);
  kw_count(w, 1, fx);
  cw_u32(w, (uint32_t)partition);
  if (version >= 9) cw_u32(w, 0xFFFFFFFF);
  cw_u64(w, 4096 + (uint64_t)corr);
  if (version >= 12) cw_u32(w, 0xFFFFFFFF);
  if (version >= 5) cw_u64(w, (uint64_t)-1);
  cw_u32(w, 1048576);
  kw_tags(w, fx);
  kw_tags(w, fx);
  if (version >= 7) kw_count(w, 0, fx);
  if (version >= 11) kw_string(w, "", fx);
  kw_tags(w, fx);
  return kw_end(w, start, len);
}

/* Fetch response: throttle time (1+), error and session id (7+), [topic [partition, error, high watermark, last
   stable offset (4+), log start offset (5+), aborted transactions (4+), preferred read replica (11+), records]].
   `records` 0: empty (a denial's shape). */
static const char *kafka_fetch_response(cass_writer *w, int version, int32_t corr, const char *topic, int partition,
                                        int16_t error, size_t records, size_t *len) {
  int fx = version >= 12;
  size_t start = kw_response_begin(w, corr, fx);
  if (version >= 1) cw_u32(w, 0);
  if (version >= 7) {
    cw_u16(w, (uint16_t)error);
    cw_u32(w, 0);
  }
  kw_count(w, 1, fx);
  kw_string(w, topic, fx);
  kw_count(w, 1, fx);
  cw_u32(w, (uint32_t)partition);
  cw_u16(w, (uint16_t)error);
  cw_u64(w, error ? (uint64_t)-1 : 8192);
  if (version >= 4) cw_u64(w, error ? (uint64_t)-1 : 8192);
  if (version >= 5) cw_u64(w, error ? (uint64_t)-1 : 0);
  if (version >= 4) kw_count(w, error ? -1 : 0, fx);
  if (version >= 11) cw_u32(w, 0xFFFFFFFF);
  if (records) kw_bytes(w, kafka_records, records, fx);
  else kw_count(w, error ? -1 : 0, fx);
  kw_tags(w, fx);
  kw_tags(w, fx);
  kw_tags(w, fx);
  return kw_end(w, start, len);
}

static void kafka_init(void) {
  static uint8_t storage[16384];
  cass_writer w = {storage, 0, sizeof storage};
  static const char *topics[MAX_CYCLE] = {"orders", "payments", "orders", "secrets", "events", "orders", "payments",
                                          "orders"};
  kafka_records_init();
  for (size_t k = 0; k < N_WORKLOADS; k++) {
    workload *wl = &workloads[k];
    if (strncmp(wl->name, "kafka ", 6) != 0 || wl->cycle[0].bytes != NULL) continue;
    int fetch = strstr(wl->name, "fetch") != NULL;
    int version = atoi(strrchr(wl->name, 'v') + 1);
    for (int i = 0; i < MAX_CYCLE; i++) {
      request *r = &wl->cycle[i];
      int32_t corr = 100 + i;
      int partition = i % 3;
      r->allowed = strcmp(topics[i], "secrets") != 0;
      r->entries = 2;
      if (fetch) {
        r->bytes = kafka_fetch(&w, version, corr, topics[i], partition, &r->len);
        if (r->allowed) {
          r->reply = kafka_fetch_response(&w, version, corr, topics[i], partition, 0, kafka_records_len,
                                          &r->reply_len);
        } else {
          r->entries = 1;
          kafka_fetch_response(&w, version, corr, topics[i], partition, 29, 0, &wl->denial_len);
        }
      } else {
        r->bytes = kafka_produce(&w, version, corr, topics[i], partition, &r->len);
        if (r->allowed) {
          r->reply = kafka_produce_response(&w, version, corr, topics[i], partition, 0, &r->reply_len);
        } else {
          r->entries = 1;
          kafka_produce_response(&w, version, corr, topics[i], partition, 29, &wl->denial_len);
        }
      }
    }
  }
}

/* ---- redis with 1 KiB values ------------------------------------------------------------------------------ */

/* `redis 1k get` and `redis 1k set`: the GET/SET conversation of the 16-byte rows with values of 1024 bytes. */
static void redis_init(void) {
  static char storage[MAX_CYCLE][1100];
  static char value[1025];
  for (int i = 0; i < 1024; i++) value[i] = (char)('a' + i % 26);
  value[1024] = 0;
  for (size_t k = 0; k < N_WORKLOADS; k++) {
    workload *wl = &workloads[k];
    int set = strcmp(wl->name, "redis 1k set") == 0;
    if ((!set && strcmp(wl->name, "redis 1k get") != 0) || wl->cycle[0].bytes != NULL) continue;
    for (int i = 0; i < MAX_CYCLE; i++) {
      request *r = &wl->cycle[i];
      char key[16];
      snprintf(key, sizeof key, "user:%04d", 1001 + i);
      r->allowed = 1;
      if (set) {
        snprintf(storage[i], sizeof storage[i], "*3\r\n$3\r\nSET\r\n$9\r\n%s\r\n$1024\r\n%s\r\n", key, value);
        r->bytes = storage[i];
        r->reply = "+OK\r\n";
      } else {
        static char get[MAX_CYCLE][40];
        snprintf(get[i], sizeof get[i], "*2\r\n$3\r\nGET\r\n$9\r\n%s\r\n", key);
        snprintf(storage[i], sizeof storage[i], "$1024\r\n%s\r\n", value);
        r->bytes = get[i];
        r->reply = storage[i];
      }
    }
  }
}

/* Builds the workloads' binary messages (memcache binary packets, cassandra frames, kafka frames) and long values
   (redis). */
static void workloads_init(void) {
  mc_binary_init();
  cassandra_init();
  kafka_init();
  redis_init();
}

#endif
