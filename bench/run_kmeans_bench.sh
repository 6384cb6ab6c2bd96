#!/usr/bin/env bash
# Side-by-side k-means benchmark: distclust vs scikit-learn (lloyd) vs FAISS,
# same data, same run.
#
#   bench/run_kmeans_bench.sh [N D K ITERS]      defaults 200000 256 1000 10
#   bench/run_kmeans_bench.sh --memory [N D K ITERS]
#                                                defaults 1000000 128 1000 3
#
# Speed mode: generates unit-row synthetic features once, runs
#   distclust bench kmeans   (user's environment: distclust fixes its own)
#   sklearn KMeans(lloyd), faiss.Kmeans, numpy sgemm   (bench/kmeans_peers.py)
# with each peer under three environments:
#   given            : the environment this script was started with
#   passive          : OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE unset
#   passive+skylakex : OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE=SkylakeX
# and reports the best configuration per peer. Also a spherical variant
# (distclust --spherical vs faiss spherical=True; sklearn has none).
# Writes a markdown report to bench/results/kmeans-<date>.md.
#
# Memory mode: runs `distclust kmeans` under /usr/bin/time -v and compares
# the max RSS with the bytes of features + centroids (target <= 1.5x).
# Writes bench/results/kmeans-memory-<date>.md; exits 1 when the check FAILs.
# Reports are written to NAME.tmp, then renamed (never left half-written).
#
# Env: DISTCLUST (binary), PYTHON (numpy, h5py, sklearn, faiss; default
# bench/.venv-peers/bin/python, made by bench/peers-venv.sh: PyPI's faiss-cpu
# and scikit-learn, the peers' best configuration; without it
# /usr/bin/python3, Debian's GENERIC FAISS 1.7.3, and the report says so), THREADS (default 2), SPHERICAL=0 to skip the
# spherical variant, ROUNDS (default 2: every speed run repeated; the
# fastest run with the least interference from other processes is kept),
# WAIT_QUIET (default 120: seconds to wait at most for the load average to
# drop below 1 before timing), KEEP_TMP=1 to keep the data folder.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${DISTCLUST:-$ROOT/build/src/cli/distclust}
PY=${PYTHON:-}
if [[ -z $PY ]]; then
  PY=/usr/bin/python3
  [[ -x $ROOT/bench/.venv-peers/bin/python ]] && PY=$ROOT/bench/.venv-peers/bin/python
fi
[[ $PY == /usr/bin/python3 ]] && echo "NOTE: peers from Debian's python (FAISS 1.7.3 GENERIC, no SIMD): not FAISS's best configuration; run bench/peers-venv.sh" >&2
THREADS=${THREADS:-2}
SPHERICAL=${SPHERICAL:-1}
ROUNDS=${ROUNDS:-2}
PEERS=$ROOT/bench/kmeans_peers.py
RESULTS=$ROOT/bench/results
DATE=$(date +%Y-%m-%d)

MODE=speed
if [[ ${1:-} == --memory ]]; then MODE=memory; shift; fi
if [[ $MODE == memory ]]; then
  N=${1:-1000000}; D=${2:-128}; K=${3:-1000}; ITERS=${4:-3}
else
  N=${1:-200000}; D=${2:-256}; K=${3:-1000}; ITERS=${4:-10}
fi

if [[ ! -x $BIN ]]; then
  echo "distclust binary not found at $BIN; build it with:" >&2
  echo "  cmake -S $ROOT -B $ROOT/build && make -C $ROOT/build -j2 distclust" >&2
  exit 1
