#!/usr/bin/env bash
# Regenerates README.md's config reference (between the config-reference
# markers) from `distclust config --markdown`. Run after changing a params struct.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dc=${DC:-$root/build/src/cli/distclust}
gen=$(mktemp)
"$dc" config --markdown > "$gen"
/usr/bin/python3 - "$root/README.md" "$gen" <<'PY'
import sys
readme, gen = sys.argv[1], open(sys.argv[2]).read()
s = open(readme).read()
b, e = "<!-- config-reference:begin -->\n", "<!-- config-reference:end -->"
i, j = s.index(b) + len(b), s.index(e)
open(readme, "w").write(s[:i] + gen + s[j:])
PY
rm -f "$gen"
echo "README.md: config reference regenerated"
