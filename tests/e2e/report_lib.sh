# Helpers for the report and export end-to-end tests (sourced after lib.sh).

# make_features IMAGES_DIR OUT.h5 [IDS=paths|int] [EXTRA]: a features file
# for the PNG class folders under IMAGES_DIR: /features = 8x8 RGB thumbnails
# of the images (separable for synth images), /labels = class index,
# /valid = 1, /ids = the image paths as variable-length strings (as h5py
# writes them) or int64 row indices, class_names as a JSON list attribute.
# EXTRA=odd adds two rows: a copy of an image under a name with a comma and
# quotes, and a corrupt "image" (its features are copied from row 0, so
# k-means clusters it, but no thumbnail can be made of it).
make_features() {
  $PY - "$@" <<'PY'
import sys, os, json, glob, shutil
import numpy as np, h5py
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
ids_kind = sys.argv[3] if len(sys.argv) > 3 else "paths"
extra = sys.argv[4] if len(sys.argv) > 4 else ""
classes = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
paths, labels = [], []
for ci, c in enumerate(classes):
    for f in sorted(glob.glob(os.path.join(src, c, "*.png"))):
        paths.append(f); labels.append(ci)
feats = [np.asarray(Image.open(p).convert("RGB").resize((8, 8), Image.BILINEAR), np.float32).ravel() / 255
         for p in paths]
if extra == "odd":
    odd = os.path.join(src, 'odd, "quoted" name.png')
    shutil.copy(paths[0], odd)
    paths.append(odd); labels.append(labels[0]); feats.append(feats[0])
    bad = os.path.join(src, "corrupt.png")
    open(bad, "wb").write(b"\x89PNG\r\n\x1a\n this is not really a png")
    paths.append(bad); labels.append(labels[0]); feats.append(feats[0])
with h5py.File(out, "w") as h:
    h["features"] = np.stack(feats).astype(np.float32)
    h["labels"] = np.array(labels, np.int64)
    h["valid"] = np.ones(len(paths), np.uint8)
    if ids_kind == "paths":
        h.create_dataset("ids", data=paths, dtype=h5py.string_dtype())
    else:
        h["ids"] = np.arange(len(paths), dtype=np.int64)
    h.attrs["class_names"] = json.dumps(classes)
print(f"features: {len(paths)} rows, {len(classes)} classes -> {out}")
PY
}

# Headless Chromium with a private profile (no first-run state, no network).
chrome() {
  chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions \
    --user-data-dir="$DC_TMP/chrome-profile" "$@"
}

# probe_page HTML DOM_OUT: loads a copy of HTML with an error recorder (JS
# errors, failed images, console.error) and writes the rendered DOM; the
# recorder appends <pre id="probe-errors">ERRORS:N ...</pre> on load.
probe_page() {
  local html=$1 dom=$2 probe
  probe="$(dirname "$html")/_probe.html"
  $PY - "$html" "$probe" <<'PY'
import sys
page = open(sys.argv[1], encoding="utf-8").read()
hook = """<script>
window.__errs = [];
addEventListener('error', function (e) {
  var t = e.target;
  window.__errs.push(t && t !== window && (t.src || t.href) ? 'failed to load ' + (t.src || t.href) : 'js: ' + e.message);
}, true);
var ce = console.error;
console.error = function () { window.__errs.push('console: ' + Array.prototype.join.call(arguments, ' ')); ce.apply(console, arguments); };
addEventListener('load', function () {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken++;
  var p = document.createElement('pre');
  p.id = 'probe-errors';
  p.textContent = 'ERRORS:' + window.__errs.length + ' BROKEN_IMAGES:' + broken + '\\n' + window.__errs.join('\\n');
  document.body.appendChild(p);
});
</script>"""
assert "<head>" in page
open(sys.argv[2], "w", encoding="utf-8").write(page.replace("<head>", "<head>" + hook, 1))
PY
  chrome --virtual-time-budget=10000 --dump-dom "file://$(realpath "$probe")" >"$dom" 2>"$dom.log"
  rm -f "$probe"
}
