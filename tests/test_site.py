"""`innr-bench report --site`: a static site that works from the file system.

The browser test drives a real headless Chromium (Debian: `apt-get install chromium`) over the
DevTools protocol: it opens the pages from file://, clicks column headers and checks the rows
sort, and checks every plot image loaded. It is marked slow (`pytest -m slow`)."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from innr_bench.cli import main
from innr_bench.config import parse_suite
from innr_bench.engine.runner import Runner


@pytest.fixture(scope="module")
def site(repo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    doc = yaml.safe_load((repo_root / "suites" / "smoke.yaml").read_text())
    root = tmp_path_factory.mktemp("site")
    Runner(parse_suite(doc), out_dir=root / "results", device="cpu").run()
    assert main(["report", str(root / "results"), "--site", str(root / "site")]) == 0
    return root / "site"


def test_the_site_has_an_index_and_a_page_per_suite_with_tables_plots_and_provenance(site: Path) -> None:
    index = (site / "index.html").read_text()
    assert 'href="smoke/index.html"' in index and "<table class=\"sortable\">" in index
    page = (site / "smoke" / "index.html").read_text()
    assert "Accuracy vs size" in page and "Adversarial transfer" in page and "Provenance" in page
    assert "sha256" in page and "innr-siren-small" in page
    images = [line.split('src="')[1].split('"')[0] for line in page.splitlines() if "<img" in line]
    assert images and all((site / "smoke" / image).is_file() for image in images)


def test_a_site_is_never_written_over_other_files(site: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["report", str(site.parent / "results"), "--site", str(tmp_path)]) == 2
    assert "is not an innr-bench site" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


class Browser:
    """A headless Chromium page driven over the DevTools protocol (websocket-client)."""

    def __init__(self, executable: str, profile: Path) -> None:
        import websocket

        self.process = subprocess.Popen(
            [executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.is_file() or not port_file.read_text().strip():
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not open its DevTools port in 30 s")
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list").read())
        page = next(t for t in targets if t["type"] == "page")
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
        self.ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        call_id = next(self.ids)
        self.socket.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == call_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path) -> None:
        self.call("Page.navigate", url=path.resolve().as_uri())
        deadline = time.monotonic() + 30
        loaded = f"complete:{path.resolve().as_uri()}"
        while self.evaluate("document.readyState + ':' + location.href") != loaded:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not load in 30 s")
            time.sleep(0.1)

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    pytest.importorskip("websocket", reason="pip install websocket-client (the dev extra has it)")
    executable = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if executable is None:
        pytest.fail("no Chromium found: apt-get install chromium (this test needs a real browser)")
    opened = Browser(executable, tmp_path / "profile")
    yield opened
    opened.close()


COLUMN = """(() => {{
  const table = document.querySelectorAll("table.sortable")[{table}];
  const column = Array.from(table.tHead.rows[0].cells).findIndex(th => th.textContent.startsWith("{name}"));
  return Array.from(table.tBodies[0].rows).map(row => row.cells[column].textContent);
}})()"""
CLICK = """(() => {{
  const table = document.querySelectorAll("table.sortable")[{table}];
  Array.from(table.tHead.rows[0].cells).find(th => th.textContent.startsWith("{name}")).click();
  return table.dataset.sortOrder;
}})()"""


@pytest.mark.slow
def test_in_a_real_browser_tables_sort_and_plots_load(site: Path, browser: Browser) -> None:
    browser.open(site / "index.html")
    assert browser.evaluate("document.querySelectorAll('a[href=\"smoke/index.html\"]').length") == 1

    browser.open(site / "smoke" / "index.html")
    before = browser.evaluate(COLUMN.format(table=0, name="bytes"))
    numbers = [int(v.replace(",", "")) for v in before]
    assert numbers != sorted(numbers)  # shown by accuracy first: sorting has work to do
    assert browser.evaluate(CLICK.format(table=0, name="bytes")) == "ascending"
    assert [int(v) for v in browser.evaluate(COLUMN.format(table=0, name="bytes"))] == sorted(numbers)
    assert browser.evaluate(CLICK.format(table=0, name="bytes")) == "descending"
    assert [int(v) for v in browser.evaluate(COLUMN.format(table=0, name="bytes"))] == sorted(numbers)[::-1]
    browser.evaluate(CLICK.format(table=0, name="method"))
    methods = browser.evaluate(COLUMN.format(table=0, name="method"))
    assert methods == sorted(methods, key=str.lower) or methods == sorted(methods)

    loaded = browser.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    assert loaded and all(loaded), f"{loaded.count(False)} of {len(loaded)} plots did not load"
