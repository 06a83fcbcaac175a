/*
 * swift-proxylib datapath harness: scenario files.
 *
 * SCENARIO FILE FORMAT (*.scn)
 * ============================
 *
 * Lexical rules
 *   - One command per line. Blank lines are ignored; '#' outside a quoted string starts a comment.
 *   - A backslash as the last thing on a line (outside quotes and comments) joins the next line to this one.
 *   - Tokens are separated by whitespace; commas outside quotes also separate tokens (so "PASS 5, DROP 3" reads
 *     as "PASS 5 DROP 3").
 *   - Quoted strings "..." hold bytes, with the escapes \\ \" \n \r \t \0 and \xNN (two hex digits).
 *   - BYTES, where a command takes data, is one or more quoted strings joined with '+', each optionally repeated
 *     with '* COUNT':   "5000:INSERT original direction" + "A" * 4969 + "\n"
 *     ('+' and '*' are separate tokens: put spaces around them.)
 *   - Names (of modules and connections) are bare words starting with a letter.
 *
 * Structure
 *   scenario NAME
 *       Starts a new scenario; every scenario runs with fresh state. Commands placed before the first
 *       `scenario` line form a scenario named after the file. A test is reported as FILE-STEM/NAME.
 *
 * Library instances
 *   module NAME [param KEY VALUE]... [debug] [expect-zero] [same-as OTHER] [differs-from OTHER]...
 *       OpenModule with the given parameters (KEY and VALUE are quoted strings). Expects a non-zero id unless
 *       expect-zero is given. same-as / differs-from compare the id with the one another `module` line got.
 *       NAME refers to the returned id from then on; connections default to the last module opened.
 *   close-module NAME
 *       CloseModule once for NAME's id. Opens not closed by the scenario are closed when it ends.
 *
 * Connections
 *   connect CONN proto STRING [module NAME | instance NUMBER] [id NUMBER] [ingress | egress] [src-id N]
 *           [dst-id N] [src STRING] [dst STRING] [policy STRING] [inject-size N] [max-ops N] [expect RESULT]
 *       OnNewConnection through the datapath (dp_conn_new_ex). Defaults: the last module opened, a fresh
 *       connection id, ingress, src-id 1, dst-id 2, src "1.1.1.1:34567", dst "10.0.0.2:80", policy
 *       "1.1.1.1", inject buffers of 1024 bytes, 16 ops per OnData call, expect OK. RESULT is a FilterResult
 *       name (OK, POLICY_DROP, PARSER_ERROR, UNKNOWN_PARSER, UNKNOWN_CONNECTION, INVALID_ADDRESS,
 *       INVALID_INSTANCE, UNKNOWN_ERROR; a FILTER_ prefix is accepted). When the result is not OK, CONN is not
 *       created.
 *   close CONN
 *       Close at the library (like the proxy does when a connection ends). The forwarded output of CONN must
 *       have been fully checked by then (see below).
 *
 * Datapath steps (run through datapath.c exactly as cilium-envoy's network filter would)
 *   orig CONN BYTES [end-stream] [whole] [expect RESULT]
 *       The client sends BYTES: onIo in the original direction; if that leaves data in the reply inject buffer,
 *       an empty reply-direction write follows to flush it to the client. Default expect OK; a non-OK result
 *       closes the connection (and what that call produced is not forwarded).
 *   reply CONN BYTES [end-stream] [whole] [expect RESULT]
 *       The server sends BYTES: onIo in the reply direction.
 *   expect-orig-out CONN BYTES
 *       The bytes forwarded towards the server since the previous expect-orig-out of CONN (or since connect)
 *       are exactly BYTES.
 *   expect-reply-out CONN BYTES
 *       Same for the bytes forwarded towards the client.
 *   expect-closed CONN / expect-open CONN
 *       The connection has / has not been closed (by an error or by `close`).
 *
 *   Every scenario that has datapath steps runs three times: with each write delivered as written; with each
 *   write delivered one byte at a time; and with each write cut at random points (seeded PRNG, the seed is
 *   printed; HARNESS_SEED reproduces a run). end-stream goes with the last piece only. The expectations must
 *   hold in all three runs, and the complete byte streams forwarded in each direction must be identical.
 *   Output checks are therefore best placed where the outcome cannot depend on how the bytes were cut: after
 *   complete frames. `whole` keeps a write in one piece in every run (for the few cases where upstream itself
 *   says the interleaving with injected data depends on timing).
 *
 * Raw steps (call OnData directly; run as written in every run)
 *   raw CONN|NUMBER orig|reply [end-stream] [cap N] [data BYTES...] [expect RESULT] [ops none | ops OP N ...]
 *       [reply-inject BYTES] [orig-inject BYTES]
 *       Calls OnData with one GoSlice per BYTES after `data` (none: an empty slice list) and an ops slice of
 *       capacity N (default 1 + 2 * the number of expected ops, as upstream's test helper). Checks the result
 *       (default OK), the exact ops list (default: none; OP is MORE, PASS, DROP, INJECT or ERROR) and the
 *       contents of CONN's two inject buffers (default: empty), then empties both buffers. A NUMBER instead of
 *       CONN is a bare connection id with no inject buffers (for unknown connection ids).
 *
 * Example
 *   scenario lines
 *   module m
 *   connect c proto "test.lineparser"
 *   reply c "DROP reply direction\nPASS reply direction\n"
 *   expect-reply-out c "PASS reply direction\n"
 *   raw c orig data "PASS 1\nPA" ops PASS 7, MORE 1
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* ---- Parsed form ---------------------------------------------------------------------------------------- */

typedef struct {
  uint8_t *p;
  size_t n;
} bytes_t;

typedef enum {
  CMD_MODULE,
  CMD_CLOSE_MODULE,
  CMD_CONNECT,
  CMD_CLOSE,
  CMD_WRITE,
  CMD_EXPECT_OUT,
  CMD_EXPECT_STATE,
  CMD_RAW,
} cmd_kind;

typedef struct {
  cmd_kind kind;
  int line;
  char *name; /* module or connection name */

  /* module */
  dp_param *params;
  size_t n_params;
  int debug;
  int expect_zero;
  char *same_as;
  char **differs;
  size_t n_differs;

  /* connect */
  char *module;
  int use_instance;
  uint64_t instance;
  char *proto;
  int has_id;
  uint64_t conn_id;
  int ingress;
  uint32_t src_id;
  uint32_t dst_id;
  char *src;
  char *dst;
  char *policy;
  size_t inject_size;
  int max_ops;

  /* shared by connect, write and raw */
  FilterResult expect;

  /* write, expect-out, raw */
  int reply;
  bytes_t data;
  int end_stream;
  int whole;

  /* expect-open / expect-closed */
  int want_open;

  /* raw */
  int has_raw_id;
  uint64_t raw_id;
  long cap; /* -1: default */
  bytes_t *slices;
  size_t n_slices;
  FilterOp *ops;
  size_t n_ops;
  bytes_t reply_inject;
  bytes_t orig_inject;
} cmd;

typedef struct {
  char *name; /* STEM/NAME */
  const char *file;
  int line;
  cmd *cmds;
  size_t n_cmds;
  size_t cap_cmds;
  int has_writes;
} scenario;

