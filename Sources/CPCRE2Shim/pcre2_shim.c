/*
 * Policy regular expressions: RE2 syntax (as Go's regexp reads it) on top of PCRE2.
 *
 * proxylib_regex_compile runs the pattern through a scanner that follows Go's regexp/syntax parser closely. It
 * rejects every construct RE2 rejects but PCRE2 would accept, and rewrites the few RE2 constructs PCRE2 reads
 * differently, so PCRE2 only ever sees a pattern it reads the way Go does:
 *
 *   - \s and \S are RE2's [\t\n\f\r ] (PCRE2's \s also has \v);
 *   - escaped characters (\v is a vertical tab in RE2, \12 is octal, never a backreference) become \x{...};
 *   - a { that does not start a valid {n}, {n,} or {n,m} is a literal (PCRE2 10.43 reads {,n} as a repeat);
 *   - literal characters in classes are escaped, so `[` never starts a POSIX [.x.] or [=x=] item and `-` after
 *     \d is a literal as in Go;
 *   - empty-width assertions that carry a repeat (^*, \b+) are wrapped in (?:...), which PCRE2 accepts.
 *
 * Both the rejections and PCRE2's own compile errors are reported with an offset into the original pattern.
 */
#include "pcre2_shim.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RE2's limits: repeat counts (also their product when nested) and group nesting. */
#define RE2_MAX_REPEAT 1000u
#define RE2_MAX_NESTING 1000u

/* Interpreter-only: memory for backtracking frames, in KiB. */
#define HEAP_LIMIT_KIB 4096u
/* Per-thread JIT stack, grown on demand up to the maximum. */
#define JIT_STACK_START (32u * 1024u)
#define JIT_STACK_MAX (1024u * 1024u)
/* Transcoding buffers for invalid UTF-8 subjects up to this size are kept for the thread's next match. */
#define RETAINED_BUFFER_MAX (64u * 1024u)

/*
 * No PCRE2_MATCH_INVALID_UTF: PCRE2 never sees an invalid subject (see transcode_invalid_utf8), and in 10.42 that
 * option breaks JIT code for \D and \W, which then never match a multibyte character (PCRE2 issue #224, fixed in
 * 10.43). No captures: only match or no match matters, and there are no backreferences. ALT_CIRCUMFLEX: (?m)^
 * also matches after a final newline, as in Go. NEVER_*: belt and braces, the scanner rejects \C and (*UCP).
 */
#define COMPILE_OPTIONS                                                                                            \
    (PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_CIRCUMFLEX | PCRE2_NO_AUTO_CAPTURE | PCRE2_NEVER_BACKSLASH_C |   \
     PCRE2_NEVER_UCP)

struct proxylib_regex {
    pcre2_code *code;
    /* Limits and the JIT stack callback; written once at compile time, only read while matching. */
    pcre2_match_context *match_context;
    int jit;
};

/* ---------------------------------------------------------------------------------------------------------------
 * UTF-8
 */

/* The length of the well-formed UTF-8 sequence at s (1-4) and its code point, or 0 if it is not well formed
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), which is also what Go accepts. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *code_point) {
    unsigned char b0 = s[0];
    if (b0 < 0x80) {
        *code_point = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (n < 2 || (s[1] & 0xC0) != 0x80) return 0;
        *code_point = ((uint32_t)(b0 & 0x1F) << 6) | (s[1] & 0x3F);
        return 2;
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        unsigned char low = 0x80, high = 0xBF;
        if (b0 == 0xE0) low = 0xA0;
        if (b0 == 0xED) high = 0x9F;
        if (n < 3 || s[1] < low || s[1] > high || (s[2] & 0xC0) != 0x80) return 0;
        *code_point = ((uint32_t)(b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        return 3;
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        unsigned char low = 0x80, high = 0xBF;
        if (b0 == 0xF0) low = 0x90;
        if (b0 == 0xF4) high = 0x8F;
        if (n < 4 || s[1] < low || s[1] > high || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return 0;
        *code_point = ((uint32_t)(b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) |
                      ((uint32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        return 4;
    }
    return 0;
}

/* The offset of the first byte that does not start a well-formed sequence, or n. */
static size_t utf8_first_invalid(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        /* ASCII runs (most policy subjects) eight bytes at a time. */
        if (n - i >= 8) {
            uint64_t word;
            memcpy(&word, s + i, sizeof word);
            if ((word & UINT64_C(0x8080808080808080)) == 0) {
                i += 8;
                continue;
            }
        }
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t unused;
        size_t size = utf8_decode(s + i, n - i, &unused);
        if (size == 0) return i;
        i += size;
    }
    return n;
}

/* ---------------------------------------------------------------------------------------------------------------
 * The RE2 scanner
 */

enum item_kind {
    ITEM_NONE,      /* nothing a repeat could apply to: start, after ( or | */
    ITEM_ATOM,      /* a character, class or group */
    ITEM_ASSERTION, /* ^ $ \A \z \b \B: repeatable in RE2, not in PCRE2 */
    ITEM_REPEATED,  /* already carries a repeat; another one is an error */
    ITEM_FLAGS,     /* (?i) and the like */
};

