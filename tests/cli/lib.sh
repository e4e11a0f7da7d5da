# Helpers for CLI tests: expect_ok / expect_fail run a command and count the outcome.
# expect_fail also checks the error is one line on stderr and stdout is empty.
passed=0; failed=0
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
expect_ok() { # description, command...
  local d=$1; shift
  if "$@" >"$TMP/out" 2>"$TMP/err"; then ok; else bad "$d (exit $?): $(head -c 300 "$TMP/err")"; fi
}
# The whole of an error file (2000 bytes at most), its lines joined by " | ", to see what else was printed.
show_err() { head -c 2000 "$1" | tr '\n' '|' | sed 's/|/ | /g'; }
expect_fail() { # description, pattern the one-line error must contain, command...
  local d=$1 pat=$2; shift 2
  "$@" >"$TMP/out" 2>"$TMP/err"; local rc=$?
  if [[ $rc -eq 0 ]]; then bad "$d: exit 0"; return; fi
  if [[ $rc -ge 128 ]]; then bad "$d: crashed (exit $rc)"; return; fi
  if [[ $(wc -l <"$TMP/err") -ne 1 ]]; then bad "$d: error is not one line: $(show_err "$TMP/err")"; return; fi
  if ! grep -q -- "$pat" "$TMP/err"; then bad "$d: error lacks '$pat': $(cat "$TMP/err")"; return; fi
  if [[ -s $TMP/out ]]; then bad "$d: printed to stdout"; return; fi
  ok
}
report() { echo "$1: $passed passed, $failed failed"; [[ $failed -eq 0 ]]; }
