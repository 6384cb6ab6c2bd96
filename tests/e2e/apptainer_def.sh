#!/usr/bin/env bash
# apptainer/distclust.def, without Apptainer (not packaged for Debian 12):
#  - its header and sections are there; %files copies every top folder the
#    CMake project reads (CMakeLists outside tests/), from the repository root;
#  - %post runs only the scripts CI runs (tools/setup-debian.sh, the one
#    package list; tools/build.sh, portable and without tests; cmake --install
#    to /usr/local), no apt-get of its own;
#  - this build, installed with `cmake --install` to the def's prefix (moved
#    under this folder), passes the def's %test and %runscript;
#  - DC_APPTAINER_POST=1 (several minutes the first time: a full portable
#    build, ccache after that): %files copied as Apptainer copies them and
#    %post run verbatim with /opt, /usr/local and /tmp moved under this
#    folder; the binary it installs passes %test and has no AVX instructions.
source "$(dirname "$0")/lib.sh"
def="$DC_SOURCE/apptainer/distclust.def"
[[ -f $def ]] || fail "no $def"
# Split the def: header.txt, then one file per %section (its body, indented lines).
$PY - "$def" <<'PY'
import re, sys
cur, out = "header", {"header": []}
for line in open(sys.argv[1]):
    m = re.match(r"%(\w+)", line)
    if m:
        cur = m.group(1); out.setdefault(cur, []); continue
    out[cur].append(line)
for name, lines in out.items():
    open(f"{name}.txt", "w").write("".join(lines))
PY
grep -qx "Bootstrap: docker" header.txt && grep -qx "From: debian:12" header.txt || fail "header is not Bootstrap: docker / From: debian:12"
for s in labels help files post environment runscript test; do
  [[ -s $s.txt ]] || fail "the def has no %$s section"
done

# %files: SOURCE DEST pairs, sources relative to the repository root.
src_dir=/opt/distclust/src
while read -r from to; do
  [[ -z $from || $from == \#* ]] && continue
  [[ -e $DC_SOURCE/$from ]] || fail "%files: $from does not exist in the repository"
  [[ $to == "$src_dir/$from" ]] || fail "%files: $from goes to $to, not $src_dir/$from"
  echo "$from" >> copied.txt
done < files.txt
# Every top folder or file the CMake project names (tests/ off in the image).
needed=$(cd "$DC_SOURCE" && {
  find . -name CMakeLists.txt -not -path "./tests/*" -not -path "./build*" |
    xargs grep -ohE 'CMAKE_SOURCE_DIR\}/[A-Za-z0-9_.-]+' | sed 's|.*}/||'
  grep -oE '^add_subdirectory\([a-z]+\)' CMakeLists.txt | sed 's/add_subdirectory(\(.*\))/\1/'
  echo CMakeLists.txt; } | sort -u)
for n in $needed; do
  grep -qx "$n" copied.txt || fail "%files does not copy $n, which the CMake project reads"
done

# %post: the scripts CI runs, nothing else installs packages.
grep -q "bash $src_dir/tools/setup-debian.sh" post.txt || fail "%post does not run tools/setup-debian.sh"
grep -q "bash $src_dir/tools/build.sh .*-DDISTCLUST_NATIVE=OFF" post.txt || fail "%post does not build portable with tools/build.sh"
grep -q -- "-DDISTCLUST_BUILD_TESTS=OFF" post.txt || fail "%post builds the tests"
grep -Eq "\b(apt-get|apt|dpkg|pip3?) " post.txt && fail "%post installs packages itself (the list is tools/setup-debian.sh's)"
prefix=$(grep -oE "cmake --install [^ ]+ --prefix [^ ]+" post.txt | awk '{print $5}')
[[ $prefix == /usr/local ]] || fail "%post installs to '$prefix', not /usr/local"
build_dir=$(grep -oE "DISTCLUST_BUILD_DIR=[^ ]+" post.txt | cut -d= -f2)
grep -q "cmake --install $build_dir --prefix" post.txt || fail "%post installs from another folder than it builds in"

# %test and %runscript against this build installed as %post installs it.
R=$PWD/root
move() { sed -e "s|/usr/local|$R/usr/local|g" -e "s|$src_dir|$R$src_dir|g" -e "s|$build_dir|$R$build_dir|g" "$@"; }
check_image() {  # the installed tree under $R/usr/local passes %test and %runscript
  [[ -x $R/usr/local/bin/distclust-rank && -x $R/usr/local/bin/distclust-mpirun ]] || fail "launchers not installed"
  [[ -e $R/usr/local/lib/distclust/libdistclust_torch.so ]] || fail "LibTorch plugin not installed"
  move test.txt > test.sh
  (cd "$R" && /bin/sh "$OLDPWD/test.sh") > test.log 2>&1 || { cat test.log; fail "%test failed"; }
  grep -q "^distclust [0-9]" test.log && grep -q "ACC 1.0000" test.log || { cat test.log; fail "%test output"; }
  move runscript.txt > runscript.sh
  version=$(/bin/sh runscript.sh --version)
  grep -q "project(distclust VERSION ${version#distclust } " "$DC_SOURCE/CMakeLists.txt" || fail "runscript --version: $version"
}
build=$(dirname "$(dirname "$(dirname "$DC")")")  # build/src/cli/distclust -> build
cmake --install "$build" --prefix "$R/usr/local" > install.log
check_image
pass "apptainer def: header, %files cover the CMake project, %post runs CI's scripts; installed to $prefix it passes %test ($version)"

[[ ${DC_APPTAINER_POST:-0} == 1 ]] || exit 0
rm -rf "$R"
while read -r from to; do  # as Apptainer copies: cp -fLr, parents made
  [[ -z $from || $from == \#* ]] && continue
  mkdir -p "$(dirname "$R$to")" && cp -fLr "$DC_SOURCE/$from" "$R$to"
done < files.txt
mkdir -p "$R/tmp"
# ccache kept (the image disables it): a rerun of this test then takes a minute.
move post.txt | sed 's/CCACHE_DISABLE=1 //' > post.sh
/bin/sh post.sh > post.log 2>&1 || { tail -30 post.log; fail "%post failed"; }
[[ ! -e $R$build_dir ]] || fail "%post left its build folder"
check_image
zmm=$(objdump -d --no-show-raw-insn "$R/usr/local/bin/distclust" | grep -cE "%[yz]mm" || true)
[[ $zmm == 0 ]] || fail "the portable binary has $zmm AVX/AVX-512 instructions"
pass "apptainer %post run verbatim: portable build (no AVX instructions) installed to $prefix passes %test"
