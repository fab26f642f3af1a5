"""Checks of the built site that a reader would notice: run by ``make docs``.

- the user guide's formulas are rendered math, not code blocks;
- every gallery example that draws a figure has a non-empty image.
"""

import sys
from pathlib import Path

HTML = Path(__file__).resolve().parent / "_build" / "html"


def problems():
    guide = (HTML / "user_guide.html").read_text(encoding="utf-8")
    if guide.count('class="math') < 20:
        yield "user_guide.html: fewer than 20 rendered formulas"
    for formula in ("1/4 ||P_F - P_Y||_F^2", "dloss/dF ="):
        if formula in guide:
            yield f"user_guide.html: the formula {formula!r} is shown as code"
    for page in sorted((HTML / "auto_examples").glob("plot_*.html")):
        images = sorted((HTML / "_images").glob(f"sphx_glr_{page.stem}_*.png"))
        if not images or any(image.stat().st_size < 5_000 for image in images):
            yield f"{page.name}: a figure is missing or nearly empty"


if __name__ == "__main__":
    found = list(problems())
    for problem in found:
        print(f"docs: {problem}", file=sys.stderr)
    print(f"docs checks: {'failed' if found else 'passed'}")
    sys.exit(1 if found else 0)
