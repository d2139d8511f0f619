#!/usr/bin/env bash
# Prints the sanitizer reports a sanitized test run left in DIR (one file
# per process that reported) and fails if there is any.
set -euo pipefail
dir=${1:?usage: sanitizer-reports.sh DIR}
shopt -s nullglob
reports=("$dir"/*)
if [ ${#reports[@]} -eq 0 ]; then
  echo "sanitizer-reports: 0 reports"
  exit 0
fi
for f in "${reports[@]}"; do
  echo "=== $f"
  head -c 20000 "$f"
done
echo "sanitizer-reports: ${#reports[@]} report file(s) in $dir" >&2
exit 1