fi
mkdir -p "$RESULTS"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/kmeans-bench.XXXXXX")
cleanup() { if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "kept $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

if [[ $MODE == speed && ${WAIT_QUIET:-120} -gt 0 ]]; then  # wait (bounded) for other work to settle
  for ((w = 0; w < ${WAIT_QUIET:-120}; w += 10)); do
    awk '{exit !($1 < 1.0)}' /proc/loadavg && break
    (( w == 0 )) && echo "   waiting up to ${WAIT_QUIET:-120}s for the 1-min load average ($(cut -d' ' -f1 /proc/loadavg)) to drop below 1"
    sleep 10
  done
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
F=$TMP/features.h5
NCLASS=$(( K < 100 ? K : 100 ))
echo "== generating $N x $D features ($NCLASS classes) -> $F"
t0=$(date +%s.%N)
"$BIN" synth features --n "$N" --d "$D" --k "$NCLASS" --noise 0.5 --seed 1 --out "$F" >"$TMP/synth.log" 2>&1 \
  || { cat "$TMP/synth.log"; exit 1; }
echo "   $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s"

cpu_model=$(awk -F: '/model name/{gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo)
avx512=$(grep -q avx512f /proc/cpuinfo && echo yes || echo no)
given_desc="OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-unset}, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

# ----------------------------------------------------------------- memory mode
if [[ $MODE == memory ]]; then
  if [[ ! -x /usr/bin/time ]]; then
    echo "/usr/bin/time missing: install it with  apt-get install -y time" >&2; exit 1
  fi
  echo "== distclust kmeans --k $K --iters $ITERS under /usr/bin/time -v"
  set +e
  /usr/bin/time -v "$BIN" kmeans --features "$F" --k "$K" --iters "$ITERS" \
      --threads "$THREADS" --out "$TMP/kmeans.h5" >"$TMP/kmeans.log" 2>"$TMP/time.log"
  rc=$?
  set -e
  cat "$TMP/kmeans.log"
  grep -v -E '^\s*(Average|Major|Minor|Voluntary|Involuntary|Swaps|File system|Socket|Signals|Page size)' "$TMP/time.log" || true
  if [[ $rc != 0 ]]; then echo "distclust kmeans failed (rc $rc)" >&2; exit $rc; fi
  rss_kb=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$TMP/time.log")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{print $2}' "$TMP/time.log")
  OUTMD=$RESULTS/kmeans-memory-$DATE.md
  "$PY" - "$N" "$D" "$K" "$ITERS" "$rss_kb" "$wall" "$cpu_model" "$THREADS" "$OUTMD" <<'EOF'
import os, sys
n, d, k, iters, rss_kb = map(int, sys.argv[1:6])
wall, cpu, threads, out = sys.argv[6:10]
data = n * d * 4 + k * d * 4
rss = rss_kb * 1024
ratio = rss / data
ok = ratio <= 1.5
mib = lambda b: b / 2**20
md = f"""# distclust k-means memory check

`distclust kmeans --features F.h5 --k {k} --iters {iters} --threads {threads}` on N={n}, D={d}
(float32 features), under `/usr/bin/time -v`. CPU: {cpu}.

| N | D | K | iters | features + centroids | max RSS | RSS / data | target | wall |
|---|---|---|---|---|---|---|---|---|
| {n} | {d} | {k} | {iters} | {mib(data):.1f} MiB ({data} B) | {mib(rss):.1f} MiB ({rss} B) | {ratio:.3f}x | <= 1.5x: {'PASS' if ok else 'FAIL'} | {wall} |
"""
print()
print(md)
open(out + ".tmp", "w").write(md)
os.replace(out + ".tmp", out)
print(f"written to {out}")
if not ok:
    sys.exit(f"FAIL: max RSS {mib(rss):.1f} MiB is {ratio:.3f}x the features + centroids (target <= 1.5x)")
EOF
  exit 0
fi

# ------------------------------------------------------------------ speed mode
CONFIGS=(given passive passive+skylakex)
# SkylakeX kernels need AVX-512: on a CPU without it they die on an illegal
# instruction (numpy included), so that configuration is left out there.
[[ $avx512 == yes ]] || CONFIGS=(given passive)
run_in_config() {  # config, then command
  local cfg=$1; shift
  case $cfg in
    given)            "$@" ;;
    passive)          env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY=PASSIVE "$@" ;;
    passive+skylakex) env OMP_WAIT_POLICY=PASSIVE OPENBLAS_CORETYPE=SkylakeX "$@" ;;
  esac
}
safe() { echo "${1//+/_}"; }
busy_s() {  # busy CPU seconds of the whole machine (all CPUs, steal included) from /proc/stat
  awk -v hz="$(getconf CLK_TCK)" '/^cpu /{b=0; for(i=2;i<=9;i++) if(i!=5 && i!=6) b+=$i; printf "%.2f", b/hz; exit}' /proc/stat
}
run_distclust() {  # tag, extra args
  local tag=$1; shift
  echo "== distclust bench kmeans $* [user env: $given_desc] (round $r)"
  local base=$TMP/$tag.r$r b0 b1 timer=()
  [[ -x /usr/bin/time ]] && timer=(/usr/bin/time -f '%e %U %S' -o "$base.time")
  b0=$(busy_s)
  "${timer[@]}" "$BIN" bench kmeans --features "$F" --k "$K" --iters "$ITERS" --threads "$THREADS" "$@" \
      --json "$base.json" >"$base.out" 2>"$base.err" \
    || { echo "FAILED (rc $?): $BIN bench kmeans --features F.h5 --k $K --iters $ITERS --threads $THREADS $*" >&2
         cat "$base.out" "$base.err" >&2; exit 1; }
  b1=$(busy_s)
  if [[ -s $base.time ]]; then  # share of the CPUs used by other processes during the whole command
    awk -v b0="$b0" -v b1="$b1" -v n="$(nproc)" '{o=(b1-b0)-($2+$3); if(o<0)o=0; printf "%.4f\n", o/(n*$1)}' \
      "$base.time" >"$base.share"
    echo "  [other processes used $(awk '{printf "%.0f", 100*$1}' "$base.share")% of the CPUs during this run]"
  fi
  grep -v -E '^\[|^RESULT ' "$base.out"
}
run_peer() {  # cfg, tag, peer args
  local cfg=$1 tag=$2; shift 2
  echo "== $tag [$cfg] (round $r)"
  local base=$TMP/peer_$(safe "$cfg")_$tag.r$r
  run_in_config "$cfg" "$PY" "$PEERS" --features "$F" --k "$K" --iters "$ITERS" \
      --threads "$THREADS" --label "$cfg" "$@" --json "$base.json" >"$base.out" 2>"$base.err" \
    || { echo "FAILED: $tag [$cfg]: $PY $PEERS $*" >&2; cat "$base.out" "$base.err" >&2; exit 1; }
  grep -v -E '^PEERS |^peers:' "$base.out"
}

