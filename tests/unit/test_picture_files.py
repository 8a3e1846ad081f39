"""Pictures given to `lenet predict` that are not 28×28: each is framed as MNIST's digits were (the digit fitted
into 20×20 keeping its shape, centred by mass in 28×28, on paper of the picture's colour), and a note says so —
silently squeezing a 100×50 picture or blowing up a 10×10 one misleads."""
import numpy as np
from PIL import Image, ImageDraw

from lenet_clients import images


def test_pictures_of_another_size_are_framed_as_mnist_and_say_how(tmp_path):
    wide = Image.new("L", (100, 50), "white")
    wide.paste(0, (40, 5, 60, 45))                       # a dark bar, 20×40, on white paper
    wide.save(tmp_path / "wide.png")
    tiny = Image.new("L", (10, 10), "black")
    tiny.paste(255, (2, 2, 8, 8))
    tiny.save(tmp_path / "tiny.png")
    seven = Image.new("L", (280, 280), "white")          # the README's seven, drawn off-centre
    ImageDraw.Draw(seven).line([(70, 50), (210, 50), (120, 240)], fill="black", width=28)
    seven.save(tmp_path / "seven.png")
    Image.new("L", (28, 28), "black").save(tmp_path / "mnist.png")
    Image.new("L", (56, 56), "white").save(tmp_path / "blank.png")
    pixels, sources, notes = images.load([tmp_path / name for name in ("wide.png", "tiny.png", "seven.png",
                                                                        "mnist.png", "blank.png")])
    assert pixels.shape == (5, 28, 28) and sources == ["wide.png", "tiny.png", "seven.png", "mnist.png", "blank.png"]
    assert notes == [
        "wide.png: 100×50 picture: its digit (20×40) scaled down to fit 20×20, centred by mass in 28×28, as MNIST's "
        "digits are",
        "tiny.png: 10×10 picture: its digit (6×6) enlarged to fit 20×20, centred by mass in 28×28, as MNIST's digits "
        "are (the detail between its pixels is made up: draw digits larger)",
        "seven.png: 280×280 picture: its digit (154×210) scaled down to fit 20×20, centred by mass in 28×28, as "
        "MNIST's digits are",
        "blank.png: 56×56 picture holds no digit: sent as blank 28×28"]
    bar = np.argwhere(pixels[0] < 128)                   # 10×20 now: its shape kept, in the middle
    assert (bar.max(axis=0) - bar.min(axis=0) + 1).tolist() == [20, 10]
    assert abs(bar.mean(axis=0) - 13.5).max() <= 1 and (pixels[0][[0, -1]] == 255).all()
    ink = np.argwhere(pixels[2] < 128)
    assert (ink.max(axis=0) - ink.min(axis=0) + 1).max() == 20 and (pixels[2][:3] == 255).all()
