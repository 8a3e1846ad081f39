"""Pictures given to `lenet predict` that are not 28×28: each is made 28×28 in a way that keeps the digit's shape,
and a note says what was done (silently squeezing a 100×50 picture or blowing up a 10×10 one misleads)."""
import numpy as np
from PIL import Image

from clients import images


def test_pictures_of_another_size_are_resized_and_say_how(tmp_path):
    wide = Image.new("L", (100, 50), "white")
    wide.paste(0, (40, 5, 60, 45))                       # a dark bar in the middle, on white paper
    wide.save(tmp_path / "wide.png")
    Image.new("L", (10, 10), "black").save(tmp_path / "tiny.png")
    Image.new("L", (280, 280), "black").save(tmp_path / "big.png")
    Image.new("L", (28, 28), "black").save(tmp_path / "mnist.png")
    pixels, sources, notes = images.load([tmp_path / name for name in ("wide.png", "tiny.png", "big.png",
                                                                        "mnist.png")])
    assert pixels.shape == (4, 28, 28) and sources == ["wide.png", "tiny.png", "big.png", "mnist.png"]
    assert notes == ["wide.png: 100×50 picture padded to 100×100 with its edge colour (255), then scaled down to "
                     "28×28",
                     "tiny.png: 10×10 picture enlarged to 28×28 (the detail between its pixels is made up: draw "
                     "digits at 28×28 or larger)",
                     "big.png: 280×280 picture scaled down to 28×28"]
    wide_digit = pixels[0]
    assert (wide_digit[:6] == 255).all() and (wide_digit[-6:] == 255).all()   # padded with paper, not stretched
    assert wide_digit[14, 14] < 64 and wide_digit[14, 3] == 255                # the bar stays narrow
    assert np.count_nonzero(wide_digit < 128) < 28 * 8