# Rounds are interleaved and, within a round, the configurations of one peer run
# back to back, so that load from other work on a shared machine hits them alike.
for r in $(seq 1 "$ROUNDS"); do
  run_distclust distclust
  if [[ $SPHERICAL == 1 ]]; then run_distclust distclust_sph --spherical; fi
  for cfg in "${CONFIGS[@]}"; do run_peer "$cfg" sgemm --peers sgemm; done
  for cfg in "${CONFIGS[@]}"; do run_peer "$cfg" sklearn --peers sklearn; done
  for cfg in "${CONFIGS[@]}"; do run_peer "$cfg" faiss --peers faiss; done
  if [[ $SPHERICAL == 1 ]]; then
    for cfg in "${CONFIGS[@]}"; do run_peer "$cfg" faiss_sph --peers faiss --spherical; done
  fi
done

OUTMD=$RESULTS/kmeans-$DATE.md
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
"$PY" - "$TMP" "$OUTMD" "$cpu_model" "$avx512" "$given_desc" "$THREADS" "$SPHERICAL" "$ROUNDS" \
    "$LOAD_START" "$LOAD_END" "$N" "$D" "$K" "$ITERS" "${CONFIGS[@]}" <<'EOF'
import glob, json, os, sys, time
(tmp, out, cpu, avx512, given_desc, threads, spherical, rounds,
 load_start, load_end, n, d, k, iters) = sys.argv[1:15]
