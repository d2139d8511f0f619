#!/usr/bin/env bash
# The README's settings tables come from the settings table (src/core/settings.cpp)
# through `kiln config --markdown`. This writes them between the README's
# markers, or with --check fails when the README differs from the table.
#   scripts/readme-settings.sh [--check] [KILN_BIN]
set -euo pipefail
check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
root="$(cd "$(dirname "$0")/.." && pwd)"
kiln="${1:-$root/build/bin/kiln}"
readme="$root/README.md"
tables="$(mktemp)"; out="$(mktemp)"
trap 'rm -f "$tables" "$out"' EXIT
"$kiln" config --markdown > "$tables"
# The server table is everything before the blank line; the presets' after it.
awk -v tables="$tables" '
  BEGIN { part = 1; while ((getline line < tables) > 0) { if (line == "") { part = 2; continue } t[part] = t[part] line "\n" } }
  /<!-- settings:server -->/  { print; printf "%s", t[1]; skip = 1; next }
  /<!-- settings:presets -->/ { print; printf "%s", t[2]; skip = 1; next }
  /<!-- settings:end -->/     { skip = 0 }
  !skip { print }
' "$readme" > "$out"
if [[ $check == 1 ]]; then
  if ! diff -u "$readme" "$out"; then
    echo "README.md's settings tables differ from the settings table: run scripts/readme-settings.sh" >&2
    exit 1
  fi
  echo "README.md's settings tables match the settings table"
else
  cp "$out" "$readme"
fi
