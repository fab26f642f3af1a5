"""
A convolutional network on glyph images of unseen characters
=============================================================

Characters rendered in the fonts that ship with matplotlib (DejaVu, STIX and
Computer Modern), each with a few small random shifts, rotations and scalings:
the classes are characters, the samples are fonts. The embedding is learned
on half of the characters and clusters the other half, which it never saw.

``network="conv"`` trains a small convolutional network on images given as
flat rows (``input_shape`` says how to fold them), and ``init="random"``
trains it alone with the spectral clustering loss, the paper's setting.
``normalize_embeddings=True`` divides each output row by its norm, so that
the loss trains the directions k-means then clusters, and batches of 16
rows of each of 16 characters with 16 outputs suit the loss (the user
guide's "The loss beside MultiSimilarity" measures why). A network that fits
images learns what makes two renderings the same character whatever the
font; the comparison with raw pixels, PCA and LDA shows how much of that
carries over to characters never seen in training on this small set.
"""

import string
import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image, ImageDraw, ImageFont
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning

from sklearn_dsc import DeepSpectralClusteringEmbedder
from sklearn_dsc.metrics import kmeans_nmi

SIZE = 24
FONTS = sorted(
    path
    for path in (Path(matplotlib.get_data_path()) / "fonts" / "ttf").glob("*.ttf")
    if path.stem.startswith(("DejaVuSans", "DejaVuSerif", "STIXGeneral", "cm"))
    and "Display" not in path.stem
    and path.stem not in {"cmex10", "cmsy10", "cmmi10"}  # symbol fonts
)
CHARACTERS = string.ascii_uppercase + string.digits


def render(character, font_path, rng):
    """One glyph, centred, with a small random shift, rotation and scaling."""
    font = ImageFont.truetype(str(font_path), int(SIZE * rng.uniform(0.55, 0.75)))
    image = Image.new("L", (2 * SIZE, 2 * SIZE))
    ImageDraw.Draw(image).text(
        (SIZE, SIZE), character, fill=255, font=font, anchor="mm"
    )
    image = image.rotate(rng.uniform(-10, 10), resample=Image.BILINEAR)
    left, top = SIZE // 2 + rng.integers(-2, 3), SIZE // 2 + rng.integers(-2, 3)
    image = image.crop((left, top, left + SIZE, top + SIZE))
    return np.asarray(image, dtype=np.float32).ravel() / 255.0


rng = np.random.default_rng(0)
X = np.array(
    [render(c, font, rng) for c in CHARACTERS for font in FONTS for _ in range(3)]
)
y = np.repeat(list(CHARACTERS), 3 * len(FONTS))
seen = np.isin(y, list(CHARACTERS[::2]))  # every other character for training
print(
    f"{len(FONTS)} fonts, {len(CHARACTERS)} characters, {len(X)} images of "
    f"{SIZE}x{SIZE}; {seen.sum()} for training, {(~seen).sum()} of "
    f"{len(set(y[~seen]))} unseen characters"
)

# %%
# Train the convolutional network with the loss, then compare on the unseen
# characters.

model = DeepSpectralClusteringEmbedder(
    network="conv",
    input_shape=(SIZE, SIZE),
    init="random",
    normalize_embeddings=True,
    n_components=16,
    samples_per_class=16,
    early_stopping=False,
    max_iter=20,
    random_state=0,
)
with warnings.catch_warnings():  # 20 epochs, on purpose: no convergence claimed
    warnings.simplefilter("ignore", ConvergenceWarning)
    model.fit(X[seen], y[seen])

embeddings = {
    "raw pixels": X[~seen],
    "PCA": PCA(32, random_state=0).fit(X[seen]).transform(X[~seen]),
    "LDA": LinearDiscriminantAnalysis().fit(X[seen], y[seen]).transform(X[~seen]),
    "ours, conv": model.transform(X[~seen]),
}
scores = {
    name: np.mean([kmeans_nmi(Z, y[~seen], random_state=s) for s in range(3)])
    for name, Z in embeddings.items()
}
for name, score in scores.items():
    print(f"{name:<12} unseen-character k-means NMI {score:.3f}")

# %%
# The training loss per epoch, and the unseen characters' NMI per method.

figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
left.plot(range(1, len(model.loss_curve_) + 1), model.loss_curve_, marker="o")
left.set_xlabel("epoch")
left.set_ylabel("training loss")
left.set_title("Training the convolutional network")
right.barh(list(scores), list(scores.values()))
right.set_xlim(0, 1)
right.set_xlabel("k-means NMI on unseen characters")
right.set_title("Characters never seen in training")
figure.tight_layout()
plt.show()