configs = sys.argv[15:]
n, d, k, iters, rounds = int(n), int(d), int(k), int(iters), int(rounds)
spherical = spherical == "1"
safe = lambda c: c.replace("+", "_")
cfg_desc = {
    "given": f"given env ({given_desc})",
    "passive": "OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE unset",
    "passive+skylakex": "OMP_WAIT_POLICY=PASSIVE, OPENBLAS_CORETYPE=SkylakeX",
}
flop = 2.0 * n * k * d
gf = lambda s: flop / s / 1e9

CLEAN = 0.05  # a run is "clean" when other processes used <= 5% of the CPUs while it was timed

def rounds_of(pattern):
    out = []
    for r in range(1, rounds + 1):
        p = pattern.format(r=r)
        if os.path.exists(p):
            out.append(json.load(open(p)))
    return out

def pick(items, time_of, share_of):
    """fastest among clean runs; fastest overall (flagged) when none is clean"""
    clean = [x for x in items if share_of(x) is not None and share_of(x) <= CLEAN]
    pool = clean or items
    return min(pool, key=time_of), bool(clean)

def dc_share(tag, r):
    p = f"{tmp}/{tag}.r{r}.share"
    return float(open(p).read()) if os.path.exists(p) else None

def dc_rounds(tag):
    out = []
    for r in range(1, rounds + 1):
        p = f"{tmp}/{tag}.r{r}.json"
        if os.path.exists(p):
            j = json.load(open(p))
            j["others_cpu_share"] = dc_share(tag, r)
            j["round"] = r
            out.append(j)
    return out

dc_runs = dc_rounds("distclust")
dc, dc_clean = pick(dc_runs, lambda j: j["sec_per_iter_median"], lambda j: j["others_cpu_share"])
limit_src, _ = pick(dc_runs, lambda j: -j["sgemm_gflops"], lambda j: j["others_cpu_share"])
limit = limit_src["sgemm_gflops"]  # best clean sgemm rate distclust measured
dcs_runs = dc_rounds("distclust_sph") if spherical else []
dcs, dcs_clean = (pick(dcs_runs, lambda j: j["sec_per_iter_median"], lambda j: j["others_cpu_share"])
                  if dcs_runs else (None, True))

def peer_key(tag, r):
    return r["sec_best"] if tag == "sgemm" else r["sec_per_iter"]

runs = {}  # tag -> list of (cfg, kept result, arch, [(s, share) per round], clean)
for tag in ["sklearn", "faiss"] + (["faiss_sph"] if spherical else []) + ["sgemm"]:
    for cfg in configs:
        js = [j for j in rounds_of(f"{tmp}/peer_{safe(cfg)}_{tag}.r{{r}}.json") if j["results"]]
        if not js:
            continue
        j, clean = pick(js, lambda j: peer_key(tag, j["results"][0]), lambda j: j["results"][0].get("others_cpu_share"))
        arch = ",".join(b.get("architecture") or "" for b in j["blas"] if b.get("internal_api") == "openblas")
        per = [(peer_key(tag, x["results"][0]), x["results"][0].get("others_cpu_share")) for x in js]
        runs.setdefault(tag, []).append((cfg, j["results"][0], arch, per, clean))

def best(tag):
    rs = runs.get(tag, [])
    if not rs:
        return None
    b, _ = pick(rs, lambda x: peer_key(tag, x[1]), lambda x: 0.0 if x[4] else 1.0)
    return b

def table(rows):
    t = ["| peer | configuration | s/iter | GFLOP/s | ratio to sgemm limit | distclust speedup |",
         "|---|---|---:|---:|---:|---:|"]
    for p, c, s, g, r, sp in rows:
        t.append(f"| {p} | {c} | {s:.4f} | {g:.1f} | {r:.3f} | {sp:.2f}x |")
    return "\n".join(t)

dc_env = dc["env"].replace("compute env:", "").strip().rstrip(";") or "nothing"
flag = lambda clean: "" if clean else " (**no clean run**)"
rows = [("distclust", f"user env; distclust set {dc_env}{flag(dc_clean)}", dc["sec_per_iter_median"], dc["gflops"],
         dc["gflops"] / limit, 1.0)]
