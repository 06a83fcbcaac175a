/*
 * Decompression for Cassandra's compressed frames, over the static liblz4 and libsnappy, so that Swift sees only
 * plain C types and sizes, never an `int` the caller could overflow.
 *
 * Every function is safe on arbitrary input bytes: a malformed block, a length that does not fit, or a block
 * that decodes to a different size than expected is reported as -1, never read or written out of bounds.
 * None of them allocates.
 */
#ifndef PROXYLIB_COMPRESSION_SHIM_H
#define PROXYLIB_COMPRESSION_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Decompresses the raw LZ4 block `src` (`src_len` bytes) into `dst` (`dst_capacity` bytes). Returns the number of
 * bytes written, or -1 when the block is malformed, does not end exactly at `src_len`, or needs more room.
 */
ptrdiff_t proxylib_lz4_decompress(const void *src, size_t src_len, void *dst, size_t dst_capacity);

/* The uncompressed length a raw snappy block declares in its varint prefix, or -1 when the prefix is malformed. */
ptrdiff_t proxylib_snappy_uncompressed_length(const void *src, size_t src_len);

/*
 * Decompresses the raw snappy block `src` into `dst` (`dst_capacity` bytes). Returns the number of bytes written
 * (the declared length), or -1 when the block is malformed or declares more than `dst_capacity` bytes.
 */
ptrdiff_t proxylib_snappy_uncompress(const void *src, size_t src_len, void *dst, size_t dst_capacity);

#ifdef __cplusplus
}
#endif

#endif /* PROXYLIB_COMPRESSION_SHIM_H */
