#!/usr/bin/env bash
# Bad input to extract: each case exits non-zero within seconds with an
# error that names the file and, for models, the shape; no output is left.
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
cifar="$shared/data/cifar10-test1k"
mkdir emptydir notimages && echo hi > notimages/readme.txt
: > empty.txt
echo "not a model" > bad.pt && cp "$shared/models/cifar10-resnet20.json" bad.json
$PY - <<'PY'
import json, shutil, torch
class Flat(torch.nn.Module):
    def forward(self, x):
        return x.flatten()
class Tokens(torch.nn.Module):
    def forward(self, x):
        return x.flatten(2).transpose(1, 2)  # [B, L, C]
class Pair(torch.nn.Module):
    def forward(self, x):
        return x.mean((2, 3)), x
for name, m in [("flat", Flat()), ("tokens", Tokens()), ("pair", Pair())]:
    torch.jit.save(torch.jit.trace(m, torch.zeros(2, 3, 32, 32)), f"{name}.pt")
    json.dump({"input_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3}, open(f"{name}.json", "w"))
torch.jit.save(torch.jit.trace(Tokens(), torch.zeros(2, 3, 32, 32)), "nosidecar.pt")
# NaN for images whose red mean is high; 1e5-scale features (fine in float32,
# Inf in float16); a sidecar that names another model's output size; an
# input size that wrapped to 32 in a cast to int.
class SomeNaN(torch.nn.Module):
    def forward(self, x):
        m = x.mean((2, 3))
        return torch.where(m[:, :1] > 0.0, m * float("nan"), m)
class Big(torch.nn.Module):
    def forward(self, x):
        return x.mean((2, 3)) * 1e5 + 1e5
side = {"input_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3}
for name, m in [("somenan", SomeNaN()), ("big", Big()), ("otherdim", Big()), ("wrap", Big())]:
    torch.jit.save(torch.jit.trace(m, torch.zeros(2, 3, 32, 32)), f"{name}.pt")
    json.dump(side, open(f"{name}.json", "w"))
json.dump(dict(side, output_dim=512), open("otherdim.json", "w"))
json.dump(dict(side, input_size=4294967328), open("wrap.json", "w"))
PY
n=0
check() {  # check NP "expected message" args...
  local np=$1 msg=$2; shift 2
  n=$((n + 1))
  rm -f out.h5 out.h5.tmp
  local launch=($DC_MPIEXEC -n "$np")
  ((np > 1)) || launch=()  # alone, as users run it without mpirun (and faster than mpiexec's exit path)
  if timeout "${check_timeout:-60}" "${launch[@]}" "$DC" extract "$@" --out out.h5 >out.txt 2>&1; then
    cat out.txt; fail "case $n ($*) succeeded, expected an error with: $msg"
  fi
  grep -qF -- "$msg" out.txt || { cat out.txt; fail "case $n ($*): message lacks '$msg'"; }
  [[ ! -e out.h5 ]] || fail "case $n: out.h5 written despite the error"
  echo "ok $n: $(grep -m1 -F -- "$msg" out.txt | cut -c1-220)"
}
m=(--backbone "$shared/models/cifar10-resnet20.pt")
check 1 "source path nope/imgs does not exist" --source nope/imgs "${m[@]}"
check 2 "folder source emptydir: no image files" --source emptydir "${m[@]}"
check 2 "folder source notimages: no image files" --source notimages "${m[@]}"
check 1 "empty.txt" --source empty.txt "${m[@]}"
check 1 "model file missing.pt does not exist" --source "$cifar" --backbone missing.pt
check 2 "cannot load TorchScript model bad.pt" --source "$cifar" --backbone bad.pt
check 1 "model flat.pt output is [6144] for input [2, 3, 32, 32]; expected [B, D] or [B, C, H, W]" \
  --source "$cifar" --backbone flat.pt
check 1 "model tokens.pt output is [2, 1024, 3]" --source "$cifar" --backbone tokens.pt
check 1 "model pair.pt returned a Tuple" --source "$cifar" --backbone pair.pt
check 1 "has no sidecar nosidecar.json" --source "$cifar" --backbone nosidecar.pt
check 1 "extract.pca_dim is 5000 but the pixels backbone gives 3072 values" --source "$cifar" --backbone pixels \
  --pca-dim 5000
check 1 "extract.pca_sample is 20000000 (expected 2..10000000)" --source "$cifar" --backbone pixels --pca-dim 8 \
  --pca-sample 20000000
check 1 "extract: no backbone given" --source "$cifar"
check 1 "extract.device is cuda but this LibTorch has no CUDA" --source "$cifar" "${m[@]}" --device cuda
check 1 "extract.device is cuda:1 but this LibTorch has no CUDA" --source "$cifar" "${m[@]}" --device cuda:1
check 1 "extract.device is 'cuda:x' (expected auto|cpu|cuda|cuda:N)" --source "$cifar" "${m[@]}" --device cuda:x
check 1 "extract.batch is 0" --source "$cifar" "${m[@]}" --batch 0
check 1 "otherdim.json: output_dim is 512 but otherdim.pt gives 3 values per image" --source "$cifar" --backbone otherdim.pt
check 1 "wrap.json: key 'input_size' is 4.29497e+09 (expected an integer in [1, 32768])" --source "$cifar" --backbone wrap.pt
# A huge input size ended in a bare "std::bad_alloc" (or 7 GB of RSS first).
check 1 "extract.crop is 40000 (expected 0..32768" --source "$cifar" "${m[@]}" --crop 40000
check 1 "images of 3 x 30000 x 30000 floats (extract.batch, extract.queue_batches, the model's input size) would need" \
  --source "$cifar" "${m[@]}" --crop 30000
# A FIFO or a device in the model's or the sidecar's place hung extract
# forever (a link to /dev/zero grew to GBs): refused at once, saying what it is.
mkdir fifo-side fifo-model zero-side dir-side big-side
cp "$shared/models/cifar10-resnet20.pt" fifo-side/m.pt && mkfifo fifo-side/m.json
mkfifo fifo-model/m.pt && cp "$shared/models/cifar10-resnet20.json" fifo-model/m.json
cp "$shared/models/cifar10-resnet20.pt" zero-side/m.pt && ln -s /dev/zero zero-side/m.json
cp "$shared/models/cifar10-resnet20.pt" dir-side/m.pt && mkdir dir-side/m.json
cp "$shared/models/cifar10-resnet20.pt" big-side/m.pt && head -c 2000000 /dev/zero > big-side/m.json
check_timeout=20
check 1 "model sidecar fifo-side/m.json is not a regular file: it is a FIFO" --source "$cifar" --backbone fifo-side/m.pt
check 1 "model file fifo-model/m.pt is not a regular file: it is a FIFO" --source "$cifar" --backbone fifo-model/m.pt
check 1 "model sidecar zero-side/m.json is not a regular file: it is a character device" \
  --source "$cifar" --backbone zero-side/m.pt
check 1 "model sidecar dir-side/m.json is not a regular file: it is a folder" --source "$cifar" --backbone dir-side/m.pt
check 1 "model sidecar big-side/m.json: file is 2000000 bytes, over the limit of 1 MiB" \
  --source "$cifar" --backbone big-side/m.pt
check_timeout=60
# One flipped byte inside a weight: LibTorch never checks the zip's CRC-32, so
# the model loaded and gave other features with exit 0.
cp "$shared/models/cifar10-resnet20.pt" crc.pt && cp "$shared/models/cifar10-resnet20.json" crc.json
$PY - <<'PY' || fail "flipping a weight byte of crc.pt"
import zipfile
i = zipfile.ZipFile("crc.pt").getinfo("cifar10-resnet20/data/84")
with open("crc.pt", "rb") as f:
    f.seek(i.header_offset + 26); n, e = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
start, o = i.header_offset + 30 + n + e, 351159  # the data start after the LOCAL header's name and extra
assert i.compress_type == 0 and start <= o < start + i.file_size, (start, i.file_size)
d = bytearray(open("crc.pt", "rb").read()); d[o] ^= 0xFF; open("crc.pt", "wb").write(d)
assert zipfile.ZipFile("crc.pt").testzip() == i.filename
PY
check 1 "model file crc.pt: entry cifar10-resnet20/data/84 fails its CRC-32 check (the file is corrupt: copy it again)" \
  --source "$cifar" --backbone crc.pt
# An HDF5 source of 1e9 rows (a 1.4 KB file) under a 3 GB address-space
# limit: the bad_alloc is said as what it is, with what to change.
# (fillvalue=1: its own fill value, so its rows count as written; unwritten
# images without one are refused before any allocation.)
$PY -c "import h5py; h5py.File('huge.h5', 'w').create_dataset('images', (10**9, 8, 8), 'u1', chunks=(1024, 8, 8), fillvalue=1)"
(ulimit -v 3000000; export DISTCLUST_THREADS=2; check 1 "out of memory (std::bad_alloc): a buffer did not fit in this rank's memory; lower" \
  --source huge.h5 --backbone pixels) || fail "huge HDF5 source"
n=$((n + 1))
pass "$n bad-input cases give clear errors"

# Features the backbone gives as NaN, or beyond float16's range with --half:
# invalid rows, counted and logged (they were written as valid rows, rc 0,
# and every later stage refused the file).
for args in "--backbone somenan.pt" "--backbone big.pt --half"; do
  rm -f nan.h5
  dcrun 2 extract --source "$cifar" $args --out nan.h5 >nan.txt 2>&1 || { cat nan.txt; fail "extract $args"; }
  $PY - "$args" <<'PY' || { cat nan.txt; fail "extract $args: non-finite rows stored as valid"; }
import sys, h5py, numpy as np
f = h5py.File("nan.h5"); X = f["features"][:].astype(np.float32); v = f["valid"][:]
bad = ~np.isfinite(X).all(1)
assert not (bad & (v == 1)).any(), "%d valid rows hold NaN/Inf" % (bad & (v == 1)).sum()
assert 0 < (v == 0).sum() <= len(v), "no row marked invalid"
print(sys.argv[1], ": %d of %d rows invalid, none non-finite and valid" % ((v == 0).sum(), len(v)))
PY
  grep -q "the backbone's features hold NaN or Inf\|beyond float16's range" nan.txt || { cat nan.txt; fail "$args: not said"; }
done
dcrun 1 kmeans --features nan.h5 --k 3 --out nan-km.h5 >/dev/null 2>&1 || fail "kmeans on the extract with invalid rows"
pass "non-finite features: invalid rows, said; later stages take the file"

# Loose images beside class folders: no labels (which class would a loose
# image be?), now said instead of dropping the subfolders' labels silently.
dcrun 1 synth images --classes 2 --per-class 3 --size 16 --out mixed >/dev/null
cp "$(ls -d mixed/*/ | head -1)"/$(ls "$(ls -d mixed/*/ | head -1)" | head -1) mixed/loose.png
dcrun 1 extract --source mixed --backbone pixels --pixels-size 8 --out mixed.h5 >mixed.txt 2>&1 || { cat mixed.txt; fail "mixed folder"; }
grep -q "folder source mixed: no labels: 1 image files lie directly in it beside 2 subfolders" mixed.txt ||
  { cat mixed.txt; fail "loose images beside class folders not said"; }
pass "loose images beside class folders: said"

# Settings of the other backbone were ignored without a word.
dcrun 1 extract --source mixed --backbone pixels --pixels-size 8 --crop 20 --out ign1.h5 >ign1.txt 2>&1 || { cat ign1.txt; fail "pixels with --crop"; }
grep -q "extract.crop and extract.resize are for a TorchScript model: ignored with --backbone pixels" ign1.txt ||
  { cat ign1.txt; fail "--crop with pixels not said"; }
dcrun 1 extract --source mixed "${m[@]}" --pixels-size 8 --out ign2.h5 >ign2.txt 2>&1 || { cat ign2.txt; fail "model with --pixels-size"; }
grep -q "extract.pixels_size and extract.pixels_deskew are for --backbone pixels: ignored with the model" ign2.txt ||
  { cat ign2.txt; fail "--pixels-size with a model not said"; }
dcrun 1 extract --source mixed --backbone pixels --pixels-size 8 --hdf5-images /x --cifar-split test --out ign3.h5 >ign3.txt 2>&1 ||
  { cat ign3.txt; fail "folder with --hdf5-images"; }
grep -q "extract.hdf5_images, extract.cifar_split set for another kind of source: ignored with .*mixed (a folder source)" ign3.txt ||
  { cat ign3.txt; fail "--hdf5-images with a folder not said"; }
pass "settings of the other backbone or another kind of source: said to be ignored"

# A small pca_sample: the keyed draw picked 0 of 30 rows for pca_sample 2
# and the fit said "only 0 readable images were sampled". Now at least
# pca_sample rows are drawn, the same ones on any rank count.
dcrun 1 synth images --classes 3 --per-class 10 --size 16 --out thirty >/dev/null
small=(extract --source thirty --backbone pixels --pixels-size 8 --pca-dim 2 --pca-sample 2)
dcrun 1 "${small[@]}" --out ps1.h5 >ps1.txt 2>&1 || { cat ps1.txt; fail "pca_sample 2 of 30 images"; }
dcrun 3 "${small[@]}" --out ps3.h5 >ps3.txt 2>&1 || { cat ps3.txt; fail "pca_sample 2 of 30 images, 3 ranks"; }
$PY - <<'PY'
import h5py, numpy as np
a, b = h5py.File("ps1.h5", "r"), h5py.File("ps3.h5", "r")
assert a.attrs["pca_sample_rows"] == 2, a.attrs["pca_sample_rows"]
assert np.array_equal(a["features"][:], b["features"][:]), "1 and 3 ranks differ"
PY
pass "pca_sample 2: 2 rows drawn, the same on 1 and 3 ranks"

# A CIFAR batch smaller than the official file: said once, on 1 and 2 ranks
# (the source is opened for the config hash and again for the work, and on
# every rank: the line came 2 and 4 times).
mkdir -p cifarbin
$PY -c "
import numpy as np
r = np.random.default_rng(0); rec = np.zeros((20, 3073), np.uint8)
rec[:, 0] = np.arange(20) % 10; rec[:, 1:] = r.integers(0, 255, (20, 3072))
rec.tofile('cifarbin/test_batch.bin')"
for np in 1 2; do
  dcrun $np extract --source cifarbin --backbone pixels --pixels-size 8 --out cb$np.h5 >cb.txt 2>&1 || { cat cb.txt; fail "CIFAR subset, $np ranks"; }
  [[ $(grep -c "test_batch.bin holds 20 records; the official file holds 10000" cb.txt) == 1 ]] ||
    { cat cb.txt; fail "CIFAR subset, $np ranks: not said exactly once"; }
done
pass "a CIFAR batch subset: said once on 1 and 2 ranks"
