#!/usr/bin/env bash
# Proves on the Debian machine that made .gpu-bundle that the bundle is
# complete: runs tools/gpu-check.sh --no-gpu in a private mount namespace
# (unshare, as root) in which every file of the bundled Debian packages and
# of Debian's OpenCV is covered by an empty file, as are ssh and xz. A
# configure, link or run step that still reached the machine's own copy
# (not the bundle's) fails.
# Other processes on the machine see nothing of it.
#
#   PYTHON=.venv-cuda/bin/python3 tools/gpu-bundle-verify.sh
#
# PYTHON: a python3 with a CUDA torch, numpy, h5py, PIL and torchvision,
# standing in for the GPU node's (tools/build-cuda.sh's venv plus those).
# Env as gpu-check.sh; LIMIT_SCALE defaults to 8 and BUDGET to 3600 here
# (a cold build on a small machine). Not part of tools/test.sh: it needs
# root, the bundle, the venv and ~10 minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[[ $(id -u) == 0 ]] || { echo "gpu-bundle-verify: needs root (unshare -m, mount --bind)" >&2; exit 1; }
[[ -s $root/.gpu-bundle/deps.tar.xz ]] || { echo "gpu-bundle-verify: run tools/gpu-bundle.sh first" >&2; exit 1; }
pkgs=$("$root/tools/gpu-bundle.sh" --print-packages)
pkgs+=" libopencv-dev libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev"
pkgs+=" libopencv-core406 libopencv-imgproc406 libopencv-imgcodecs406"
# Tools a bare GPU image may lack and gpu-check works without: ssh/rsh (Open
# MPI's local launch; gpu-check sets plm_rsh_agent) and xz (Python unpacks).
pkgs+=" openssh-client rsh-client xz-utils"
hide="$(mktemp)"
for p in $pkgs; do
  dpkg-query -W "$p" > /dev/null 2>&1 || continue
  dpkg -L "$p" | while read -r f; do if [[ -f $f ]]; then echo "$f"; fi; done
done | sort -u > "$hide"
echo "gpu-bundle-verify: hiding $(wc -l < "$hide") files of: $pkgs"
export LIMIT_SCALE=${LIMIT_SCALE:-8} BUDGET=${BUDGET:-3600} HIDE_LIST="$hide"
unshare -m --propagation private bash -c '
  while read -r f; do mount --bind /dev/null "$f"; done < "$HIDE_LIST"
  [[ ! -s /usr/include/eigen3/Eigen/Core && ! -s /usr/include/yaml-cpp/yaml.h ]] || { echo "hiding failed"; exit 1; }
  exec "$0" --no-gpu' "$root/tools/gpu-check.sh"
