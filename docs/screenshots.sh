#!/usr/bin/env bash
# Screenshot every page of the built site (make docs first), to look at them as
# a reader would. Needs Debian's chromium package. Run by hand, not in CI:
#   bash docs/screenshots.sh [OUTPUT_FOLDER]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
html="$here/_build/html"
out="${1:-$here/_build/screenshots}"
[ -f "$html/index.html" ] || { echo "build the site first: make docs" >&2; exit 1; }
mkdir -p "$out"
for page in "$html"/*.html "$html"/auto_examples/*.html "$html"/benchmarks/*.html \
            "$html"/generated/sklearn_dsc.DeepSpectralClusteringEmbedder.html; do
    name="$(basename "$(dirname "$page")")_$(basename "$page" .html).png"
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --virtual-time-budget=5000 --window-size=1300,1600 \
        --screenshot="$out/$name" "file://$page" >/dev/null 2>&1
    echo "$out/$name"
done