struct group {
    size_t source_offset;
    size_t out_offset;
    /* The largest product of nested {n,m} counts inside the group so far. */
    unsigned weight;
};

typedef struct {
    const unsigned char *src;
    size_t length;
    size_t pos;

    /* The rewritten pattern and, for each of its bytes, the offset in src it came from. */
    unsigned char *out;
    size_t *map;
    size_t out_length;
    size_t out_capacity;

    char *error;
    size_t error_size;
    int failed;

    /* The last item of the current sequence, which a following repeat applies to. */
    enum item_kind item;
    size_t item_out;
    unsigned item_weight;

    /* groups[0] is the whole pattern; groups[depth] the innermost open group. */
    struct group groups[RE2_MAX_NESTING + 1];
    size_t depth;
} scanner;

static void reject(scanner *s, size_t offset, const char *format, ...) __attribute__((format(printf, 3, 4)));

static void reject(scanner *s, size_t offset, const char *format, ...) {
    if (s->failed) return;
    s->failed = 1;
    if (s->error == NULL || s->error_size == 0) return;
    va_list arguments;
    va_start(arguments, format);
    int written = vsnprintf(s->error, s->error_size, format, arguments);
    va_end(arguments);
    if (written >= 0 && (size_t)written < s->error_size) {
        snprintf(s->error + written, s->error_size - (size_t)written, " at offset %zu", offset);
    }
}

static int reserve(scanner *s, size_t extra) {
    if (s->failed) return 0;
    if (s->out_length + extra <= s->out_capacity) return 1;
    size_t capacity = s->out_capacity ? s->out_capacity : 64;
    while (capacity < s->out_length + extra) capacity *= 2;
    unsigned char *out = realloc(s->out, capacity);
    if (out == NULL) {
        reject(s, s->pos, "out of memory");
        return 0;
    }
    s->out = out;
    size_t *map = realloc(s->map, (capacity + 1) * sizeof(size_t));
    if (map == NULL) {
        reject(s, s->pos, "out of memory");
        return 0;
    }
    s->map = map;
    s->out_capacity = capacity;
    return 1;
}

static void emit(scanner *s, const void *bytes, size_t count, size_t source_offset) {
    if (!reserve(s, count)) return;
    memcpy(s->out + s->out_length, bytes, count);
    for (size_t i = 0; i < count; i++) s->map[s->out_length + i] = source_offset;
    s->out_length += count;
}

static void emit_string(scanner *s, const char *text, size_t source_offset) {
    emit(s, text, strlen(text), source_offset);
}

