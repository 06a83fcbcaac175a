/*
 * swift-proxylib datapath harness: self-tests of datapath.c.
 *
 * The datapath is driven against an in-process fake whose OnData replays a script: per call, a result, an ops
 * list and bytes to put into the inject buffers. That makes it possible to check the behaviours a well-behaved
 * library never triggers (op contract violations) and to observe exactly when and with what input the library
 * gets called (carried-over verdicts, MORE, loop-back, scatter-gather input).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- The scripted fake ---------------------------------------------------------------------------------- */

#define MAX_SCRIPT_OPS 24

typedef struct {
  FilterResult res;
  size_t n_ops;
  FilterOp ops[MAX_SCRIPT_OPS];
  const char *inject_same;  /* appended to the calling direction's inject buffer */
  const char *inject_other; /* appended to the other direction's inject buffer */
  size_t fill_same;         /* this many 'x' bytes appended to the calling direction's buffer (up to cap) */
  GoInt force_ops_len;      /* non-zero: report this many ops whatever the cap */
  GoInt force_inject_len;   /* non-zero: set the calling direction's inject len to this */
} fake_step;

static struct {
  const fake_step *script;
  size_t n_steps;
  size_t pos;
  int calls;
  GoSlice *orig_buf;
  GoSlice *reply_buf;
  dp_buf input;        /* concatenated input of the last call */
  size_t n_slices;     /* slices in the last call */
  size_t slice_len[64];
  int empty_slice_seen;
  int close_calls;
  uint64_t closed_id;
} fk;

static void fake_reset(const fake_step *script, size_t n) {
  dp_buf_free(&fk.input);
  memset(&fk, 0, sizeof(fk));
  fk.script = script;
  fk.n_steps = n;
}

static GoUint64 fake_open_module(GoSlice params, GoUint8 debug) {
  (void)params;
  (void)debug;
  return 1;
}

static void fake_close_module(GoUint64 id) { (void)id; }

static FilterResult fake_on_new_connection(GoUint64 instance_id, GoString proto, GoUint64 connection_id,
                                           GoUint8 ingress, GoUint32 src_id, GoUint32 dst_id, GoString src_addr,
                                           GoString dst_addr, GoString policy_name, GoSlice *orig_buf,
                                           GoSlice *reply_buf) {
  (void)instance_id;
  (void)proto;
  (void)connection_id;
  (void)ingress;
  (void)src_id;
  (void)dst_id;
  (void)src_addr;
  (void)policy_name;
  if (dst_addr.n == 3 && memcmp(dst_addr.p, "bad", 3) == 0) {
    return FILTER_INVALID_ADDRESS;
  }
  fk.orig_buf = orig_buf;
  fk.reply_buf = reply_buf;
  return FILTER_OK;
}

static void put(GoSlice *buf, const char *bytes, size_t n) {
  size_t room = (size_t)(buf->cap - buf->len);
  if (n > room) {
    n = room;
  }
  memcpy((uint8_t *)buf->data + buf->len, bytes, n);
  buf->len += (GoInt)n;
}

static FilterResult fake_on_data(GoUint64 connection_id, GoUint8 reply, GoUint8 end_stream, GoSlice *data,
                                 GoSlice *filter_ops) {
  (void)connection_id;
  (void)end_stream;
  fk.calls++;
  fk.input.len = 0;
  fk.n_slices = (size_t)data->len;
  const GoSlice *s = data->data;
  for (GoInt i = 0; i < data->len; i++) {
    if (s[i].len == 0) {
      fk.empty_slice_seen = 1;
    }
    if (i < 64) {
      fk.slice_len[i] = (size_t)s[i].len;
    }
    dp_buf_append(&fk.input, s[i].data, (size_t)s[i].len);
  }
  if (fk.pos >= fk.n_steps) {
    return FILTER_OK; /* nothing to say */
  }
  const fake_step *st = &fk.script[fk.pos++];
  GoSlice *same = reply ? fk.reply_buf : fk.orig_buf;
  GoSlice *other = reply ? fk.orig_buf : fk.reply_buf;
  if (st->inject_same != NULL) {
    put(same, st->inject_same, strlen(st->inject_same));
  }
  if (st->inject_other != NULL) {
    put(other, st->inject_other, strlen(st->inject_other));
  }
  for (size_t i = 0; i < st->fill_same && same->len < same->cap; i++) {
    put(same, "x", 1);
  }
  if (st->force_inject_len != 0) {
    same->len = st->force_inject_len;
  }
  FilterOp *ops = filter_ops->data;
  for (size_t i = 0; i < st->n_ops && filter_ops->len < filter_ops->cap; i++) {
    ops[filter_ops->len++] = st->ops[i];
  }
  if (st->force_ops_len != 0) {
    filter_ops->len = st->force_ops_len;
  }
  return st->res;
}

