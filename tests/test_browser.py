"""What a student and an instructor see, tested in a real browser (issue 8).

JupyterLab runs on a temporary copy of the course; Debian's Chromium, driven by
Playwright's sync API, does what people do:

1. a student opens lecture 01, runs all cells, finds no error and moves a
   slider of the explorer: the plot changes;
2. a student opens the release of assignment 01 from the file browser, pastes
   the reference solutions, presses nbgrader's Validate and sees success; with
   one solution left as the stub, Validate names that task;
3. an instructor opens the Formgrader (Nbgrader menu) on the instance made by
   `course demo` and sees every student with the score in the gradebook.

Screenshots of every step go to tests/artifacts/browser/ (git-ignored); a
failure names the step and its screenshot.

Environment overrides, for debugging:
  COURSE_CHROMIUM                 Chromium binary (default /usr/bin/chromium)
  COURSE_BROWSER_SOURCE           course to copy (default: this repository)
  COURSE_BROWSER_DEMO             an existing demo instance to copy instead of
                                  running `course demo`
  COURSE_BROWSER_TIMEOUT_SCALE    multiply every timeout (slow machines)
  COURSE_BROWSER_HEADED=1         show the browser window
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from . import browser_helpers as bh

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("browser"),
]

UNIT = "01_linear_classifiers"
LECTURE = f"notebooks/lectures/{UNIT}.ipynb"
RELEASE = f"notebooks/assignments/{UNIT}/{UNIT}.ipynb"
SOLUTION = f"solutions/{UNIT}/{UNIT}.ipynb"

FORMGRADER_TEST = "test_formgrader_shows_demo_students_and_scores"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def course_source() -> Path:
    return Path(os.environ.get("COURSE_BROWSER_SOURCE") or bh.REPO).resolve()


@pytest.fixture(scope="session")
def browser_tmp(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="session")
def demo_instance(request, tmp_path_factory, course_source):
    """The course instance made by `course demo`, started early and in the
    background when the Formgrader test is selected (the test waits for it).

    One demo per test run: pytest-xdist workers share it (see SharedDemo)."""
    if not any(item.name == FORMGRADER_TEST for item in request.session.items):
        yield None
        return
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    demo = bh.SharedDemo(shared, course_source, timeout=600)
    demo.start()
    yield demo
    demo.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = bh.CHROMIUM
    if not (Path(path).exists() or shutil.which(path)):
        pytest.fail(bh.MISSING_CHROMIUM.format(path=path), pytrace=False)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        try:
            b = pw.chromium.launch(
                executable_path=chromium_path,
                args=bh.CHROMIUM_ARGS,
                headless=not os.environ.get("COURSE_BROWSER_HEADED"),
                timeout=bh.timeout_ms(120),
            )
        except Exception as exc:
            pytest.fail(
                f"Chromium ({chromium_path}) did not start: {exc}\n"
                + bh.MISSING_CHROMIUM.format(path=chromium_path),
                pytrace=False,
            )
        yield b
        b.close()


@pytest.fixture(scope="session")
def lab(course_source, browser_tmp, demo_instance, browser):
    """JupyterLab on a temporary copy of the course (notebooks/, solutions/,
    nbgrader_config.py); stopped at the end of the session."""
    root = bh.copy_course(course_source, browser_tmp / "course")
    server = bh.JupyterLab(root, browser_tmp / "lab-state")
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # each worker starts its own server
    start_server(browser, bh.Steps(f"lab-{worker}" if worker else "lab"), server, "start JupyterLab (student)")
    yield server
    server.stop()
    _keep_log(server, "jupyterlab-student.log")


def start_server(browser, steps: bh.Steps, server: bh.JupyterLab, name: str) -> None:
    """Start ``server`` as a screenshotted step: the picture shows its log (a failure's cause)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        with steps.step(context.new_page(), name, show=lambda: f"{server.base}\n\n{server.log_tail(60)}"):
            server.start(timeout=180)
    except AssertionError as exc:
        pytest.fail(str(exc), pytrace=False)
    finally:
        context.close()


def _details(server: bh.JupyterLab, page):
    """Failure details: the browser console's errors and the server log's tail."""
    def collect():
        errs = getattr(page, "console_errors", [])
        text = "--- browser console errors ---\n" + ("\n".join(errs[-15:]) or "(none)")
        return text + "\n" + server.log_tail(30)
    return collect


def _keep_log(server: bh.JupyterLab, name: str) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        name = name.replace(".log", f"-{worker}.log")
    try:
        bh.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(server.log_path, bh.ARTIFACTS / name)
    except OSError:
        pass


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(bh.timeout_ms(60))
    pg = context.new_page()
    console = []
    pg.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    pg.console_errors = console  # type: ignore[attr-defined]
    yield pg
    context.close()


# --------------------------------------------------------------------------- tests


def test_lecture_01_runs_and_explorer_responds(lab, page):
    steps = bh.Steps("lecture01")
    if not (lab.root / LECTURE).exists():
        pytest.fail(f"{LECTURE} does not exist in the course", pytrace=False)

    with steps.step(page, "open lecture 01", extra=_details(lab, page)):
        page.goto(lab.url(f"/lab/tree/{LECTURE}", reset=None))
        bh.wait_for_notebook(page, LECTURE, timeout=180)

    with steps.step(page, "run all cells", extra=_details(lab, page)):
        t0 = time.monotonic()
        state = bh.run_all_and_wait(page, LECTURE, timeout=300)
        elapsed = time.monotonic() - t0
        left = bh.unexecuted_cells(state)
        errors = bh.error_outputs(page)
        assert not left, f"cells {left} did not run (a cell before them failed?)" + "".join(
            f"\n--- error output of cell {e['cell']} ---\n{e['text']}" for e in errors
        )
        print(f"lecture 01 ran in the browser in {elapsed:.1f} s")

    with steps.step(page, "no error output, widget progress bars"):
        errors = bh.error_outputs(page)
        assert not errors, "error output in the lecture:\n" + "\n".join(
            f"cell {e['cell']}: {e['text']}" for e in errors
        )
        text_bars = bh.text_bar_warnings(bh.stderr_outputs(page))
        assert not text_bars, "tqdm fell back to text progress bars (no notebook widget bars):\n" + "\n".join(
            f"cell {e['cell']}: {e['text']}" for e in text_bars
        )

    with steps.step(page, "explorer plot changes when a slider moves", extra=_details(lab, page)):
        _move_slider_and_check_plot(page)


def _move_slider_and_check_plot(page) -> None:
    cells = bh.find_slider_cells(page)
    assert cells, "no ipywidgets slider found in the lecture's outputs (explorer missing or not rendered)"
    tried = []
    for index in cells:
        before = bh.output_state(page, index)
        if not before or not before["images"]:
            tried.append(f"cell {index}: no image in its output")
            continue
        cell = bh.cell_locator(page, index)
        handles = cell.locator(".widget-slider .noUi-handle")
        for h in range(handles.count()):
            handle = handles.nth(h)
            handle.scroll_into_view_if_needed()
            handle.focus()
            for _ in range(4):
                page.keyboard.press("ArrowRight")
                page.wait_for_timeout(150)
            after = _wait_for_change(page, index, before, timeout=45)
            if after is None:  # keyboard did nothing: drag the handle instead
                box = handle.bounding_box()
                if box:
                    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
                    page.mouse.move(x, y)
                    page.mouse.down()
                    page.mouse.move(x + 40, y, steps=8)
                    page.mouse.up()
                    after = _wait_for_change(page, index, before, timeout=45)
            if after is not None:
                _wait_idle(page, timeout=120)  # let the whole redraw finish
                page.wait_for_timeout(500)
                settled = bh.output_state(page, index)
                assert settled["images"], "the explorer's plot disappeared after moving the slider"
                assert settled["images"] != before["images"], "the plot went back to what it was"
                assert len(settled["images"]) >= len(before["images"]), (
                    f"the explorer showed {len(before['images'])} images before moving "
                    f"the slider and {len(settled['images'])} after"
                )
                errors = bh.error_outputs(page)
                assert not errors, "error output after moving the slider:\n" + "\n".join(
                    f"cell {e['cell']}: {e['text']}" for e in errors
                )
                return
            tried.append(f"cell {index} slider {h}: image unchanged")
    raise AssertionError(
        "moving the explorer's sliders did not change its plot: " + "; ".join(tried)
    )


def _wait_idle(page, timeout):
    deadline = time.monotonic() + bh.timeout_s(timeout)
    while time.monotonic() < deadline:
        state = bh.notebook_state(page)
        if state and state["kernel"] == "idle":
            return
        page.wait_for_timeout(300)
    raise TimeoutError(f"the kernel stayed busy for {bh.timeout_s(timeout):.0f} s after the slider moved")


def _wait_for_change(page, index, before, timeout):
    deadline = time.monotonic() + bh.timeout_s(timeout)
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        now = bh.output_state(page, index)
        if now and now["images"] and now["images"] != before["images"]:
            return now
    return None


def test_assignment_01_validate(lab, page):
    steps = bh.Steps("assignment01")
    release, solution = lab.root / RELEASE, lab.root / SOLUTION
    for p in (release, solution):
        if not p.exists():
            pytest.fail(f"{p.relative_to(lab.root)} does not exist in the course", pytrace=False)
    refs = bh.solution_sources(solution)
    stubs = bh.release_solution_cells(release)
    assert stubs, f"{RELEASE} has no solution cells"
    missing = [gid for gid, _ in stubs if gid not in refs]
    assert not missing, f"solution cells of the release missing in {SOLUTION}: {missing}"

    with steps.step(page, "open the release from the file browser", extra=_details(lab, page)):
        page.goto(lab.url("/lab", reset=None))
        bh.open_in_file_browser(page, RELEASE)
        state = bh.wait_for_notebook(page, RELEASE, timeout=180)
    index_of = {c["grade_id"]: c["index"] for c in state["cells"] if c["grade_id"]}

    with steps.step(page, "paste the reference solutions"):
        typed_wrong = []
        for gid, _stub in stubs:
            want = refs[gid]
            got = bh.set_cell_source(page, index_of[gid], want)
            if got.rstrip() != want.rstrip():
                typed_wrong.append(gid)
        assert not typed_wrong, (
            f"pasting into the editor changed the text of cells {typed_wrong}"
        )

    with steps.step(page, "save"):
        page.keyboard.press("ControlOrMeta+s")
        deadline = time.monotonic() + bh.timeout_s(30)
        while bh.notebook_state(page)["dirty"] and time.monotonic() < deadline:
            page.wait_for_timeout(300)
        assert not bh.notebook_state(page)["dirty"], "the notebook was not saved"

    with steps.step(page, "validate: success", extra=_details(lab, page)):
        classes, text = bh.click_validate(page, timeout=300)
        assert "Success! Your notebook passes all the tests." in text, (
            f"Validate did not report success for the reference solutions:\n{text[:3000]}"
        )
    with steps.step(page, "close the Validation Results dialog"):
        bh.close_dialog(page)

    # leave one task as the stub the student receives: the last one (in unit 01
    # the hyperparameter search, the slowest to run, so this Validate is quicker)
    blank_gid, blank_stub = next(
        ((g, s) for g, s in reversed(stubs) if "NotImplementedError" in s), stubs[-1]
    )
    message = bh.stub_message(blank_stub)
    task = re.search(r"task\s*\d+(?:[._]\d+)*", message or "", re.I)

    with steps.step(page, f"validate names the blank task {blank_gid}", extra=_details(lab, page)):
        bh.set_cell_source(page, index_of[blank_gid], blank_stub)
        classes, text = bh.click_validate(page, timeout=300)
        assert "Success!" not in text, f"Validate passed with {blank_gid} left blank"
        assert "NotImplementedError" in text, f"Validate did not show the stub's error:\n{text[:3000]}"
        if message:
            assert message in text, (
                f"Validate did not name the task ({message!r}):\n{text[:3000]}"
            )
        if task:
            assert task.group(0) in text, f"Validate did not name {task.group(0)}:\n{text[:3000]}"
        # the screenshot shows the error that names the task
        page.locator(".jp-Dialog-body pre", has_text="NotImplementedError").last.scroll_into_view_if_needed()
    with steps.step(page, "close the Validation Results dialog"):
        bh.close_dialog(page)


def test_formgrader_shows_demo_students_and_scores(demo_instance, browser_tmp, browser, page):
    steps = bh.Steps("formgrader")
    assert demo_instance is not None
    demo: bh.SharedDemo = demo_instance
    instance, fg_root = demo.instance, demo.root

    # the screenshot shows the demo's terminal output (its table of scores)
    with steps.step(page, "course demo", extra=demo.log_tail, show=lambda: demo.log_tail(80)):
        demo.wait()
        gradebook = bh.find_gradebook(instance)
        students = bh.expected_students(instance, gradebook)
        assert students, f"the demo gradebook {gradebook} has no students"
        # the short cell timeout must not have cut correct work: full marks (the demo marks the
        # perfect students' written answers as the instructor would), a zero and more between
        scores = sorted({float(s["score"]) for s in students})
        full = bh.full_marks(gradebook)
        assert scores[0] == 0 and scores[-1] == full and len(scores) >= 3, (
            f"the demo's scores do not span 0..{full:g} (a cell timed out on correct code?): {scores}"
        )

    bh.write_formgrader_config(fg_root, instance, gradebook)
    server = bh.JupyterLab(fg_root, browser_tmp / "lab-state-instructor")
    try:
        start_server(browser, steps, server, "start JupyterLab (instructor)")
        with steps.step(page, "open Formgrader from the Nbgrader menu", extra=_details(server, page)):
            page.goto(server.url("/lab", reset=None))
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.wait_for(
                timeout=bh.timeout_ms(120)
            )
            bh.click_menu(page, "Nbgrader", "Formgrader")
            frame = page.frame_locator("#formgrader iframe, .jp-MainAreaWidget iframe").first
            frame.locator("text=Manage Assignments").first.wait_for(timeout=bh.timeout_ms(60))
            frame.locator("tbody#main-table", has_text=UNIT).first.wait_for(timeout=bh.timeout_ms(60))
            body = frame.locator("body").inner_text()
            assert "misconfiguration" not in body.lower(), body[:2000]

        with steps.step(page, "Manage Students lists every student and score", extra=_details(server, page)):
            frame.locator("a", has_text="Manage Students").first.click()
            rows = frame.locator("tbody#main-table tr")
            frame.locator("tbody#main-table tr td.score").first.wait_for(timeout=bh.timeout_ms(60))
            deadline = time.monotonic() + bh.timeout_s(30)
            while rows.count() < len(students) and time.monotonic() < deadline:
                page.wait_for_timeout(300)
            shown = {}
            for i in range(rows.count()):
                cells = rows.nth(i).locator("td")
                if cells.count() >= 4:
                    shown[cells.nth(1).inner_text().strip()] = cells.nth(3).inner_text().strip()
            want = {
                s["id"]: f"{bh.fmt_score(s['score'])} / {bh.fmt_score(s['max_score'])}"
                for s in students
            }
            missing = sorted(set(want) - set(shown))
            assert not missing, f"students missing from Manage Students: {missing}"
            wrong = {k: (shown[k], v) for k, v in want.items() if shown[k] != v}
            assert not wrong, f"scores shown differ from the gradebook (shown, gradebook): {wrong}"
            print(f"Formgrader shows {len(want)} students with their scores")
    finally:
        server.stop()
        _keep_log(server, "jupyterlab-instructor.log")
