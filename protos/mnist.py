"""MNIST in the IDX format: read, validate, select and download, with numpy only.

The gateway (GetSamples), the workers (training and evaluation data) and the client (IDX files given to
`lenet predict`, `lenet data fetch`) all read this format, hence its place beside the contract. Workers read the
dataset often, so `load_split` caches it; the arrays it returns are read-only so that no caller can corrupt the
cache for the others. Where the files are is a setting (LENET_DATA_DIR), passed in by each caller.
"""
import contextlib
import functools
import gzip
import hashlib
import http.client
import os
import struct
import tempfile
import urllib.request
import zlib
from pathlib import Path

import numpy as np

from lenet_protos.contract import IMAGE_SHAPE, TRAIN_SPLIT, VALIDATION_SPLIT, VALIDATION_START

SPLIT_FILES = {  # the IDX files of each file-backed split (contract.SPLIT_SIZES) without their .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# sha256 of the official archives (the gzip bytes as published, not their content).
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

# yann.lecun.com no longer serves the files reliably; these public copies hold the official archives.
MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]

UBYTE = 0x08


class DatasetError(ValueError):
    """A dataset file is missing, malformed or inconsistent; the message names the file."""


def read_idx(path) -> np.ndarray:
    """Read an IDX file of unsigned bytes, gzip-compressed (told by its magic bytes) or raw."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DatasetError(f"{path}: corrupt gzip data ({error})") from error
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise DatasetError(f"{path}: not an IDX file (the magic number must start with two zero bytes, "
                           f"found {raw[:4].hex() or 'an empty file'})")
    type_code, ndim = raw[2], raw[3]
    if type_code != UBYTE:
        raise DatasetError(f"{path}: IDX type code 0x{type_code:02x} is not supported, "
                           f"only 0x{UBYTE:02x} (unsigned byte)")
    if ndim not in (1, 3):
        raise DatasetError(f"{path}: {ndim} dimensions, expected 1 (labels) or 3 (images)")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path}: header cut short ({len(raw)} bytes, expected {header})")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    expected, found = int(np.prod(dims)), len(raw) - header
    if found != expected:
        fault = "truncated" if found < expected else "trailing bytes"
        raise DatasetError(f"{path}: {fault}: dims {dims} need {expected} bytes of data, found {found}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def find_split_files(split: str, data_dir) -> tuple[Path, Path]:
    """Find a split's images and labels as NAME.gz, NAME, or the seed's dotted NAME (train-images.idx3-ubyte)."""
    if split not in SPLIT_FILES:
        raise DatasetError(f"unknown split {split!r}: expected one of {', '.join(SPLIT_FILES)}")
    data_dir = Path(data_dir)
    found = []
    for name in SPLIT_FILES[split]:
        candidates = [f"{name}.gz", name, name.replace("-idx", ".idx")]
        path = next((data_dir / c for c in candidates if (data_dir / c).is_file()), None)
        if path is None:
            raise DatasetError(f"{split} data not found in {data_dir}: looked for {', '.join(candidates)}")
        found.append(path)
    return found[0], found[1]


def missing_split(data_dir) -> str | None:
    """The first split whose files are not in `data_dir`; None when every split is there."""
    for split in SPLIT_FILES:
        try:
            find_split_files(split, data_dir)
        except DatasetError:
            return split
    return None


def load_split(split: str, data_dir) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 28, 28) and labels uint8 (N,) of a split, validated, cached and read-only. "validation" is
    the training file's last images (contract.VALIDATION_START on)."""
    if split == VALIDATION_SPLIT:
        images, labels = load_split(TRAIN_SPLIT, data_dir)
        return images[VALIDATION_START:], labels[VALIDATION_START:]
    return _load_split(split, Path(data_dir).expanduser().resolve())


@functools.lru_cache(maxsize=4)
def _load_split(split: str, directory: Path) -> tuple[np.ndarray, np.ndarray]:
    images_path, labels_path = find_split_files(split, directory)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != IMAGE_SHAPE:
        raise DatasetError(f"{images_path}: images of shape {images.shape[1:]}, expected {IMAGE_SHAPE}")
    if labels.ndim != 1:
        raise DatasetError(f"{labels_path}: labels must have one dimension, found {labels.ndim}")
    if len(images) != len(labels):
        raise DatasetError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                           f"{len(labels)} labels")
    if len(labels) and labels.max() > 9:
        raise DatasetError(f"{labels_path}: label {labels.max()} is not a digit 0-9")
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def select(images: np.ndarray, labels: np.ndarray, limit: int = 0, indices=()) -> tuple[np.ndarray, np.ndarray]:
    """The samples a request names: these `indices`, or the first `limit` (0 means all)."""
    if limit and len(indices):
        raise ValueError("give either limit or indices, not both")
    if limit < 0:
        raise ValueError(f"limit must be 0 (all) or positive, got {limit}")
    if len(indices):
        chosen = np.asarray(indices, dtype=np.int64)
        outside = chosen[(chosen < 0) | (chosen >= len(labels))]
        if outside.size:
            raise IndexError(f"sample index {outside[0]} is out of range: "
                             f"the set has {len(labels)} samples, indices 0..{len(labels) - 1}")
        return images[chosen], labels[chosen]
    return (images[:limit], labels[:limit]) if limit else (images, labels)


