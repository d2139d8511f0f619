#!/usr/bin/env bash
# `kiln list` and `kiln show` over 200 models (issue 4: both under 300 ms).
# The models are hard links to one generated GGUF under 200 org/repo names,
# so the catalog sees 200 files without 200 copies on disk. Prints the first
# (cold: every GGUF header read once) and the median of later runs (warm:
# metadata from the catalog's cache).
#
# Env: BUILD_DIR, N (200), REPS (7).
set -euo pipefail

# shellcheck source=common.sh
. "$(dirname "$0")/common.sh"
n=${N:-200}
reps=${REPS:-7}
require_bins kiln kiln-make-model
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export KILN_HOME=$work/home

"$bin/kiln-make-model" --arch llama --vocab llama-spm --n-embd 64 --n-layer 2 --n-head 4 --n-head-kv 2 --n-ff 128 \
  --ctx 2048 --type q8_0 --seed 1 -o "$work/model.gguf" >/dev/null
for i in $(seq -w 1 "$n"); do
  mkdir -p "$KILN_HOME/models/org$i/Model$i-GGUF"
  ln "$work/model.gguf" "$KILN_HOME/models/org$i/Model$i-GGUF/model$i-Q8_0.gguf"
done

ms() {  # ms CMD...: wall milliseconds of one run, output discarded
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

cold_list=$(ms "$bin/kiln" list)
[ "$("$bin/kiln" list --json | grep -c '"name": "org')" -eq "$n" ] || { echo "catalog.sh: expected $n models" >&2; exit 1; }
warm_list=$(for _ in $(seq "$reps"); do ms "$bin/kiln" list; done | median)
warm_show=$(for _ in $(seq "$reps"); do ms "$bin/kiln" show "org100/Model100-GGUF"; done | median)
warm_short=$(for _ in $(seq "$reps"); do ms "$bin/kiln" show "Model100-GGUF"; done | median)

printf '%-40s %8s %8s\n' "$n models" "ms" "target"
printf '%-40s %8s %8s\n' "kiln list (cold: headers read)" "$cold_list" "-"
printf '%-40s %8s %8s\n' "kiln list (warm)" "$warm_list" "< 300"
printf '%-40s %8s %8s\n' "kiln show org/repo (warm)" "$warm_show" "< 300"
printf '%-40s %8s %8s\n' "kiln show repo (short name, warm)" "$warm_short" "< 300"
