#!/usr/bin/env bash
# README.md's config reference is exactly `distclust config --markdown`
# (generated from the params structs), so it names every key with its true
# default; and `distclust config` prints a YAML template that `distclust run`
# accepts as is.
source "$(dirname "$0")/lib.sh"
readme="$DC_SOURCE/README.md"
sed -n '/<!-- config-reference:begin -->/,/<!-- config-reference:end -->/p' "$readme" | sed '1d;$d' > readme.md
[[ -s readme.md ]] || fail "README.md has no config-reference markers"
"$DC" config --markdown > generated.md
diff -u readme.md generated.md || fail "README.md's config reference differs from 'distclust config --markdown' (regenerate: tools/update-readme-config.sh)"
"$DC" config > all.yaml
for s in runtime run extract kmeans knn scan eval report export; do
  grep -q "^$s:" all.yaml || fail "section $s missing from 'distclust config'"
done
# The template is a valid config: `run` resolves every section and gets as
# far as its check of the eval stage's inputs (not stopped by the config).
out=$("$DC" run --config all.yaml --set run.stages=eval --set run.workdir=w 2>&1 || true)
grep -q "run: eval reads w/.*which neither exists nor is made by a stage before it" <<<"$out" ||
  { echo "$out"; fail "the YAML template does not load"; }
pass "README config reference matches the params structs ($(grep -c '^| ' generated.md) rows)"
