#!/usr/bin/env bash
# Installs the system packages icl-lab needs on Debian/Ubuntu: a C++ toolchain and oneDNN for the
# native kernels. With --test, also what the tests check against, so that none is skipped:
# PyTorch and NumPy (the cross-checks), Chromium and a font (the dashboard's browser tests) and
# redis-server (the sweep queue tests start their own). Uses sudo when not root. Safe to run again.
set -euo pipefail
PKGS=(g++ make python3 libdnnl-dev)
# libopenblas0-openmp: PyTorch, the benchmark's peer, otherwise runs on the reference BLAS (measured: 3.5 GFLOP/s).
TEST_PKGS=(python3-torch python3-numpy libopenblas0-openmp chromium fonts-dejavu-core redis-server)
with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    -h|--help) echo "usage: bash scripts/install-system.sh [--test]"; exit 0 ;;
    *) echo "icl-lab: unknown option '$arg' (expected --test, or nothing)" >&2; exit 2 ;;
  esac
done
if [ "$with_test" -eq 1 ]; then PKGS+=("${TEST_PKGS[@]}"); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "icl-lab: system packages present (${PKGS[*]})"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "icl-lab: apt-get not found; install these yourself: ${missing[*]} (oneDNN: https://github.com/oneapi-src/oneDNN)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "icl-lab: not root and sudo not found; as root, run: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  SUDO="sudo"
fi
echo "icl-lab: installing ${missing[*]}"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
