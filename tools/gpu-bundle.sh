#!/usr/bin/env bash
# Prepares .gpu-bundle/ (ignored, at most 60 MiB): what building and testing
# distclust needs that a GPU node's image (CUDA, PyTorch, nvcc, g++, cmake;
# no package access) lacks, for tools/gpu-check.sh to unpack there.
#
#   tools/gpu-bundle.sh            on Debian 12 with package access
#   tools/gpu-bundle.sh --print-packages    the Debian packages it takes files from
#
# .gpu-bundle/deps.tar.xz holds a tree laid out as /:
#   usr/...      the files of Debian 12's packages (dpkg -L, less docs, man
#                pages, Fortran bindings and static archives but GoogleTest's):
#                Open MPI 4.1 (mpirun, orted, wrappers, MCA plugins, PMIx),
#                parallel HDF5 (libhdf5-openmpi-dev), yaml-cpp, CLI11, Eigen,
#                GoogleTest, OpenBLAS (pthread);
#   opt/opencv/  OpenCV 4.6 core, imgproc, imgcodecs built here from Debian's
#                source package with JPEG, PNG, TIFF, WebP and without GDAL,
#                GDCM, OpenEXR: Debian's libopencv-imgcodecs406 pulls libgdal,
#                whose closure alone compresses to ~50 MB; distclust decodes
#                with cv::imdecode and never asks for GDAL;
#   base/        the rest of the DT_NEEDED closure of every ELF file above
#                (libhwloc, libevent, libz, libcurl, ...), less glibc,
#                libstdc++, libgcc_s, libgomp; gpu-check.sh drops each one
#                the device's own ldconfig already knows.
# .gpu-bundle/MANIFEST.txt: package versions, sizes, the base/ libraries.
# Build products are cached in build-bundle/ (OpenCV: 11 min on 2 busy cores; packing 80 s).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/build-bundle"
out="$root/.gpu-bundle"
limit_mib=60
pkgs=(openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev libpmix2 libhdf5-openmpi-103-1 libhdf5-openmpi-dev
      libyaml-cpp0.7 libyaml-cpp-dev libcli11-dev libeigen3-dev libgtest-dev libgmock-dev
      libopenblas0 libopenblas0-pthread libopenblas-dev libopenblas-pthread-dev)
if [[ "${1:-}" == --print-packages ]]; then echo "${pkgs[@]}"; exit 0; fi
export CCACHE_BASEDIR="$root"
[[ -r /etc/debian_version && $(cut -d. -f1 /etc/debian_version) == 12 ]] ||
  { echo "gpu-bundle: needs Debian 12 (its packages are what the bundle holds)" >&2; exit 1; }
"$root/tools/setup-debian.sh"
mkdir -p "$work/src"

# --- OpenCV core/imgproc/imgcodecs from Debian's source package.
ocv="$work/opencv-install"
if [[ ! -e "$ocv/lib/libopencv_imgcodecs.so" ]]; then
  src="$work/src/opencv-4.6.0"
  if [[ ! -d "$src" ]]; then
    apt_dir=$(mktemp -d)
    # The source list outside the lists folder: apt-get update deletes every
    # file there that is not an index it fetched (it took the list with it).
    mkdir -p "$apt_dir/lists/partial"
    printf 'deb-src http://deb.debian.org/debian bookworm main\n' > "$apt_dir/sources.list"
    o=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_dir/lists")
    apt-get "${o[@]}" update -qq
    (cd "$work/src" && apt-get "${o[@]}" source --download-only opencv=4.6.0+dfsg-12)
    tar xf "$work/src/opencv_4.6.0+dfsg.orig.tar.xz" -C "$work/src"
    tar xf "$work/src/opencv_4.6.0+dfsg-12.debian.tar.xz" -C "$src"
    # Debian's patches that apply to the main tree (the others are contrib's).
    for p in $(grep -v '^#' "$src/debian/patches/series"); do
      patch -d "$src" -p1 -s -N --dry-run < "$src/debian/patches/$p" >/dev/null 2>&1 &&
        patch -d "$src" -p1 -s -N < "$src/debian/patches/$p"
    done
  fi
  off=(IPP ITT ADE CAROTENE OPENCL CUDA EIGEN LAPACK TBB OPENMP GDAL GDCM OPENEXR JASPER OPENJPEG FFMPEG GSTREAMER
       GTK V4L 1394 GPHOTO2 OPENGL QT VA VA_INTEL PROTOBUF QUIRC)
  off_args=()
  for w in "${off[@]}"; do off_args+=("-DWITH_$w=OFF"); done
  cmake -S "$src" -B "$work/ocv-build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$ocv" \
    -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_LIST=core,imgproc,imgcodecs -DBUILD_SHARED_LIBS=ON -DBUILD_TESTS=OFF \
    -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_opencv_apps=OFF -DBUILD_JAVA=OFF -DBUILD_opencv_python3=OFF \
    -DBUILD_INFO_SKIP_TIMESTAMP=ON -DENABLE_PRECOMPILED_HEADERS=OFF -DOPENCV_GENERATE_PKGCONFIG=OFF \
    -DOPENCV_DOWNLOAD_TRIES_LIST= "${off_args[@]}" \
    -DWITH_JPEG=ON -DWITH_PNG=ON -DWITH_TIFF=ON -DWITH_WEBP=ON \
    -DBUILD_JPEG=OFF -DBUILD_PNG=OFF -DBUILD_TIFF=OFF -DBUILD_WEBP=OFF -DBUILD_ZLIB=OFF \
    -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache > "$work/ocv-configure.log"
  cmake --build "$work/ocv-build" -j "$(nproc)"
  cmake --install "$work/ocv-build" > /dev/null
fi

# --- Stage, pack, check the size.
stage="$work/stage"
rm -rf "$stage" "$out"
mkdir -p "$stage" "$out"
echo "gpu-bundle: staged (uncompressed):"
/usr/bin/python3 "$root/tools/gpu_bundle_stage.py" "$stage" "$ocv" "${pkgs[@]}" | tee "$out/MANIFEST.txt"
tar cf - -C "$stage" . | xz -T"$(nproc)" -6 > "$out/deps.tar.xz.tmp"
mv "$out/deps.tar.xz.tmp" "$out/deps.tar.xz"
{
  echo "built $(date -u +%FT%TZ) on $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -m)"
  dpkg-query -W -f='${Package} ${Version}\n' "${pkgs[@]}"
  echo "opencv 4.6.0+dfsg-12 (source), modules core imgproc imgcodecs"
} >> "$out/MANIFEST.txt"
bytes=$(du -cb "$out" | tail -1 | cut -f1)
mib=$((bytes / 1048576))
echo "gpu-bundle: $out: $mib MiB ($bytes bytes)"
if ((bytes > limit_mib * 1048576)); then
  echo "gpu-bundle: over the $limit_mib MiB limit" >&2
  exit 1
fi
