/*
 * swift-proxylib: a host-side datapath for libcilium.so.
 *
 * This is a C rendition of what cilium-envoy does around the library (cilium/proxylib.cc, the per-connection
 * onIo() step, and the bits of cilium/network_filter.cc that call it). It is meant to be embedded: it keeps no
 * global state, prints nothing (an optional per-connection callback receives debug text) and depends only on
 * libc and libdl.
 *
 * Model
 * -----
 * A connection has two directions: "orig" (client -> server, the direction the connection was opened in) and
 * "reply" (server -> client). Each direction owns
 *   - the buffered, not yet parsed input, kept as a list of segments (one per write, trimmed as it is consumed),
 *     handed to the library as a slice of GoSlices, one per non-empty segment (scatter-gather input);
 *   - need/pass/drop byte counters carried over between calls;
 *   - a fixed-size inject buffer (1024 bytes by default) registered with the library at OnNewConnection time.
 *     The library appends to it by raising the slice length; the datapath consumes it by advancing the slice's
 *     data pointer (drain) and later rewinds it (reset).
 *
 * The parser of one direction may also write into the other direction's inject buffer ("reverse injection");
 * that data is emitted at the start of the other direction's next dp_on_io() call, at a frame boundary.
 *
 * Threading: different connections may be driven from different threads at the same time; a single connection
 * must not be used by two threads at once.
 */
#ifndef SWIFT_PROXYLIB_DATAPATH_H
#define SWIFT_PROXYLIB_DATAPATH_H

#include <stddef.h>
#include <stdint.h>

#include "libcilium.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of each direction's inject buffer, as in cilium-envoy. */
#define DP_INJECT_BUF_SIZE 1024
/* Number of FilterOps handed to OnData per call, as in cilium-envoy. */
#define DP_MAX_OPS 16

/* ---- The five library entry points ---------------------------------------------------------------------- */

typedef GoUint64 (*dp_open_module_fn)(GoSlice params, GoUint8 debug);
typedef void (*dp_close_module_fn)(GoUint64 id);
typedef FilterResult (*dp_on_new_connection_fn)(GoUint64 instance_id, GoString proto, GoUint64 connection_id,
                                                GoUint8 ingress, GoUint32 src_id, GoUint32 dst_id,
                                                GoString src_addr, GoString dst_addr, GoString policy_name,
                                                GoSlice *orig_buf, GoSlice *reply_buf);
typedef FilterResult (*dp_on_data_fn)(GoUint64 connection_id, GoUint8 reply, GoUint8 end_stream, GoSlice *data,
                                      GoSlice *filter_ops);
typedef void (*dp_close_fn)(GoUint64 connection_id);

/*
 * The loaded library. dp_library_open() fills it from a shared object; a test may instead fill the function
 * pointers by hand (handle NULL) to drive the datapath with a scripted fake.
 */
typedef struct dp_library {
  void *handle; /* from dlopen(), or NULL */
  dp_open_module_fn open_module;
  dp_close_module_fn close_module;
  dp_on_new_connection_fn on_new_connection;
  dp_on_data_fn on_data;
  dp_close_fn close;
} dp_library;

/*
 * dlopen()s `path` with RTLD_NOW and resolves the five symbols. Returns 0 on success; on failure returns -1,
 * leaves `lib` zeroed and writes a message into errbuf (if errbuf_len > 0).
 */
int dp_library_open(const char *path, dp_library *lib, char *errbuf, size_t errbuf_len);

/* dlclose()s the library (if it was opened by dp_library_open) and zeroes `lib`. Returns dlclose()'s result. */
int dp_library_close(dp_library *lib);

/* One OpenModule parameter, as NUL-terminated strings. */
typedef struct dp_param {
  const char *key;
  const char *value;
} dp_param;

/* Calls OpenModule with the given key/value pairs. Returns the instance id (0: rejected). */
uint64_t dp_open_module(const dp_library *lib, const dp_param *params, size_t n_params, int debug);

/* Calls CloseModule. */
void dp_close_module(const dp_library *lib, uint64_t instance_id);

/* ---- Output buffers ------------------------------------------------------------------------------------- */

/* A growable byte buffer owned by the caller. Zero-initialise it (or use dp_buf_init) before use. */
typedef struct dp_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
} dp_buf;

void dp_buf_init(dp_buf *b);
void dp_buf_free(dp_buf *b);
/* Appends n bytes; returns 0, or -1 when memory runs out (the buffer is then unchanged). */
int dp_buf_append(dp_buf *b, const void *bytes, size_t n);
/* Sets the length (only shrinking is allowed; larger values are ignored). */
void dp_buf_truncate(dp_buf *b, size_t len);

/* ---- Connections ---------------------------------------------------------------------------------------- */

typedef struct dp_conn dp_conn;

/* Receives one line of debug text (no trailing newline). */
typedef void (*dp_log_fn)(void *ctx, const char *msg);

typedef struct dp_conn_options {
  size_t inject_size; /* bytes per inject buffer; 0 means DP_INJECT_BUF_SIZE */
  int max_ops;        /* ops per OnData call, 1..DP_MAX_OPS; 0 means DP_MAX_OPS */
  dp_log_fn log;      /* optional debug sink */
  void *log_ctx;
} dp_conn_options;

