#!/usr/bin/env bash
# `distclust run` with the gmm stage: images -> pixels + PCA 4 -> k-means ->
# gmm -> eval, export, report. With gmm in run.stages (and no scan) eval,
# export and report read gmm.h5, not kmeans.h5: the scores, the CSV's
# clusters and confidences are gmm.h5's, the report draws its log-likelihood;
# the subcommands take a gmm.h5 as --pred too.
source "$(dirname "$0")/lib.sh"
dcrun 2 run --set run.workdir=w --set run.stages=synth_images,extract,kmeans,gmm,eval,export,report \
  --set synth_images.classes=4 --set synth_images.per_class=40 --set synth_images.size=16 \
  --set extract.backbone=pixels --set extract.pixels_size=8 --set extract.pca_dim=4 --set kmeans.k=4 --set gmm.k=4 --set gmm.restarts=2 \
  >run.txt 2>&1 || { cat run.txt; fail "run failed"; }
[[ -f w/gmm.h5 && -f w/kmeans.h5 ]] || fail "no gmm.h5 or kmeans.h5 in the workdir"
grep -q "gmm: mean log-likelihood" run.txt || fail "the run's summary has no gmm line"
grep -q "cluster sizes (w/gmm.h5)" run.txt || fail "the run's summary does not show gmm.h5's clusters"
$PY - <<'PY'
import csv, json, h5py, numpy as np
from scipy.optimize import linear_sum_assignment
g, f = h5py.File("w/gmm.h5", "r"), h5py.File("w/features.h5", "r")
a, y, conf = g["assign"][:], f["labels"][:], g["confidence"][:]
m = np.zeros((4, 4)); np.add.at(m, (a, y), 1)
r, c = linear_sum_assignment(-m)
acc = m[r, c].sum() / len(y)
s = json.load(open("w/scores.json"))
assert abs(s["acc"] - acc) < 1e-12, f"scores.json ACC {s['acc']} is not gmm.h5's {acc}"
assert acc >= 0.95, f"gmm ACC {acc} on 4 distinct synthetic classes"
rows = list(csv.DictReader(open("w/export/assignments.csv")))
assert [int(x["cluster"]) for x in rows] == list(a), "export's clusters are not gmm.h5's /assign"
assert np.allclose([float(x["confidence"]) for x in rows], conf, atol=1e-6), "export's confidence is not gmm.h5's"
html = open("w/report/index.html").read()
assert "Gaussian mixture: mean log-likelihood" in html, "the report has no log-likelihood curve"
assert "gmm.h5" in html, "the report does not name gmm.h5"
assert "gmm.h5 (Gaussian mixture)" in html, "the summary does not call gmm.h5 a Gaussian mixture (it said SCAN)"
print(f"  run: gmm ACC {acc:.4f}, mean log-likelihood {g.attrs['final_log_likelihood']:.4f}, BIC {g.attrs['bic']:.1f}")
PY
pass "run with gmm: eval, export and report read gmm.h5"
dcrun 1 eval --pred w/gmm.h5 --labels w/features.h5 --json --out s.json >/dev/null
dcrun 2 export --features w/features.h5 --pred w/gmm.h5 --out ex >/dev/null 2>&1 || fail "export --pred gmm.h5 failed"
cmp ex/assignments.csv w/export/assignments.csv || fail "export of gmm.h5 differs from the run's"
dcrun 1 report --features w/features.h5 --pred w/gmm.h5 --out rep >rep.txt 2>&1 || { cat rep.txt; fail "report failed"; }
! grep -q "WARN" rep.txt || { cat rep.txt; fail "report warned about gmm.h5"; }
pass "eval, export and report subcommands take gmm.h5"
# assign with the run's mixture: the run's own images get gmm.h5's clusters,
# responsibilities and confidences exactly (the same E-step), on 3 ranks;
# /assign is gmm's (no scan in the run), k-means' beside it.
dcrun 3 assign --run w --source w/images --out own.h5 >own.txt 2>&1 || { cat own.txt; fail "assign with gmm.h5 failed"; }
grep -q "assigned with the mixture of w/gmm.h5, the centroids of w/kmeans.h5" own.txt || { cat own.txt; fail "assign did not name the mixture"; }
# A diagonal mixture, given explicitly, on rows already extracted.
dcrun 2 gmm --features w/features.h5 --k 4 --covariance diag --out gd.h5 >/dev/null 2>&1 || fail "diag gmm failed"
dcrun 2 assign --reference w/features.h5 --features w/features.h5 --gmm gd.h5 --kmeans none --out diag.h5 >diag.txt 2>&1 ||
  { cat diag.txt; fail "assign --gmm diag failed"; }
$PY - <<'PY'
import csv, h5py, numpy as np
for out, model, km in (("own.h5", "w/gmm.h5", "w/kmeans.h5"), ("diag.h5", "gd.h5", None)):
    a, g = h5py.File(out, "r"), h5py.File(model, "r")
    for name in ("assign", "probabilities", "confidence"):
        assert np.array_equal(a[name][:], g[name][:]), f"{out}: /{name} differs from {model}"
    assert np.array_equal(a["gmm_assign"][:], g["assign"][:]), f"{out}: /gmm_assign"
    if km:
        assert np.array_equal(a["kmeans_assign"][:], h5py.File(km, "r")["assign"][:]), f"{out}: /kmeans_assign"
rows = list(csv.DictReader(open("own.csv")))
assert [int(r["gmm_cluster"]) for r in rows] == list(h5py.File("w/gmm.h5", "r")["assign"][:]), "CSV gmm_cluster"
assert [int(r["cluster"]) for r in rows] == [int(r["gmm_cluster"]) for r in rows], "CSV cluster is not gmm's"
PY
pass "assign applies gmm.h5 (full on 3 ranks, diag given with --gmm): the run's own rows get its clusters exactly"
# The cost warning for full covariances at D > 128: said once, not by every rank.
dcrun 1 synth features --n 300 --d 130 --k 2 --seed 4 --out d130.h5 >/dev/null
dcrun 2 gmm --features d130.h5 --k 2 --iters 3 --out g130.h5 >g130.txt 2>&1 || { cat g130.txt; fail "gmm at D=130"; }
[[ $(grep -c "gmm: D=130 with full covariances costs" g130.txt) -eq 1 ]] || { cat g130.txt; fail "the D=130 warning not said once"; }
pass "2 ranks: the full-covariance cost warning said once"
# Components no row chose (a reg larger than the clusters' spread) were
# listed only as "cluster sizes 0..N": now a warning naming reg_covar, once.
dcrun 1 synth features --n 600 --d 4 --k 5 --noise 0.2 --seed 4 --out tight.h5 >/dev/null
dcrun 2 gmm --features tight.h5 --k 5 --reg 10 --out gtight.h5 >gtight.txt 2>&1 || { cat gtight.txt; fail "gmm --reg 10"; }
[[ $(grep -c "components are the most probable for no row (reg_covar" gtight.txt) -eq 1 ]] ||
  { cat gtight.txt; fail "empty components not said once"; }
dcrun 2 gmm --features tight.h5 --k 5 --out gfine.h5 >gfine.txt 2>&1 || { cat gfine.txt; fail "gmm"; }
! grep -q "most probable for no row" gfine.txt || { cat gfine.txt; fail "warned without empty components"; }
pass "components no row chose: said once, with reg_covar"