static int is_alnum(uint32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_octal(unsigned char c) { return c >= '0' && c <= '7'; }

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A code point as a literal PCRE2 reads the same inside and outside a class. */
static void emit_literal(scanner *s, uint32_t c, size_t source_offset) {
    if (is_alnum(c)) {
        unsigned char byte = (unsigned char)c;
        emit(s, &byte, 1, source_offset);
    } else if (c > 0x20 && c < 0x7F) {
        unsigned char escaped[2] = {'\\', (unsigned char)c};
        emit(s, escaped, 2, source_offset);
    } else {
        char text[16];
        snprintf(text, sizeof text, "\\x{%X}", (unsigned)c);
        emit_string(s, text, source_offset);
    }
}

/* Ends the current item, folding its repeat weight into the enclosing group. */
static void finish_item(scanner *s) {
    if (s->item != ITEM_NONE && s->item != ITEM_FLAGS) {
        struct group *group = &s->groups[s->depth];
        if (s->item_weight > group->weight) group->weight = s->item_weight;
    }
    s->item = ITEM_NONE;
}

static void begin_item(scanner *s, enum item_kind kind) {
    finish_item(s);
    s->item = kind;
    s->item_out = s->out_length;
    s->item_weight = 1;
}

/*
 * A single-character escape at s->pos (the backslash), as Go's parseEscape reads it: octal, \x, C escapes and
 * escaped ASCII punctuation. Everything else gets a reason. Advances past the escape.
 */
static int parse_escape_value(scanner *s, int in_class, uint32_t *value) {
    size_t start = s->pos;
    if (start + 1 >= s->length) {
        reject(s, start, "trailing backslash at end of expression");
        return 0;
    }
    unsigned char e = s->src[start + 1];
    if (e >= 0x80) {
        reject(s, start, "invalid escape sequence (an escaped non-ASCII character)");
        return 0;
    }
    if (!is_alnum(e)) {
        *value = e;
        s->pos = start + 2;
        return 1;
    }
    if (e == '0' || (e >= '1' && e <= '7' && start + 2 < s->length && is_octal(s->src[start + 2]))) {
        uint32_t v = (uint32_t)(e - '0');
        size_t p = start + 2;
        for (int digits = 1; digits < 3 && p < s->length && is_octal(s->src[p]); digits++, p++) {
            v = v * 8 + (uint32_t)(s->src[p] - '0');
        }
        *value = v;
        s->pos = p;
        return 1;
    }
    if (e >= '1' && e <= '9') {
        reject(s, start, "backreference \\%c is not supported (RE2 has no backreferences)", e);
        return 0;
    }
    switch (e) {
    case 'x': {
        size_t p = start + 2;
        uint32_t v = 0;
        if (p < s->length && s->src[p] == '{') {
            int digits = 0;
            for (p++; p < s->length && s->src[p] != '}'; p++, digits++) {
                int h = hex_value(s->src[p]);
                if (h < 0) break;
                v = v * 16 + (uint32_t)h;
                if (v > 0x10FFFF) break;
            }
            if (p < s->length && s->src[p] == '}' && digits > 0) {
                *value = v;
                s->pos = p + 1;
                return 1;
            }
        } else if (p + 1 < s->length && hex_value(s->src[p]) >= 0 && hex_value(s->src[p + 1]) >= 0) {
            *value = (uint32_t)(hex_value(s->src[p]) * 16 + hex_value(s->src[p + 1]));
            s->pos = p + 2;
            return 1;
        }
        reject(s, start, "invalid escape sequence \\x (two hex digits or \\x{...} up to 10FFFF expected)");
        return 0;
    }
    case 'a': *value = 0x07; break;
    case 'f': *value = 0x0C; break;
    case 'n': *value = 0x0A; break;
    case 'r': *value = 0x0D; break;
    case 't': *value = 0x09; break;
    case 'v': *value = 0x0B; break;
    case 'k':
    case 'g':
        reject(s, start, "backreference or subroutine call \\%c is not supported (RE2 has neither)", e);
        return 0;
    case 'C':
        reject(s, start, "\\C (any single byte) is not supported by RE2");
        return 0;
    case 'b':
        if (in_class) {
            reject(s, start, "\\b inside a character class is not supported by RE2 (use \\x08)");
            return 0;
        }
        __attribute__((fallthrough));
    default:
        reject(s, start, "invalid escape sequence \\%c (not RE2 syntax)", e);
        return 0;
    }
    s->pos = start + 2;
    return 1;
}

/* \pN, \p{Name}, \PN, \P{^Name} at s->pos; copied as is, PCRE2 checks the name. */
static void scan_unicode_class(scanner *s) {
    size_t start = s->pos;
    size_t p = start + 2;
    if (p >= s->length) {
        reject(s, start, "invalid Unicode character class \\%c", s->src[start + 1]);
        return;
    }
    if (s->src[p] == '{') {
        size_t end = p + 1;
        while (end < s->length && s->src[end] != '}') {
            if (s->src[end] >= 0x80) {
                reject(s, start, "invalid Unicode character class name");
                return;
            }
            end++;
        }
        if (end >= s->length) {
            reject(s, start, "missing closing } in Unicode character class");
            return;
        }
        if (end == p + 1 || (end == p + 2 && s->src[p + 1] == '^')) {
            reject(s, start, "invalid Unicode character class name");
            return;
        }
        p = end + 1;
    } else {
        uint32_t unused;
        p += utf8_decode(s->src + p, s->length - p, &unused);
    }
    emit(s, s->src + start, p - start, start);
    s->pos = p;
}

/* A single class character (or escape) at s->pos, for one end of a range. */
static int parse_class_char(scanner *s, uint32_t *value) {
    if (s->src[s->pos] == '\\') {
        if (s->pos + 1 < s->length && strchr("dDsSwWpP", s->src[s->pos + 1]) != NULL) {
            reject(s, s->pos, "invalid character class range (a class like \\%c cannot end a range)",
                   s->src[s->pos + 1]);
            return 0;
        }
        return parse_escape_value(s, 1, value);
    }
    s->pos += utf8_decode(s->src + s->pos, s->length - s->pos, value);
    return 1;
}

static int is_posix_class_name(const unsigned char *name, size_t length) {
    static const char *const names[] = {"alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
                                        "lower", "print", "punct", "space", "upper", "word",  "xdigit"};
    if (length > 0 && name[0] == '^') {
        name++;
        length--;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i]) == length && memcmp(names[i], name, length) == 0) return 1;
    }
    return 0;
}

