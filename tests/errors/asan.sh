#!/bin/sh
# The same tests against the analyzer built with AddressSanitizer and UBSan (halting on the first
# report, leaks included): every bad input must fail cleanly, not just with the right words.
cd "$(dirname "$0")/../.." || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  exec python3 tests/errors/test_errors.py build/asan/tracemalloc build/tests/errors-asan
