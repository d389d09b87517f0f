#!/bin/sh
# Runs each test suite given as an argument (a program or a script), shows its output, and adds
# up what each one reports: cmocka's "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" lines,
# or a plain "N passed, N failed" line. A suite that crashes or exits non-zero without reporting
# a failure counts as one failure. The last line is the total: "N passed, N failed".
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for suite in "$@"; do
  echo "== $suite"
  $suite >"$log" 2>&1
  status=$?
  cat "$log"
  p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p; s/^\([0-9]*\) passed, [0-9]* failed.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p; s/^[0-9]* passed, \([0-9]*\) failed.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "** $suite exited with status $status"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
