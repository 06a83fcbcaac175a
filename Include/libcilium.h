/*
 * swift-proxylib: the five entry points of libcilium.so, declared with cgo's type names so that a host
 * written against the Go-built library (cilium-envoy's cilium/proxylib.h) compiles unchanged.
 */
#ifndef PROXYLIB_LIBCILIUM_H
#define PROXYLIB_LIBCILIUM_H

#include <stddef.h>
#include <stdint.h>

#include "types.h"

#ifndef GO_CGO_PROLOGUE_H
#define GO_CGO_PROLOGUE_H
typedef signed char GoInt8;
typedef unsigned char GoUint8;
typedef short GoInt16;
typedef unsigned short GoUint16;
typedef int GoInt32;
typedef unsigned int GoUint32;
typedef long long GoInt64;
typedef unsigned long long GoUint64;
typedef GoInt64 GoInt;
typedef GoUint64 GoUint;
typedef size_t GoUintptr;

/* A Go string: not NUL-terminated. */
#ifndef GO_CGO_GOSTRING_TYPEDEF
typedef struct { const char *p; ptrdiff_t n; } _GoString_;
typedef _GoString_ GoString;
#endif

/* A Go slice header: `len` elements are valid, `cap` elements are allocated. */
typedef struct { void *data; GoInt len; GoInt cap; } GoSlice;
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Opens (or re-opens) a library instance. `params` is a slice of {GoString key; GoString value;} pairs with the
 * keys "access-log-path", "xds-path" and "node-id". Returns the instance id, or 0 when a key is unknown.
 * Calls with the same parameters return the same id and count the opens.
 */
extern GoUint64 OpenModule(GoSlice params, GoUint8 debug);

/* Undoes one OpenModule; the instance is torn down when its open count reaches zero. */
extern void CloseModule(GoUint64 id);

/*
 * Registers connection `connectionId` to be parsed by the parser named `proto`. `origBuf` and `replyBuf` are
 * caller-owned inject buffers (len 0, fixed cap) that the library appends to by raising `len`, never beyond `cap`.
 */
extern FilterResult OnNewConnection(GoUint64 instanceId, GoString proto, GoUint64 connectionId, GoUint8 ingress,
                                    GoUint32 srcId, GoUint32 dstId, GoString srcAddr, GoString dstAddr,
                                    GoString policyName, GoSlice *origBuf, GoSlice *replyBuf);

/*
 * Parses the buffered input of one direction. `data` is a slice of byte slices (scatter-gather, none empty);
 * `filterOps` is a slice of FilterOp with len 0 that the library appends to, up to its cap.
 */
extern FilterResult OnData(GoUint64 connectionId, GoUint8 reply, GoUint8 endStream, GoSlice *data,
                           GoSlice *filterOps);

/* Forgets a connection. */
extern void Close(GoUint64 connectionId);

#ifdef __cplusplus
}
#endif

#endif /* PROXYLIB_LIBCILIUM_H */