static void fake_close(GoUint64 connection_id) {
  fk.close_calls++;
  fk.closed_id = connection_id;
}

static const dp_library fake_lib = {NULL, fake_open_module, fake_close_module, fake_on_new_connection, fake_on_data,
                                    fake_close};

/* ---- Test plumbing -------------------------------------------------------------------------------------- */

typedef struct {
  const char *name;
  int failed;
  char why[1024];
} st_ctx;

#define CHECK(ctx, cond, ...)                                                                                          \
  do {                                                                                                                 \
    if (!(ctx)->failed && !(cond)) {                                                                                   \
      (ctx)->failed = 1;                                                                                               \
      char st_msg_[900];                                                                                               \
      snprintf(st_msg_, sizeof(st_msg_), __VA_ARGS__);                                                                 \
      snprintf((ctx)->why, sizeof((ctx)->why), "selftest.c:%d: %s", __LINE__, st_msg_);                                \
    }                                                                                                                  \
  } while (0)

static void check_bytes(st_ctx *t, int line, const dp_buf *b, const char *want) {
  char why[800];
  if (!t->failed && describe_mismatch(why, sizeof(why), (const uint8_t *)want, strlen(want), b->data, b->len)) {
    t->failed = 1;
    snprintf(t->why, sizeof(t->why), "selftest.c:%d: %s", line, why);
  }
}
#define CHECK_BYTES(ctx, buf, want) check_bytes((ctx), __LINE__, (buf), (want))

static FilterOp OP(uint64_t op, int64_t n) {
  FilterOp o;
  o.op = op;
  o.n_bytes = n;
  return o;
}

static dp_conn *st_conn(st_ctx *t, const fake_step *script, size_t n, size_t inject_size, int max_ops) {
  report_set_current(t->name);
  fake_reset(script, n);
  dp_conn_options o;
  memset(&o, 0, sizeof(o));
  o.inject_size = inject_size;
  o.max_ops = max_ops;
  o.log = harness_log;
  o.log_ctx = (void *)t->name;
  dp_conn *c = NULL;
  FilterResult res = dp_conn_new_ex(&fake_lib, 1, "fake", 42, 1, 1, 2, "1.1.1.1:1", "2.2.2.2:80", "p", &o, &c);
  CHECK(t, res == FILTER_OK && c != NULL, "dp_conn_new_ex: %s", dp_result_name(res));
  return c;
}

static FilterResult io(dp_conn *c, int reply, const char *s, dp_buf *out) {
  return dp_on_io(c, reply, (const uint8_t *)s, strlen(s), 0, out);
}

static void finish(st_ctx *t, dp_conn *c, dp_buf *a, dp_buf *b) {
  dp_conn_free(c);
  dp_buf_free(a);
  if (b != NULL) {
    dp_buf_free(b);
  }
  CHECK(t, !fk.empty_slice_seen, "the library was handed an empty input slice");
  if (t->failed) {
    report_fail(t->name, "%s", t->why);
  } else {
    report_ok(t->name);
  }
}

/* ---- Tests ---------------------------------------------------------------------------------------------- */

