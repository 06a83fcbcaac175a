/*
 * swift-proxylib: the value types shared by cilium-envoy and libcilium.so.
 *
 * The numeric values are part of the ABI: cilium-envoy (cilium/proxylib.cc) was compiled against the
 * Go proxylib's definitions, so every enumerator below keeps the position it has there.
 */
#ifndef PROXYLIB_TYPES_H
#define PROXYLIB_TYPES_H

#include <stdint.h>

/* What the datapath does with the next n_bytes of one direction. */
typedef enum {
  FILTEROP_MORE,   /* keep the unparsed input; call again once n_bytes more have arrived */
  FILTEROP_PASS,   /* forward n_bytes */
  FILTEROP_DROP,   /* discard n_bytes */
  FILTEROP_INJECT, /* send n_bytes from this direction's inject buffer (n_bytes > 0) */
  FILTEROP_ERROR,  /* the stream cannot be parsed: close the connection; n_bytes is a FilterOpError */
} FilterOpType;

/* The reason carried in n_bytes of a FILTEROP_ERROR. */
typedef enum {
  FILTEROP_ERROR_INVALID_OP_LENGTH = 1,
  FILTEROP_ERROR_INVALID_FRAME_TYPE,
  FILTEROP_ERROR_INVALID_FRAME_LENGTH,
} FilterOpError;

/* One element of the ops slice that OnData fills. */
typedef struct {
  uint64_t op;      /* a FilterOpType */
  int64_t n_bytes;  /* > 0 */
} FilterOp;

/* The result of OnNewConnection and OnData. */
typedef enum {
  FILTER_OK,                 /* success */
  FILTER_POLICY_DROP,        /* the parser refused the connection (L3/L4 metadata) */
  FILTER_PARSER_ERROR,       /* the parser failed: close the connection */
  FILTER_UNKNOWN_PARSER,     /* no parser registered under the requested name */
  FILTER_UNKNOWN_CONNECTION, /* the connection id is not (or no longer) known */
  FILTER_INVALID_ADDRESS,    /* the destination address has no usable port */
  FILTER_INVALID_INSTANCE,   /* the module instance id is not open */
  FILTER_UNKNOWN_ERROR,      /* anything else */
} FilterResult;

#endif /* PROXYLIB_TYPES_H */
