"""Without a browser: the browser suite's screenshotted steps and output checks, and the
exchange that `make lab` fills for the Assignments tab the student sees."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from . import browser_helpers as bh


class FakePage:
    """Stands in for a Playwright page: screenshot() writes a file, set_content() is recorded."""

    def __init__(self, fail_screenshot: bool = False):
        self.fail_screenshot = fail_screenshot
        self.content = None
        self.shots = []

    def screenshot(self, path, full_page=False, timeout=None):
        if self.fail_screenshot:
            raise RuntimeError("target closed")
        with open(path, "wb") as f:
            f.write(b"\x89PNG fake")
        self.shots.append(path)

    def set_content(self, html, timeout=None):
        self.content = html


def test_a_failing_step_names_itself_and_its_screenshot(tmp_path):
    steps = bh.Steps("unit", directory=tmp_path)
    page = FakePage()
    with steps.step(page, "open the notebook"):
        pass
    with pytest.raises(AssertionError) as info:
        with steps.step(page, "Run all cells!", extra=lambda: "server log tail"):
            raise TimeoutError("kernel stayed busy")
    shot = tmp_path / "unit-02-run-all-cells-FAILED.png"
    assert shot.read_bytes() == b"\x89PNG fake"
    msg = str(info.value)
    assert msg.startswith("browser step unit #2 'Run all cells!' failed: TimeoutError: kernel stayed busy")
    assert f"screenshot: {shot}" in msg and msg.endswith("\nserver log tail")
    assert isinstance(info.value.__cause__, TimeoutError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit-01-open-the-notebook.png", shot.name]
    # a new run of the same test starts without the old pictures
    bh.Steps("unit", directory=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_step_without_a_screenshot_says_why(tmp_path):
    steps = bh.Steps("unit", directory=tmp_path)
    with pytest.raises(AssertionError, match=r"screenshot: \(screenshot failed: RuntimeError: target closed\)"):
        with steps.step(FakePage(fail_screenshot=True), "save"):
            raise ValueError("not saved")

    def broken_extra():
        raise OSError("boom")

    with pytest.raises(AssertionError, match=r"'broken extra' failed: ValueError: x\nscreenshot: .*FAILED.png\n"
                                             r"\(could not collect details: boom\)"):
        with steps.step(FakePage(), "broken extra", extra=broken_extra):
            raise ValueError("x")


def test_a_step_outside_the_browser_shows_its_text(tmp_path):
    steps = bh.Steps("demo", directory=tmp_path)
    page = FakePage()
    with steps.step(page, "course demo", show=lambda: "s001 perfect 100/100 <ok>"):
        pass
    assert "course demo: done" in page.content and "s001 perfect 100/100 &lt;ok&gt;" in page.content
    assert page.shots == [str(tmp_path / "demo-01-course-demo.png")]
    with pytest.raises(AssertionError, match="'start server' failed: RuntimeError: exited with code 1"):
        with steps.step(page, "start server", show=lambda: "Traceback: port in use"):
            raise RuntimeError("exited with code 1")
    assert "start server: FAILED" in page.content and "port in use" in page.content
    assert (tmp_path / "demo-02-start-server-FAILED.png").exists()


def test_text_progress_bars_are_caught():
    stderr = [
        {"cell": 3, "text": "/venv/lib/tqdm/notebook.py:34: TqdmWarning: IProgress not found. "
                            "Please update jupyter and ipywidgets."},
        {"cell": 5, "text": "IProgress not found. Please update jupyter and ipywidgets."},
        {"cell": 7, "text": "epoch 1: loss 0.31"},
        {"cell": 9, "text": None},
    ]
    assert [o["cell"] for o in bh.text_bar_warnings(stderr)] == [3, 5]
    assert bh.text_bar_warnings([{"cell": 1, "text": "100%|##########| 10/10"}]) == []


def test_make_lab_releases_every_unit_to_the_exchange(tmp_path):
    """`make lab` runs `make lab-release` first: the committed release lands in the exchange that
    nbgrader_config.py names, where the Assignments tab finds it. On a copy (the repo's own
    instance/ is left alone), with this environment's nbgrader."""
    if shutil.which("make") is None:
        pytest.fail("`make` is not installed", pytrace=False)
    for name in ("Makefile", "nbgrader_config.py"):
        shutil.copy2(bh.REPO / name, tmp_path / name)
    shutil.copytree(bh.REPO / "notebooks" / "assignments", tmp_path / "notebooks" / "assignments")
    units = sorted(p.name for p in (tmp_path / "notebooks" / "assignments").iterdir() if p.is_dir())
    assert units, "no units in notebooks/assignments"
    bindir = Path(sys.executable).parent
    run = subprocess.run(["make", "-C", str(tmp_path), "lab-release", f"BIN={bindir}"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    outbound = tmp_path / "instance" / "exchange" / "dl-course" / "outbound"
    assert sorted(p.name for p in outbound.iterdir()) == units
    for unit in units:
        released = sorted(p.name for p in (tmp_path / "notebooks" / "assignments" / unit).iterdir())
        assert sorted(p.name for p in (outbound / unit).iterdir()) == released
        nb = f"{unit}.ipynb"
        assert (outbound / unit / nb).read_bytes() == (bh.REPO / "notebooks" / "assignments" / unit / nb).read_bytes()
        assert f"released {unit}" in run.stdout
    # again, over the existing copy (a second `make lab`), with the release changed
    marker = tmp_path / "notebooks" / "assignments" / units[0] / "NEW.txt"
    marker.write_text("new file in the release")
    again = subprocess.run(["make", "-C", str(tmp_path), "lab-release", f"BIN={bindir}"],
                           capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (outbound / units[0] / "NEW.txt").read_text() == "new file in the release"
