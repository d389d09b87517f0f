# Sourced by the example suites: check NAME COMMAND... counts one check, passed when COMMAND
# succeeds; the suite ends with `echo "$passed passed, $failed failed"`.
passed=0
failed=0

check() {
  check_name=$1 # not `name`: the suites' loops use that
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok   $check_name"
  else
    failed=$((failed + 1))
    echo "FAIL $check_name"
  fi
}