class NotOfficial(DatasetError):
    """Files of the destination are not the official ones; `paths` names them."""

    def __init__(self, paths: list[Path]):
        super().__init__(f"{', '.join(map(str, paths))}: not the official file{'s' if len(paths) > 1 else ''} "
                         f"(sha256 differs): refusing to replace {'them' if len(paths) > 1 else 'it'}")
        self.paths = paths


def fetch(dest: Path, mirrors=MIRRORS, sha256=OFFICIAL_SHA256, timeout=60, log=print, force=False) -> list[Path]:
    """Download the files named in `sha256` into dest, verified, skipping those already there. Files there
    whose checksum differs are replaced only when `force` is true (else NotOfficial, before any download).

    Each file is written to a temporary name and moved into place only once its checksum and format are
    right, so an interrupted or corrupt download never leaves a file that looks like data; folders made for a
    fetch that placed nothing are removed again.
    """
    dest = Path(dest)
    present = {name: _sha256(dest / name) == digest for name, digest in sha256.items() if (dest / name).is_file()}
    differing = [dest / name for name, intact in present.items() if not intact]
    if differing and not force:
        raise NotOfficial(differing)
    made = [folder for folder in (dest, *dest.parents) if not folder.exists()]
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    try:
        for name, digest in sha256.items():
            path = dest / name
            if present.get(name):
                log(f"{name}: already present, checksum ok")
            else:
                _download(name, digest, path, mirrors, timeout, log)
            paths.append(path)
    except DatasetError:
        for folder in made:          # innermost first; only those still empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    return paths


def _download(name: str, digest: str, path: Path, mirrors, timeout: float, log) -> None:
    reasons = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + name
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
                while block := response.read(1 << 20):
                    out.write(block)
                promised = response.headers.get("Content-Length")
                if promised is not None and out.tell() != int(promised):
                    raise DatasetError(f"download cut short: {out.tell()} of {promised} bytes")
            found = _sha256(Path(tmp))
            if found != digest:
                raise DatasetError(f"sha256 {found} differs from the expected {digest}")
            read_idx(tmp)
            os.replace(tmp, path)
            log(f"{name}: downloaded from {url}")
            return
        except (OSError, ValueError, http.client.HTTPException) as error:
            reason = f"{url}: {error or type(error).__name__}"
            reasons.append(reason)
            log(f"{name}: refused {reason}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DatasetError(f"could not fetch {name}: " + ("; ".join(reasons) or "no mirrors given"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


# What MNIST digits look like, for telling a caller that an image is not one: white strokes (≈ 19 % of pixels
# lit, mean ≈ 33 of 255) on black, centred in the 20×20 middle, so the outer 4-pixel frame is nearly black.
FRAME = 4
MOSTLY_LIGHT_MEAN = 160.0        # mean pixel above this: dark drawing on light paper
CLUTTERED_FRAME = 0.10           # share of frame pixels lit (> 64) above this: not a centred digit
CLUTTERED_LIT = 0.5              # share of all pixels lit above this: noise or a photo, not strokes


def digit_warnings(images: np.ndarray) -> list[str]:
    """One line per image (N×28×28, pixels on the 0–255 scale) that does not look like an MNIST digit. Each
    statistic is taken over the whole batch at once: a Predict of 1,000 images pays a few numpy calls, not a few
    thousand."""
    images = np.asarray(images).reshape(len(images), *IMAGE_SHAPE)
    if len(images) == 0:
        return []
    pixels, lit = images.reshape(len(images), -1), images > 64
    peaks, means = pixels.max(axis=1), pixels.mean(axis=1, dtype=np.float64)
    lit_all = lit.reshape(len(images), -1).sum(axis=1)
    lit_frame = lit_all - lit[:, FRAME:-FRAME, FRAME:-FRAME].sum(axis=(1, 2))
    frame_pixels = pixels.shape[1] - (IMAGE_SHAPE[0] - 2 * FRAME) * (IMAGE_SHAPE[1] - 2 * FRAME)
    cluttered = (lit_frame > CLUTTERED_FRAME * frame_pixels) | (lit_all > CLUTTERED_LIT * pixels.shape[1])
    warnings = []
    for i in np.flatnonzero((peaks < 32) | (means > MOSTLY_LIGHT_MEAN) | cluttered).tolist():
        if 0 < peaks[i] <= 1.0:
            warnings.append(f"image {i} looks scaled to 0–1: send pixels on the 0–255 scale")
        elif peaks[i] < 32:
            warnings.append(f"image {i} is blank")
        elif means[i] > MOSTLY_LIGHT_MEAN:
            warnings.append(f"image {i} is mostly light: MNIST digits are white on black (invert dark-on-light "
                            f"drawings)")
        else:
            warnings.append(f"image {i} does not look like a centred digit (ink near the edges or everywhere)")
    return warnings
