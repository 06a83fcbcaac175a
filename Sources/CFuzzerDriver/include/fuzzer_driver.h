#ifndef SWIFT_PROXYLIB_FUZZER_DRIVER_H
#define SWIFT_PROXYLIB_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/* One fuzz iteration: libFuzzer's LLVMFuzzerTestOneInput signature. */
typedef int (*proxylib_fuzz_callback)(const uint8_t *data, size_t size);

/* 1 when this build links libFuzzer (make fuzz), 0 in ordinary builds. */
int proxylib_fuzzer_available(void);

/*
 * Hands control to libFuzzer with the given command line (libFuzzer's own flags and corpus folders). Returns
 * libFuzzer's exit status; -1 when the build has no libFuzzer.
 */
int proxylib_fuzzer_run(int *argc, char ***argv, proxylib_fuzz_callback callback);

#endif
