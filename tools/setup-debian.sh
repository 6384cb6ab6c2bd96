#!/usr/bin/env bash
# Installs what distclust needs from Debian packages, only what is missing.
# Usage: tools/setup-debian.sh [--test]   (--test adds the Python reference tools)
set -euo pipefail

pkgs=(build-essential cmake ccache pkg-config
      openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
      libeigen3-dev libgtest-dev libyaml-cpp-dev libcli11-dev
      libopencv-dev libopenblas-dev libtorch-dev)
if [[ "${1:-}" == "--test" ]]; then
  # Reference implementations the tests compare against.
  pkgs+=(python3 python3-numpy python3-h5py python3-sklearn python3-scipy python3-faiss python3-pil chromium
        python3-torch python3-torchvision
        strace)  # strace: races the tests reproduce by holding a job at one system call
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all Debian packages present"
fi
