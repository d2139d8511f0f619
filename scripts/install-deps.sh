#!/usr/bin/env bash
# Installs the Debian packages kiln needs to build and test. Idempotent: it
# asks apt only for what is missing, so a second run costs a dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache git pkg-config ca-certificates
  libcurl4-openssl-dev libssl-dev libsqlite3-dev libtomlplusplus-dev libcli11-dev libutf8proc-dev
  libedit-dev libfmt-dev libgtest-dev googletest
  curl tmux
  clang-14 libclang-rt-14-dev
)
# Node.js and npm run the client tests. A machine may have them from another
# source (nodesource's nodejs bundles npm), so ask for Debian's only if absent.
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} Debian packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
