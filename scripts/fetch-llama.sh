#!/usr/bin/env bash
# Fetches the pinned llama.cpp source (deps/llama.cpp.env) into a cache
# outside the work tree and prints its path on the last line of stdout.
#
# npm fetches node-llama-cpp and checks its integrity; we check the tarball
# against the pinned integrity again (a registry mirror could serve another
# one) and the bundle against its sha256, then clone the bundle. The clone is
# made beside its final place and renamed into it, so an interrupted run never
# leaves a half-cloned tree that a later build would trust.
#
# The patches in deps/patches/ (fixes written to go upstream) are applied to
# the verified clone, in name order. The tree's .kiln-verified holds a hash of
# them; when the patches change, the tree is made again beside it and swapped
# in. Its path stays the same, so ccache still knows every file no patch
# touches (paths are part of what it hashes).
#
# Env: KILN_DEPS_DIR (default ${XDG_CACHE_HOME:-~/.cache}/kiln/deps).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../deps/llama.cpp.env
. "$here/deps/llama.cpp.env"

deps=${KILN_DEPS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kiln/deps}
src="$deps/llama.cpp-${NODE_LLAMA_CPP_VERSION}-${LLAMA_BUNDLE_SHA256:0:12}"
patches=()
for p in "$here"/deps/patches/*.patch; do [ -f "$p" ] && patches+=("$p"); done
stamp="patches $( { [ ${#patches[@]} -eq 0 ] || cat "${patches[@]}"; } | sha256sum | cut -c1-16)"

log() { echo "fetch-llama: $*" >&2; }
die() { log "error: $*"; exit 1; }

if [ -f "$src/.kiln-verified" ] && [ "$(cat "$src/.kiln-verified")" = "$stamp" ]; then
  echo "$src"
  exit 0
fi

command -v npm >/dev/null || die "npm is required (run scripts/install-deps.sh)"
command -v git >/dev/null || die "git is required (run scripts/install-deps.sh)"
mkdir -p "$deps"
work=$(mktemp -d "$deps/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

tgz="$deps/node-llama-cpp-${NODE_LLAMA_CPP_VERSION}.tgz"
if [ ! -f "$tgz" ]; then
  log "downloading node-llama-cpp@${NODE_LLAMA_CPP_VERSION} with npm"
  (cd "$work" && npm pack --silent "node-llama-cpp@${NODE_LLAMA_CPP_VERSION}" >/dev/null) \
    || die "npm pack node-llama-cpp@${NODE_LLAMA_CPP_VERSION} failed"
  mv "$work/node-llama-cpp-${NODE_LLAMA_CPP_VERSION}.tgz" "$tgz"
fi

integrity="sha512-$(node -e '
  const h = require("crypto").createHash("sha512");
  require("fs").createReadStream(process.argv[1]).on("data", d => h.update(d))
    .on("end", () => process.stdout.write(h.digest("base64")));' "$tgz")"
if [ "$integrity" != "$NODE_LLAMA_CPP_INTEGRITY" ]; then
  rm -f "$tgz"
  die "node-llama-cpp tarball integrity mismatch: got $integrity, pinned $NODE_LLAMA_CPP_INTEGRITY"
fi

tar -xzf "$tgz" -C "$work" package/llama/gitRelease.bundle
bundle="$work/package/llama/gitRelease.bundle"
sum=$(sha256sum "$bundle" | cut -d' ' -f1)
[ "$sum" = "$LLAMA_BUNDLE_SHA256" ] || die "gitRelease.bundle sha256 mismatch: got $sum, pinned $LLAMA_BUNDLE_SHA256"

log "cloning llama.cpp into $src"
git -c advice.detachedHead=false clone --quiet "$bundle" "$work/llama.cpp"
for p in "${patches[@]}"; do
  log "applying $(basename "$p")"
  git -C "$work/llama.cpp" apply "$p" || die "patch $(basename "$p") does not apply"
done
echo "$stamp" >"$work/llama.cpp/.kiln-verified"
# swap: the old tree (if any) goes aside first, then the new one in
if [ -e "$src" ]; then mv "$src" "$work/old"; fi
mv "$work/llama.cpp" "$src"
echo "$src"