for tag, label in (("sklearn", "scikit-learn KMeans(lloyd, n_init=1)"), ("faiss", "faiss.Kmeans")):
    b = best(tag)
    if b:
        cfg, r, arch, _, clean = b
        s = r["sec_per_iter"]
        rows.append((f"{label} {r['version']}", f"`{cfg}`: {cfg_desc[cfg]} (OpenBLAS core {arch}){flag(clean)}",
                     s, gf(s), gf(s) / limit, s / dc["sec_per_iter_median"]))

sg = best("sgemm")
L = []
L.append(f"# k-means side-by-side benchmark, {time.strftime('%Y-%m-%d')}")
L.append("")
L.append(f"Data: N={n}, D={d}, K={k}, {iters} Lloyd iterations, synthetic unit rows (`distclust synth features`, "
         f"noise 0.5, seed 1). Threads: {threads} per implementation. CPU: {cpu} ({os.cpu_count()} cores visible, "
         f"AVX-512: {avx512}). Every run was repeated {rounds} time(s), interleaved (see below for which round is kept).")
L.append("")
L.append(f"Load average (1/5/15 min) before the runs: {load_start}; after: {load_end} (includes this benchmark's own {threads} threads). "
         f"Interference is measured per run as the share of the CPUs that *other* processes used while it was timed "
         f"(/proc/stat busy time minus the run's own CPU time); a run is clean at <= {CLEAN:.0%}, and the fastest clean run "
         f"is kept (the fastest run, marked, when no round was clean).")
L.append("")
L.append(f"GFLOP/s = 2*N*K*D per iteration / (s/iter). sgemm limit = best sgemm rate distclust measured at "
         f"{min(n, 65536)} x {k} x {d}: **{limit:.1f} GFLOP/s** (kept round: multi-threaded OpenBLAS "
         f"{dc.get('sgemm_multi_gflops', float('nan')):.1f}, per-thread tiles {dc.get('sgemm_tiled_gflops', float('nan')):.1f})"
         + (f"; numpy `a[:m] @ c.T` cross-check best {sg[1]['gflops']:.1f} GFLOP/s (`{sg[0]}`)." if sg else "."))
L.append("")
L.append("Timing: distclust = median s/iter of `distclust bench kmeans`; sklearn = total `fit` time / `n_iter_` with an "
         "explicit init array of K random rows (init costs nothing; input validation, copies and norms are included); "
         "faiss = median of per-iteration deltas of `iteration_stats['time']` (max_points_per_centroid=N, so all points "
         "are used). Each peer ran in each configuration listed at the end; the fastest is shown.")
L.append("")
L.append("## Euclidean Lloyd")
L.append("")
L.append(table(rows))
if dc.get("kmeanspp_init_seconds"):
    L.append("")
    L.append(f"k-means++ initialisation (distclust's default, greedy with 2 + ln K trials on a keyed sample of "
             f"{min(n, 64 * k)} rows, same run): **{dc['kmeanspp_init_seconds']:.2f} s = "
             f"{dc['init_over_iteration']:.2f} Lloyd iterations**.")
if spherical and dcs:
    srows = [("distclust --spherical", f"user env; distclust set {dc_env}{flag(dcs_clean)}", dcs["sec_per_iter_median"], dcs["gflops"],
              dcs["gflops"] / limit, 1.0)]
    b = best("faiss_sph")
    if b:
        cfg, r, arch, _, clean = b
        s = r["sec_per_iter"]
        srows.append((f"faiss.Kmeans(spherical=True) {r['version']}", f"`{cfg}`: {cfg_desc[cfg]} (OpenBLAS core {arch}){flag(clean)}",
                      s, gf(s), gf(s) / limit, s / dcs["sec_per_iter_median"]))
    L.append("")
    L.append("## Spherical (cosine) Lloyd")
    L.append("")
    L.append("scikit-learn has no spherical k-means.")
    L.append("")
    L.append(table(srows))

