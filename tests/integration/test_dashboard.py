"""The dashboard as people use it: a real dashboard process (started by Stack(dashboard_port=…)) on the session's
Redis, real workers and gateway, and a real browser (headless Chromium driven by Selenium).

Each view is saved as a screenshot under the test's tmp_path (the paths are printed: `pytest -s` shows them)."""
import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from debian_packages import commands
from PIL import Image
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from lenet_protos.contract import COLORS, LAYER_SHAPES, LAYERS, OPERATOR_COLORS
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.stack import Stack
from lenet_services.store import Store

WAIT = 120   # seconds a page may take to show what a test waits for (a bound, not a measurement)


@pytest.fixture(scope="module")
def dashboard(settings, stack, tmp_path_factory) -> Stack:
    """The dashboard (and a second gateway) on the session stack's Redis, as `lenet up --dashboard-port` runs it."""
    with Stack(settings, workers=0, redis_url=stack.redis_url, dashboard_port=0,
               log_dir=str(tmp_path_factory.mktemp("dashboard-logs"))) as running:
        yield running


@pytest.fixture(scope="module")
def browser(chromium, dashboard):
    driver = chromium()
    yield driver
    driver.quit()


def show(driver, dashboard: Stack, fragment: str) -> None:
    """Go to a view (changing only the address's fragment when the dashboard is already open: no reload) and wait
    until it has drawn itself."""
    if driver.current_url == f"{dashboard.dashboard_url}{fragment}":
        driver.refresh()
    elif driver.current_url.startswith(dashboard.dashboard_url):
        unready(driver)
        driver.execute_script("location.hash = arguments[0]", fragment)
    else:
        driver.get(f"{dashboard.dashboard_url}{fragment}")
    ready(driver, fragment)


def ready(driver, fragment: str) -> None:
    """Wait until the view at `fragment` has drawn itself: the address shows it and the page is marked ready. The
    address changes at once, the page only on the later hashchange, so whoever changes the address removes the old
    page's mark first (or a ready old page would pass)."""
    wait_for(driver, lambda d: d.execute_script(
        "const page = document.querySelector('.page');"
        "return page && page.dataset.ready === '1' && location.hash === arguments[0]", fragment))


def unready(driver) -> None:
    """Remove the shown page's ready mark, before an action that changes the address (see ready)."""
    driver.execute_script("document.querySelector('.page')?.removeAttribute('data-ready')")