/* A bracketed class at s->pos, following Go's parseClass. */
static void scan_class(scanner *s) {
    size_t start = s->pos;
    begin_item(s, ITEM_ATOM);
    emit(s, "[", 1, start);
    s->pos++;
    if (s->pos < s->length && s->src[s->pos] == '^') {
        emit(s, "^", 1, s->pos);
        s->pos++;
    }
    int first = 1; /* a ] right after [ or [^ is a literal */
    while (!s->failed) {
        if (s->pos >= s->length) {
            reject(s, start, "missing closing ] for character class");
            return;
        }
        size_t at = s->pos;
        unsigned char c = s->src[at];
        if (c == ']' && !first) {
            emit(s, "]", 1, at);
            s->pos++;
            return;
        }
        first = 0;

        /* POSIX [:alpha:] */
        if (c == '[' && at + 2 < s->length && s->src[at + 1] == ':') {
            const unsigned char *name = s->src + at + 2;
            size_t rest = s->length - (at + 2);
            const unsigned char *close = NULL;
            for (size_t i = 0; i + 1 < rest; i++) {
                if (name[i] == ':' && name[i + 1] == ']') {
                    close = name + i;
                    break;
                }
            }
            if (close != NULL) {
                size_t name_length = (size_t)(close - name);
                if (!is_posix_class_name(name, name_length)) {
                    reject(s, at, "invalid character class name [:%.*s:]", (int)name_length, (const char *)name);
                    return;
                }
                size_t end = (size_t)(close - s->src) + 2;
                emit(s, s->src + at, end - at, at);
                s->pos = end;
                continue;
            }
        }

        if (c == '\\' && at + 1 < s->length) {
            unsigned char e = s->src[at + 1];
            if (e == 'p' || e == 'P') {
                scan_unicode_class(s);
                continue;
            }
            if (e == 'd' || e == 'D' || e == 'w' || e == 'W') {
                emit(s, s->src + at, 2, at);
                s->pos += 2;
                continue;
            }
            if (e == 's') {
                emit_string(s, "\\t\\n\\f\\r\\x{20}", at);
                s->pos += 2;
                continue;
            }
            if (e == 'S') {
                /* PCRE2's \S lacks \v, which RE2's \S has. */
                emit_string(s, "\\S\\x{B}", at);
                s->pos += 2;
                continue;
            }
        }

        /* A character or a range. */
        uint32_t low, high;
        if (!parse_class_char(s, &low)) return;
        high = low;
        if (s->pos + 1 < s->length && s->src[s->pos] == '-' && s->src[s->pos + 1] != ']') {
            s->pos++;
            if (!parse_class_char(s, &high)) return;
            if (high < low) {
                reject(s, at, "invalid character class range %.*s", (int)(s->pos - at), (const char *)s->src + at);
                return;
            }
        }
        emit_literal(s, low, at);
        if (high != low) {
            emit(s, "-", 1, at);
            emit_literal(s, high, at);
        }
    }
}

/* Go's parseRepeat: {n}, {n,} or {n,m} at s->pos with no leading zeros; anything else makes { a literal. */
static int parse_counted_repeat(scanner *s, unsigned long *min, long *max, size_t *end) {
    size_t p = s->pos + 1;
    unsigned long numbers[2] = {0, 0};
    for (int which = 0; which < 2; which++) {
        size_t digits_start = p;
        if (which == 1) {
            if (p >= s->length) return 0;
            if (s->src[p] == '}') {
                *min = numbers[0];
                *max = -1;
                *end = p + 1;
                return 1;
            }
        }
        while (p < s->length && s->src[p] >= '0' && s->src[p] <= '9') {
            if (numbers[which] <= 100000000ul) numbers[which] = numbers[which] * 10 + (s->src[p] - '0');
            p++;
        }
        if (p == digits_start) return 0;
        if (p - digits_start > 1 && s->src[digits_start] == '0') return 0;
        if (p >= s->length) return 0;
        if (which == 0) {
            if (s->src[p] == '}') {
                *min = numbers[0];
                *max = (long)(numbers[0] > 100000000ul ? 100000001ul : numbers[0]);
                *end = p + 1;
                return 1;
            }
            if (s->src[p] != ',') return 0;
            p++;
        }
    }
    if (s->src[p] != '}') return 0;
    *min = numbers[0];
    *max = (long)(numbers[1] > 100000000ul ? 100000001ul : numbers[1]);
    *end = p + 1;
    return 1;
}

/* A repeat operator spanning [s->pos, end); max < 0 means unbounded. */
static void apply_repeat(scanner *s, size_t end, int counted, unsigned long min, long max) {
    size_t start = s->pos;
    unsigned char op = s->src[start];
    if (counted && (min > RE2_MAX_REPEAT || (max >= 0 && (unsigned long)max > RE2_MAX_REPEAT) ||
                    (max >= 0 && min > (unsigned long)max))) {
        reject(s, start, "invalid repeat count %.*s (RE2 allows 0 to %u, min <= max)", (int)(end - start),
               (const char *)s->src + start, RE2_MAX_REPEAT);
        return;
    }
    switch (s->item) {
    case ITEM_NONE:
    case ITEM_FLAGS:
        reject(s, start, "missing argument to repetition operator %c", op);
        return;
    case ITEM_REPEATED:
        if (op == '+') {
            reject(s, start, "possessive quantifiers are not supported by RE2");
        } else {
            reject(s, start, "invalid nested repetition operator %c", op);
        }
        return;
    case ITEM_ASSERTION:
        /* RE2 repeats an empty-width assertion; PCRE2 only a group holding one. */
        if (!reserve(s, 3)) return;
        memmove(s->out + s->item_out + 3, s->out + s->item_out, s->out_length - s->item_out);
        memmove(s->map + s->item_out + 3, s->map + s->item_out, (s->out_length - s->item_out) * sizeof(size_t));
        memcpy(s->out + s->item_out, "(?:", 3);
        s->map[s->item_out + 1] = s->map[s->item_out + 2] = s->map[s->item_out] = s->map[s->item_out + 3];
        s->out_length += 3;
        emit(s, ")", 1, start);
        break;
    case ITEM_ATOM:
        break;
    }

    /* RE2 bounds the product of nested counted repeats, as if they were expanded. */
    if (counted) {
        unsigned long times = max >= 0 ? (unsigned long)max : min;
        unsigned long weight = times == 0 ? 1 : times * s->item_weight;
        if ((min >= 2 || max >= 2) && weight > RE2_MAX_REPEAT) {
            reject(s, start, "invalid repeat count %.*s (nested repeat counts multiply to more than %u)",
                   (int)(end - start), (const char *)s->src + start, RE2_MAX_REPEAT);
            return;
        }
        s->item_weight = (unsigned)weight;
    }

    emit(s, s->src + start, end - start, start);
    s->pos = end;
    if (s->pos < s->length && s->src[s->pos] == '?') {
        emit(s, "?", 1, s->pos);
        s->pos++;
    }
    if (s->pos < s->length && s->src[s->pos] == '+') {
        reject(s, s->pos, "possessive quantifiers are not supported by RE2");
        return;
    }
    s->item = ITEM_REPEATED;
}

