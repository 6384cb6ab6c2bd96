#!/usr/bin/env bash
# Planted bad files among good ones: a truncated JPEG, a JPEG of garbage, a
# zero-byte file and a text file named .png become invalid rows (valid=0,
# zero features), are counted and logged by path, and the job goes on; a
# 16-bit PNG and a CMYK JPEG are decodable and become valid 8-bit RGB rows.
# Every good row equals the same image's row in a clean run.
source "$(dirname "$0")/lib.sh"
shared="$DC_SOURCE/../shared"
model="$shared/models/cifar10-resnet20.pt"
$PY - "$shared/data/cifar10-test1k" "$DC_SOURCE/tests/data/extract/cmyk.jpg" <<'PY'
import io, os, shutil, struct, sys, zlib
import numpy as np
from PIL import Image
src, cmyk = sys.argv[1], sys.argv[2]
os.makedirs("mixed"); os.makedirs("clean")
cats = sorted(os.listdir(src))
for k, c in enumerate(cats[:6]):
    f = sorted(os.listdir(os.path.join(src, c)))[0]
    for d in ("mixed", "clean"):
        shutil.copy(os.path.join(src, c, f), os.path.join(d, f"good{k}.png"))
img = np.asarray(Image.open(os.path.join(src, cats[7], sorted(os.listdir(os.path.join(src, cats[7])))[0])).convert("RGB"))
buf = io.BytesIO(); Image.fromarray(img).save(buf, "JPEG", quality=90); jpeg = buf.getvalue()
for d in ("mixed", "clean"):
    open(os.path.join(d, "good_jpeg.jpg"), "wb").write(jpeg)
# 16-bit RGB PNG holding v * 257: decodes to exactly v.
def png16(path, a):
    h, w, _ = a.shape
    raw = b"".join(b"\0" + a[y].astype(">u2").tobytes() for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
png16("mixed/deep16.png", img.astype(np.uint16) * 257)
Image.fromarray(img).save("clean/deep16.png")
shutil.copy(cmyk, "mixed/cmyk.jpg"); shutil.copy(cmyk, "clean/cmyk.jpg")
open("mixed/bad_truncated.jpg", "wb").write(jpeg[: len(jpeg) * 6 // 10])
open("mixed/bad_garbage.jpg", "wb").write(b"\xff\xd8\xff" + bytes(np.random.RandomState(1).randint(0, 256, 3000, dtype=np.uint8)))
open("mixed/bad_zero.png", "wb").close()
open("mixed/bad_text.png", "w").write("this is not an image\n")
PY
dcrun 2 extract --source mixed --backbone "$model" --out mixed.h5 --batch 4 >log.txt 2>&1 \
  || { cat log.txt; fail "extract stopped on bad files"; }
dcrun 1 extract --source clean --backbone "$model" --out clean.h5 >/dev/null 2>&1
grep -q "4 invalid rows" log.txt || { cat log.txt; fail "summary does not count 4 invalid rows"; }
for b in bad_truncated.jpg bad_garbage.jpg bad_zero.png bad_text.png; do
  grep "WARN" log.txt | grep -q "mixed/$b" || { cat log.txt; fail "$b not logged as invalid"; }
done
$PY - <<'PY'
import h5py, numpy as np, os
m, c = h5py.File("mixed.h5", "r"), h5py.File("clean.h5", "r")
assert m.attrs["invalid_rows"] == 4
name = lambda f: [os.path.basename(i.decode()) for i in f["ids"][:]]
mi, ci = name(m), name(c)
mf, cf, valid = m["features"][:], c["features"][:], m["valid"][:]
assert (m["labels"][:] == -1).all(), "a flat folder has no labels"
for i, n in enumerate(mi):
    if n.startswith("bad_"):
        assert valid[i] == 0 and not mf[i].any(), f"{n}: valid={valid[i]}, features not zero"
        continue
    assert valid[i] == 1, f"{n} should be a valid row"
    j = ci.index(n)
    assert np.allclose(mf[i], cf[j], rtol=1e-6, atol=1e-6), f"{n}: features differ from the clean run"
    assert np.abs(mf[i]).sum() > 0
print("rows:", len(mi), "invalid:", int((valid == 0).sum()))
PY
# Every file bad: nothing to cluster. That was committed with rc 0 ("rows
# computed"), and `run` failed a stage later with "no valid rows". Now an
# error naming the cause, on every rank, and no file.
mkdir allbad
cp mixed/bad_* allbad/
if dcrun 2 extract --source allbad --backbone "$model" --out allbad.h5 >ab.txt 2>&1; then
  cat ab.txt; fail "extract of a folder of bad files succeeded"
fi
grep -q "none of the 4 images could be used" ab.txt || { cat ab.txt; fail "no error naming the all-invalid source"; }
[ ! -e allbad.h5 ] || fail "allbad.h5 was committed"
# The same with a PCA: its sample pass met no readable image and said only
# "only 0 readable images were sampled", no file named (each row is logged
# by the extraction pass, which never came).
for bb in "$model" pixels; do
  if dcrun 2 extract --source allbad --backbone "$bb" --pca-dim 4 --out allbad_pca.h5 >abp.txt 2>&1; then
    cat abp.txt; fail "extract --pca-dim of a folder of bad files succeeded ($bb)"
  fi
  grep "ERROR" abp.txt | grep "sampled for the PCA" | grep -q "the first on rank 0: .*allbad/bad_" \
    || { cat abp.txt; fail "the PCA's error does not name a bad file ($bb)"; }
  [ ! -e allbad_pca.h5 ] || fail "allbad_pca.h5 was committed ($bb)"
done
# A list file whose relative paths do not resolve from its own folder (the
# usual mistake: written relative to the current folder).
mkdir lists
for f in mixed/good*.png; do echo "$f"; done >lists/rel.txt
if dcrun 1 extract --source lists/rel.txt --backbone "$model" --out rel.h5 >rel.txt 2>&1; then
  cat rel.txt; fail "extract of unresolvable list paths succeeded"
fi
grep -q "relative paths are read from the list file's folder" rel.txt || { cat rel.txt; fail "no hint on list paths"; }
pass "4 bad files marked invalid and counted; 16-bit PNG and CMYK JPEG valid; good rows match a clean run; an all-invalid source is an error"