def wait_for(driver, condition, timeout: float = WAIT):
    """The condition's first true value. Live views redraw their rows whenever the data changes, so an element found
    by one WebDriver call may be gone by the next: such a try counts as not yet."""
    return WebDriverWait(driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def rgba(color: str) -> str:
    """"#3a6ea5" as a browser gives a computed colour: "rgba(58, 110, 165, 1)"."""
    return f"rgba({', '.join(str(int(color[i:i + 2], 16)) for i in (1, 3, 5))}, 1)"


def cells(driver, rows: str) -> list[list[str]]:
    """The text of every cell of the rows matched, read in one script so that a redraw cannot come in between."""
    return driver.execute_script("return [...document.querySelectorAll(arguments[0])]"
                                 ".map((row) => [...row.children].map((cell) => cell.innerText.trim()))", rows)


FINAL = ".title-row .state-succeeded, .title-row .state-failed, .title-row .state-cancelled"


def ended(driver, timeout: float = 600) -> str:
    """Wait until the job page shows a final state; that state."""
    return wait_for(driver, lambda d: d.execute_script(
        "return document.querySelector(arguments[0])?.innerText.trim()", FINAL), timeout)


def error_shown(driver) -> str:
    return driver.execute_script("const e = document.getElementById('error'); return e.hidden ? '' : e.textContent")


def http(dashboard: Stack, path: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of one request to the dashboard, redirects not followed."""
    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects)
    request = urllib.request.Request(f"{dashboard.dashboard_url}{path.lstrip('/')}", data=body, method=method,
                                     headers=headers or {})
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


# -- jobs ----------------------------------------------------------------------------------------------------------
def test_a_job_submitted_through_the_gateway_appears_and_its_curve_grows_while_it_trains(
        browser, dashboard, stack, client, screenshot):
    """The jobs table (tab A) and the job's page (tab B) follow a training job live. The training workers are held
    (SIGSTOP) until tab B listens, so every event reaches it live, and held again half-way, to look at both tabs
    while the job runs."""
    show(browser, dashboard, "#/jobs")
    table_tab = browser.current_window_handle
    browser.execute_script("window.notReloaded = true")
    trainers = {w.name: w.pid for w in Store(stack.redis_url).workers.alive() if w.lane == "cpu.train"}
    assert trainers, "the session stack has training workers"
    for pid in trainers.values():
        os.kill(pid, signal.SIGSTOP)
    try:
        job = client.train(epochs=1, limit=2000, batch_size=10, eval_limit=200, init_scale=0.07, model_name="live")
        row = f"#jobs-table tr[data-job='{job.id}']"
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row}[data-state='QUEUED']"))
        [queued] = cells(browser, row)
        assert queued[1:5] == ["TRAIN", "QUEUED", "CPU", "cpu.train"] and "waiting on cpu.train" in queued[5]
        browser.switch_to.new_window("tab")
        show(browser, dashboard, f"#/jobs/{job.id}")
        browser.execute_script("window.notReloaded = true")
        wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#event-log li[data-kind='state']"))
    finally:
        for pid in trainers.values():
            os.kill(pid, signal.SIGCONT)

    points = "return Number(document.querySelector('#curve')?.dataset.batchPoints || 0)"
    wait_for(browser, lambda d: d.execute_script(points) >= 5 or d.find_elements(By.CSS_SELECTOR, FINAL))
    running = client.job(job.id)
    assert running.state == pb.RUNNING, "the job ended before the test could look at it half-way"
    os.kill(trainers[running.worker], signal.SIGSTOP)
    try:
        half_way = browser.execute_script(points)
        screenshot(browser, "job-running")
        browser.switch_to.window(table_tab)
        wait_for(browser, lambda d: any("batch" in shown[5] for shown in cells(d, row)))
        [running_row] = cells(browser, row)
        assert running_row[1:3] == ["TRAIN", "RUNNING"], running_row
        assert running_row[5].startswith("epoch 1/1, batch ") and running_row[5].endswith("/200"), running_row
        screenshot(browser, "jobs-running")
        browser.switch_to.window(browser.window_handles[-1])
    finally:
        os.kill(trainers[running.worker], signal.SIGCONT)

    assert ended(browser) == "SUCCEEDED", client.job(job.id).error
    assert browser.execute_script("return window.notReloaded") is True
    batches = [e.batch.batch for e in client.watch(job.id) if e.WhichOneof("kind") == "batch"]
    assert len(batches) == 20 and 5 <= half_way < 20               # 200 batches, an event every 10
    renders = browser.execute_script("return window.lenetCurve")
    while_running = [render["batch"] for render in renders if render["state"] == "RUNNING"]
    assert while_running == sorted(while_running) and len(set(while_running) - {0}) >= 2, renders
    curve = browser.find_element(By.CSS_SELECTOR, "#curve")
    assert curve.get_attribute("data-batch-points") == "20" and curve.get_attribute("data-epoch-points") == "1"
    assert int(browser.find_element(By.CSS_SELECTOR, "#curve path.series-batch").get_attribute("data-points")) == 20
    logged = [item.get_attribute("data-kind") for item in browser.find_elements(By.CSS_SELECTOR, "#event-log li")]
    assert logged.count("batch") == 20 and logged[-1] == "state"
    assert not browser.find_element(By.ID, "cancel").is_displayed()                       # ended: nothing to cancel
    colors = {name: browser.find_element(By.CSS_SELECTOR, f"#curve path.series-{name}").get_attribute("stroke")
              for name in ["batch", "epoch-train", "epoch-test"]}
    assert len(set(colors.values())) == 3, colors
    screenshot(browser, "job")
    browser.close()
    browser.switch_to.window(table_tab)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"{row}[data-state='SUCCEEDED']"))
    assert browser.execute_script("return window.notReloaded") is True


def test_per_batch_accuracy_is_one_line_per_epoch(browser, dashboard, client):
    """The running accuracy starts again each epoch: its line breaks there instead of joining the epochs."""
    job = client.wait(client.train(epochs=2, limit=200, batch_size=10, eval_limit=100, model_name="two-epochs").id)
    assert job.state == pb.SUCCEEDED, job.error
    show(browser, dashboard, f"#/jobs/{job.id}")
    wait_for(browser, lambda d: d.execute_script("return document.querySelector('#curve')?.dataset.epochPoints") == "2")
    batch = browser.find_element(By.CSS_SELECTOR, "#curve path.series-batch")
    batches = [e.batch.epoch for e in client.watch(job.id) if e.WhichOneof("kind") == "batch"]
    assert sorted(set(batches)) == [1, 2]
    assert batch.get_attribute("d").count("M") == 2 and batch.get_attribute("data-points") == str(len(batches))


def test_the_page_of_an_unknown_job_shows_only_the_error(browser, dashboard):
    browser.get(f"{dashboard.dashboard_url}#/jobs/deadbeefdeadbeef")
    assert "not found" in wait_for(browser, error_shown)
    assert not browser.find_elements(By.CSS_SELECTOR, "#curves, #event-log, #cancel")


def test_cancel_from_the_job_page(browser, dashboard, client):
    job = client.train(epochs=1, limit=100, device="gpu", model_name="never")   # no GPU worker: it stays queued
    show(browser, dashboard, f"#/jobs/{job.id}")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".title-row .state-queued"))
    # the header (and its button) is drawn again each time the job's record comes: find and click in one try
    wait_for(browser, lambda d: d.find_element(By.ID, "cancel").click() or True)
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".title-row .state-cancelled"))
    assert client.job(job.id).state == pb.CANCELLED


def test_filters_show_only_the_chosen_kind_and_state(browser, dashboard, client, trained_model, screenshot):
    show(browser, dashboard, "#/jobs")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-job='{trained_model.id}']"))
    screenshot(browser, "jobs")
    unready(browser)
    Select(browser.find_element(By.NAME, "kind")).select_by_value("TRAIN")
    ready(browser, "#/jobs?kind=TRAIN")
    unready(browser)
    Select(browser.find_element(By.NAME, "state")).select_by_value("SUCCEEDED")
    ready(browser, "#/jobs?kind=TRAIN&state=SUCCEEDED")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-job='{trained_model.id}']"))
    rows = browser.execute_script("return [...document.querySelectorAll('#jobs-table tbody tr')]"   # one read
                                  ".map((row) => [row.dataset.job, row.dataset.state])")
    expected = {job.id for job in client.jobs(kind=pb.TRAIN, state=pb.SUCCEEDED, limit=50)}
    states, shown = {state for _, state in rows}, {job for job, _ in rows}
    assert states == {"SUCCEEDED"} and shown == expected


# -- models and evaluations --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def evaluation_job(browser, dashboard, client, trained_model) -> str:
    """An evaluation of the session's model, started from the model's page (first 1,000 test images)."""
    show(browser, dashboard, f"#/models/{trained_model.model_id}")
    form = browser.find_element(By.ID, "evaluate-form")
    limit = form.find_element(By.NAME, "limit")
    limit.clear()
    limit.send_keys("1000")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, lambda d: "#/jobs/" in d.current_url)
    job_id = browser.current_url.rsplit("/", 1)[1]
    assert ended(browser) == "SUCCEEDED", client.job(job_id).error
    job = client.job(job_id)
    assert job.kind == pb.EVALUATE and job.queue == "cpu.serve" and job.model_id == trained_model.model_id
    return job_id


def test_the_model_page_shows_parameters_history_graph_and_exports(browser, dashboard, client, trained_model,
                                                                   screenshot):
    model = client.set_alias("small", "reviewed", client.model(trained_model.model_id).version)
    show(browser, dashboard, "#/models")
    listed = [row.get_attribute("data-model") for row in browser.find_elements(By.CSS_SELECTOR, "table.models tr")]
    assert listed[1:] == [m.id for m in client.models()]
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-model='{model.id}']")
    assert (row.find_element(By.CSS_SELECTOR, ".version").text, row.find_element(By.CSS_SELECTOR, ".aliases").text) \
        == (str(model.version), ", ".join(model.aliases))
    screenshot(browser, "models")
    row.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".page[data-ready='1'] table.hyper"))
    assert browser.find_element(By.TAG_NAME, "h2").text.startswith(f"Model small/{model.version} ")
    assert "small@reviewed" in browser.find_element(By.ID, "aliases").text
    client.delete_alias("small", "reviewed")
    hyper = dict(cells(browser, "table.hyper tbody tr"))          # name → value
    assert hyper["epochs"] == "1" and hyper["batch_size"] == "100" and hyper["init_scale"] == "0.07"
    layers = [row.find_element(By.TAG_NAME, "td").text
              for row in browser.find_elements(By.CSS_SELECTOR, "table.layers tbody tr")]
    assert layers == list(LAYERS)
    drawn = browser.find_elements(By.CSS_SELECTOR, "#graph svg .node-name")
    assert [node.text for node in drawn] == ["data", *LAYERS]
    assert browser.find_element(By.CSS_SELECTOR, "#history path.series-epoch-test").get_attribute("data-points") == "1"
    swatches = {role: browser.find_element(By.CSS_SELECTOR, f"#history .swatch.{role}-dot")
                .value_of_css_property("background-color") for role in ("train", "test")}
    assert swatches == {role: rgba(COLORS[role]) for role in swatches}      # the stylesheet's, from the contract
    assert browser.find_element(By.CSS_SELECTOR, "#graph svg .node").get_attribute("fill") == OPERATOR_COLORS["data"]
    links = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".exports a")}
    assert set(links) == {"small-symbol.json", "small-0000.params", "small.onnx", "lenet.dot"}
    status, headers, body = http(dashboard, links["small-symbol.json"].split("/", 3)[3])
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    assert {node["name"] for node in json.loads(body)["nodes"]} >= {"Conv1", "SoftM"}
    status, _, body = http(dashboard, links["lenet.dot"].split("/", 3)[3])
    assert status == 200 and body.decode() == client.graph(model.id).dot
    status, _, body = http(dashboard, links["small.onnx"].split("/", 3)[3])      # converted by a serving worker
    assert status == 200 and len(body) > 4 * 431_080 and b"SoftM" in body
    screenshot(browser, "model")


def test_a_click_on_a_confusion_matrix_cell_shows_its_digits(browser, dashboard, client, evaluation_job, screenshot):
    evaluation = client.evaluation(evaluation_job)
    worst = evaluation.worst[0]
    show(browser, dashboard, "#/evaluations")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-job='{evaluation_job}']"))
    screenshot(browser, "evaluations")
    browser.find_element(By.CSS_SELECTOR, f"tr[data-job='{evaluation_job}']").click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".page[data-ready='1'] #confusion"))
    counts = [[int(cell.text) for cell in row.find_elements(By.CSS_SELECTOR, "td.count")]
              for row in browser.find_elements(By.CSS_SELECTOR, "#confusion tbody tr")]
    assert np.array_equal(counts, np.reshape(evaluation.confusion_matrix, (10, 10)))
    overall = dict(cells(browser, "#overall tbody tr"))           # statistic → value
    assert overall["Accuracy"] == f"{evaluation.overall.accuracy:.7f}"
    assert len(browser.find_elements(By.CSS_SELECTOR, "#by-class tbody tr")) == 11     # caret's statistics
    cell = browser.find_element(By.CSS_SELECTOR, f"td[data-prediction='{worst.prediction}']"
                                                 f"[data-reference='{worst.reference}']")
    assert "worst" in cell.get_attribute("class")
    cell.click()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#cases figure.case"))
    shown = [int(f.get_attribute("data-index")) for f in browser.find_elements(By.CSS_SELECTOR, "#cases figure")]
    assert shown == list(worst.indices)[:60]
    probabilities = {m.index: m for m in evaluation.misclassified}
    images, labels = client.samples(shown[:3])
    for figure, index, label, image in zip(browser.find_elements(By.CSS_SELECTOR, "#cases figure"), shown, labels,
                                           images):
        assert label == worst.reference and probabilities[index].prediction == worst.prediction
        drawn = browser.execute_script(
            "const c = arguments[0].querySelector('canvas'); const d = c.getContext('2d').getImageData(0, 0, 28, 28);"
            "return Array.from({length: 784}, (_, i) => 255 - d.data[4 * i]);", figure)
        assert np.array_equal(drawn, image.ravel())                       # the very digit, dark on light
        bars = figure.find_elements(By.CSS_SELECTOR, "svg rect")
        assert len(bars) == 10
        assert bars[worst.reference].get_attribute("fill") == "#2a9d4b"        # true class: green
        assert bars[worst.prediction].get_attribute("fill") == "#d1495b"       # predicted: red
    screenshot(browser, "evaluation")


# -- activations ---------------------------------------------------------------------------------------------------
def drawn_layers(driver) -> dict[str, dict]:
    """Per layer section: its canvases (maps or strip), how many show more than one colour, and its bars."""
    return dict(driver.execute_script("""
        const out = [];
        for (const section of document.querySelectorAll('section.layer')) {
          const canvases = [...section.querySelectorAll('canvas')];
          const varied = canvases.filter((c) => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            for (let i = 4; i < d.length; i += 4) {
              if (d[i] !== d[0] || d[i + 1] !== d[1] || d[i + 2] !== d[2]) return true;
            }
            return false;
          }).length;
          out.push([section.dataset.layer, {canvases: canvases.length, varied,
                                        maps: section.querySelectorAll('canvas.map').length,
                                        rules: [...new Set([...section.querySelectorAll('canvas.map')]
                                                           .map((c) => c.dataset.signed))],
                                        strips: section.querySelectorAll('canvas.strip').length,
                                        bars: section.querySelectorAll('svg.bars rect[data-class]').length}]);
        }
        return out;"""))


def test_the_activation_view_draws_all_11_layers_for_a_chosen_digit(browser, dashboard, client, trained_model,
                                                                    screenshot):
    index = 65
    show(browser, dashboard, "#/activations")
    Select(browser.find_element(By.ID, "model")).select_by_value(trained_model.model_id)
    number = browser.find_element(By.ID, "index")
    number.clear()
    number.send_keys(str(index))
    browser.find_element(By.CSS_SELECTOR, "#inspect-form button[type=submit]").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.layer")) == 11 or error_shown(d))
    assert not error_shown(browser)
    layers = drawn_layers(browser)
    assert list(layers) == list(LAYERS)
    for name, shape in LAYER_SHAPES.items():
        if len(shape) == 3:
            assert layers[name]["maps"] == shape[0] and layers[name]["varied"] >= shape[0] // 2, (name, layers[name])
            assert len(layers[name]["rules"]) == 1, (name, layers[name])     # one colour rule per layer
        else:
            assert layers[name]["strips"] == 1 and layers[name]["varied"] == 1, (name, layers[name])
    assert layers["Full2"]["bars"] == layers["SoftM"]["bars"] == 10
    probabilities, predicted = client.predict(trained_model.model_id, client.samples([index])[0])
    _, labels = client.samples([index])
    verdict = browser.find_element(By.ID, "verdict").text
    assert verdict.startswith(f"label {labels[0]}, predicted {predicted[0]}")
    screenshot(browser, "activations")


def test_a_digit_drawn_in_the_canvas_goes_through_every_layer(browser, dashboard, trained_model, screenshot):
    show(browser, dashboard, f"#/activations?model={trained_model.model_id}")
    pad = browser.find_element(By.ID, "pad")
    stroke = ActionChains(browser).move_to_element_with_offset(pad, 0, -80).click_and_hold()
    for dy in range(-60, 100, 20):             # a vertical stroke: a "1"
        stroke = stroke.move_to_element_with_offset(pad, 4, dy)
    stroke.release().perform()
    browser.find_element(By.ID, "inspect-drawing").click()
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "section.layer")) == 11 or error_shown(d))
    assert not error_shown(browser)
    assert browser.find_element(By.ID, "verdict").text.startswith("predicted ")
    assert list(drawn_layers(browser)) == list(LAYERS)
    screenshot(browser, "activations-drawn")


# -- workers, and what the process is made of ------------------------------------------------------------------------
def test_the_workers_view_lists_live_workers_and_lanes(browser, dashboard, stack, screenshot):
    show(browser, dashboard, "#/workers")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "table.workers tbody tr"))
    alive = Store(stack.redis_url).workers.alive()
    shown = sorted(browser.execute_script("return [...document.querySelectorAll('table.workers tbody tr')]"
                                          ".map((row) => row.dataset.lane)"))
    assert shown == sorted(worker.lane for worker in alive) == ["cpu.serve", "cpu.serve", "cpu.train", "cpu.train"]
    lanes = {lane: workers for lane, workers, *_ in cells(browser, "table.lanes tbody tr")}
    assert lanes == {"cpu.train": "2", "cpu.serve": "2", "gpu.train": "0", "gpu.serve": "0"}
    screenshot(browser, "workers")


# -- sweeps --------------------------------------------------------------------------------------------------------
def test_the_sweep_page_shows_trials_curves_parameters_and_importances(browser, dashboard, client, screenshot):
    """A grid of three learning rates, the bad one (5) pruned after its first epoch: the page draws its curve grey."""
    sweep = client.sweep(["learning_rate=0.05,0.1,5"], sampler="grid", sampler_seed=3, pruner="median", epochs=2,
                         limit=300, validation_limit=200, test_limit=300, init_scale=0.07)
    show(browser, dashboard, f"#/sweeps/{sweep.id}")
    wait_for(browser, lambda d: d.execute_script("return document.querySelector('#summary .state')?.innerText"
                                                 " === 'SUCCEEDED' && document.querySelector('#importances table')"))
    assert "scored once" in browser.find_element(By.ID, "winner").text
    rows = cells(browser, "table.trials tbody tr")
    assert [row[0] for row in rows] == ["0", "1", "2"] and [row[4] for row in rows] == ["SUCCEEDED"] * 2 + ["PRUNED"]
    assert "learning_rate=5" in rows[2][1]
    strokes = browser.execute_script("return Object.fromEntries([...document.querySelectorAll('#curves path.series')]"
                                     ".map((p) => [p.getAttribute('class'), [p.getAttribute('stroke'), "
                                     "Number(p.dataset.points)]]))")
    assert strokes["series series-trial-2 pruned"] == ["#b8bec6", 1]           # greyed, one epoch
    assert {strokes[f"series series-trial-{k}"][1] for k in (0, 1)} == {2}
    points = browser.execute_script("return document.querySelectorAll('#parameters figure circle.point').length")
    assert points == 3
    assert cells(browser, "table.importances tbody tr") == [["learning_rate", "1.00"]]
    screenshot(browser, "sweep")
    show(browser, dashboard, "#/sweeps")
    assert any(row[0] == sweep.id[:8] and row[1] == "SUCCEEDED" for row in cells(browser, "table.sweeps tbody tr"))
    screenshot(browser, "sweeps")


def test_the_dashboard_process_has_no_mxnet(dashboard):
    assert dashboard.dashboard.poll() is None
    assert "libmxnet" not in Path(f"/proc/{dashboard.dashboard.pid}/maps").read_text()


def test_bad_requests_get_the_gateways_answers(dashboard):
    status, _, body = http(dashboard, "/api/jobs/deadbeefdeadbeef")
    assert status == 404 and json.loads(body)["code"] == "NOT_FOUND"
    status, _, body = http(dashboard, "/api/jobs/not-an-id")
    assert status == 400 and json.loads(body)["message"].startswith("job_id:")
    status, _, body = http(dashboard, "/api/samples?split=test&indices=99999")
    assert status == 400 and "indices" in json.loads(body)["message"]
    status, headers, _ = http(dashboard, "/")
    assert status == 200 and "default-src 'self'" in headers["Content-Security-Policy"]


# -- pictures by ordinary tools ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("fragment", ["#/jobs", "#/jobs/{job}", "#/evaluations", "#/workers"])
def test_a_plain_headless_chromium_takes_a_picture_of_a_live_page(dashboard, trained_model, tmp_path, fragment):
    """`chromium --headless --screenshot` writes its picture at the page's load event: the live pages' event
    streams start after it, or the page would never finish loading and no picture would come."""
    chromium = commands({"chromium": "chromium"})["chromium"]
    picture = tmp_path / "page.png"
    url = f"{dashboard.dashboard_url}{fragment.format(job=trained_model.id)}"
    done = subprocess.run([chromium, "--headless", "--no-sandbox", f"--user-data-dir={tmp_path / 'profile'}",
                           f"--screenshot={picture}", "--window-size=1200,900", url],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0 and picture.exists(), done.stderr[-2000:]
    print(f"screenshot: {picture}")
    with Image.open(picture) as image:
        assert image.size == (1200, 900)
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 20     # a drawn page, not a blank one


# Run before the page's own scripts: per EventSource made, whether the page had had its load event.
STREAMS_SEEN = """
    window.streamsOpened = [];
    let loaded = false;
    window.addEventListener("load", () => { loaded = true; });
    const Native = window.EventSource;
    window.EventSource = class extends Native {
      constructor(...args) { super(...args); window.streamsOpened.push(loaded); }
    };"""


def test_live_pages_open_their_streams_after_the_load_event(chromium, dashboard, trained_model):
    driver = chromium()
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": STREAMS_SEEN})
        for fragment in ["#/jobs", f"#/jobs/{trained_model.id}", "#/evaluations", "#/workers"]:
            driver.get("about:blank")
            driver.get(f"{dashboard.dashboard_url}{fragment}")
            opened = wait_for(driver, lambda d: d.execute_script("return window.streamsOpened.length && "
                                                                 "window.streamsOpened"))
            assert opened == [True], (fragment, opened)
    finally:
        driver.quit()


# -- tokens ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def secured(settings, stack, tmp_path_factory):
    """A gateway and a dashboard that know two users' tokens, on the session stack's Redis."""
    with Stack(settings, workers=0, redis_url=stack.redis_url, dashboard_port=0,
               env={"LENET_TOKENS": "alice:alice-secret,bob:bob-secret"},
               log_dir=str(tmp_path_factory.mktemp("secured-logs"))) as running:
        yield running


def test_tokens_login_cookie_bearer_and_owners(secured, chromium, screenshot):
    from lenet_clients.client import LenetClient

    assert http(secured, "/api/jobs")[0] == 401
    status, headers, _ = http(secured, "/")
    assert status == 303 and headers["Location"] == "/login"
    assert http(secured, "/login", "POST", b"token=forged")[1]["Location"] == "/login?failed=1"
    status, headers, _ = http(secured, "/login", "POST", b"token=bob-secret")
    cookie = headers["Set-Cookie"]
    assert status == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie
    as_bob = {"Cookie": cookie.split(";", 1)[0]}
    assert json.loads(http(secured, "/api/me", headers=as_bob)[2]) == {"user": "bob", "secured": True}
    as_alice = {"Authorization": "Bearer alice-secret"}
    assert json.loads(http(secured, "/api/me", headers=as_alice)[2])["user"] == "alice"
    with LenetClient(secured.address, timeout=30, token="alice-secret") as alice:
        job = alice.train(epochs=1, limit=100, device="gpu")      # no GPU worker: it stays queued
    status, _, body = http(secured, f"/api/jobs/{job.id}/cancel", "POST", headers=as_bob)
    assert status == 404 and json.loads(body)["code"] == "NOT_FOUND"   # as if absent
    status, _, body = http(secured, f"/api/jobs/{job.id}/cancel", "POST", headers=as_alice)
    assert status == 200 and json.loads(body)["state"] == "CANCELLED"

    driver = chromium()
    try:
        driver.get(secured.dashboard_url)
        wait_for(driver, lambda d: d.find_elements(By.ID, "token"))
        screenshot(driver, "login")
        driver.find_element(By.ID, "token").send_keys("alice-secret\n")
        wait_for(driver, lambda d: "signed in as alice" in d.find_element(By.ID, "who").text)
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"tr[data-job='{job.id}']"))
        assert driver.get_cookies()[0]["httpOnly"] is True
    finally:
        driver.quit()
