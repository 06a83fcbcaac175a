/*
 * A tiny C API over PCRE2 for policy regular expressions, so Swift never sees a PCRE2 type.
 *
 * Patterns are read the way Go's regexp (RE2 syntax) reads them: UTF-8, unanchored search, `$` only at the very
 * end (without (?m)), `\d \w \s \b` ASCII-only, flags i m s U. Constructs RE2 rejects but PCRE2 would accept
 * (backreferences, lookaround, atomic groups, possessive quantifiers, recursion, conditionals, callouts, verbs,
 * `\C`, extra escapes and flags) are rejected at compile time with a reason.
 *
 * Subjects are arbitrary bytes: invalid UTF-8 is read as Go reads it, each bad byte one U+FFFD.
 *
 * Thread safety: a compiled pattern is immutable; any number of threads may match it at once. Matching does not
 * allocate in the steady state (per-thread scratch is created on a thread's first match and reused).
 */
#ifndef PROXYLIB_PCRE2_SHIM_H
#define PROXYLIB_PCRE2_SHIM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An opaque compiled pattern. */
typedef struct proxylib_regex proxylib_regex;

/* Results of proxylib_regex_match. */
#define PROXYLIB_REGEX_MATCH 1
#define PROXYLIB_REGEX_NO_MATCH 0
/* The match limit was hit (catastrophic backtracking). */
#define PROXYLIB_REGEX_ERROR_MATCH_LIMIT (-1)
/* The backtracking depth, heap or JIT stack limit was hit. */
#define PROXYLIB_REGEX_ERROR_DEPTH_LIMIT (-2)
/* Per-thread scratch memory could not be allocated. */
#define PROXYLIB_REGEX_ERROR_NO_MEMORY (-3)
/* Any other PCRE2 failure. */
#define PROXYLIB_REGEX_ERROR_INTERNAL (-4)

/* Limits applied to every match. */
#define PROXYLIB_REGEX_MATCH_LIMIT 100000u
#define PROXYLIB_REGEX_DEPTH_LIMIT 10000u

/*
 * Compiles `pattern` (`length` bytes of UTF-8, need not be NUL-terminated). Returns NULL when the pattern is
 * invalid or not RE2 syntax, with a NUL-terminated reason (ending in "at offset N", a byte offset into `pattern`)
 * written to `error` (truncated to `error_size`; `error` may be NULL when `error_size` is 0).
 */
proxylib_regex *proxylib_regex_compile(const char *pattern, size_t length, char *error, size_t error_size);

/*
 * Searches `subject` (`length` bytes; may be NULL when `length` is 0) for a match anywhere in it.
 * Returns PROXYLIB_REGEX_MATCH, PROXYLIB_REGEX_NO_MATCH or a negative PROXYLIB_REGEX_ERROR_* code.
 */
int proxylib_regex_match(const proxylib_regex *regex, const void *subject, size_t length);

/* Frees a compiled pattern; NULL is ignored. No thread may be matching it. */
void proxylib_regex_free(proxylib_regex *regex);

/* Whether the pattern runs JIT-compiled code (1) or the interpreter (0). */
int proxylib_regex_is_jit(const proxylib_regex *regex);

/* A static description of a proxylib_regex_match result code. */
const char *proxylib_regex_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* PROXYLIB_PCRE2_SHIM_H */