static void open_group(scanner *s, size_t source_offset) {
    if (s->depth >= RE2_MAX_NESTING) {
        reject(s, source_offset, "expression nests too deeply (more than %u groups)", RE2_MAX_NESTING);
        return;
    }
    finish_item(s);
    s->depth++;
    s->groups[s->depth].source_offset = source_offset;
    s->groups[s->depth].out_offset = s->out_length;
    s->groups[s->depth].weight = 1;
    s->item = ITEM_NONE;
}

/* (?P<name> or (?<name>, with name_start just past the <. */
static void scan_named_group(scanner *s, size_t start, size_t name_start) {
    size_t end = name_start;
    while (end < s->length && s->src[end] != '>') end++;
    if (end >= s->length) {
        reject(s, start, "invalid named capture (missing >)");
        return;
    }
    if (end == name_start) {
        reject(s, start, "invalid named capture (empty name)");
        return;
    }
    for (size_t i = name_start; i < end; i++) {
        if (!is_alnum(s->src[i]) && s->src[i] != '_') {
            reject(s, start, "invalid named capture %.*s", (int)(end + 1 - start), (const char *)s->src + start);
            return;
        }
    }
    open_group(s, start);
    emit(s, "(?<", 3, start);
    emit(s, s->src + name_start, end + 1 - name_start, start);
    s->pos = end + 1;
}

/* (? at s->pos: named groups, non-capturing groups and flags (i m s U) are RE2; the rest gets a reason. */
static void scan_group_syntax(scanner *s) {
    size_t start = s->pos;
    size_t p = start + 2;
    if (p >= s->length) {
        reject(s, start, "missing closing parenthesis");
        return;
    }
    unsigned char c = s->src[p];
    unsigned char next = p + 1 < s->length ? s->src[p + 1] : 0;
    switch (c) {
    case 'P':
        if (next == '<') {
            scan_named_group(s, start, p + 2);
        } else if (next == '=') {
            reject(s, start, "backreference (?P=name) is not supported (RE2 has no backreferences)");
        } else if (next == '>') {
            reject(s, start, "recursion (?P>name) is not supported by RE2");
        } else {
            reject(s, start, "invalid or unsupported Perl syntax (?P");
        }
        return;
    case '<':
        if (next == '=' || next == '!' || next == '*') {
            reject(s, start, "lookbehind assertion (?<%c is not supported by RE2", next);
        } else {
            scan_named_group(s, start, p + 1);
        }
        return;
    case '=':
    case '!':
    case '*':
        reject(s, start, "lookahead assertion (?%c is not supported by RE2", c);
        return;
    case '>':
        reject(s, start, "atomic group (?> is not supported by RE2");
        return;
    case '(':
        reject(s, start, "conditional group (?( is not supported by RE2");
        return;
    case 'C':
        reject(s, start, "callout (?C is not supported by RE2");
        return;
    case '|':
        reject(s, start, "branch reset group (?| is not supported by RE2");
        return;
    case '#':
        reject(s, start, "comment group (?# is not supported by RE2");
        return;
    case '\'':
        reject(s, start, "named group (?'name' is not supported by RE2 (use (?P<name>...))");
        return;
    case 'R':
    case '&':
    case '+':
        reject(s, start, "recursion or subroutine call (?%c is not supported by RE2", c);
        return;
    default:
        if ((c >= '0' && c <= '9') || (c == '-' && next >= '0' && next <= '9')) {
            reject(s, start, "recursion or subroutine call (?%c is not supported by RE2", c);
            return;
        }
        break;
    }

    /* Flags, as Go's parsePerlFlags reads them. */
    int negated = 0, saw_flag = 0;
    for (; p < s->length; p++) {
        c = s->src[p];
        switch (c) {
        case 'i':
        case 'm':
        case 's':
        case 'U':
            saw_flag = 1;
            continue;
        case '-':
            if (negated) {
                reject(s, start, "invalid or unsupported Perl syntax %.*s", (int)(p + 1 - start),
                       (const char *)s->src + start);
                return;
            }
            negated = 1;
            saw_flag = 0;
            continue;
        case ':':
        case ')':
            if (negated && !saw_flag) {
                reject(s, start, "invalid or unsupported Perl syntax %.*s", (int)(p + 1 - start),
                       (const char *)s->src + start);
                return;
            }
            if (c == ':') {
                open_group(s, start);
                emit(s, s->src + start, p + 1 - start, start);
            } else {
                finish_item(s);
                emit(s, s->src + start, p + 1 - start, start);
                s->item = ITEM_FLAGS;
            }
            s->pos = p + 1;
            return;
        default:
            if (c >= 0x21 && c < 0x7F) {
                reject(s, p, "unsupported flag '%c' in (?...) (RE2 has i, m, s and U)", c);
            } else {
                reject(s, start, "invalid or unsupported Perl syntax (?");
            }
            return;
        }
    }
    reject(s, start, "missing closing parenthesis");
}

