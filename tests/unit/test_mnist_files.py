"""Reading and validating MNIST IDX files (run with LENET_DATA_DIR pointing at the dataset)."""
import gzip
import re
import struct

import numpy as np
import pytest

from lenet_protos import mnist
from lenet_protos.mnist import DatasetError


def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    """An IDX file's bytes for a uint8 array."""
    return bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_split(directory, images, labels, split="train"):
    images_name, labels_name = mnist.SPLIT_FILES[split]
    (directory / images_name).write_bytes(idx_bytes(images))
    (directory / labels_name).write_bytes(idx_bytes(labels))


@pytest.fixture(scope="module")
def test_split(data_dir):
    return mnist.load_split("test", data_dir)


def test_real_splits_have_the_seed_counts_and_labels(data_dir):
    images, labels = mnist.load_split("train", data_dir)
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]  # as the seed prints
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    test_images, test_labels = mnist.load_split("test", data_dir)
    assert test_images.shape == (10000, 28, 28) and test_labels.shape == (10000,)


def test_load_split_is_cached_and_read_only(test_split, data_dir):
    assert mnist.load_split("test", data_dir) is mnist.load_split("test", data_dir)
    images, labels = test_split
    with pytest.raises(ValueError):
        images[0, 0, 0] = 1
    with pytest.raises(ValueError):
        labels[0] = 1


def test_raw_and_dotted_names_read_like_gz(tmp_path, test_split):
    images, labels = test_split
    (tmp_path / "t10k-images.idx3-ubyte").write_bytes(idx_bytes(images))  # the seed's dotted name
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(labels))  # raw, standard name
    raw_images, raw_labels = mnist.load_split("test", tmp_path)
    np.testing.assert_array_equal(raw_images, images)
    np.testing.assert_array_equal(raw_labels, labels)


def test_gzip_is_told_by_magic_bytes_not_by_name(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    (tmp_path / "plain.gz").write_bytes(idx_bytes(labels))
    (tmp_path / "packed").write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "plain.gz"), labels)
    np.testing.assert_array_equal(mnist.read_idx(tmp_path / "packed"), labels)


GOOD = idx_bytes(np.zeros((2, 28, 28), np.uint8))


@pytest.mark.parametrize("content, message", [
    (b"\x01\x00" + GOOD[2:], "two zero bytes"),
    (b"", "empty file"),
    (GOOD[:2] + b"\x0d" + GOOD[3:], "type code 0x0d"),
    (GOOD[:3] + b"\x02" + GOOD[4:], "2 dimensions"),
    (GOOD[:10], "header cut short"),
    (GOOD[:-1], "truncated: dims (2, 28, 28) need 1568 bytes of data, found 1567"),
    (GOOD + b"\x00\x00", "trailing bytes: dims (2, 28, 28) need 1568 bytes of data, found 1570"),
    (gzip.compress(GOOD)[:-8], "corrupt gzip"),
])
def test_malformed_files_are_refused_with_a_telling_message(tmp_path, content, message):
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match=re.escape(message)) as error:
        mnist.read_idx(path)
    assert str(path) in str(error.value)


def test_image_and_label_counts_must_match(tmp_path):
    write_split(tmp_path, np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8))
    with pytest.raises(DatasetError, match="holds 3 images but .*train-labels-idx1-ubyte holds 4 labels"):
        mnist.load_split("train", tmp_path)


def test_labels_must_be_digits_and_images_28_by_28(tmp_path):
    write_split(tmp_path, np.zeros((2, 28, 28), np.uint8), np.array([3, 10], np.uint8))
    with pytest.raises(DatasetError, match="label 10 is not a digit"):
        mnist.load_split("train", tmp_path)
    write_split(tmp_path, np.zeros((2, 28, 27), np.uint8), np.array([3, 1], np.uint8), split="test")
    with pytest.raises(DatasetError, match=r"images of shape \(28, 27\), expected \(28, 28\)"):
        mnist.load_split("test", tmp_path)


def test_missing_files_and_unknown_splits_say_what_was_looked_for(tmp_path):
    with pytest.raises(DatasetError, match="looked for train-images-idx3-ubyte.gz, train-images-idx3-ubyte, "
                                           "train-images.idx3-ubyte"):
        mnist.find_split_files("train", tmp_path)
    with pytest.raises(DatasetError, match="unknown split 'validation'"):
        mnist.find_split_files("validation", tmp_path)


def test_select_by_limit_or_indices(test_split):
    images, labels = test_split
    assert [len(part) for part in mnist.select(images, labels, limit=5)] == [5, 5]
    assert len(mnist.select(images, labels)[1]) == 10000
    chosen_images, chosen_labels = mnist.select(images, labels, indices=[9999, 0, 7])
    np.testing.assert_array_equal(chosen_images, images[[9999, 0, 7]])
    np.testing.assert_array_equal(chosen_labels, labels[[9999, 0, 7]])


@pytest.mark.parametrize("indices, bad", [([0, 10000], 10000), ([-1], -1)])
def test_select_refuses_indices_out_of_range(test_split, indices, bad):
    with pytest.raises(IndexError, match=f"sample index {bad} is out of range: the set has 10000 samples"):
        mnist.select(*test_split, indices=indices)


def test_select_refuses_both_limit_and_indices_and_negative_limits(test_split):
    with pytest.raises(ValueError, match="not both"):
        mnist.select(*test_split, limit=3, indices=[1])
    with pytest.raises(ValueError, match="limit must be"):
        mnist.select(*test_split, limit=-1)


def test_every_mnist_digit_looks_like_one_and_other_pictures_do_not(test_split):
    images, _ = test_split
    assert mnist.digit_warnings(images) == []
    noise = np.random.default_rng(0).integers(0, 256, (28, 28))
    odd = np.stack([np.zeros((28, 28)), 255 - images[0], images[0] / 255, noise])
    assert [line.split(" ", 3)[3] for line in mnist.digit_warnings(odd)] == [
        "blank", "mostly light: MNIST digits are white on black (invert dark-on-light drawings)",
        "scaled to 0–1: send pixels on the 0–255 scale",
        "not look like a centred digit (ink near the edges or everywhere)"]
