"""TensorBoard as a person sees it: two finished tiny digits_cnn runs, a real
TensorBoard server, and headless Chromium opening the Scalars, Images and
HParams dashboards.

Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them)
and selenium (the dev extra); without them the test says so in one line.
Screenshots go to `artifacts/browser/` in the checkout, for looking at.
"""

import base64
import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kerasdl.training import train

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "browser"
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WAIT_SECONDS = 90

# Every element matching a CSS selector, inside shadow roots too (TensorBoard's
# dashboards are Polymer and Angular components).
DEEP_QUERY = """
const selector = arguments[0], found = [];
function walk(root) {
  root.querySelectorAll(selector).forEach(element => found.push(element));
  root.querySelectorAll('*').forEach(element => { if (element.shadowRoot) walk(element.shadowRoot); });
}
walk(document);
return found;
"""


def _browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[dev]'): the browser test did not run")
    if not CHROMIUM or not DRIVER:
        pytest.skip(
            "no chromium and chromedriver here (apt-get install chromium chromium-driver): the browser test did not run"
        )
    options = Options()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(DRIVER), options=options)


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(what, check, timeout=WAIT_SECONDS):
    """`check()`'s first truthy result, polled; fails naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"TensorBoard never showed {what} within {timeout} s")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two finished digits_cnn runs that differ in epochs, under one saved_models folder."""
    root = tmp_path_factory.mktemp("browser") / "saved_models"
    for name, epochs in (("digits_cnn", "3"), ("digits_cnn-2", "2")):
        settings = {"epochs": epochs, "model.filters": "8", "model.dense_units": "16", "variants": "float32"}
        train("digits_cnn", settings | {"run_dir": str(root / name), "verbose": "0"}, log=lambda line: None)
    return root


@pytest.fixture(scope="module")
def tensorboard(two_runs):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(two_runs),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def serving_both_runs():
        try:
            with urllib.request.urlopen(f"{url}/data/runs", timeout=5) as response:
                runs = json.load(response)
        except OSError:
            return False
        return {"digits_cnn/logs/test", "digits_cnn-2/logs/test"} <= set(runs)

    try:
        _wait_for("both runs in /data/runs", serving_both_runs)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    driver = _browser()
    yield driver
    driver.quit()


def _open(browser, url, dashboard):
    browser.get(f"{url}/#{dashboard}")


def _deep(browser, selector):
    return browser.execute_script(DEEP_QUERY, selector)


def _screenshot(browser, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / f"{name}.png"))


@pytest.mark.slow
def test_the_scalars_dashboard_draws_the_runs_curves(tensorboard, browser):
    _open(browser, tensorboard, "scalars")

    def drawn_curves():
        cards = [card for card in _deep(browser, "tf-scalar-card") if card.get_property("tag") == "epoch_accuracy"]
        lines = [line for line in _deep(browser, "svg path.line") if len(line.get_attribute("d") or "") > 10]
        return cards and lines

    _wait_for("an epoch_accuracy chart with drawn lines", drawn_curves)
    _screenshot(browser, "scalars")


@pytest.mark.slow
def test_the_images_dashboard_shows_the_confusion_matrix(tensorboard, browser):
    _open(browser, tensorboard, "images")

    def loaded(image):
        return browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image)

    def confusion_matrices():
        shown = set()
        for image in _deep(browser, "img"):
            source = image.get_attribute("src") or ""
            if "blob_key=" not in source or not loaded(image):
                continue
            key = source.split("blob_key=")[1].split("&")[0]
            run, tag = json.loads(base64.urlsafe_b64decode(key + "=" * (-len(key) % 4)))[1:3]
            if tag.endswith("/confusion_matrix"):
                shown.add((run, tag))
        return shown if {("digits_cnn/logs/test", "test/confusion_matrix")} <= shown else None

    shown = _wait_for("the test split's confusion matrix as a loaded image", confusion_matrices)
    assert ("digits_cnn-2/logs/test", "test/confusion_matrix") in shown
    _screenshot(browser, "images")


@pytest.mark.slow
def test_the_hparams_dashboard_lists_both_runs_with_their_test_accuracy(tensorboard, browser, two_runs):
    _open(browser, tensorboard, "hparams")

    def cells():
        texts = [cell.get_attribute("textContent").strip() for cell in _deep(browser, "vaadin-grid-cell-content")]
        return texts if "test.accuracy" in texts and "digits_cnn-2" in texts else None

    texts = _wait_for("a table with both runs and a test.accuracy column", cells)
    column = texts.index("test.accuracy")

    def number(text):
        try:
            return float(text)
        except ValueError:
            return None

    for name in ("digits_cnn", "digits_cnn-2"):
        accuracy = json.loads((two_runs / name / "metrics.json").read_text())["test"]["accuracy"]
        # A row's cells follow its trial ID in the header's column order; the
        # table prints five significant digits. (The preset column holds
        # "digits_cnn" too: any cell with the name may start the row.)
        starts = [index for index, text in enumerate(texts) if text == name and index + column < len(texts)]
        shown = [number(texts[index + column]) for index in starts]
        assert any(value is not None and abs(value - accuracy) <= 5e-5 for value in shown), (name, accuracy, shown)
    _screenshot(browser, "hparams")
