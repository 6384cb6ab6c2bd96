#!/usr/bin/env python3
"""Stages the files of tools/gpu-bundle.sh into STAGE (a tree laid out as /):

  python3 tools/gpu_bundle_stage.py STAGE OPENCV_PREFIX PKG...

1. every file of the installed Debian packages PKG (dpkg -L), less docs,
   man pages and Fortran bindings; symbolic links are kept, made relative
   (Debian's alternatives, /etc/alternatives/..., become links to the file);
2. the minimal OpenCV (core, imgproc, imgcodecs) installed in OPENCV_PREFIX,
   as STAGE/opt/opencv;
3. the DT_NEEDED closure of every ELF file staged (ldd on this machine),
   less what every Linux with a C++ compiler has (glibc, libstdc++,
   libgcc_s, libgomp), into STAGE/base/: libraries a device may also have;
   gpu-check.sh drops each one whose soname the device's ldconfig knows.
Prints the staged bytes per part.
"""
import os
import shutil
import subprocess
import sys

SKIP = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/lintian/", "/usr/lib/x86_64-linux-gnu/fortran/")
SKIP_NAMES = ("mpif", "usempi", "fortran", "h5pfc", "h5fc", "mpifort", "_fortran", "oshfort", "shmemfort")
# Present on every glibc Linux with g++ (libgomp: gcc's OpenMP runtime).
SYSTEM = ("libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libresolv.so.2",
          "libutil.so.1", "ld-linux-x86-64.so.2", "libstdc++.so.6", "libgcc_s.so.1", "libgomp.so.1",
          "linux-vdso.so.1")


def stage_path(stage, path):
    return os.path.join(stage, path.lstrip("/"))


def copy_one(stage, path):
    """Copies path (file or link) into stage; links become relative links."""
    dst = stage_path(stage, path)
    if os.path.lexists(dst) or os.path.isdir(path) and not os.path.islink(path):
        if os.path.isdir(path) and not os.path.islink(path):
            os.makedirs(dst, exist_ok=True)
        return
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.islink(path):
        target = os.path.realpath(path)
        if not os.path.exists(target):
            return
        copy_one(stage, target)
        os.symlink(os.path.relpath(stage_path(stage, target), os.path.dirname(dst)), dst)
    else:
        shutil.copy2(path, dst)


def package_files(pkg):
    out = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=True).stdout.split("\n")
    keep = []
    for f in out:
        name = os.path.basename(f)
        if not f or f == "/." or f.startswith(SKIP) or any(s in name for s in SKIP_NAMES):
            continue
        # Static archives (distclust links shared ones) but GoogleTest's, and
        # OpenBLAS' BLAS/LAPACK alternatives (distclust links libopenblas).
        if name.endswith(".a") and not name.startswith(("libgtest", "libgmock")):
            continue
        if "/openblas-pthread/" in f and name.startswith(("liblapack", "libblas")):
            continue
        if os.path.isfile(f) or os.path.islink(f):
            keep.append(f)
    return keep


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def closure(stage, lib_dirs):
    """Host libraries the staged ELF files need that are neither staged nor SYSTEM."""
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(lib_dirs))
    need = {}
    for root, _, files in os.walk(stage):
        for name in files:
            p = os.path.join(root, name)
            if os.path.islink(p) or not is_elf(p):
                continue
            out = subprocess.run(["ldd", p], capture_output=True, text=True, env=env).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 3 and parts[1] == "=>" and parts[2].startswith("/"):
                    soname, path = parts[0], parts[2]
                    if soname in SYSTEM or os.path.realpath(path).startswith(stage):
                        continue
                    need[soname] = os.path.realpath(path)
                elif "not found" in line and not p.endswith(".a"):
                    print(f"gpu-bundle: {p}: {line.strip()}", file=sys.stderr)
    return need


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def main():
    stage, opencv, pkgs = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]
    for pkg in pkgs:
        for f in package_files(pkg):
            copy_one(stage, f)
    shutil.copytree(opencv, os.path.join(stage, "opt/opencv"), symlinks=True, dirs_exist_ok=True)
    # Debian's alternatives name the MPI and HDF5 wrappers plainly: mpicc, h5pcc, ...
    bindir = stage_path(stage, "/usr/bin")
    for name in os.listdir(bindir):
        if name.endswith(".openmpi") and not os.path.lexists(os.path.join(bindir, name[:-8])):
            os.symlink(name, os.path.join(bindir, name[:-8]))
    # h5pcc is a shell script with prefix="/usr" written in: make it the
    # folder above the script's, wherever the bundle is unpacked (and run it
    # with HDF5_USE_SHLIB=yes: static archives are not bundled).
    for name in ("h5pcc.openmpi", "h5c++.openmpi"):
        p = os.path.join(bindir, name)
        if os.path.isfile(p):
            text = open(p).read().replace('prefix="/usr"', 'prefix="$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)"', 1)
            # The libraries a static libhdf5.a needs (-lcurl -lcrypto -lsz -lz):
            # the bundle has the shared libhdf5 only, which names them itself,
            # and a machine without their -dev packages has no libcurl.so.
            text = text.replace('H5BLD_LIBS="-lcrypto -lcurl -lsz -lz -ldl -lm "', 'H5BLD_LIBS="-ldl -lm "', 1)
            open(p, "w").write(text)
    lib_dirs = [stage_path(stage, d) for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu/openmpi/lib",
                                              "/usr/lib/x86_64-linux-gnu/openblas-pthread")]
    lib_dirs.append(os.path.join(stage, "opt/opencv/lib"))
    base = os.path.join(stage, "base")
    os.makedirs(base, exist_ok=True)
    for soname, path in sorted(closure(stage, lib_dirs).items()):
        shutil.copy2(path, os.path.join(base, soname))
    for part in ("usr/include", "usr/lib", "usr/bin", "usr/share", "opt/opencv", "base"):
        print(f"  {part:20s} {du(os.path.join(stage, part)) / 1048576:8.1f} MiB")
    print("  base/: " + " ".join(sorted(os.listdir(base))))


if __name__ == "__main__":
    main()
