"""Read digits to send to Predict: PNG (or any image Pillow opens) and MNIST IDX files, as uint8 N×28×28.

MNIST digits are white strokes on black. A dark-on-light drawing needs `invert=True`; nothing is inverted
unless asked. Pictures are converted to grey (transparent parts count as white paper); one that is not 28×28 is
framed as MNIST's digits were (fitted into 20×20, centred by mass in 28×28), which a note says.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lenet_protos.mnist import DatasetError, read_idx

SIZE = (28, 28)
DIGIT_BOX = 20   # MNIST's digits were fitted into 20×20 and centred by mass in 28×28
INK = 32         # grey levels from the paper's colour that count as ink


def load(paths, invert: bool = False) -> tuple[np.ndarray, list[str], list[str]]:
    """All images of all files, in order, with a source name for each ("digit.png", "t10k.gz[17]"), and a note
    for each picture that had to be resized ("digit.png: 100×50 …")."""
    arrays, sources, notes = [], [], []
    for path in map(Path, paths):
        images, note = read(path)
        arrays.append(images)
        sources += [path.name] if is_picture(path) else [f"{path.name}[{i}]" for i in range(len(images))]
        notes += [f"{path.name}: {note}"] if note else []
    images = np.concatenate(arrays) if arrays else np.zeros((0, *SIZE), np.uint8)
    return (255 - images if invert else images), sources, notes


def is_picture(path: Path) -> bool:
    head = path.read_bytes()[:4]
    return not (head[:2] == b"\x1f\x8b" or head[:2] == b"\x00\x00")  # gzip or raw IDX


def read(path: Path) -> tuple[np.ndarray, str | None]:
    """One file as uint8 (N, 28, 28), with how a picture was resized (None: it was not); ValueError naming the
    file when it is neither an image nor IDX images."""
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if not is_picture(path):
        try:
            images = read_idx(path)
        except DatasetError as error:
            raise ValueError(str(error)) from None
        if images.ndim != 3 or images.shape[1:] != SIZE:
            raise ValueError(f"{path}: IDX of shape {list(images.shape)} holds no 28×28 images (a labels file?)")
        return images, None
    image, note = picture(path)
    return image[None], note


def picture(path: Path) -> tuple[np.ndarray, str | None]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ValueError(f"{path}: neither an image nor an IDX file ({error})") from None
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        paper = Image.new("RGBA", image.size, "white")
        image = Image.alpha_composite(paper, image.convert("RGBA"))
    image = image.convert("L")
    if image.size == SIZE:
        return np.asarray(image, dtype=np.uint8), None
    return framed(np.asarray(image, dtype=np.uint8))


def framed(pixels: np.ndarray) -> tuple[np.ndarray, str]:
    """A grey picture of another size made 28×28 as MNIST's digits were: the digit (what differs from the paper,
    the colour of the picture's edges) fitted into 20×20 keeping its shape, and placed on paper of that colour
    with its centre of mass in the middle; with a note saying so."""
    from PIL import Image

    height, width = pixels.shape
    paper = int(np.median(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])))
    rows, cols = np.nonzero(np.abs(pixels.astype(np.int16) - paper) > INK)
    if rows.size == 0:
        return np.full(SIZE, paper, np.uint8), f"{width}×{height} picture holds no digit: sent as blank 28×28"
    digit = Image.fromarray(pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
    drawn = "×".join(map(str, digit.size))
    scale = DIGIT_BOX / max(digit.size)
    digit = digit.resize((max(1, round(digit.size[0] * scale)), max(1, round(digit.size[1] * scale))),
                         Image.Resampling.LANCZOS)
    ink = np.abs(np.asarray(digit, dtype=np.float64) - paper)
    middle = np.array([(ink.sum(axis=1) * np.arange(ink.shape[0])).sum(),
                       (ink.sum(axis=0) * np.arange(ink.shape[1])).sum()]) / ink.sum()
    top, left = (np.clip(np.round(np.array(SIZE) / 2 - middle), 0, np.array(SIZE) - ink.shape)).astype(int)
    page = Image.new("L", SIZE, paper)
    page.paste(digit, (int(left), int(top)))
    note = (f"{width}×{height} picture: its digit ({drawn}) "
            f"{'enlarged' if scale > 1 else 'scaled down'} to fit {DIGIT_BOX}×{DIGIT_BOX}, centred by mass in "
            f"28×28, as MNIST's digits are")
    if scale > 1:
        note += " (the detail between its pixels is made up: draw digits larger)"
    return np.asarray(page, dtype=np.uint8), note