/* A backslash outside a class. */
static void scan_escape(scanner *s) {
    size_t start = s->pos;
    if (start + 1 >= s->length) {
        reject(s, start, "trailing backslash at end of expression");
        return;
    }
    unsigned char e = s->src[start + 1];
    switch (e) {
    case 'A':
    case 'z':
    case 'b':
    case 'B':
        begin_item(s, ITEM_ASSERTION);
        emit(s, s->src + start, 2, start);
        s->pos += 2;
        return;
    case 'd':
    case 'D':
    case 'w':
    case 'W':
        begin_item(s, ITEM_ATOM);
        emit(s, s->src + start, 2, start);
        s->pos += 2;
        return;
    case 's':
        begin_item(s, ITEM_ATOM);
        emit_string(s, "[\\t\\n\\f\\r\\x{20}]", start);
        s->pos += 2;
        return;
    case 'S':
        begin_item(s, ITEM_ATOM);
        emit_string(s, "[^\\t\\n\\f\\r\\x{20}]", start);
        s->pos += 2;
        return;
    case 'p':
    case 'P':
        begin_item(s, ITEM_ATOM);
        scan_unicode_class(s);
        return;
    case 'Q': {
        /* Literal text up to \E or the end, one literal per character. */
        size_t p = start + 2;
        size_t end = p;
        while (end < s->length && !(s->src[end] == '\\' && end + 1 < s->length && s->src[end + 1] == 'E')) end++;
        while (p < end) {
            uint32_t c;
            size_t size = utf8_decode(s->src + p, end - p, &c);
            begin_item(s, ITEM_ATOM);
            emit_literal(s, c, p);
            p += size;
        }
        s->pos = end < s->length ? end + 2 : end;
        return;
    }
    default: {
        uint32_t value;
        if (!parse_escape_value(s, 0, &value)) return;
        begin_item(s, ITEM_ATOM);
        emit_literal(s, value, start);
        return;
    }
    }
}

static void scan(scanner *s) {
    while (s->pos < s->length && !s->failed) {
        size_t at = s->pos;
        unsigned char c = s->src[at];
        switch (c) {
        case '\\':
            scan_escape(s);
            break;
        case '[':
            scan_class(s);
            break;
        case '(':
            if (at + 1 < s->length && s->src[at + 1] == '?') {
                scan_group_syntax(s);
            } else if (at + 1 < s->length && s->src[at + 1] == '*') {
                reject(s, at, "PCRE2 verb or option setting (* is not supported by RE2");
            } else {
                open_group(s, at);
                emit(s, "(", 1, at);
                s->pos++;
            }
            break;
        case ')': {
            if (s->depth == 0) {
                reject(s, at, "unexpected closing parenthesis");
                break;
            }
            finish_item(s);
            struct group *group = &s->groups[s->depth--];
            emit(s, ")", 1, at);
            s->item = ITEM_ATOM;
            s->item_out = group->out_offset;
            s->item_weight = group->weight;
            s->pos++;
            break;
        }
        case '|':
            finish_item(s);
            emit(s, "|", 1, at);
            s->pos++;
            break;
        case '^':
        case '$':
            begin_item(s, ITEM_ASSERTION);
            emit(s, &c, 1, at);
            s->pos++;
            break;
        case '*':
            apply_repeat(s, at + 1, 0, 0, -1);
            break;
        case '+':
            apply_repeat(s, at + 1, 0, 1, -1);
            break;
        case '?':
            apply_repeat(s, at + 1, 0, 0, 1);
            break;
        case '{': {
            unsigned long min;
            long max;
            size_t end;
            if (parse_counted_repeat(s, &min, &max, &end)) {
                apply_repeat(s, end, 1, min, max);
            } else {
                begin_item(s, ITEM_ATOM);
                emit(s, "\\{", 2, at);
                s->pos++;
            }
            break;
        }
        default: {
            uint32_t unused;
            size_t size = utf8_decode(s->src + at, s->length - at, &unused);
            begin_item(s, ITEM_ATOM);
            emit(s, s->src + at, size, at);
            s->pos += size;
            break;
        }
        }
    }
    if (!s->failed && s->depth > 0) {
        reject(s, s->groups[s->depth].source_offset, "missing closing parenthesis");
    }
}

/* ---------------------------------------------------------------------------------------------------------------
 * Per-thread match scratch
 */

typedef struct {
    pcre2_match_data *match_data;
    pcre2_jit_stack *jit_stack;
    int jit_stack_attempted;
    unsigned char *buffer;
    size_t buffer_size;
} thread_state;

