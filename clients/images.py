"""Read digits to send to Predict: PNG (or any image Pillow opens) and MNIST IDX files, as uint8 N×28×28.

MNIST digits are white strokes on black. A dark-on-light drawing needs `invert=True`; nothing is inverted
unless asked. Pictures that are not 28×28 grey are converted to grey (transparent parts count as white paper),
padded to a square with the colour of their edges (so a digit keeps its shape) and resized; each such change is
said in a note.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from protos.mnist import DatasetError, read_idx

SIZE = (28, 28)


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
    width, height = image.size
    steps = []
    if width != height:
        pixels = np.asarray(image)
        edge = int(np.median(np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])))
        side = max(width, height)
        square = Image.new("L", (side, side), edge)
        square.paste(image, ((side - width) // 2, (side - height) // 2))
        image = square
        steps.append(f"padded to {side}×{side} with its edge colour ({edge})")
    steps.append(f"{'scaled down' if image.size[0] > SIZE[0] else 'enlarged'} to {SIZE[0]}×{SIZE[1]}")
    note = f"{width}×{height} picture {', then '.join(steps)}"
    if image.size[0] < SIZE[0]:
        note += " (the detail between its pixels is made up: draw digits at 28×28 or larger)"
    return np.asarray(image.resize(SIZE, Image.Resampling.LANCZOS), dtype=np.uint8), note