L.append("")
L.append("## Every configuration measured")
L.append("")
L.append("Kept run first; `rounds` lists every round as s/iter [share of the CPUs used by other processes].")
L.append("")
L.append("| peer | configuration | OpenBLAS core | s/iter | GFLOP/s | ratio to sgemm limit | rounds | other measures |")
L.append("|---|---|---|---:|---:|---:|---|---|")
pct = lambda x: "?" if x is None else f"{100 * x:.0f}%"
fmt = lambda xs: " / ".join(f"{t:.4f} [{pct(sh)}]" for t, sh in xs)
sgemm_rounds = " / ".join(f"{j['sgemm_gflops']:.1f}" for j in dc_runs)
L.append(f"| distclust | user env | | {dc['sec_per_iter_median']:.4f}{flag(dc_clean)} | {dc['gflops']:.1f} | {dc['gflops']/limit:.3f} | "
         f"{fmt([(j['sec_per_iter_median'], j['others_cpu_share']) for j in dc_runs])} | best iter {dc['sec_per_iter_best']:.4f} s; "
         f"sgemm limit per round {sgemm_rounds} GFLOP/s; peak RSS {dc['peak_rss_bytes']/2**20:.0f} MiB |")
if dcs:
    L.append(f"| distclust --spherical | user env | | {dcs['sec_per_iter_median']:.4f}{flag(dcs_clean)} | {dcs['gflops']:.1f} | "
             f"{dcs['gflops']/limit:.3f} | {fmt([(j['sec_per_iter_median'], j['others_cpu_share']) for j in dcs_runs])} | "
             f"best iter {dcs['sec_per_iter_best']:.4f} s |")
for tag in ["sklearn", "faiss"] + (["faiss_sph"] if spherical else []) + ["sgemm"]:
    for cfg, r, arch, per, clean in runs.get(tag, []):
        if tag == "sgemm":
            m, kk, dd = r["shape"]
            L.append(f"| numpy sgemm {m}x{kk}x{dd} | `{cfg}` | {arch} | {r['sec_best']:.4f} (one GEMM){flag(clean)} | "
                     f"{r['gflops']:.1f} | {r['gflops']/limit:.3f} | {fmt(per)} | median of 5: {r['gflops_median']:.1f} GFLOP/s |")
            continue
        s = r["sec_per_iter"]
        if tag == "sklearn":
            mg = r["sec_per_iter_marginal"]
            other = (f"{r['n_iter']} iters, fit {r['fit_seconds']:.2f} s; marginal (T(I)-T(1))/(I-1) = "
                     + (f"{mg:.4f} s/iter, {gf(mg):.1f} GFLOP/s" if mg else "n/a"))
        else:
            other = (f"total/iters {r['sec_per_iter_total']:.4f} s/iter ({r['gflops_total']:.1f} GFLOP/s); "
                     f"fastest iter {r.get('sec_per_iter_best', float('nan')):.4f} s")
        label = {"sklearn": "sklearn", "faiss": "faiss", "faiss_sph": "faiss spherical"}[tag]
        L.append(f"| {label} | `{cfg}` | {arch} | {s:.4f}{flag(clean)} | {gf(s):.1f} | {gf(s)/limit:.3f} | {fmt(per)} | {other} |")
L.append("")
L.append("Configurations: " + "; ".join(f"`{c}` = {cfg_desc[c]}" for c in configs) + ".")
L.append("")
L.append("<details><summary>distclust output (kept rounds)</summary>\n\n```")
for tag, runs_ in (("distclust", dc_runs), ("distclust_sph", dcs_runs)):
    if runs_:
        kept, _ = pick(runs_, lambda j: j["sec_per_iter_median"], lambda j: j["others_cpu_share"])
        txt = open(f"{tmp}/{tag}.r{kept['round']}.out").read()
        L.append("\n".join(l for l in txt.splitlines() if not l.startswith("[")).rstrip())
L.append("```\n</details>")
md = "\n".join(L) + "\n"
print()
print(md)
open(out + ".tmp", "w").write(md)
os.replace(out + ".tmp", out)
print(f"written to {out}")
EOF
