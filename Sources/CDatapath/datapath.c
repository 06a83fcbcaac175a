/*
 * swift-proxylib: host-side datapath for libcilium.so. See include/datapath.h for the model.
 *
 * The behaviour follows cilium-envoy's GoFilter::Instance::onIo() step by step; the comments below describe
 * each step in terms of what a proxy observes.
 */
#define _POSIX_C_SOURCE 200809L

#include "datapath.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Library loading ------------------------------------------------------------------------------------ */

static void set_err(char *errbuf, size_t errbuf_len, const char *fmt, ...) {
  if (errbuf == NULL || errbuf_len == 0) {
    return;
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(errbuf, errbuf_len, fmt, ap);
  va_end(ap);
}

/* Resolves one symbol; the data-to-function pointer conversion goes through memcpy to stay within ISO C. */
static int resolve(void *handle, const char *name, void *fnptr_out, size_t fnptr_size, char *errbuf,
                   size_t errbuf_len) {
  dlerror();
  void *sym = dlsym(handle, name);
  const char *err = dlerror();
  if (sym == NULL || err != NULL) {
    set_err(errbuf, errbuf_len, "symbol '%s' not found: %s", name, err ? err : "NULL address");
    return -1;
  }
  memcpy(fnptr_out, &sym, fnptr_size);
  return 0;
}

int dp_library_open(const char *path, dp_library *lib, char *errbuf, size_t errbuf_len) {
  memset(lib, 0, sizeof(*lib));
  dlerror();
  void *handle = dlopen(path, RTLD_NOW);
  if (handle == NULL) {
    const char *err = dlerror();
    set_err(errbuf, errbuf_len, "cannot load '%s': %s", path, err ? err : "unknown error");
    return -1;
  }
  dp_library l;
  memset(&l, 0, sizeof(l));
  l.handle = handle;
  if (resolve(handle, "OpenModule", &l.open_module, sizeof(l.open_module), errbuf, errbuf_len) != 0 ||
      resolve(handle, "CloseModule", &l.close_module, sizeof(l.close_module), errbuf, errbuf_len) != 0 ||
      resolve(handle, "OnNewConnection", &l.on_new_connection, sizeof(l.on_new_connection), errbuf,
              errbuf_len) != 0 ||
      resolve(handle, "OnData", &l.on_data, sizeof(l.on_data), errbuf, errbuf_len) != 0 ||
      resolve(handle, "Close", &l.close, sizeof(l.close), errbuf, errbuf_len) != 0) {
    dlclose(handle);
    return -1;
  }
  *lib = l;
  return 0;
}

int dp_library_close(dp_library *lib) {
  int rc = 0;
  if (lib->handle != NULL) {
    rc = dlclose(lib->handle);
  }
  memset(lib, 0, sizeof(*lib));
  return rc;
}

static GoString go_string(const char *s) {
  GoString g;
  g.p = s ? s : "";
  g.n = (ptrdiff_t)(s ? strlen(s) : 0);
  return g;
}

/* The element type of OpenModule's params slice. */
typedef struct {
  GoString key;
  GoString value;
} dp_go_kv;

uint64_t dp_open_module(const dp_library *lib, const dp_param *params, size_t n_params, int debug) {
  dp_go_kv *kv = NULL;
  if (n_params > 0) {
    kv = calloc(n_params, sizeof(*kv));
    if (kv == NULL) {
      return 0;
    }
    for (size_t i = 0; i < n_params; i++) {
      kv[i].key = go_string(params[i].key);
      kv[i].value = go_string(params[i].value);
    }
  }
  GoSlice s;
  s.data = kv;
  s.len = (GoInt)n_params;
  s.cap = (GoInt)n_params;
  uint64_t id = lib->open_module(s, debug ? 1 : 0);
  free(kv);
  return id;
}

void dp_close_module(const dp_library *lib, uint64_t instance_id) { lib->close_module(instance_id); }

/* ---- dp_buf --------------------------------------------------------------------------------------------- */

void dp_buf_init(dp_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void dp_buf_free(dp_buf *b) {
  free(b->data);
  dp_buf_init(b);
}

int dp_buf_append(dp_buf *b, const void *bytes, size_t n) {
  if (n == 0) {
    return 0;
  }
  if (b->cap - b->len < n) {
    size_t want = b->len + n;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < want) {
      cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) {
      return -1;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, bytes, n);
  b->len += n;
  return 0;
}

void dp_buf_truncate(dp_buf *b, size_t len) {
  if (len < b->len) {
    b->len = len;
  }
}

/* ---- Per-connection state ------------------------------------------------------------------------------- */

/* One write's worth of buffered input; bytes [off, off+len) of `bytes` are still unconsumed. */
typedef struct dp_segment {
  struct dp_segment *next;
  size_t off;
  size_t len;
  uint8_t bytes[];
} dp_segment;

/*
 * An inject buffer. `slice` is the header the library was given (it must stay at a fixed address for the
 * life of the connection); `base`/`size` remember where the storage really is, so that the datapath can
 * advance slice.data while consuming and rewind it afterwards.
 */
typedef struct dp_inject {
  GoSlice slice;
  uint8_t *base;
  GoInt size;
} dp_inject;

typedef struct dp_direction {
  dp_segment *head; /* unparsed input, oldest first */
  dp_segment *tail;
  size_t n_segments;
  int64_t buffered;   /* total unconsumed bytes in the segment list */
  int64_t need_bytes; /* do not call the parser before this much input is buffered */
  int64_t pass_bytes; /* bytes still to forward (verdict given before they arrived) */
  int64_t drop_bytes; /* bytes still to discard (verdict given before they arrived) */
  int closed;         /* end of stream seen in this direction */
  dp_inject inject;   /* data to be emitted in this direction */
} dp_direction;

struct dp_conn {
  const dp_library *lib;
  uint64_t id;
  int open;
  int max_ops;
  dp_log_fn log;
  void *log_ctx;
  dp_direction orig;
  dp_direction reply;
  GoSlice *input_slices; /* scratch array for the scatter-gather input */
  size_t input_slices_cap;
  uint8_t *inject_storage; /* both inject buffers, orig then reply */
};

static void dlog(const dp_conn *c, const char *fmt, ...) {
  if (c->log == NULL) {
    return;
  }
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->log(c->log_ctx, msg);
}

static const char *dir_name(int reply) { return reply ? "reply" : "orig"; }

static void inject_rewind(dp_inject *inj) {
  inj->slice.data = inj->base;
  inj->slice.len = 0;
  inj->slice.cap = inj->size;
}

/* Consumes n bytes of the inject buffer (the first n of what is left). */
static void inject_consume(dp_inject *inj, GoInt n) {
  if (n > inj->slice.len) {
    n = inj->slice.len;
  }
  inj->slice.data = (uint8_t *)inj->slice.data + n;
  inj->slice.len -= n;
}

/* True when the library filled the buffer to the last byte; consuming does not change the answer. */
static int inject_full(const dp_inject *inj) {
  const uint8_t *end_of_data = (const uint8_t *)inj->slice.data + inj->slice.len;
  return end_of_data >= inj->base + inj->size;
}

/*
 * Outside of the op loop an inject buffer is always rewound; the library may only raise its length, up to the
 * size. A moved data pointer, a changed cap or an out-of-range length is a contract violation.
 */
static int inject_sane(const dp_inject *inj) {
  return inj->slice.data == inj->base && inj->slice.len >= 0 && inj->slice.len <= inj->size &&
         inj->slice.cap == inj->size;
}

static void free_segments(dp_direction *d) {
  dp_segment *s = d->head;
  while (s != NULL) {
    dp_segment *next = s->next;
    free(s);
    s = next;
  }
  d->head = d->tail = NULL;
  d->n_segments = 0;
  d->buffered = 0;
}

static int queue_segment(dp_direction *d, const uint8_t *data, size_t len) {
  if (len == 0) {
    return 0;
  }
  dp_segment *s = malloc(sizeof(*s) + len);
  if (s == NULL) {
    return -1;
  }
  s->next = NULL;
  s->off = 0;
  s->len = len;
  memcpy(s->bytes, data, len);
  if (d->tail != NULL) {
    d->tail->next = s;
  } else {
    d->head = s;
  }
  d->tail = s;
  d->n_segments++;
  d->buffered += (int64_t)len;
  return 0;
}

/*
 * Takes n bytes (n <= buffered) off the front of the input; they are appended to `out` unless out is NULL
 * (then they are discarded). Returns -1 only when `out` cannot grow; the input is then left untouched
 * from the failing segment on.
 */
static int take_input(dp_direction *d, int64_t n, dp_buf *out) {
  while (n > 0 && d->head != NULL) {
    dp_segment *s = d->head;
    size_t chunk = s->len < (uint64_t)n ? s->len : (size_t)n;
    if (out != NULL && dp_buf_append(out, s->bytes + s->off, chunk) != 0) {
      return -1;
    }
    s->off += chunk;
    s->len -= chunk;
    d->buffered -= (int64_t)chunk;
    n -= (int64_t)chunk;
    if (s->len == 0) {
      d->head = s->next;
      if (d->head == NULL) {
        d->tail = NULL;
      }
      d->n_segments--;
      free(s);
    }
  }
  return 0;
}

static int init_direction(dp_direction *d, uint8_t *storage, size_t size) {
  memset(d, 0, sizeof(*d));
  d->inject.base = storage;
  d->inject.size = (GoInt)size;
  inject_rewind(&d->inject);
  return 0;
}

FilterResult dp_conn_new(const dp_library *lib, uint64_t instance_id, const char *proto, uint64_t connection_id,
                         int ingress, uint32_t src_id, uint32_t dst_id, const char *src_addr, const char *dst_addr,
                         const char *policy_name, dp_conn **out) {
  return dp_conn_new_ex(lib, instance_id, proto, connection_id, ingress, src_id, dst_id, src_addr, dst_addr,
                        policy_name, NULL, out);
}

FilterResult dp_conn_new_ex(const dp_library *lib, uint64_t instance_id, const char *proto, uint64_t connection_id,
                            int ingress, uint32_t src_id, uint32_t dst_id, const char *src_addr,
                            const char *dst_addr, const char *policy_name, const dp_conn_options *opts,
                            dp_conn **out) {
  *out = NULL;
  size_t inject_size = DP_INJECT_BUF_SIZE;
  int max_ops = DP_MAX_OPS;
  if (opts != NULL) {
    if (opts->inject_size > 0) {
      inject_size = opts->inject_size;
    }
    if (opts->max_ops > 0 && opts->max_ops < DP_MAX_OPS) {
      max_ops = opts->max_ops;
    }
  }

  dp_conn *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return FILTER_UNKNOWN_ERROR;
  }
  c->inject_storage = malloc(2 * inject_size);
  if (c->inject_storage == NULL) {
    free(c);
    return FILTER_UNKNOWN_ERROR;
  }
  c->lib = lib;
  c->id = connection_id;
  c->max_ops = max_ops;
  if (opts != NULL) {
    c->log = opts->log;
    c->log_ctx = opts->log_ctx;
  }
  init_direction(&c->orig, c->inject_storage, inject_size);
  init_direction(&c->reply, c->inject_storage + inject_size, inject_size);

  FilterResult res = lib->on_new_connection(instance_id, go_string(proto), connection_id, ingress ? 1 : 0, src_id,
                                            dst_id, go_string(src_addr), go_string(dst_addr),
                                            go_string(policy_name), &c->orig.inject.slice, &c->reply.inject.slice);
  if (res != FILTER_OK) {
    dlog(c, "connection %llu with parser \"%s\" refused: %s", (unsigned long long)connection_id,
         proto ? proto : "", dp_result_name(res));
    free(c->inject_storage);
    free(c);
    return res;
  }
  c->open = 1;
  *out = c;
  return FILTER_OK;
}

void dp_conn_close(dp_conn *conn) {
  if (conn->open) {
    conn->lib->close(conn->id);
    conn->open = 0;
    dlog(conn, "connection %llu closed", (unsigned long long)conn->id);
  }
}

void dp_conn_free(dp_conn *conn) {
  if (conn == NULL) {
    return;
  }
  dp_conn_close(conn);
  free_segments(&conn->orig);
  free_segments(&conn->reply);
  free(conn->input_slices);
  free(conn->inject_storage);
  free(conn);
}

uint64_t dp_conn_id(const dp_conn *conn) { return conn->id; }

int dp_conn_is_open(const dp_conn *conn) { return conn->open; }

size_t dp_conn_buffered(const dp_conn *conn, int reply) {
  return (size_t)(reply ? conn->reply.buffered : conn->orig.buffered);
}

const uint8_t *dp_conn_inject_peek(const dp_conn *conn, int reply, size_t *len) {
  const dp_inject *inj = reply ? &conn->reply.inject : &conn->orig.inject;
  GoInt n = inj->slice.len;
  if (n < 0) {
    n = 0;
  }
  if (n > inj->size) {
    n = inj->size;
  }
  *len = (size_t)n;
  return inj->slice.data;
}

void dp_conn_inject_reset(dp_conn *conn, int reply) { inject_rewind(reply ? &conn->reply.inject : &conn->orig.inject); }

GoSlice *dp_conn_inject_slice(dp_conn *conn, int reply) {
  return reply ? &conn->reply.inject.slice : &conn->orig.inject.slice;
}

/* Points conn->input_slices at the non-empty segments; returns their count, or -1 when out of memory. */
static GoInt gather_input(dp_conn *c, dp_direction *d) {
  if (d->n_segments > c->input_slices_cap) {
    size_t cap = c->input_slices_cap ? c->input_slices_cap : 8;
    while (cap < d->n_segments) {
      cap *= 2;
    }
    GoSlice *p = realloc(c->input_slices, cap * sizeof(*p));
    if (p == NULL) {
      return -1;
    }
    c->input_slices = p;
    c->input_slices_cap = cap;
  }
  GoInt n = 0;
  for (dp_segment *s = d->head; s != NULL; s = s->next) {
    if (s->len == 0) {
      continue;
    }
    c->input_slices[n].data = s->bytes + s->off;
    c->input_slices[n].len = (GoInt)s->len;
    c->input_slices[n].cap = (GoInt)s->len;
    n++;
  }
  return n;
}

/* ---- onIo ----------------------------------------------------------------------------------------------- */

FilterResult dp_on_io(dp_conn *conn, int reply, const uint8_t *data, size_t len, int end_stream, dp_buf *out) {
  dp_direction *d = reply ? &conn->reply : &conn->orig;
  const char *dn = dir_name(reply);
  int64_t arrived = (int64_t)len;

  if (!conn->open) {
    return FILTER_UNKNOWN_CONNECTION;
  }

  /*
   * Step 1: verdicts carried over from the previous call. While a PASS or DROP verdict covers more than what
   * just arrived, the new bytes are forwarded or discarded wholesale and nothing else happens (in particular
   * the parser is not called and pending injected data keeps waiting). Otherwise the remainder of a DROP is
   * cut off the new data here, and the remainder of a PASS is forwarded below, once the data is queued.
   */
  if (d->pass_bytes > 0) {
    if (d->pass_bytes > arrived) {
      if (arrived > 0) {
        if (dp_buf_append(out, data, len) != 0) {
          return FILTER_UNKNOWN_ERROR;
        }
        d->pass_bytes -= arrived;
        dlog(conn, "%s: %lld bytes forwarded under an earlier PASS, %lld more to go", dn, (long long)arrived,
             (long long)d->pass_bytes);
      }
      return FILTER_OK;
    }
  } else if (d->drop_bytes > 0) {
    if (d->drop_bytes > arrived) {
      if (arrived > 0) {
        d->drop_bytes -= arrived;
        dlog(conn, "%s: %lld bytes discarded under an earlier DROP, %lld more to go", dn, (long long)arrived,
             (long long)d->drop_bytes);
      }
      return FILTER_OK;
    }
    dlog(conn, "%s: discarding the first %lld bytes under an earlier DROP", dn, (long long)d->drop_bytes);
    data += d->drop_bytes;
    len -= (size_t)d->drop_bytes;
    d->drop_bytes = 0;
  }

  /* Step 2: the new bytes join the buffered input as one more segment. */
  if (queue_segment(d, data, len) != 0) {
    return FILTER_UNKNOWN_ERROR;
  }
  int64_t input_len = d->buffered;

  /* Step 3: the rest of an earlier PASS verdict (the input was empty before, so it is all new data). */
  if (d->pass_bytes > 0) {
    dlog(conn, "%s: forwarding the first %lld bytes under an earlier PASS", dn, (long long)d->pass_bytes);
    if (take_input(d, d->pass_bytes, out) != 0) {
      return FILTER_UNKNOWN_ERROR;
    }
    input_len -= d->pass_bytes;
    d->pass_bytes = 0;
  }

  /* Step 4: we are at a frame boundary of the output; emit what the other direction injected for us. */
  if (d->inject.slice.len > 0) {
    if (!inject_sane(&d->inject)) {
      dlog(conn, "%s: inject buffer header corrupted (len %lld)", dn, (long long)d->inject.slice.len);
      return FILTER_PARSER_ERROR;
    }
    dlog(conn, "%s: emitting %lld bytes injected by the other direction", dn, (long long)d->inject.slice.len);
    if (dp_buf_append(out, d->inject.slice.data, (size_t)d->inject.slice.len) != 0) {
      return FILTER_UNKNOWN_ERROR;
    }
    inject_rewind(&d->inject);
  }

  /* Step 5: a MORE verdict holds the parser off until enough input is buffered. */
  if (input_len < d->need_bytes) {
    dlog(conn, "%s: %lld bytes buffered, waiting for %lld", dn, (long long)input_len, (long long)d->need_bytes);
    return FILTER_OK;
  }
  d->need_bytes = 0;

  /*
   * Step 6: call the parser and carry out the ops it returns. The parser is called again right away when it
   * returned as many ops as it was allowed to, or when it filled the inject buffer, as long as no op ended
   * the round (MORE, or PASS/DROP reaching beyond the buffered input).
   */
  FilterOp ops[DP_MAX_OPS];
  const int max_ops = conn->max_ops;
  int finished = 0; /* a terminating op was seen */
  int inject_was_full;
  GoInt n_ops;
  FilterResult res;
  dp_direction *other = reply ? &conn->orig : &conn->reply;

  do {
    GoSlice op_slice;
    op_slice.data = ops;
    op_slice.len = 0;
    op_slice.cap = max_ops;

    GoInt n_slices = gather_input(conn, d);
    if (n_slices < 0) {
      return FILTER_UNKNOWN_ERROR;
    }
    GoSlice input;
    input.data = conn->input_slices;
    input.len = n_slices;
    input.cap = n_slices;

    dlog(conn, "%s: OnData with %lld bytes in %lld slices", dn, (long long)d->buffered, (long long)n_slices);
    res = conn->lib->on_data(conn->id, reply ? 1 : 0, end_stream ? 1 : 0, &input, &op_slice);
    n_ops = op_slice.len;
    dlog(conn, "%s: OnData returned %s with %lld ops", dn, dp_result_name(res), (long long)n_ops);
    if (res != FILTER_OK) {
      return FILTER_PARSER_ERROR;
    }
    if (n_ops < 0 || n_ops > max_ops || op_slice.data != (void *)ops || !inject_sane(&d->inject) ||
        !inject_sane(&other->inject)) {
      dlog(conn, "%s: OnData corrupted the ops or inject slice headers", dn);
      return FILTER_PARSER_ERROR;
    }

    for (GoInt i = 0; i < n_ops; i++) {
      uint64_t op = ops[i].op;
      int64_t n = ops[i].n_bytes;

      if (n <= 0) {
        dlog(conn, "%s: op %s with invalid length %lld", dn, dp_op_name(op), (long long)n);
        return FILTER_PARSER_ERROR;
      }
      if (finished) {
        dlog(conn, "%s: op %s follows a terminating op", dn, dp_op_name(op));
        return FILTER_PARSER_ERROR;
      }

      switch (op) {
      case FILTEROP_MORE:
        dlog(conn, "%s: MORE %lld", dn, (long long)n);
        d->need_bytes = input_len + n;
        finished = 1;
        break;

      case FILTEROP_PASS:
        dlog(conn, "%s: PASS %lld", dn, (long long)n);
        if (n > input_len) {
          if (take_input(d, input_len, out) != 0) {
            return FILTER_UNKNOWN_ERROR;
          }
          d->pass_bytes = n - input_len;
          input_len = 0;
          finished = 1;
        } else {
          if (take_input(d, n, out) != 0) {
            return FILTER_UNKNOWN_ERROR;
          }
          input_len -= n;
        }
        break;

      case FILTEROP_DROP:
        dlog(conn, "%s: DROP %lld", dn, (long long)n);
        if (n > input_len) {
          take_input(d, input_len, NULL);
          d->drop_bytes = n - input_len;
          input_len = 0;
          finished = 1;
        } else {
          take_input(d, n, NULL);
          input_len -= n;
        }
        break;

      case FILTEROP_INJECT:
        if (n > d->inject.slice.len) {
          dlog(conn, "%s: INJECT %lld with only %lld bytes in the inject buffer", dn, (long long)n,
               (long long)d->inject.slice.len);
          return FILTER_PARSER_ERROR;
        }
        dlog(conn, "%s: INJECT %lld", dn, (long long)n);
        if (dp_buf_append(out, d->inject.slice.data, (size_t)n) != 0) {
          return FILTER_UNKNOWN_ERROR;
        }
        inject_consume(&d->inject, n);
        break;

      case FILTEROP_ERROR:
      default:
        dlog(conn, "%s: op %s (%llu) with value %lld: parser error", dn, dp_op_name(op), (unsigned long long)op,
             (long long)n);
        return FILTER_PARSER_ERROR;
      }
    }

    if (d->inject.slice.len > 0) {
      dlog(conn, "%s: %lld injected bytes not claimed by any INJECT op", dn, (long long)d->inject.slice.len);
      return FILTER_PARSER_ERROR;
    }
    inject_was_full = inject_full(&d->inject);
    inject_rewind(&d->inject);
  } while (!finished && (n_ops == max_ops || inject_was_full));

  return res;
}

int dp_want_reply_inject(const dp_conn *conn) { return !conn->reply.closed && conn->reply.inject.slice.len > 0; }

void dp_set_end_stream(dp_conn *conn, int reply, int end_stream) {
  (reply ? &conn->reply : &conn->orig)->closed = end_stream ? 1 : 0;
}

/* ---- The network filter around onIo --------------------------------------------------------------------- */

FilterResult dp_filter_on_write(dp_conn *conn, const uint8_t *data, size_t len, int end_stream, dp_buf *to_client) {
  size_t mark = to_client->len;
  FilterResult res = dp_on_io(conn, 1, data, len, end_stream, to_client);
  if (res != FILTER_OK) {
    dp_buf_truncate(to_client, mark);
    dp_conn_close(conn);
    return res;
  }
  dp_set_end_stream(conn, 1, end_stream);
  return FILTER_OK;
}

FilterResult dp_flush_reply_inject(dp_conn *conn, dp_buf *to_client) {
  if (!dp_want_reply_inject(conn)) {
    return FILTER_OK;
  }
  dlog(conn, "reply: empty write to flush injected data");
  return dp_filter_on_write(conn, NULL, 0, 0, to_client);
}

FilterResult dp_filter_on_data(dp_conn *conn, const uint8_t *data, size_t len, int end_stream, dp_buf *to_server,
                               dp_buf *to_client) {
  size_t mark = to_server->len;
  FilterResult res = dp_on_io(conn, 0, data, len, end_stream, to_server);
  if (res != FILTER_OK) {
    dp_buf_truncate(to_server, mark);
    dp_conn_close(conn);
    return res;
  }
  res = dp_flush_reply_inject(conn, to_client);
  dp_set_end_stream(conn, 0, end_stream);
  return res;
}

/* ---- Names ---------------------------------------------------------------------------------------------- */

const char *dp_result_name(FilterResult res) {
  switch (res) {
  case FILTER_OK:
    return "OK";
  case FILTER_POLICY_DROP:
    return "POLICY_DROP";
  case FILTER_PARSER_ERROR:
    return "PARSER_ERROR";
  case FILTER_UNKNOWN_PARSER:
    return "UNKNOWN_PARSER";
  case FILTER_UNKNOWN_CONNECTION:
    return "UNKNOWN_CONNECTION";
  case FILTER_INVALID_ADDRESS:
    return "INVALID_ADDRESS";
  case FILTER_INVALID_INSTANCE:
    return "INVALID_INSTANCE";
  case FILTER_UNKNOWN_ERROR:
    return "UNKNOWN_ERROR";
  }
  return "?";
}

const char *dp_op_name(uint64_t op) {
  switch (op) {
  case FILTEROP_MORE:
    return "MORE";
  case FILTEROP_PASS:
    return "PASS";
  case FILTEROP_DROP:
    return "DROP";
  case FILTEROP_INJECT:
    return "INJECT";
  case FILTEROP_ERROR:
    return "ERROR";
  }
  return "?";
}
