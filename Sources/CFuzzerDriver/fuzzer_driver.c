/*
 * The bridge to libFuzzer. `make fuzz` builds with PROXYLIB_LIBFUZZER defined and links compiler-rt's
 * fuzzer_no_main runtime, whose LLVMFuzzerRunDriver takes the place of libFuzzer's own main(): the
 * executable keeps its main, so the same proxylib-fuzz binary also replays files in ordinary builds.
 */
#include "fuzzer_driver.h"

#ifdef PROXYLIB_LIBFUZZER
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int proxylib_fuzzer_available(void) { return 1; }

int proxylib_fuzzer_run(int *argc, char ***argv, proxylib_fuzz_callback callback) {
  return LLVMFuzzerRunDriver(argc, argv, callback);
}
#else
int proxylib_fuzzer_available(void) { return 0; }

int proxylib_fuzzer_run(int *argc, char ***argv, proxylib_fuzz_callback callback) {
  (void)argc;
  (void)argv;
  (void)callback;
  return -1;
}
#endif