static _Thread_local thread_state *current_thread_state;
static pthread_key_t thread_state_key;
static pthread_once_t thread_state_key_once = PTHREAD_ONCE_INIT;
static int thread_state_key_created;

static void thread_state_destroy(void *pointer) {
    thread_state *state = pointer;
    if (current_thread_state == state) current_thread_state = NULL;
    pcre2_match_data_free(state->match_data);
    if (state->jit_stack != NULL) pcre2_jit_stack_free(state->jit_stack);
    free(state->buffer);
    free(state);
}

static void thread_state_create_key(void) {
    thread_state_key_created = pthread_key_create(&thread_state_key, thread_state_destroy) == 0;
}

/* This thread's scratch, created on its first match and freed when it exits. */
static thread_state *thread_state_get(void) {
    thread_state *state = current_thread_state;
    if (state != NULL) return state;
    pthread_once(&thread_state_key_once, thread_state_create_key);
    state = calloc(1, sizeof *state);
    if (state == NULL) return NULL;
    /* One ovector pair: the answer is only match or no match. */
    state->match_data = pcre2_match_data_create(1, NULL);
    if (state->match_data == NULL) {
        free(state);
        return NULL;
    }
    if (thread_state_key_created) pthread_setspecific(thread_state_key, state);
    current_thread_state = state;
    return state;
}

/* JIT stack callback, stored in every pattern's (shared, read-only) match context. */
static pcre2_jit_stack *thread_jit_stack(void *unused) {
    (void)unused;
    thread_state *state = current_thread_state;
    return state != NULL ? state->jit_stack : NULL;
}

/*
 * Go reads each byte that does not start a well-formed UTF-8 sequence as U+FFFD; so does the copy made here,
 * from `invalid` on, into the thread's buffer (or a temporary one, set in *temporary, when it is large). The
 * copy is valid UTF-8, which PCRE2 is then told not to check again (and pcre2_jit_match never checks).
 */
static const unsigned char *transcode_invalid_utf8(thread_state *state, const unsigned char *subject,
                                                   size_t length, size_t invalid, size_t *new_length,
                                                   unsigned char **temporary) {
    if (length - invalid > (SIZE_MAX - invalid) / 3) return NULL;
    size_t needed = invalid + 3 * (length - invalid);
    unsigned char *buffer;
    if (needed <= state->buffer_size) {
        buffer = state->buffer;
    } else if (needed <= RETAINED_BUFFER_MAX) {
        size_t size = state->buffer_size ? state->buffer_size : 256;
        while (size < needed) size *= 2;
        buffer = realloc(state->buffer, size);
        if (buffer == NULL) return NULL;
        state->buffer = buffer;
        state->buffer_size = size;
    } else {
        buffer = malloc(needed);
        if (buffer == NULL) return NULL;
        *temporary = buffer;
    }
    memcpy(buffer, subject, invalid);
    size_t in = invalid, out = invalid;
    while (in < length) {
        uint32_t unused;
        size_t size = subject[in] < 0x80 ? 1 : utf8_decode(subject + in, length - in, &unused);
        if (size == 0) {
            buffer[out++] = 0xEF;
            buffer[out++] = 0xBF;
            buffer[out++] = 0xBD;
            in++;
        } else {
            memcpy(buffer + out, subject + in, size);
            in += size;
            out += size;
        }
    }
    *new_length = out;
    return buffer;
}

/* ---------------------------------------------------------------------------------------------------------------
 * API
 */

static void set_error(char *error, size_t error_size, const char *format, ...) __attribute__((format(printf, 3, 4)));

static void set_error(char *error, size_t error_size, const char *format, ...) {
    if (error == NULL || error_size == 0) return;
    va_list arguments;
    va_start(arguments, format);
    vsnprintf(error, error_size, format, arguments);
    va_end(arguments);
}

