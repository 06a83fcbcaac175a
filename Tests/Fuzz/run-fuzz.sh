#!/usr/bin/env bash
# Runs proxylib-fuzz targets under libFuzzer, one after another, and summarises each run.
#
#   run-fuzz.sh FUZZ-BINARY [--runs N] [--seconds S] [--jobs J] [TARGET...]
#
# Each target starts from its committed seeds (Tests/Fuzz/corpus/TARGET, read only) and grows a working corpus
# in .build-fuzz/corpus/TARGET, kept between runs. A crash, leak, timeout or broken invariant leaves its input in
# .build-fuzz/artifacts/TARGET/ (commit it under Tests/Fuzz/regressions/TARGET/ once fixed). The summary table
# goes to stdout and .build-fuzz/fuzz-report.txt; the exit status is non-zero when any target failed.
set -uo pipefail
binary=$(realpath "$1"); shift
runs=10000000; seconds=0; jobs=1; targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <("$binary" list)
root=$(cd "$(dirname "$0")/../.." && pwd)
work="$root/.build-fuzz"
report="$work/fuzz-report.txt"
mkdir -p "$work"
# Leaks are checked after every input that allocated more than it freed; -rss_limit_mb stops runaway growth.
# The Swift runtime's own crash backtracer would read memory ASan guards after an abort: libFuzzer reports.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$root/Tests/Fuzz/lsan.supp:print_suppressions=0}"
passed=0; failed=0
printf '%-24s %12s %10s %8s %8s %8s  %s\n' target executions exec/s edges features corpus result | tee "$report"
for target in "${targets[@]}"; do
    corpus="$work/corpus/$target"; artifacts="$work/artifacts/$target/"; log="$work/$target.log"
    mkdir -p "$corpus" "$artifacts"
    flags=(-print_final_stats=1 -timeout=10 -rss_limit_mb=4096 -use_value_profile=1 -max_len=8192
           "-artifact_prefix=$artifacts")
    [ -f "$root/Tests/Fuzz/dict/$target.dict" ] && flags+=("-dict=$root/Tests/Fuzz/dict/$target.dict")
    [ "$runs" != 0 ] && flags+=("-runs=$runs")
    [ "$seconds" != 0 ] && flags+=("-max_total_time=$seconds")
    if [ "$jobs" -gt 1 ]; then flags+=("-jobs=$jobs" "-workers=$jobs"); fi
    seeds=("$root/Tests/Fuzz/corpus/$target")
    [ -d "$root/Tests/Fuzz/regressions/$target" ] && seeds+=("$root/Tests/Fuzz/regressions/$target")
    start=$(date +%s)
    (cd "$work" && "$binary" "$target" "${flags[@]}" "$corpus" "${seeds[@]}") >"$log" 2>&1
    status=$?
    elapsed=$(( $(date +%s) - start ))
    # With -jobs, libFuzzer writes each job's output to fuzz-N.log in the working folder.
    [ "$jobs" -gt 1 ] && cat "$work"/fuzz-*.log >> "$log" 2>/dev/null && rm -f "$work"/fuzz-*.log
    execs=$(grep -ah 'stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
    edges=$(grep -aho 'cov: [0-9]*' "$log" | awk '{print $2}' | sort -n | tail -1)
    features=$(grep -aho 'ft: [0-9]*' "$log" | awk '{print $2}' | sort -n | tail -1)
    size=$(find "$corpus" -type f | wc -l)
    rate=$(( elapsed > 0 ? execs / elapsed : execs ))
    if [ $status -eq 0 ] && ! grep -aqE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|invariant broken|SUMMARY: UndefinedBehavior' "$log"; then
        result=ok; passed=$((passed + 1))
    else
        result="FAIL (exit $status, see $log)"; failed=$((failed + 1))
        grep -aE 'invariant broken|ERROR:|SUMMARY:' "$log" | head -5 >&2
    fi
    printf '%-24s %12s %10s %8s %8s %8s  %s\n' "$target" "$execs" "$rate" "${edges:-?}" "${features:-?}" "$size" "$result" | tee -a "$report"
done
echo "$passed passed, $failed failed" | tee -a "$report"
[ $failed -eq 0 ]