/* ---- Tokenizer ------------------------------------------------------------------------------------------ */

typedef enum { TOK_WORD, TOK_STRING } tok_kind;

typedef struct {
  tok_kind kind;
  char *word;  /* TOK_WORD */
  bytes_t str; /* TOK_STRING */
} token;

typedef struct {
  token *t;
  size_t n;
  size_t cap;
} token_list;

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "harness: out of memory\n");
    exit(2);
  }
  return p;
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) {
    fprintf(stderr, "harness: out of memory\n");
    exit(2);
  }
  return q;
}

static char *xstrndup(const char *s, size_t n) {
  char *d = xmalloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void tokens_clear(token_list *tl) {
  for (size_t i = 0; i < tl->n; i++) {
    free(tl->t[i].word);
    free(tl->t[i].str.p);
  }
  tl->n = 0;
}

static token *tokens_push(token_list *tl) {
  if (tl->n == tl->cap) {
    tl->cap = tl->cap ? tl->cap * 2 : 16;
    tl->t = xrealloc(tl->t, tl->cap * sizeof(*tl->t));
  }
  token *t = &tl->t[tl->n++];
  memset(t, 0, sizeof(*t));
  return t;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == ','; }

/*
 * Reads the next logical line starting at *pos. Returns 1 with the tokens in tl (possibly none, for blank
 * lines), 0 at end of input, -1 on a lexical error (message in err). *lineno is the number of the line where
 * the logical line starts on return; *next_line is where the following one starts.
 */
static int next_logical_line(const char **pos, const char *end, int *lineno, int *next_line, token_list *tl,
                             char *err, size_t err_len) {
  const char *p = *pos;
  tokens_clear(tl);
  if (p >= end) {
    return 0;
  }
  *lineno = *next_line;
  int line = *next_line;
  while (p < end) {
    char c = *p;
    if (c == '\n') {
      p++;
      line++;
      break;
    }
    if (is_space(c)) {
      p++;
      continue;
    }
    if (c == '#') {
      while (p < end && *p != '\n') {
        p++;
      }
      continue;
    }
    if (c == '\\') {
      const char *q = p + 1;
      while (q < end && (*q == ' ' || *q == '\t' || *q == '\r')) {
        q++;
      }
      if (q >= end || *q == '\n') {
        /* continuation */
        p = q < end ? q + 1 : q;
        line++;
        continue;
      }
      snprintf(err, err_len, "%d: stray backslash", line);
      return -1;
    }
    if (c == '"') {
      token *t = tokens_push(tl);
      t->kind = TOK_STRING;
      size_t cap = 16;
      t->str.p = xmalloc(cap);
      t->str.n = 0;
      p++;
      for (;;) {
        if (p >= end || *p == '\n') {
          snprintf(err, err_len, "%d: unterminated string", line);
          return -1;
        }
        char ch = *p++;
        uint8_t b;
        if (ch == '"') {
          break;
        }
        if (ch == '\\') {
          if (p >= end) {
            snprintf(err, err_len, "%d: unterminated string", line);
            return -1;
          }
          char e = *p++;
          switch (e) {
          case 'n':
            b = '\n';
            break;
          case 'r':
            b = '\r';
            break;
          case 't':
            b = '\t';
            break;
          case '0':
            b = 0;
            break;
          case '\\':
            b = '\\';
            break;
          case '"':
            b = '"';
            break;
          case 'x': {
            int h1 = p < end ? hexval(p[0]) : -1;
            int h2 = p + 1 < end ? hexval(p[1]) : -1;
            if (h1 < 0 || h2 < 0) {
              snprintf(err, err_len, "%d: \\x needs two hex digits", line);
              return -1;
            }
            b = (uint8_t)(h1 * 16 + h2);
            p += 2;
            break;
          }
          default:
            snprintf(err, err_len, "%d: unknown escape \\%c", line, e);
            return -1;
          }
        } else {
          b = (uint8_t)ch;
        }
        if (t->str.n == cap) {
          cap *= 2;
          t->str.p = xrealloc(t->str.p, cap);
        }
        t->str.p[t->str.n++] = b;
      }
      continue;
    }
    const char *w = p;
    while (p < end && !is_space(*p) && *p != '\n' && *p != '"' && *p != '#') {
      p++;
    }
    token *t = tokens_push(tl);
    t->kind = TOK_WORD;
    t->word = xstrndup(w, (size_t)(p - w));
  }
  *pos = p;
  *next_line = line;
  return 1;
}

/* ---- Parser --------------------------------------------------------------------------------------------- */

typedef struct {
  token_list *tl;
  size_t i;
  int line;
  char err[512];
} cursor;

static int cur_end(const cursor *c) { return c->i >= c->tl->n; }

static const token *cur_peek(const cursor *c) { return cur_end(c) ? NULL : &c->tl->t[c->i]; }

static int cur_is_word(const cursor *c, const char *w) {
  const token *t = cur_peek(c);
  return t != NULL && t->kind == TOK_WORD && strcmp(t->word, w) == 0;
}

static int cur_is_string(const cursor *c) {
  const token *t = cur_peek(c);
  return t != NULL && t->kind == TOK_STRING;
}

static int fail_at(cursor *c, const char *fmt, const char *arg) {
  char msg[400];
  snprintf(msg, sizeof(msg), fmt, arg ? arg : "");
  snprintf(c->err, sizeof(c->err), "%d: %s", c->line, msg);
  return -1;
}

static int get_word(cursor *c, const char *what, char **out) {
  const token *t = cur_peek(c);
  if (t == NULL || t->kind != TOK_WORD) {
    return fail_at(c, "expected %s", what);
  }
  *out = xstrndup(t->word, strlen(t->word));
  c->i++;
  return 0;
}

static int get_name(cursor *c, const char *what, char **out) {
  const token *t = cur_peek(c);
  if (t == NULL || t->kind != TOK_WORD ||
      !((t->word[0] >= 'a' && t->word[0] <= 'z') || (t->word[0] >= 'A' && t->word[0] <= 'Z'))) {
    return fail_at(c, "expected %s (a word starting with a letter)", what);
  }
  return get_word(c, what, out);
}

static int parse_u64(const char *s, uint64_t *v) {
  if (*s < '0' || *s > '9') {
    return -1;
  }
  errno = 0;
  char *endp;
  unsigned long long x = strtoull(s, &endp, 10);
  if (errno != 0 || *endp != '\0') {
    return -1;
  }
  *v = (uint64_t)x;
  return 0;
}

static int get_u64(cursor *c, const char *what, uint64_t *v) {
  const token *t = cur_peek(c);
  if (t == NULL || t->kind != TOK_WORD || parse_u64(t->word, v) != 0) {
    return fail_at(c, "expected %s (a decimal number)", what);
  }
  c->i++;
  return 0;
}

static int get_cstring(cursor *c, const char *what, char **out) {
  const token *t = cur_peek(c);
  if (t == NULL || t->kind != TOK_STRING) {
    return fail_at(c, "expected %s (a quoted string)", what);
  }
  if (memchr(t->str.p, 0, t->str.n) != NULL) {
    return fail_at(c, "%s may not contain NUL bytes", what);
  }
  *out = xstrndup((const char *)t->str.p, t->str.n);
  c->i++;
  return 0;
}

static int get_result(cursor *c, FilterResult *res) {
  const token *t = cur_peek(c);
  if (t == NULL || t->kind != TOK_WORD || parse_result_name(t->word, res) != 0) {
    return fail_at(c, "expected a result name after 'expect', got '%s'",
                   t == NULL ? "end of line" : (t->kind == TOK_WORD ? t->word : "a string"));
  }
  c->i++;
  return 0;
}

/* BYTES := STRING ['*' COUNT] {'+' STRING ['*' COUNT]} */
static int get_bytes(cursor *c, const char *what, bytes_t *out) {
  size_t cap = 64;
  out->p = xmalloc(cap);
  out->n = 0;
  for (;;) {
    const token *t = cur_peek(c);
    if (t == NULL || t->kind != TOK_STRING) {
      free(out->p);
      out->p = NULL;
      return fail_at(c, "expected %s (a quoted string)", what);
    }
    c->i++;
    uint64_t count = 1;
    if (cur_is_word(c, "*")) {
      c->i++;
      if (get_u64(c, "a repeat count after '*'", &count) != 0) {
        free(out->p);
        out->p = NULL;
        return -1;
      }
    }
    if (count > 0 && t->str.n > 0 && count > (size_t)(64u << 20) / t->str.n) {
      free(out->p);
      out->p = NULL;
      return fail_at(c, "%s is too large", what);
    }
    size_t add = (size_t)count * t->str.n;
    if (out->n + add > cap) {
      while (out->n + add > cap) {
        cap *= 2;
      }
      out->p = xrealloc(out->p, cap);
    }
    for (uint64_t k = 0; k < count; k++) {
      memcpy(out->p + out->n, t->str.p, t->str.n);
      out->n += t->str.n;
    }
    if (!cur_is_word(c, "+")) {
      return 0;
    }
    c->i++;
  }
}

static int get_direction(cursor *c, int *reply) {
  if (cur_is_word(c, "orig")) {
    *reply = 0;
  } else if (cur_is_word(c, "reply")) {
    *reply = 1;
  } else {
    return fail_at(c, "expected 'orig' or 'reply'", NULL);
  }
  c->i++;
  return 0;
}

static int unexpected(cursor *c) {
  const token *t = cur_peek(c);
  if (t->kind == TOK_WORD) {
    return fail_at(c, "unexpected '%s'", t->word);
  }
  return fail_at(c, "unexpected quoted string", NULL);
}

static int parse_module(cursor *c, cmd *m) {
  if (get_name(c, "a module name", &m->name) != 0) {
    return -1;
  }
  while (!cur_end(c)) {
    if (cur_is_word(c, "param")) {
      c->i++;
      m->params = xrealloc(m->params, (m->n_params + 1) * sizeof(*m->params));
      char *k = NULL;
      char *v = NULL;
      if (get_cstring(c, "a parameter key", &k) != 0) {
        return -1;
      }
      if (get_cstring(c, "a parameter value", &v) != 0) {
        free(k);
        return -1;
      }
      m->params[m->n_params].key = k;
      m->params[m->n_params].value = v;
      m->n_params++;
    } else if (cur_is_word(c, "debug")) {
      c->i++;
      m->debug = 1;
    } else if (cur_is_word(c, "expect-zero")) {
      c->i++;
      m->expect_zero = 1;
    } else if (cur_is_word(c, "same-as")) {
      c->i++;
      free(m->same_as);
      m->same_as = NULL;
      if (get_name(c, "a module name after same-as", &m->same_as) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "differs-from")) {
      c->i++;
      m->differs = xrealloc(m->differs, (m->n_differs + 1) * sizeof(*m->differs));
      if (get_name(c, "a module name after differs-from", &m->differs[m->n_differs]) != 0) {
        return -1;
      }
      m->n_differs++;
    } else {
      return unexpected(c);
    }
  }
  return 0;
}

static int parse_connect(cursor *c, cmd *m) {
  if (get_name(c, "a connection name", &m->name) != 0) {
    return -1;
  }
  m->ingress = 1;
  m->src_id = 1;
  m->dst_id = 2;
  m->expect = FILTER_OK;
  while (!cur_end(c)) {
    uint64_t v;
    if (cur_is_word(c, "proto")) {
      c->i++;
      free(m->proto);
      m->proto = NULL;
      if (get_cstring(c, "a parser name", &m->proto) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "module")) {
      c->i++;
      free(m->module);
      m->module = NULL;
      if (get_name(c, "a module name", &m->module) != 0) {
        return -1;
      }
      m->use_instance = 0;
    } else if (cur_is_word(c, "instance")) {
      c->i++;
      if (get_u64(c, "an instance id", &m->instance) != 0) {
        return -1;
      }
      m->use_instance = 1;
    } else if (cur_is_word(c, "id")) {
      c->i++;
      if (get_u64(c, "a connection id", &m->conn_id) != 0) {
        return -1;
      }
      m->has_id = 1;
    } else if (cur_is_word(c, "ingress")) {
      c->i++;
      m->ingress = 1;
    } else if (cur_is_word(c, "egress")) {
      c->i++;
      m->ingress = 0;
    } else if (cur_is_word(c, "src-id") || cur_is_word(c, "dst-id")) {
      int is_src = cur_is_word(c, "src-id");
      c->i++;
      if (get_u64(c, "a security id", &v) != 0) {
        return -1;
      }
      if (v > UINT32_MAX) {
        return fail_at(c, "security ids are 32-bit", NULL);
      }
      if (is_src) {
        m->src_id = (uint32_t)v;
      } else {
        m->dst_id = (uint32_t)v;
      }
    } else if (cur_is_word(c, "src")) {
      c->i++;
      free(m->src);
      m->src = NULL;
      if (get_cstring(c, "a source address", &m->src) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "dst")) {
      c->i++;
      free(m->dst);
      m->dst = NULL;
      if (get_cstring(c, "a destination address", &m->dst) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "policy")) {
      c->i++;
      free(m->policy);
      m->policy = NULL;
      if (get_cstring(c, "a policy name", &m->policy) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "inject-size")) {
      c->i++;
      if (get_u64(c, "an inject buffer size", &v) != 0) {
        return -1;
      }
      if (v == 0 || v > (1u << 20)) {
        return fail_at(c, "inject-size must be 1..1048576", NULL);
      }
      m->inject_size = (size_t)v;
    } else if (cur_is_word(c, "max-ops")) {
      c->i++;
      if (get_u64(c, "an op count", &v) != 0) {
        return -1;
      }
      if (v == 0 || v > DP_MAX_OPS) {
        return fail_at(c, "max-ops must be 1..16", NULL);
      }
      m->max_ops = (int)v;
    } else if (cur_is_word(c, "expect")) {
      c->i++;
      if (get_result(c, &m->expect) != 0) {
        return -1;
      }
    } else {
      return unexpected(c);
    }
  }
  if (m->proto == NULL) {
    return fail_at(c, "connect needs 'proto \"NAME\"'", NULL);
  }
  if (m->src == NULL) {
    m->src = xstrndup("1.1.1.1:34567", 13);
  }
  if (m->dst == NULL) {
    m->dst = xstrndup("10.0.0.2:80", 11);
  }
  if (m->policy == NULL) {
    m->policy = xstrndup("1.1.1.1", 7);
  }
  return 0;
}

static int parse_write(cursor *c, cmd *m) {
  if (get_name(c, "a connection name", &m->name) != 0) {
    return -1;
  }
  if (get_bytes(c, "the data to write", &m->data) != 0) {
    return -1;
  }
  m->expect = FILTER_OK;
  while (!cur_end(c)) {
    if (cur_is_word(c, "end-stream")) {
      c->i++;
      m->end_stream = 1;
    } else if (cur_is_word(c, "whole")) {
      c->i++;
      m->whole = 1;
    } else if (cur_is_word(c, "expect")) {
      c->i++;
      if (get_result(c, &m->expect) != 0) {
        return -1;
      }
    } else {
      return unexpected(c);
    }
  }
  return 0;
}

static int parse_raw(cursor *c, cmd *m) {
  const token *t = cur_peek(c);
  uint64_t id;
  if (t != NULL && t->kind == TOK_WORD && parse_u64(t->word, &id) == 0) {
    m->has_raw_id = 1;
    m->raw_id = id;
    c->i++;
  } else if (get_name(c, "a connection name or id", &m->name) != 0) {
    return -1;
  }
  if (get_direction(c, &m->reply) != 0) {
    return -1;
  }
  m->cap = -1;
  m->expect = FILTER_OK;
  int seen_ops = 0;
  while (!cur_end(c)) {
    uint64_t v;
    if (cur_is_word(c, "end-stream")) {
      c->i++;
      m->end_stream = 1;
    } else if (cur_is_word(c, "cap")) {
      c->i++;
      if (get_u64(c, "an ops capacity", &v) != 0) {
        return -1;
      }
      if (v > 4096) {
        return fail_at(c, "cap must be at most 4096", NULL);
      }
      m->cap = (long)v;
    } else if (cur_is_word(c, "data")) {
      c->i++;
      while (cur_is_string(c)) {
        m->slices = xrealloc(m->slices, (m->n_slices + 1) * sizeof(*m->slices));
        if (get_bytes(c, "a data slice", &m->slices[m->n_slices]) != 0) {
          return -1;
        }
        m->n_slices++;
      }
    } else if (cur_is_word(c, "expect")) {
      c->i++;
      if (get_result(c, &m->expect) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "ops")) {
      c->i++;
      if (seen_ops) {
        return fail_at(c, "ops given twice", NULL);
      }
      seen_ops = 1;
      if (cur_is_word(c, "none")) {
        c->i++;
        continue;
      }
      uint64_t op;
      while ((t = cur_peek(c)) != NULL && t->kind == TOK_WORD && parse_op_name(t->word, &op) == 0) {
        c->i++;
        if (get_u64(c, "an op length", &v) != 0) {
          return -1;
        }
        m->ops = xrealloc(m->ops, (m->n_ops + 1) * sizeof(*m->ops));
        m->ops[m->n_ops].op = op;
        m->ops[m->n_ops].n_bytes = (int64_t)v;
        m->n_ops++;
      }
      if (m->n_ops == 0) {
        return fail_at(c, "expected 'none' or OP LENGTH pairs after 'ops'", NULL);
      }
    } else if (cur_is_word(c, "reply-inject")) {
      c->i++;
      free(m->reply_inject.p);
      if (get_bytes(c, "the expected reply inject buffer", &m->reply_inject) != 0) {
        return -1;
      }
    } else if (cur_is_word(c, "orig-inject")) {
      c->i++;
      free(m->orig_inject.p);
      if (get_bytes(c, "the expected orig inject buffer", &m->orig_inject) != 0) {
        return -1;
      }
    } else {
      return unexpected(c);
    }
  }
  if (m->has_raw_id && (m->reply_inject.n > 0 || m->orig_inject.n > 0)) {
    return fail_at(c, "a bare connection id has no inject buffers to check", NULL);
  }
  return 0;
}

static void free_cmd(cmd *m) {
  free(m->name);
  for (size_t i = 0; i < m->n_params; i++) {
    free((char *)m->params[i].key);
    free((char *)m->params[i].value);
  }
  free(m->params);
  free(m->same_as);
  for (size_t i = 0; i < m->n_differs; i++) {
    free(m->differs[i]);
  }
  free(m->differs);
  free(m->module);
  free(m->proto);
  free(m->src);
  free(m->dst);
  free(m->policy);
  free(m->data.p);
  for (size_t i = 0; i < m->n_slices; i++) {
    free(m->slices[i].p);
  }
  free(m->slices);
  free(m->ops);
  free(m->reply_inject.p);
  free(m->orig_inject.p);
}

static int parse_command(cursor *c, cmd *m) {
  char *verb = NULL;
  if (get_word(c, "a command", &verb) != 0) {
    return -1;
  }
  int rc;
  if (strcmp(verb, "module") == 0) {
    m->kind = CMD_MODULE;
    rc = parse_module(c, m);
  } else if (strcmp(verb, "close-module") == 0) {
    m->kind = CMD_CLOSE_MODULE;
    rc = get_name(c, "a module name", &m->name);
  } else if (strcmp(verb, "connect") == 0) {
    m->kind = CMD_CONNECT;
    rc = parse_connect(c, m);
  } else if (strcmp(verb, "close") == 0) {
    m->kind = CMD_CLOSE;
    rc = get_name(c, "a connection name", &m->name);
  } else if (strcmp(verb, "orig") == 0 || strcmp(verb, "reply") == 0) {
    m->kind = CMD_WRITE;
    m->reply = verb[0] == 'r';
    rc = parse_write(c, m);
  } else if (strcmp(verb, "expect-orig-out") == 0 || strcmp(verb, "expect-reply-out") == 0) {
    m->kind = CMD_EXPECT_OUT;
    m->reply = verb[7] == 'r';
    rc = get_name(c, "a connection name", &m->name);
    if (rc == 0) {
      rc = get_bytes(c, "the expected output", &m->data);
    }
  } else if (strcmp(verb, "expect-closed") == 0 || strcmp(verb, "expect-open") == 0) {
    m->kind = CMD_EXPECT_STATE;
    m->want_open = verb[7] == 'o';
    rc = get_name(c, "a connection name", &m->name);
  } else if (strcmp(verb, "raw") == 0) {
    m->kind = CMD_RAW;
    rc = parse_raw(c, m);
  } else {
    rc = fail_at(c, "unknown command '%s'", verb);
  }
  free(verb);
  if (rc == 0 && !cur_end(c)) {
    rc = unexpected(c);
  }
  return rc;
}

static scenario *new_scenario(scenario **list, size_t *n, const char *stem, const char *name, const char *file,
                              int line) {
  *list = xrealloc(*list, (*n + 1) * sizeof(**list));
  scenario *s = &(*list)[(*n)++];
  memset(s, 0, sizeof(*s));
  size_t len = strlen(stem) + strlen(name) + 2;
  s->name = xmalloc(len);
  snprintf(s->name, len, "%s/%s", stem, name);
  s->file = file;
  s->line = line;
  return s;
}

static void free_scenario(scenario *s) {
  for (size_t i = 0; i < s->n_cmds; i++) {
    free_cmd(&s->cmds[i]);
  }
  free(s->cmds);
  free(s->name);
}

/*
 * Parses a whole file into scenarios. Returns 0, or -1 with a message in err (then no scenario of the file is
 * run).
 */
static int parse_file(const char *path, const char *stem, const char *text, size_t len, scenario **out,
                      size_t *n_out, char *err, size_t err_len) {
  token_list tl = {0};
  const char *pos = text;
  const char *end = text + len;
  int lineno = 1;
  int next_line = 1;
  scenario *list = NULL;
  size_t n = 0;
  scenario *cur = NULL;
  int rc = 0;
  char lexerr[256];

  for (;;) {
    int r = next_logical_line(&pos, end, &lineno, &next_line, &tl, lexerr, sizeof(lexerr));
    if (r == 0) {
      break;
    }
    if (r < 0) {
      snprintf(err, err_len, "%s:%s", path, lexerr);
      rc = -1;
      break;
    }
    if (tl.n == 0) {
      continue;
    }
    cursor c;
    memset(&c, 0, sizeof(c));
    c.tl = &tl;
    c.line = lineno;
    if (cur_is_word(&c, "scenario")) {
      c.i++;
      char *name = NULL;
      if (get_word(&c, "a scenario name", &name) != 0 || (!cur_end(&c) && unexpected(&c) != 0)) {
        free(name);
        snprintf(err, err_len, "%s:%s", path, c.err);
        rc = -1;
        break;
      }
      for (size_t i = 0; i < n; i++) {
        const char *slash = strchr(list[i].name, '/');
        if (slash != NULL && strcmp(slash + 1, name) == 0) {
          snprintf(err, err_len, "%s:%d: scenario '%s' defined twice", path, lineno, name);
          rc = -1;
        }
      }
      if (rc != 0) {
        free(name);
        break;
      }
      cur = new_scenario(&list, &n, stem, name, path, lineno);
      free(name);
      continue;
    }
    if (cur == NULL) {
      cur = new_scenario(&list, &n, stem, stem, path, lineno);
    }
    if (cur->n_cmds == cur->cap_cmds) {
      cur->cap_cmds = cur->cap_cmds ? cur->cap_cmds * 2 : 16;
      cur->cmds = xrealloc(cur->cmds, cur->cap_cmds * sizeof(*cur->cmds));
    }
    cmd *m = &cur->cmds[cur->n_cmds];
    memset(m, 0, sizeof(*m));
    m->line = lineno;
    if (parse_command(&c, m) != 0) {
      free_cmd(m);
      snprintf(err, err_len, "%s:%s", path, c.err);
      rc = -1;
      break;
    }
    cur->n_cmds++;
    if (m->kind == CMD_WRITE) {
      cur->has_writes = 1;
    }
  }
  tokens_clear(&tl);
  free(tl.t);
  if (rc != 0) {
    for (size_t i = 0; i < n; i++) {
      free_scenario(&list[i]);
    }
    free(list);
    return -1;
  }
  *out = list;
  *n_out = n;
  return 0;
}

/* ---- Runner --------------------------------------------------------------------------------------------- */

typedef enum { MODE_AS_WRITTEN, MODE_BYTEWISE, MODE_RANDOM } run_mode;

static const char *mode_name(run_mode m) {
  switch (m) {
  case MODE_AS_WRITTEN:
    return "as-written";
  case MODE_BYTEWISE:
    return "bytewise";
  case MODE_RANDOM:
    return "random";
  }
  return "?";
}

typedef struct {
  char *name;
  uint64_t id;
} module_ent;

typedef struct {
  uint64_t id;
  int opens;
} open_ent;

typedef struct {
  char *name;
  dp_conn *conn;
  dp_buf to_server;
  dp_buf to_client;
  size_t seen_server; /* checked up to here */
  size_t seen_client;
  int checked_at_close;
} conn_ent;

typedef struct {
  const dp_library *lib;
  const scenario *sc;
  run_mode mode;
  rng_t rng;
  module_ent *mods;
  size_t n_mods;
  open_ent *opens;
  size_t n_opens;
  uint64_t last_module;
  int have_last_module;
  conn_ent *conns;
  size_t n_conns;
  char err[8192];
} run_state;

/* Connection ids handed out when a scenario gives none; far from the small ids scenarios use explicitly. */
static uint64_t next_auto_conn_id = 7000000000ULL;

static int rs_fail(run_state *rs, const cmd *m, const char *fmt, ...) {
  char msg[7000];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  snprintf(rs->err, sizeof(rs->err), "%s:%d: %s", rs->sc->file, m ? m->line : rs->sc->line, msg);
  return -1;
}

static module_ent *find_module(run_state *rs, const char *name) {
  for (size_t i = 0; i < rs->n_mods; i++) {
    if (strcmp(rs->mods[i].name, name) == 0) {
      return &rs->mods[i];
    }
  }
  return NULL;
}

static conn_ent *find_conn(run_state *rs, const char *name) {
  for (size_t i = 0; i < rs->n_conns; i++) {
    if (strcmp(rs->conns[i].name, name) == 0) {
      return &rs->conns[i];
    }
  }
  return NULL;
}

static void note_open(run_state *rs, uint64_t id, int delta) {
  for (size_t i = 0; i < rs->n_opens; i++) {
    if (rs->opens[i].id == id) {
      rs->opens[i].opens += delta;
      return;
    }
  }
  rs->opens = xrealloc(rs->opens, (rs->n_opens + 1) * sizeof(*rs->opens));
  rs->opens[rs->n_opens].id = id;
  rs->opens[rs->n_opens].opens = delta;
  rs->n_opens++;
}

static int open_count(run_state *rs, uint64_t id) {
  for (size_t i = 0; i < rs->n_opens; i++) {
    if (rs->opens[i].id == id) {
      return rs->opens[i].opens;
    }
  }
  return 0;
}

static int do_module(run_state *rs, const cmd *m) {
  uint64_t id = dp_open_module(rs->lib, m->params, m->n_params, m->debug || harness_verbose);
  if (id != 0) {
    note_open(rs, id, 1);
  }
  if (m->expect_zero) {
    if (id != 0) {
      return rs_fail(rs, m, "module %s: expected OpenModule to reject the parameters (id 0), got id %llu", m->name,
                     (unsigned long long)id);
    }
  } else if (id == 0) {
    return rs_fail(rs, m, "module %s: OpenModule returned 0 (parameters rejected)", m->name);
  }
  module_ent *me = find_module(rs, m->name);
  if (me == NULL) {
    rs->mods = xrealloc(rs->mods, (rs->n_mods + 1) * sizeof(*rs->mods));
    me = &rs->mods[rs->n_mods++];
    me->name = xstrndup(m->name, strlen(m->name));
  }
  me->id = id;
  if (m->same_as != NULL) {
    module_ent *o = find_module(rs, m->same_as);
    if (o == NULL) {
      return rs_fail(rs, m, "unknown module '%s'", m->same_as);
    }
    if (o->id != id) {
      return rs_fail(rs, m, "module %s: expected the same id as %s (%llu), got %llu", m->name, m->same_as,
                     (unsigned long long)o->id, (unsigned long long)id);
    }
  }
  for (size_t i = 0; i < m->n_differs; i++) {
    module_ent *o = find_module(rs, m->differs[i]);
    if (o == NULL) {
      return rs_fail(rs, m, "unknown module '%s'", m->differs[i]);
    }
    if (o->id == id) {
      return rs_fail(rs, m, "module %s: expected an id different from %s's, both are %llu", m->name, m->differs[i],
                     (unsigned long long)id);
    }
  }
  if (id != 0) {
    rs->last_module = id;
    rs->have_last_module = 1;
  }
  return 0;
}

static int do_close_module(run_state *rs, const cmd *m) {
  module_ent *me = find_module(rs, m->name);
  if (me == NULL) {
    return rs_fail(rs, m, "unknown module '%s'", m->name);
  }
  if (open_count(rs, me->id) <= 0) {
    return rs_fail(rs, m, "module %s (id %llu) is not open (more close-module than successful module lines)",
                   m->name, (unsigned long long)me->id);
  }
  dp_close_module(rs->lib, me->id);
  note_open(rs, me->id, -1);
  return 0;
}

static int do_connect(run_state *rs, const cmd *m) {
  if (find_conn(rs, m->name) != NULL) {
    return rs_fail(rs, m, "connection name '%s' already used in this scenario", m->name);
  }
  uint64_t instance;
  if (m->use_instance) {
    instance = m->instance;
  } else if (m->module != NULL) {
    module_ent *me = find_module(rs, m->module);
    if (me == NULL) {
      return rs_fail(rs, m, "unknown module '%s'", m->module);
    }
    instance = me->id;
  } else if (rs->have_last_module) {
    instance = rs->last_module;
  } else {
    return rs_fail(rs, m, "connect %s: no module opened yet (use 'module' first or 'instance N')", m->name);
  }
  uint64_t id = m->has_id ? m->conn_id : next_auto_conn_id++;
  dp_conn_options opts;
  memset(&opts, 0, sizeof(opts));
  opts.inject_size = m->inject_size;
  opts.max_ops = m->max_ops;
  opts.log = harness_log;
  opts.log_ctx = m->name;
  dp_conn *conn = NULL;
  FilterResult res = dp_conn_new_ex(rs->lib, instance, m->proto, id, m->ingress, m->src_id, m->dst_id, m->src, m->dst,
                                    m->policy, &opts, &conn);
  if (res == FILTER_OK) {
    rs->conns = xrealloc(rs->conns, (rs->n_conns + 1) * sizeof(*rs->conns));
    conn_ent *ce = &rs->conns[rs->n_conns++];
    memset(ce, 0, sizeof(*ce));
    ce->name = xstrndup(m->name, strlen(m->name));
    ce->conn = conn;
  }
  if (res != m->expect) {
    return rs_fail(rs, m, "connect %s (proto \"%s\", id %llu, dst \"%s\"): expected %s, got %s", m->name, m->proto,
                   (unsigned long long)id, m->dst, dp_result_name(m->expect), dp_result_name(res));
  }
  return 0;
}

static conn_ent *need_conn(run_state *rs, const cmd *m) {
  conn_ent *ce = find_conn(rs, m->name);
  if (ce == NULL) {
    rs_fail(rs, m, "unknown connection '%s' (not connected, or its connect was refused)", m->name);
  }
  return ce;
}

/* Fails when some forwarded bytes of ce were never compared with an expectation. */
static int check_all_seen(run_state *rs, const cmd *m, conn_ent *ce) {
  char e[512];
  const char *when = m != NULL ? "" : " (at the end of the scenario)";
  if (ce->seen_server < ce->to_server.len) {
    size_t n = ce->to_server.len - ce->seen_server;
    return rs_fail(rs, m, "connection %s: %zu bytes forwarded to the server were never checked%s: %s", ce->name, n,
                   when, show_bytes(e, sizeof(e), ce->to_server.data + ce->seen_server, n, 0));
  }
  if (ce->seen_client < ce->to_client.len) {
    size_t n = ce->to_client.len - ce->seen_client;
    return rs_fail(rs, m, "connection %s: %zu bytes forwarded to the client were never checked%s: %s", ce->name, n,
                   when, show_bytes(e, sizeof(e), ce->to_client.data + ce->seen_client, n, 0));
  }
  return 0;
}

static int do_close(run_state *rs, const cmd *m) {
  conn_ent *ce = need_conn(rs, m);
  if (ce == NULL) {
    return -1;
  }
  dp_conn_close(ce->conn);
  ce->checked_at_close = 1;
  return check_all_seen(rs, m, ce);
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a;
  size_t y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

/* Cut points of a write of n bytes for the current run; returns the number of pieces (cuts + 1). */
static size_t plan_pieces(run_state *rs, const cmd *m, size_t n, size_t **cuts_out) {
  size_t *cuts = NULL;
  size_t n_cuts = 0;
  if (!m->whole && n >= 2) {
    if (rs->mode == MODE_BYTEWISE) {
      cuts = xmalloc((n - 1) * sizeof(*cuts));
      for (size_t i = 1; i < n; i++) {
        cuts[n_cuts++] = i;
      }
    } else if (rs->mode == MODE_RANDOM) {
      size_t max_cuts = n - 1 < 12 ? n - 1 : 12;
      size_t want = (size_t)rng_range(&rs->rng, 1, max_cuts);
      cuts = xmalloc(want * sizeof(*cuts));
      for (size_t i = 0; i < want; i++) {
        cuts[i] = (size_t)rng_range(&rs->rng, 1, n - 1);
      }
      qsort(cuts, want, sizeof(*cuts), cmp_size);
      for (size_t i = 0; i < want; i++) {
        if (n_cuts == 0 || cuts[n_cuts - 1] != cuts[i]) {
          cuts[n_cuts++] = cuts[i];
        }
      }
    }
  }
  *cuts_out = cuts;
  return n_cuts + 1;
}

static int do_write(run_state *rs, const cmd *m) {
  conn_ent *ce = need_conn(rs, m);
  if (ce == NULL) {
    return -1;
  }
  size_t *cuts = NULL;
  size_t n_pieces = plan_pieces(rs, m, m->data.n, &cuts);
  FilterResult res = FILTER_OK;
  size_t piece = 0;
  size_t start = 0;
  for (piece = 0; piece < n_pieces; piece++) {
    size_t stop = piece + 1 < n_pieces ? cuts[piece] : m->data.n;
    int last = piece + 1 == n_pieces;
    int end_stream = m->end_stream && last;
    const uint8_t *p = m->data.p + start;
    if (m->reply) {
      res = dp_filter_on_write(ce->conn, p, stop - start, end_stream, &ce->to_client);
    } else {
      res = dp_filter_on_data(ce->conn, p, stop - start, end_stream, &ce->to_server, &ce->to_client);
    }
    start = stop;
    if (res != FILTER_OK) {
      break;
    }
  }
  free(cuts);
  if (res != m->expect) {
    if (n_pieces > 1) {
      return rs_fail(rs, m, "%s %s: expected %s, got %s (at piece %zu of %zu)", m->reply ? "reply" : "orig", m->name,
                     dp_result_name(m->expect), dp_result_name(res), piece < n_pieces ? piece + 1 : n_pieces,
                     n_pieces);
    }
    return rs_fail(rs, m, "%s %s: expected %s, got %s", m->reply ? "reply" : "orig", m->name,
                   dp_result_name(m->expect), dp_result_name(res));
  }
  return 0;
}

static int do_expect_out(run_state *rs, const cmd *m) {
  conn_ent *ce = need_conn(rs, m);
  if (ce == NULL) {
    return -1;
  }
  dp_buf *b = m->reply ? &ce->to_client : &ce->to_server;
  size_t *seen = m->reply ? &ce->seen_client : &ce->seen_server;
  char why[4096];
  int bad = describe_mismatch(why, sizeof(why), m->data.p, m->data.n, b->data + *seen, b->len - *seen);
  *seen = b->len;
  if (bad) {
    return rs_fail(rs, m, "%s %s: bytes forwarded to the %s: %s", m->reply ? "expect-reply-out" : "expect-orig-out",
                   m->name, m->reply ? "client" : "server", why);
  }
  return 0;
}

static int do_expect_state(run_state *rs, const cmd *m) {
  conn_ent *ce = need_conn(rs, m);
  if (ce == NULL) {
    return -1;
  }
  int open = dp_conn_is_open(ce->conn);
  if (open != m->want_open) {
    return rs_fail(rs, m, "connection %s: expected it to be %s, it is %s", m->name, m->want_open ? "open" : "closed",
                   open ? "open" : "closed");
  }
  return 0;
}

static void format_ops(char *out, size_t len, const FilterOp *ops, size_t n) {
  size_t o = 0;
  out[0] = '\0';
  if (n == 0) {
    snprintf(out, len, "none");
    return;
  }
  for (size_t i = 0; i < n && o + 40 < len; i++) {
    const char *name = dp_op_name(ops[i].op);
    if (strcmp(name, "?") == 0) {
      o += (size_t)snprintf(out + o, len - o, "%sop#%llu %lld", i ? ", " : "", (unsigned long long)ops[i].op,
                            (long long)ops[i].n_bytes);
    } else {
      o += (size_t)snprintf(out + o, len - o, "%s%s %lld", i ? ", " : "", name, (long long)ops[i].n_bytes);
    }
  }
}

static int do_raw(run_state *rs, const cmd *m) {
  conn_ent *ce = NULL;
  uint64_t id;
  if (m->has_raw_id) {
    id = m->raw_id;
  } else {
    ce = need_conn(rs, m);
    if (ce == NULL) {
      return -1;
    }
    id = dp_conn_id(ce->conn);
  }
  /* The library gets private copies of the input. */
  GoSlice *slices = xmalloc((m->n_slices ? m->n_slices : 1) * sizeof(*slices));
  for (size_t i = 0; i < m->n_slices; i++) {
    void *copy = xmalloc(m->slices[i].n);
    if (m->slices[i].n > 0) {
      memcpy(copy, m->slices[i].p, m->slices[i].n);
    }
    slices[i].data = copy;
    slices[i].len = (GoInt)m->slices[i].n;
    slices[i].cap = (GoInt)m->slices[i].n;
  }
  GoSlice input;
  input.data = slices;
  input.len = (GoInt)m->n_slices;
  input.cap = (GoInt)m->n_slices;

  size_t cap = m->cap >= 0 ? (size_t)m->cap : 1 + 2 * m->n_ops;
  FilterOp *ops = xmalloc((cap ? cap : 1) * sizeof(*ops));
  memset(ops, 0xA5, (cap ? cap : 1) * sizeof(*ops));
  GoSlice op_slice;
  op_slice.data = ops;
  op_slice.len = 0;
  op_slice.cap = (GoInt)cap;

  FilterResult res = rs->lib->on_data(id, m->reply ? 1 : 0, m->end_stream ? 1 : 0, &input, &op_slice);

  for (size_t i = 0; i < m->n_slices; i++) {
    free(slices[i].data);
  }
  free(slices);

  char problems[6000];
  size_t o = 0;
  problems[0] = '\0';
  if (res != m->expect) {
    o += (size_t)snprintf(problems + o, sizeof(problems) - o, "result: expected %s, got %s; ",
                          dp_result_name(m->expect), dp_result_name(res));
  }
  if (op_slice.len < 0 || (size_t)op_slice.len > cap || op_slice.data != (void *)ops || op_slice.cap != (GoInt)cap) {
    o += (size_t)snprintf(problems + o, sizeof(problems) - o,
                          "ops slice header corrupted by the library (len %lld, cap %lld, cap given %zu); ",
                          (long long)op_slice.len, (long long)op_slice.cap, cap);
  } else {
    size_t n = (size_t)op_slice.len;
    int same = n == m->n_ops;
    for (size_t i = 0; same && i < n; i++) {
      same = ops[i].op == m->ops[i].op && ops[i].n_bytes == m->ops[i].n_bytes;
    }
    if (!same) {
      char want[1024], got[1024];
      format_ops(want, sizeof(want), m->ops, m->n_ops);
      format_ops(got, sizeof(got), ops, n);
      o += (size_t)snprintf(problems + o, sizeof(problems) - o, "ops: expected [%s], got [%s] (cap %zu); ", want,
                            got, cap);
    }
  }
  free(ops);
  if (ce != NULL) {
    for (int dir = 1; dir >= 0 && o < sizeof(problems); dir--) {
      size_t len;
      const uint8_t *data = dp_conn_inject_peek(ce->conn, dir, &len);
      const bytes_t *want = dir ? &m->reply_inject : &m->orig_inject;
      char why[2048];
      if (describe_mismatch(why, sizeof(why), want->p, want->n, data, len)) {
        o += (size_t)snprintf(problems + o, sizeof(problems) - o, "%s inject buffer: %s; ", dir ? "reply" : "orig",
                              why);
      }
      dp_conn_inject_reset(ce->conn, dir);
    }
  }
  if (o > 0) {
    if (o >= 2 && o < sizeof(problems)) {
      problems[o - 2] = '\0'; /* drop the last "; " */
    }
    return rs_fail(rs, m, "raw %s %s: %s", m->has_raw_id ? "id" : m->name, m->reply ? "reply" : "orig", problems);
  }
  return 0;
}

static int run_cmd(run_state *rs, const cmd *m) {
  switch (m->kind) {
  case CMD_MODULE:
    return do_module(rs, m);
  case CMD_CLOSE_MODULE:
    return do_close_module(rs, m);
  case CMD_CONNECT:
    return do_connect(rs, m);
  case CMD_CLOSE:
    return do_close(rs, m);
  case CMD_WRITE:
    return do_write(rs, m);
  case CMD_EXPECT_OUT:
    return do_expect_out(rs, m);
  case CMD_EXPECT_STATE:
    return do_expect_state(rs, m);
  case CMD_RAW:
    return do_raw(rs, m);
  }
  return rs_fail(rs, m, "internal error: unknown command kind");
}

/* What a run forwarded, per connection, for comparing runs. */
typedef struct {
  char *name;
  dp_buf to_server;
  dp_buf to_client;
} transcript;

typedef struct {
  transcript *t;
  size_t n;
} transcripts;

static void free_transcripts(transcripts *ts) {
  for (size_t i = 0; i < ts->n; i++) {
    free(ts->t[i].name);
    dp_buf_free(&ts->t[i].to_server);
    dp_buf_free(&ts->t[i].to_client);
  }
  free(ts->t);
  ts->t = NULL;
  ts->n = 0;
}

/*
 * Runs one scenario in one mode. Returns 0 on success, -1 with rs->err set. When `keep` is not NULL the
 * forwarded streams are stored there.
 */
static int run_once(const dp_library *lib, const scenario *sc, run_mode mode, uint64_t seed, transcripts *keep,
                    char *err, size_t err_len) {
  run_state rs;
  memset(&rs, 0, sizeof(rs));
  rs.lib = lib;
  rs.sc = sc;
  rs.mode = mode;
  rng_seed(&rs.rng, seed);

  int rc = 0;
  for (size_t i = 0; i < sc->n_cmds && rc == 0; i++) {
    rc = run_cmd(&rs, &sc->cmds[i]);
  }
  /* Every connection's output must have been checked. */
  for (size_t i = 0; i < rs.n_conns && rc == 0; i++) {
    if (!rs.conns[i].checked_at_close) {
      rc = check_all_seen(&rs, NULL, &rs.conns[i]);
    }
  }
  if (rc != 0) {
    snprintf(err, err_len, "%s", rs.err);
  }
  if (keep != NULL) {
    keep->t = xmalloc((rs.n_conns ? rs.n_conns : 1) * sizeof(*keep->t));
    keep->n = 0;
  }
  for (size_t i = 0; i < rs.n_conns; i++) {
    conn_ent *ce = &rs.conns[i];
    dp_conn_free(ce->conn);
    if (keep != NULL) {
      transcript *t = &keep->t[keep->n++];
      t->name = ce->name;
      t->to_server = ce->to_server;
      t->to_client = ce->to_client;
    } else {
      free(ce->name);
      dp_buf_free(&ce->to_server);
      dp_buf_free(&ce->to_client);
    }
  }
  free(rs.conns);
  for (size_t i = 0; i < rs.n_opens; i++) {
    for (int k = 0; k < rs.opens[i].opens; k++) {
      dp_close_module(lib, rs.opens[i].id);
    }
  }
  free(rs.opens);
  for (size_t i = 0; i < rs.n_mods; i++) {
    free(rs.mods[i].name);
  }
  free(rs.mods);
  return rc;
}

static int compare_transcripts(const transcripts *ref, const transcripts *got, char *err, size_t err_len) {
  if (ref->n != got->n) {
    snprintf(err, err_len, "%zu connections in the as-written run, %zu in this one", ref->n, got->n);
    return -1;
  }
  for (size_t i = 0; i < ref->n; i++) {
    const transcript *a = &ref->t[i];
    const transcript *b = &got->t[i];
    char why[4096];
    if (describe_mismatch(why, sizeof(why), a->to_server.data, a->to_server.len, b->to_server.data,
                          b->to_server.len)) {
      snprintf(err, err_len, "connection %s: stream to the server differs from the as-written run: %s", a->name, why);
      return -1;
    }
    if (describe_mismatch(why, sizeof(why), a->to_client.data, a->to_client.len, b->to_client.data,
                          b->to_client.len)) {
      snprintf(err, err_len, "connection %s: stream to the client differs from the as-written run: %s", a->name, why);
      return -1;
    }
  }
  return 0;
}

static void run_scenario(const dp_library *lib, const scenario *sc) {
  char err[8192];
  transcripts ref = {0};
  int ref_ok = 0;
  int n_modes = sc->has_writes ? 3 : 1;
  for (int mi = 0; mi < n_modes; mi++) {
    run_mode mode = (run_mode)mi;
    char name[512];
    if (mode == MODE_AS_WRITTEN) {
      snprintf(name, sizeof(name), "%s", sc->name);
    } else {
      snprintf(name, sizeof(name), "%s@%s", sc->name, mode_name(mode));
    }
    if (!harness_selected(name)) {
      continue;
    }
    uint64_t seed = harness_seed ^ hash_str(sc->name);
    report_set_current(name);
    transcripts got = {0};
    int rc = run_once(lib, sc, mode, seed, &got, err, sizeof(err));
    if (rc == 0 && mode != MODE_AS_WRITTEN && ref_ok) {
      rc = compare_transcripts(&ref, &got, err, sizeof(err));
    }
    if (rc == 0) {
      report_ok(name);
    } else if (mode == MODE_RANDOM) {
      report_fail(name, "%s (random split seed %llu; rerun with HARNESS_SEED=%llu)", err, (unsigned long long)seed,
                  (unsigned long long)harness_seed);
    } else {
      report_fail(name, "%s", err);
    }
    if (mode == MODE_AS_WRITTEN && rc == 0) {
      ref = got;
      ref_ok = 1;
    } else {
      free_transcripts(&got);
    }
  }
  free_transcripts(&ref);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int read_file(const char *path, char **text, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return -1;
  }
  size_t cap = 4096;
  size_t n = 0;
  char *buf = xmalloc(cap);
  for (;;) {
    if (n == cap) {
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    if (got == 0) {
      break;
    }
    n += got;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return -1;
  }
  *text = buf;
  *len = n;
  return 0;
}

int run_scenario_dir(const dp_library *lib, const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL) {
    report_fail("scenarios", "cannot open scenario directory '%s': %s", dir, strerror(errno));
    return -1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    size_t len = strlen(de->d_name);
    if (len > 4 && strcmp(de->d_name + len - 4, ".scn") == 0) {
      names = xrealloc(names, (n + 1) * sizeof(*names));
      names[n++] = xstrndup(de->d_name, len);
    }
  }
  closedir(d);
  if (n == 0) {
    report_fail("scenarios", "no *.scn files in '%s'", dir);
    free(names);
    return -1;
  }
  qsort(names, n, sizeof(*names), cmp_str);
  for (size_t i = 0; i < n; i++) {
    size_t plen = strlen(dir) + strlen(names[i]) + 2;
    char *path = xmalloc(plen);
    snprintf(path, plen, "%s/%s", dir, names[i]);
    char *stem = xstrndup(names[i], strlen(names[i]) - 4);
    char *text = NULL;
    size_t len = 0;
    if (read_file(path, &text, &len) != 0) {
      report_fail(stem, "cannot read %s: %s", path, strerror(errno));
    } else {
      scenario *list = NULL;
      size_t count = 0;
      char err[1024];
      if (parse_file(path, stem, text, len, &list, &count, err, sizeof(err)) != 0) {
        report_fail(stem, "syntax error: %s", err);
      } else {
        for (size_t k = 0; k < count; k++) {
          run_scenario(lib, &list[k]);
          free_scenario(&list[k]);
        }
        free(list);
      }
      free(text);
    }
    free(stem);
    free(path);
    free(names[i]);
  }
  free(names);
  return 0;
}