static void test_pass_carry_over(void) {
  st_ctx t = {"selftest/pass-carry-over", 0, ""};
  fake_step script[] = {{FILTER_OK, 1, {OP(FILTEROP_PASS, 10)}, NULL, NULL, 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 1, 0, 0);
  dp_buf out = {0};
  CHECK(&t, io(c, 0, "abcd", &out) == FILTER_OK, "first write");
  CHECK_BYTES(&t, &out, "abcd");
  CHECK(&t, fk.calls == 1, "calls %d", fk.calls);
  CHECK(&t, io(c, 0, "efg", &out) == FILTER_OK, "second write");
  CHECK_BYTES(&t, &out, "abcdefg");
  CHECK(&t, fk.calls == 1, "the parser must not be called while a PASS covers the new data (calls %d)", fk.calls);
  CHECK(&t, io(c, 0, "hijkl", &out) == FILTER_OK, "third write");
  CHECK_BYTES(&t, &out, "abcdefghij");
  CHECK(&t, fk.calls == 2, "calls %d", fk.calls);
  CHECK(&t, fk.input.len == 2 && memcmp(fk.input.data, "kl", 2) == 0, "the parser should see just \"kl\"");
  CHECK(&t, dp_conn_buffered(c, 0) == 2, "buffered %zu", dp_conn_buffered(c, 0));
  finish(&t, c, &out, NULL);
}

static void test_drop_carry_over(void) {
  st_ctx t = {"selftest/drop-carry-over", 0, ""};
  fake_step script[] = {{FILTER_OK, 1, {OP(FILTEROP_DROP, 10)}, NULL, NULL, 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 1, 0, 0);
  dp_buf out = {0};
  CHECK(&t, io(c, 0, "abcd", &out) == FILTER_OK, "first write");
  CHECK(&t, io(c, 0, "efg", &out) == FILTER_OK, "second write");
  CHECK(&t, fk.calls == 1, "the parser must not be called while a DROP covers the new data (calls %d)", fk.calls);
  CHECK(&t, io(c, 0, "hijkl", &out) == FILTER_OK, "third write");
  CHECK_BYTES(&t, &out, "");
  CHECK(&t, fk.calls == 2, "calls %d", fk.calls);
  CHECK(&t, fk.input.len == 2 && memcmp(fk.input.data, "kl", 2) == 0, "the parser should see just \"kl\"");
  finish(&t, c, &out, NULL);
}

static void test_more_waits(void) {
  st_ctx t = {"selftest/more-waits-for-need-bytes", 0, ""};
  fake_step script[] = {{FILTER_OK, 1, {OP(FILTEROP_MORE, 5)}, NULL, NULL, 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 1, 0, 0);
  dp_buf out = {0};
  CHECK(&t, io(c, 0, "abc", &out) == FILTER_OK, "first write");
  CHECK(&t, io(c, 0, "defg", &out) == FILTER_OK, "second write");
  CHECK(&t, fk.calls == 1, "7 of 8 needed bytes: no call expected (calls %d)", fk.calls);
  CHECK(&t, io(c, 0, "h", &out) == FILTER_OK, "third write");
  CHECK(&t, fk.calls == 2, "8 bytes buffered: a call expected (calls %d)", fk.calls);
  CHECK(&t, fk.n_slices == 3 && fk.slice_len[0] == 3 && fk.slice_len[1] == 4 && fk.slice_len[2] == 1,
        "expected slices of 3, 4 and 1 bytes, got %zu slices", fk.n_slices);
  CHECK(&t, fk.input.len == 8 && memcmp(fk.input.data, "abcdefgh", 8) == 0, "input mismatch");
  CHECK_BYTES(&t, &out, "");
  finish(&t, c, &out, NULL);
}

static void test_segments_trimmed(void) {
  st_ctx t = {"selftest/scatter-gather-segments", 0, ""};
  fake_step script[] = {{FILTER_OK, 2, {OP(FILTEROP_PASS, 2), OP(FILTEROP_MORE, 1)}, NULL, NULL, 0, 0, 0},
                        {FILTER_OK, 2, {OP(FILTEROP_DROP, 4), OP(FILTEROP_MORE, 1)}, NULL, NULL, 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 2, 0, 0);
  dp_buf out = {0};
  CHECK(&t, io(c, 0, "abcde", &out) == FILTER_OK, "first write");
  CHECK_BYTES(&t, &out, "ab");
  CHECK(&t, io(c, 0, "fg", &out) == FILTER_OK, "second write");
  CHECK(&t, fk.n_slices == 2 && fk.slice_len[0] == 3 && fk.slice_len[1] == 2,
        "expected the trimmed first segment (3 bytes) and the new one (2), got %zu slices", fk.n_slices);
  CHECK(&t, fk.input.len == 5 && memcmp(fk.input.data, "cdefg", 5) == 0, "input mismatch");
  CHECK(&t, io(c, 0, "h", &out) == FILTER_OK, "third write");
  CHECK(&t, fk.n_slices == 2 && fk.slice_len[0] == 1 && fk.slice_len[1] == 1, "expected slices \"g\" and \"h\"");
  CHECK(&t, fk.input.len == 2 && memcmp(fk.input.data, "gh", 2) == 0, "input mismatch");
  finish(&t, c, &out, NULL);
}

static void test_loop_on_full_ops(void) {
  st_ctx t = {"selftest/loop-back-when-ops-full", 0, ""};
  fake_step script[3];
  memset(script, 0, sizeof(script));
  script[0].res = FILTER_OK;
  script[0].n_ops = 16;
  for (int i = 0; i < 16; i++) {
    script[0].ops[i] = OP(FILTEROP_PASS, 1);
  }
  script[1].res = FILTER_OK;
  script[1].n_ops = 2;
  script[1].ops[0] = OP(FILTEROP_DROP, 1);
  script[1].ops[1] = OP(FILTEROP_PASS, 1);
  dp_conn *c = st_conn(&t, script, 2, 0, 0);
  dp_buf out = {0};
  CHECK(&t, io(c, 0, "0123456789abcdefGHIJ", &out) == FILTER_OK, "write");
  CHECK(&t, fk.calls == 2, "16 ops returned: the datapath must call again (calls %d)", fk.calls);
  CHECK_BYTES(&t, &out, "0123456789abcdefH");
  CHECK(&t, dp_conn_buffered(c, 0) == 2, "buffered %zu", dp_conn_buffered(c, 0));
  finish(&t, c, &out, NULL);

  /* A full ops slice ending with a terminating op does not loop. */
  st_ctx t2 = {"selftest/no-loop-after-terminal-op", 0, ""};
  script[0].ops[15] = OP(FILTEROP_MORE, 1);
  c = st_conn(&t2, script, 2, 0, 0);
  dp_buf out2 = {0};
  CHECK(&t2, io(c, 0, "0123456789abcdefGHIJ", &out2) == FILTER_OK, "write");
  CHECK(&t2, fk.calls == 1, "MORE ends the round (calls %d)", fk.calls);
  CHECK_BYTES(&t2, &out2, "0123456789abcde");
  finish(&t2, c, &out2, NULL);

  /* A smaller ops budget (max-ops) makes the loop-back happen earlier. */
  st_ctx t3 = {"selftest/max-ops-option", 0, ""};
  fake_step s3[] = {{FILTER_OK, 3, {OP(FILTEROP_PASS, 1), OP(FILTEROP_PASS, 1), OP(FILTEROP_PASS, 1)}, NULL, NULL, 0,
                     0, 0},
                    {FILTER_OK, 1, {OP(FILTEROP_PASS, 1)}, NULL, NULL, 0, 0, 0}};
  c = st_conn(&t3, s3, 2, 0, 2);
  dp_buf out3 = {0};
  CHECK(&t3, io(c, 0, "abcd", &out3) == FILTER_OK, "write");
  CHECK(&t3, fk.calls == 2, "2 ops per call: expected 2 calls, got %d", fk.calls);
  CHECK_BYTES(&t3, &out3, "abc");
  finish(&t3, c, &out3, NULL);
}

static void test_loop_on_full_inject(void) {
  st_ctx t = {"selftest/loop-back-when-inject-buffer-full", 0, ""};
  fake_step script[] = {{FILTER_OK, 1, {OP(FILTEROP_INJECT, 8)}, NULL, NULL, 8, 0, 0},
                        {FILTER_OK, 2, {OP(FILTEROP_INJECT, 3), OP(FILTEROP_DROP, 2)}, "END", NULL, 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 2, 8, 0);
  dp_buf out = {0};
  CHECK(&t, io(c, 0, "zz", &out) == FILTER_OK, "write");
  CHECK(&t, fk.calls == 2, "a filled inject buffer must make the datapath call again (calls %d)", fk.calls);
  CHECK_BYTES(&t, &out, "xxxxxxxxEND");
  CHECK(&t, dp_conn_buffered(c, 0) == 0, "buffered %zu", dp_conn_buffered(c, 0));
  finish(&t, c, &out, NULL);

  /* Filled in two INJECT ops: the buffer counts as full although it was consumed. */
  st_ctx t2 = {"selftest/inject-full-after-partial-injects", 0, ""};
  fake_step s2[] = {{FILTER_OK, 2, {OP(FILTEROP_INJECT, 5), OP(FILTEROP_INJECT, 3)}, NULL, NULL, 8, 0, 0},
                    {FILTER_OK, 1, {OP(FILTEROP_PASS, 2)}, NULL, NULL, 0, 0, 0}};
  c = st_conn(&t2, s2, 2, 8, 0);
  dp_buf out2 = {0};
  CHECK(&t2, io(c, 0, "zz", &out2) == FILTER_OK, "write");
  CHECK(&t2, fk.calls == 2, "calls %d", fk.calls);
  CHECK_BYTES(&t2, &out2, "xxxxxxxxzz");
  finish(&t2, c, &out2, NULL);
}

static void test_reverse_inject(void) {
  st_ctx t = {"selftest/reverse-inject-and-flush", 0, ""};
  fake_step script[] = {
      {FILTER_OK, 1, {OP(FILTEROP_DROP, 3)}, NULL, "hello", 0, 0, 0}, /* orig: reverse-inject into reply */
      {FILTER_OK, 0, {OP(0, 0)}, NULL, NULL, 0, 0, 0},                /* reply flush call: nothing */
      {FILTER_OK, 1, {OP(FILTEROP_PASS, 2)}, NULL, "ORIG", 0, 0, 0},  /* reply: reverse-inject into orig */
      {FILTER_OK, 1, {OP(FILTEROP_PASS, 2)}, NULL, NULL, 0, 0, 0},    /* orig */
  };
  dp_conn *c = st_conn(&t, script, 4, 0, 0);
  dp_buf to_server = {0};
  dp_buf to_client = {0};
  CHECK(&t, dp_filter_on_data(c, (const uint8_t *)"abc", 3, 0, &to_server, &to_client) == FILTER_OK, "orig write");
  CHECK_BYTES(&t, &to_server, "");
  CHECK_BYTES(&t, &to_client, "hello");
  CHECK(&t, fk.calls == 2, "expected the orig call and the reply flush call, got %d calls", fk.calls);
  CHECK(&t, !dp_want_reply_inject(c), "nothing left to flush");
  CHECK(&t, dp_filter_on_write(c, (const uint8_t *)"rr", 2, 0, &to_client) == FILTER_OK, "reply write");
  CHECK_BYTES(&t, &to_client, "hellorr");
  CHECK_BYTES(&t, &to_server, "");
  CHECK(&t, dp_filter_on_data(c, (const uint8_t *)"oo", 2, 0, &to_server, &to_client) == FILTER_OK, "orig write 2");
  CHECK_BYTES(&t, &to_server, "ORIGoo");
  finish(&t, c, &to_server, &to_client);

  st_ctx t2 = {"selftest/no-reply-flush-after-reply-end-stream", 0, ""};
  fake_step s2[] = {{FILTER_OK, 1, {OP(FILTEROP_PASS, 2)}, NULL, NULL, 0, 0, 0},
                    {FILTER_OK, 1, {OP(FILTEROP_DROP, 3)}, NULL, "late", 0, 0, 0}};
  c = st_conn(&t2, s2, 2, 0, 0);
  dp_buf a = {0};
  dp_buf b = {0};
  CHECK(&t2, dp_filter_on_write(c, (const uint8_t *)"rr", 2, 1, &b) == FILTER_OK, "reply write with end of stream");
  CHECK(&t2, dp_filter_on_data(c, (const uint8_t *)"abc", 3, 0, &a, &b) == FILTER_OK, "orig write");
  CHECK(&t2, fk.calls == 2, "no flush call once the reply direction ended (calls %d)", fk.calls);
  CHECK_BYTES(&t2, &b, "rr");
  CHECK(&t2, !dp_want_reply_inject(c), "want_reply_inject must be false after reply end of stream");
  finish(&t2, c, &a, &b);
}

static void test_pending_pass_delays_inject(void) {
  /* Upstream returns early while an earlier PASS still covers all the new data, injected data keeps waiting. */
  st_ctx t = {"selftest/pending-pass-delays-reverse-inject", 0, ""};
  fake_step script[] = {{FILTER_OK, 1, {OP(FILTEROP_PASS, 10)}, NULL, NULL, 0, 0, 0},
                        {FILTER_OK, 1, {OP(FILTEROP_PASS, 2)}, NULL, "INJ", 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 2, 0, 0);
  dp_buf to_server = {0};
  dp_buf to_client = {0};
  CHECK(&t, dp_filter_on_data(c, (const uint8_t *)"abcd", 4, 0, &to_server, &to_client) == FILTER_OK, "orig 1");
  CHECK(&t, dp_filter_on_write(c, (const uint8_t *)"rr", 2, 0, &to_client) == FILTER_OK, "reply");
  CHECK(&t, dp_on_io(c, 0, NULL, 0, 0, &to_server) == FILTER_OK, "empty orig");
  CHECK_BYTES(&t, &to_server, "abcd");
  CHECK(&t, dp_filter_on_data(c, (const uint8_t *)"efghij", 6, 0, &to_server, &to_client) == FILTER_OK, "orig 2");
  CHECK_BYTES(&t, &to_server, "abcdefghijINJ");
  CHECK_BYTES(&t, &to_client, "rr");
  finish(&t, c, &to_server, &to_client);
}

/* One call whose ops break the contract must give PARSER_ERROR. */
static void violation(const char *name, fake_step step, const char *input, size_t inject_size) {
  st_ctx t = {name, 0, ""};
  dp_conn *c = st_conn(&t, &step, 1, inject_size, 0);
  dp_buf out = {0};
  FilterResult res = io(c, 0, input, &out);
  CHECK(&t, res == FILTER_PARSER_ERROR, "expected PARSER_ERROR, got %s", dp_result_name(res));
  finish(&t, c, &out, NULL);
}

static void test_violations(void) {
  fake_step s;
  memset(&s, 0, sizeof(s));
  s.res = FILTER_OK;

  s.n_ops = 1;
  s.ops[0] = OP(FILTEROP_PASS, 0);
  violation("selftest/violation-zero-length-op", s, "abc", 0);
  s.ops[0] = OP(FILTEROP_DROP, -1);
  violation("selftest/violation-negative-length-op", s, "abc", 0);

  s.n_ops = 2;
  s.ops[0] = OP(FILTEROP_MORE, 1);
  s.ops[1] = OP(FILTEROP_PASS, 1);
  violation("selftest/violation-op-after-more", s, "abc", 0);
  s.ops[0] = OP(FILTEROP_PASS, 5);
  s.ops[1] = OP(FILTEROP_PASS, 1);
  violation("selftest/violation-op-after-pass-beyond-input", s, "abc", 0);
  s.ops[0] = OP(FILTEROP_DROP, 5);
  s.ops[1] = OP(FILTEROP_DROP, 1);
  violation("selftest/violation-op-after-drop-beyond-input", s, "abc", 0);

  s.n_ops = 1;
  s.inject_same = "abc";
  s.ops[0] = OP(FILTEROP_INJECT, 4);
  violation("selftest/violation-inject-beyond-buffer-data", s, "abc", 0);
  s.ops[0] = OP(FILTEROP_PASS, 1);
  violation("selftest/violation-abandoned-inject-data", s, "abc", 0);
  s.ops[0] = OP(FILTEROP_INJECT, 2);
  violation("selftest/violation-partly-abandoned-inject-data", s, "abc", 0);
  s.inject_same = NULL;

  s.ops[0] = OP(FILTEROP_ERROR, FILTEROP_ERROR_INVALID_FRAME_TYPE);
  violation("selftest/error-op", s, "abc", 0);
  s.ops[0] = OP(9, 1);
  violation("selftest/violation-unknown-op", s, "abc", 0);

  s.ops[0] = OP(FILTEROP_PASS, 1);
  s.force_ops_len = 17;
  violation("selftest/violation-ops-len-beyond-cap", s, "abc", 0);
  s.force_ops_len = 0;
  s.force_inject_len = 9;
  violation("selftest/violation-inject-len-beyond-cap", s, "abc", 8);
  s.force_inject_len = 0;

  s.n_ops = 0;
  s.res = FILTER_POLICY_DROP;
  violation("selftest/library-error-result", s, "abc", 0);
  s.res = FILTER_UNKNOWN_CONNECTION;
  violation("selftest/library-unknown-connection-result", s, "abc", 0);
}

static void test_filter_error_closes(void) {
  st_ctx t = {"selftest/error-discards-output-and-closes", 0, ""};
  fake_step script[] = {{FILTER_OK, 1, {OP(FILTEROP_PASS, 2)}, NULL, NULL, 0, 0, 0},
                        {FILTER_OK, 2, {OP(FILTEROP_PASS, 2), OP(FILTEROP_ERROR, 2)}, NULL, NULL, 0, 0, 0}};
  dp_conn *c = st_conn(&t, script, 2, 0, 0);
  dp_buf to_server = {0};
  dp_buf to_client = {0};
  CHECK(&t, dp_filter_on_data(c, (const uint8_t *)"ab", 2, 0, &to_server, &to_client) == FILTER_OK, "orig 1");
  FilterResult res = dp_filter_on_data(c, (const uint8_t *)"cdef", 4, 0, &to_server, &to_client);
  CHECK(&t, res == FILTER_PARSER_ERROR, "expected PARSER_ERROR, got %s", dp_result_name(res));
  CHECK_BYTES(&t, &to_server, "ab");
  CHECK(&t, !dp_conn_is_open(c), "the connection must be closed");
  CHECK(&t, fk.close_calls == 1 && fk.closed_id == 42, "Close(42) expected once (%d calls)", fk.close_calls);
  int calls = fk.calls;
  res = dp_filter_on_data(c, (const uint8_t *)"gh", 2, 0, &to_server, &to_client);
  CHECK(&t, res == FILTER_UNKNOWN_CONNECTION, "I/O after close: expected UNKNOWN_CONNECTION, got %s",
        dp_result_name(res));
  CHECK(&t, fk.calls == calls, "the library must not be called after close");
  dp_conn_free(c);
  CHECK(&t, fk.close_calls == 1, "free after close must not call Close again (%d calls)", fk.close_calls);
  dp_buf_free(&to_server);
  dp_buf_free(&to_client);
  if (t.failed) {
    report_fail(t.name, "%s", t.why);
  } else {
    report_ok(t.name);
  }
}

static void test_refused_connection(void) {
  st_ctx t = {"selftest/refused-connection", 0, ""};
  fake_reset(NULL, 0);
  dp_conn *c = (dp_conn *)&t; /* must be overwritten with NULL */
  FilterResult res = dp_conn_new(&fake_lib, 1, "fake", 7, 1, 1, 2, "1.1.1.1:1", "bad", "p", &c);
  CHECK(&t, res == FILTER_INVALID_ADDRESS, "expected INVALID_ADDRESS, got %s", dp_result_name(res));
  CHECK(&t, c == NULL, "no connection may be returned");
  CHECK(&t, fk.close_calls == 0, "a refused connection must not be closed at the library");
  if (t.failed) {
    report_fail(t.name, "%s", t.why);
  } else {
    report_ok(t.name);
  }
}

void run_selftests(void) {
  if (!harness_selected("selftest/")) {
    return;
  }
  test_pass_carry_over();
  test_drop_carry_over();
  test_more_waits();
  test_segments_trimmed();
  test_loop_on_full_ops();
  test_loop_on_full_inject();
  test_reverse_inject();
  test_pending_pass_delays_inject();
  test_violations();
  test_filter_error_closes();
  test_refused_connection();
  dp_buf_free(&fk.input);
}
