#!/usr/bin/env bash
# Installs the system packages icl-lab needs on Debian/Ubuntu: a C++ toolchain and oneDNN for the
# native kernels. Uses sudo when not root. Safe to run again.
set -euo pipefail
PKGS=(g++ make python3 libdnnl-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "icl-lab: system packages present (${PKGS[*]})"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "icl-lab: apt-get not found; install these yourself: ${missing[*]} (oneDNN: https://github.com/oneapi-src/oneDNN)" >&2
  exit 1
fi
echo "icl-lab: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
