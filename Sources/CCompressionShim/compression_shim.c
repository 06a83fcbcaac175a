/*
 * LZ4 and snappy block decompression (see compression_shim.h). Both libraries are linked statically into
 * libcilium.so; their decoders are written to be safe on corrupt input, and these wrappers keep every size
 * within the `int`/`size_t` ranges the libraries accept.
 */
#include "compression_shim.h"

#include <limits.h>
#include <stdint.h>
#include <lz4.h>
#include <snappy-c.h>

ptrdiff_t proxylib_lz4_decompress(const void *src, size_t src_len, void *dst, size_t dst_capacity) {
    /* LZ4 counts in int; anything larger is not a frame we accept. */
    if (src == NULL || src_len == 0 || src_len > INT_MAX || dst_capacity > INT_MAX) return -1;
    /* An empty output needs no buffer, but LZ4 must still see a non-null one. */
    char empty = 0;
    char *out = dst != NULL ? (char *)dst : &empty;
    if (dst == NULL) dst_capacity = 0;
    int written = LZ4_decompress_safe((const char *)src, out, (int)src_len, (int)dst_capacity);
    return written < 0 ? -1 : (ptrdiff_t)written;
}

ptrdiff_t proxylib_snappy_uncompressed_length(const void *src, size_t src_len) {
    if (src == NULL || src_len == 0) return -1;
    size_t length = 0;
    if (snappy_uncompressed_length((const char *)src, src_len, &length) != SNAPPY_OK) return -1;
    /* The varint is at most 32 bits, so this always fits; checked so the cast below is obviously safe. */
    if (length > (size_t)PTRDIFF_MAX) return -1;
    return (ptrdiff_t)length;
}

ptrdiff_t proxylib_snappy_uncompress(const void *src, size_t src_len, void *dst, size_t dst_capacity) {
    if (src == NULL || src_len == 0) return -1;
    char empty = 0;
    char *out = dst != NULL ? (char *)dst : &empty;
    size_t length = dst != NULL ? dst_capacity : 0;
    /* snappy checks the declared length against `length` first and that the tags fill it exactly. */
    if (snappy_uncompress((const char *)src, src_len, out, &length) != SNAPPY_OK) return -1;
    if (length > (size_t)PTRDIFF_MAX) return -1;
    return (ptrdiff_t)length;
}