/*
 * Creates the per-connection state and calls OnNewConnection with this connection's two inject buffers.
 * On FILTER_OK *out receives the connection; on any other result nothing is kept and *out is set to NULL
 * (a connection refused by the library is never registered, so Close is not called for it).
 */
FilterResult dp_conn_new(const dp_library *lib, uint64_t instance_id, const char *proto, uint64_t connection_id,
                         int ingress, uint32_t src_id, uint32_t dst_id, const char *src_addr, const char *dst_addr,
                         const char *policy_name, dp_conn **out);

/* Same as dp_conn_new with explicit options (opts may be NULL). */
FilterResult dp_conn_new_ex(const dp_library *lib, uint64_t instance_id, const char *proto, uint64_t connection_id,
                            int ingress, uint32_t src_id, uint32_t dst_id, const char *src_addr,
                            const char *dst_addr, const char *policy_name, const dp_conn_options *opts,
                            dp_conn **out);

/* Tells the library to forget the connection (Close) unless that already happened; later I/O is refused. */
void dp_conn_close(dp_conn *conn);

/* Closes the connection at the library if still open, then frees everything. NULL is accepted. */
void dp_conn_free(dp_conn *conn);

uint64_t dp_conn_id(const dp_conn *conn);
/* 1 until dp_conn_close() (or a failing dp_filter_* call) closed the connection. */
int dp_conn_is_open(const dp_conn *conn);
/* Bytes of unparsed input currently buffered in a direction. */
size_t dp_conn_buffered(const dp_conn *conn, int reply);

/*
 * The bytes currently sitting in a direction's inject buffer (reply != 0: the buffer that feeds the reply
 * stream). Used by tests that call OnData directly; the datapath itself consumes these buffers.
 */
const uint8_t *dp_conn_inject_peek(const dp_conn *conn, int reply, size_t *len);
/* Empties a direction's inject buffer (rewinds it to its base). */
void dp_conn_inject_reset(dp_conn *conn, int reply);
/* The slice header registered with the library for a direction's inject buffer. */
GoSlice *dp_conn_inject_slice(dp_conn *conn, int reply);

/* ---- The datapath --------------------------------------------------------------------------------------- */

/*
 * One call of cilium-envoy's onIo(): `len` new bytes arrived in direction `reply` (0: orig, 1: reply). Appends
 * to `out` whatever is to be forwarded in that direction now, in order: bytes passed by an earlier verdict, the
 * bytes injected into this direction by the other direction's parser, then the outcome of this call's ops.
 *
 * Returns FILTER_OK, or FILTER_PARSER_ERROR when the library failed or broke the op contract (the connection
 * must then be closed; `out` may hold partial output that a proxy would not send). On a connection that has been
 * closed returns FILTER_UNKNOWN_CONNECTION without calling the library. FILTER_UNKNOWN_ERROR: out of memory.
 */
FilterResult dp_on_io(dp_conn *conn, int reply, const uint8_t *data, size_t len, int end_stream, dp_buf *out);

/* True when the reply direction is not closed and its inject buffer holds data (cilium-envoy wantReplyInject). */
int dp_want_reply_inject(const dp_conn *conn);

/* Records whether a direction has seen end of stream (cilium-envoy setOrigEndStream / setReplyEndStream). */
void dp_set_end_stream(dp_conn *conn, int reply, int end_stream);

/*
 * cilium-envoy's network filter around onIo(), for hosts that proxy a real connection:
 *
 * dp_filter_on_data: `len` bytes read from the client. Runs onIo in the orig direction into `to_server`. On
 * failure, the output of this call is taken back out of `to_server`, the connection is closed and the result
 * returned. Otherwise, if the orig-direction parser left data in the reply inject buffer, an empty write is run
 * through the reply direction (dp_flush_reply_inject) so that the data reaches `to_client` now; a failure there
 * closes the connection too and is returned. Finally the orig end-of-stream flag is recorded.
 *
 * dp_filter_on_write: `len` bytes read from the server, headed to the client: onIo in the reply direction into
 * `to_client`, with the same failure handling, then the reply end-of-stream flag is recorded.
 *
 * dp_flush_reply_inject: the empty reply-direction write, as above (a no-op returning FILTER_OK when
 * dp_want_reply_inject() is false).
 */
FilterResult dp_filter_on_data(dp_conn *conn, const uint8_t *data, size_t len, int end_stream, dp_buf *to_server,
                               dp_buf *to_client);
FilterResult dp_filter_on_write(dp_conn *conn, const uint8_t *data, size_t len, int end_stream, dp_buf *to_client);
FilterResult dp_flush_reply_inject(dp_conn *conn, dp_buf *to_client);

/* ---- Names ---------------------------------------------------------------------------------------------- */

/* "OK", "POLICY_DROP", ... ; "?" for values outside the enum. */
const char *dp_result_name(FilterResult res);
/* "MORE", "PASS", "DROP", "INJECT", "ERROR"; "?" otherwise. */
const char *dp_op_name(uint64_t op);

#ifdef __cplusplus
}
#endif

#endif /* SWIFT_PROXYLIB_DATAPATH_H */