proxylib_regex *proxylib_regex_compile(const char *pattern, size_t length, char *error, size_t error_size) {
    if (error != NULL && error_size > 0) error[0] = '\0';
    if (pattern == NULL && length > 0) {
        set_error(error, error_size, "no pattern");
        return NULL;
    }
    const unsigned char *source = pattern != NULL ? (const unsigned char *)pattern : (const unsigned char *)"";
    size_t invalid = utf8_first_invalid(source, length);
    if (invalid < length) {
        set_error(error, error_size, "invalid UTF-8 at offset %zu", invalid);
        return NULL;
    }

    scanner *s = calloc(1, sizeof *s);
    if (s == NULL) {
        set_error(error, error_size, "out of memory");
        return NULL;
    }
    s->src = source;
    s->length = length;
    s->error = error;
    s->error_size = error_size;
    s->groups[0].weight = 1;
    reserve(s, length + 16);
    scan(s);

    proxylib_regex *regex = NULL;
    pcre2_compile_context *compile_context = NULL;
    pcre2_code *code = NULL;
    pcre2_match_context *match_context = NULL;
    if (s->failed) goto done;

    compile_context = pcre2_compile_context_create(NULL);
    if (compile_context == NULL) {
        set_error(error, error_size, "out of memory");
        goto done;
    }
    pcre2_set_newline(compile_context, PCRE2_NEWLINE_LF);
    pcre2_set_parens_nest_limit(compile_context, RE2_MAX_NESTING + 1);

    int error_code;
    PCRE2_SIZE error_offset;
    code = pcre2_compile(s->out != NULL ? s->out : (PCRE2_SPTR) "", s->out_length, COMPILE_OPTIONS, &error_code,
                         &error_offset, compile_context);
    if (code == NULL) {
        PCRE2_UCHAR message[256];
        if (pcre2_get_error_message(error_code, message, sizeof message) < 0) {
            snprintf((char *)message, sizeof message, "PCRE2 error %d", error_code);
        }
        size_t offset = error_offset < s->out_length ? s->map[error_offset] : length;
        set_error(error, error_size, "%s at offset %zu", (const char *)message, offset);
        goto done;
    }

    /* The scanner lets no backreference through; make sure. */
    uint32_t backreferences = 0;
    if (pcre2_pattern_info(code, PCRE2_INFO_BACKREFMAX, &backreferences) != 0 || backreferences > 0) {
        set_error(error, error_size, "backreferences are not supported (RE2 has no backreferences) at offset 0");
        goto done;
    }

    match_context = pcre2_match_context_create(NULL);
    if (match_context == NULL) {
        set_error(error, error_size, "out of memory");
        goto done;
    }
    pcre2_set_match_limit(match_context, PROXYLIB_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(match_context, PROXYLIB_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(match_context, HEAP_LIMIT_KIB);

    regex = calloc(1, sizeof *regex);
    if (regex == NULL) {
        set_error(error, error_size, "out of memory");
        goto done;
    }
    /* Without JIT support (or executable memory), the interpreter runs the same pattern. */
    regex->jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
    if (regex->jit) pcre2_jit_stack_assign(match_context, thread_jit_stack, NULL);
    regex->code = code;
    regex->match_context = match_context;
    code = NULL;
    match_context = NULL;

done:
    pcre2_match_context_free(match_context);
    pcre2_code_free(code);
    pcre2_compile_context_free(compile_context);
    free(s->out);
    free(s->map);
    free(s);
    return regex;
}

int proxylib_regex_match(const proxylib_regex *regex, const void *subject, size_t length) {
    if (regex == NULL || (subject == NULL && length > 0)) return PROXYLIB_REGEX_ERROR_INTERNAL;
    const unsigned char *text = subject != NULL ? subject : (const unsigned char *)"";
    thread_state *state = thread_state_get();
    if (state == NULL) return PROXYLIB_REGEX_ERROR_NO_MEMORY;

    unsigned char *temporary = NULL;
    size_t invalid = utf8_first_invalid(text, length);
    if (invalid < length) {
        text = transcode_invalid_utf8(state, text, length, invalid, &length, &temporary);
        if (text == NULL) return PROXYLIB_REGEX_ERROR_NO_MEMORY;
    }

    int rc;
    if (regex->jit) {
        if (state->jit_stack == NULL && !state->jit_stack_attempted) {
            state->jit_stack_attempted = 1;
            /* Without it, JIT code runs on 32 KiB of the machine stack. */
            state->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, JIT_STACK_MAX, NULL);
        }
        rc = pcre2_jit_match(regex->code, text, length, 0, 0, state->match_data, regex->match_context);
    } else {
        rc = pcre2_match(regex->code, text, length, 0, PCRE2_NO_UTF_CHECK, state->match_data,
                         regex->match_context);
    }
    free(temporary);

    /* 0 would mean a match with too small an ovector; still a match. */
    if (rc >= 0) return PROXYLIB_REGEX_MATCH;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return PROXYLIB_REGEX_NO_MATCH;
    case PCRE2_ERROR_MATCHLIMIT:
        return PROXYLIB_REGEX_ERROR_MATCH_LIMIT;
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return PROXYLIB_REGEX_ERROR_DEPTH_LIMIT;
    case PCRE2_ERROR_NOMEMORY:
        return PROXYLIB_REGEX_ERROR_NO_MEMORY;
    default:
        return PROXYLIB_REGEX_ERROR_INTERNAL;
    }
}

void proxylib_regex_free(proxylib_regex *regex) {
    if (regex == NULL) return;
    pcre2_match_context_free(regex->match_context);
    pcre2_code_free(regex->code);
    free(regex);
}

int proxylib_regex_is_jit(const proxylib_regex *regex) { return regex != NULL && regex->jit; }

const char *proxylib_regex_strerror(int code) {
    switch (code) {
    case PROXYLIB_REGEX_MATCH:
        return "match";
    case PROXYLIB_REGEX_NO_MATCH:
        return "no match";
    case PROXYLIB_REGEX_ERROR_MATCH_LIMIT:
        return "match limit exceeded (catastrophic backtracking)";
    case PROXYLIB_REGEX_ERROR_DEPTH_LIMIT:
        return "backtracking depth, heap or JIT stack limit exceeded";
    case PROXYLIB_REGEX_ERROR_NO_MEMORY:
        return "out of memory";
    default:
        return "internal matching error";
    }
}
