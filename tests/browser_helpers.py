"""Helpers for the browser suite (`tests/test_browser.py`).

A JupyterLab server on a temporary copy of the course, Debian's Chromium
driven by Playwright's sync API (no browser download), and small helpers that
act on JupyterLab the way a person does: menus, the file browser, sliders, the
nbgrader Validate button and the Formgrader.

Every step of a test runs inside :func:`Steps.step`, which saves a screenshot
to ``tests/artifacts/browser/`` and, on failure, re-raises with the step's
name and the screenshot's path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts" / "browser"

CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
MISSING_CHROMIUM = (
    "Chromium not found at {path}: the browser tests drive Debian's chromium. "
    "Install it with `make system-deps` (or `sudo apt-get install -y chromium`), "
    "or point COURSE_CHROMIUM at a Chromium binary."
)


def _scale() -> float:
    """Multiplier for every timeout (COURSE_BROWSER_TIMEOUT_SCALE), for slow machines."""
    try:
        return max(float(os.environ.get("COURSE_BROWSER_TIMEOUT_SCALE", "1")), 0.1)
    except ValueError:
        return 1.0


def timeout_s(seconds: float) -> float:
    return seconds * _scale()


def timeout_ms(seconds: float) -> float:
    return seconds * _scale() * 1000


# --------------------------------------------------------------------------- steps


@dataclass
class Steps:
    """Numbered, screenshotted steps of one test.

    ``with steps.step(page, "run all cells"):`` saves
    ``<prefix>-NN-run-all-cells.png`` after the step, or
    ``<prefix>-NN-run-all-cells-FAILED.png`` when it raises, and turns the
    error into an AssertionError naming the step and the screenshot.
    """

    prefix: str
    directory: Path = ARTIFACTS
    count: int = 0
    shots: list = field(default_factory=list)

    def __post_init__(self):
        # screenshots of an earlier run of this test would mislead
        for old in self.directory.glob(f"{self.prefix}-*.png"):
            with contextlib.suppress(OSError):
                old.unlink()

    def _path(self, name: str, failed: bool) -> Path:
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        suffix = "-FAILED" if failed else ""
        return self.directory / f"{self.prefix}-{self.count:02d}-{slug}{suffix}.png"

    def _shoot(self, page, path: Path) -> str:
        if page is None:
            return "(no page to screenshot)"
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=False, timeout=timeout_ms(20))
            self.shots.append(path)
            return str(path)
        except Exception as exc:  # the page may be gone; the report still helps
            return f"(screenshot failed: {type(exc).__name__}: {exc})"

    @contextlib.contextmanager
    def step(self, page, name: str, extra=None, show=None):
        """Run one step; ``extra()`` (optional) returns text appended to a failure.

        ``show()`` (optional) is for a step that happens outside the browser (starting a
        server, running ``course demo``): the text it returns is put on ``page`` before
        the screenshot, so that this step too has a picture of what happened.
        """
        self.count += 1
        try:
            yield
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            self._show(page, name, show, failed=True)
            shot = self._shoot(page, self._path(name, failed=True))
            more = ""
            if extra is not None:
                try:
                    more = "\n" + str(extra())
                except Exception as exc2:  # never hide the original failure
                    more = f"\n(could not collect details: {exc2})"
            raise AssertionError(
                f"browser step {self.prefix} #{self.count} '{name}' failed: "
                f"{type(exc).__name__}: {exc}\nscreenshot: {shot}{more}"
            ) from exc
        self._show(page, name, show, failed=False)
        self._shoot(page, self._path(name, failed=False))

    @staticmethod
    def _show(page, name: str, show, failed: bool) -> None:
        if page is None or show is None:
            return
        try:
            text = str(show())
        except Exception as exc:  # never hide the step's own outcome
            text = f"(could not collect the text to show: {type(exc).__name__}: {exc})"
        title = f"{name}: {'FAILED' if failed else 'done'}"
        with contextlib.suppress(Exception):  # the screenshot then shows what the page had
            page.set_content(text_page(title, text), timeout=timeout_ms(20))


def text_page(title: str, text: str) -> str:
    """A plain HTML page with a title and preformatted text (a terminal's output)."""
    from html import escape

    return (f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>"
            f"<body style='font-family:monospace;margin:1em'><h3>{escape(title)}</h3>"
            f"<pre style='white-space:pre-wrap'>{escape(text)}</pre></body>")


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LAB_USER_SETTINGS = {
    # every cell in the DOM (4.x virtualises long notebooks by default), so
    # that the tests see all outputs and prompts
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # no "receive Jupyter news?" toast over the page, no update check (offline)
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


class JupyterLab:
    """A JupyterLab server on ``root``, on a free local port with a random token."""

    def __init__(self, root: Path, state: Path):
        self.root = Path(root)
        self.state = Path(state)
        self.port = free_port()
        self.token = secrets.token_hex(24)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = self.state / "jupyterlab.log"
        self.proc: subprocess.Popen | None = None

    def url(self, path: str = "/lab", **query) -> str:
        query = {"token": self.token, **query}
        q = "&".join(f"{k}={v}" if v is not None else k for k, v in query.items())
        return f"{self.base}{path}?{q}"

    def env(self) -> dict:
        env = dict(os.environ)
        bindir = str(Path(sys.executable).parent)  # nbgrader calls `alembic` from here
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        env["JUPYTER_CONFIG_DIR"] = str(self.state / "jupyter_config")  # no ~/.jupyter
        env["JUPYTER_RUNTIME_DIR"] = str(self.state / "jupyter_runtime")
        env["IPYTHONDIR"] = str(self.state / "ipython")
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("JUPYTER_TOKEN", None)
        env.pop("MPLBACKEND", None)  # the notebooks' inline backend, not Agg from pytest
        return env

    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.open_browser=False",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={self.state / 'lab_settings'}",
            f"--LabApp.workspaces_dir={self.state / 'lab_workspaces'}",
            "--LabApp.news_url=",
        ]
        if hasattr(os, "getuid") and os.getuid() == 0:
            cmd.append("--allow-root")
        return cmd

    def start(self, timeout: float = 120.0) -> None:
        for rel, content in LAB_USER_SETTINGS.items():
            p = self.state / "lab_settings" / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(json.dumps(content))
        for d in ("jupyter_config", "jupyter_runtime", "ipython", "lab_workspaces"):
            (self.state / d).mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "wb")
        # cwd = root: nbgrader's server extensions read ./nbgrader_config.py
        self.proc = subprocess.Popen(
            self.command(), cwd=self.root, env=self.env(), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout_s(timeout)
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"JupyterLab exited with code {self.proc.returncode} while starting:\n"
                    + self.log_tail()
                )
            try:
                with urllib.request.urlopen(self.url("/api/status"), timeout=5) as r:
                    if r.status == 200:
                        json.load(r)
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                last = exc
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"JupyterLab did not answer /api/status within {timeout_s(timeout):.0f} s "
            f"(last error: {last}):\n" + self.log_tail()
        )

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return f"--- last {n} lines of {self.log_path} ---\n" + "\n".join(lines[-n:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # our own session only
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------------- course copy


def copy_course(source: Path, dest: Path) -> Path:
    """Copy what a student or instructor opens: notebooks/, solutions/, nbgrader_config.py."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("notebooks", "solutions"):
        if (source / name).is_dir():
            shutil.copytree(
                source / name, dest / name,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
    if (source / "nbgrader_config.py").exists():
        shutil.copy2(source / "nbgrader_config.py", dest / "nbgrader_config.py")
    if (source / "data").is_dir():  # small embedded data a notebook may read by path
        shutil.copytree(source / "data", dest / "data",
                        ignore=shutil.ignore_patterns("cache", "__pycache__"))
    return dest


def find_gradebook(instance: Path) -> Path:
    candidates = sorted(instance.rglob("gradebook.db"), key=lambda p: len(p.parts))
    if not candidates:
        raise FileNotFoundError(f"no gradebook.db under the demo instance {instance}")
    return candidates[0]


def write_formgrader_config(server_root: Path, instance: Path, gradebook: Path) -> Path:
    """The server's ./nbgrader_config.py: the course's own, then the demo instance's
    settings, then the instance as course root and its gradebook as the database."""
    cfg = server_root / "nbgrader_config.py"
    course_cfg = server_root / "course_nbgrader_config.py"
    if cfg.exists():
        cfg.rename(course_cfg)
    lines = [
        "# written by tests/test_browser.py: the Formgrader on the demo instance",
        "c = get_config()  # noqa: F821",
    ]
    if course_cfg.exists():
        lines.append(f"load_subconfig({str(course_cfg)!r})  # noqa: F821")
    if (instance / "nbgrader_config.py").exists():
        lines.append(f"load_subconfig({str(instance / 'nbgrader_config.py')!r})  # noqa: F821")
    lines += [
        f"c.CourseDirectory.root = {str(instance)!r}",
        f"c.CourseDirectory.db_url = {('sqlite:///' + str(gradebook))!r}",
        f"c.Exchange.root = {str(server_root / 'exchange')!r}",
        "",
    ]
    (server_root / "exchange").mkdir(exist_ok=True)
    cfg.write_text("\n".join(lines))
    return cfg


def expected_students(instance: Path, gradebook: Path) -> list[dict]:
    """Students with score / max_score as the Formgrader computes them."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(root=str(instance), db_url="sqlite:///" + str(gradebook))
    return NbGraderAPI(coursedir=coursedir).get_students()


def full_marks(gradebook: Path) -> float:
    """An assignment's full marks: every grade cell, code tests and written questions (the demo
    marks the perfect students' model answers as the instructor would in formgrader)."""
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(gradebook)) as gb:
        return max(sum(gc.max_score for nb in a.notebooks for gc in nb.grade_cells) for a in gb.assignments)


def fmt_score(x: float) -> str:
    """Formgrader's roundToPrecision(x, 2) as JavaScript prints it."""
    r = round(float(x) * 100) / 100
    return str(int(r)) if r == int(r) else repr(r)


# --------------------------------------------------------------------------- notebooks

SOLUTION_MARKERS = re.compile(r"^\s*###\s*(BEGIN|END)\s+SOLUTION\s*$")


def solution_sources(path: Path) -> dict[str, str]:
    """grade_id -> source of each solution cell, with the solution marker lines removed (a written
    question's answer cell gives its model answer, as a student who answered it would type)."""
    nb = nbformat.read(str(path), as_version=4)
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type in ("code", "markdown") and meta.get("solution") and meta.get("grade_id"):
            lines = [ln for ln in cell.source.splitlines() if not SOLUTION_MARKERS.match(ln)]
            out[meta["grade_id"]] = "\n".join(lines)
    return out


def release_solution_cells(path: Path) -> list[tuple[str, str]]:
    """(grade_id, stub source) of each cell of a student release the student fills in (solution code
    cells and written answers), in order."""
    nb = nbformat.read(str(path), as_version=4)
    return [
        (c.metadata["nbgrader"]["grade_id"], c.source)
        for c in nb.cells
        if c.cell_type in ("code", "markdown") and c.metadata.get("nbgrader", {}).get("solution")
    ]


def stub_message(stub: str) -> str | None:
    """The text a stub's NotImplementedError carries (names the task), if any."""
    m = re.search(r"NotImplementedError\(\s*[rfbu]*([\"'])(.*?)\1", stub)
    return m.group(2) if m else None


# JavaScript run in the page. JupyterLab is started with expose_app_in_browser,
# so window.jupyterapp is the application; it is used to *read* state (kernel
# status, prompts, metadata) and, where typing would be unreliable, to check
# what the keyboard produced.
JS_CURRENT_NOTEBOOK = """
() => {
  const app = window.jupyterapp;
  if (!app) return null;
  const w = app.shell.currentWidget;
  if (!w || !w.content || !w.content.widgets) return null;
  const kernel = w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.map((c, i) => ({
    index: i,
    type: c.model.type,
    grade_id: ((c.model.getMetadata && c.model.getMetadata('nbgrader')) || {}).grade_id || null,
    count: c.model.type === 'code' ? c.model.executionCount : null,
    prompt: c.node.querySelector('.jp-InputPrompt') ? c.node.querySelector('.jp-InputPrompt').textContent.trim() : '',
    empty: c.model.sharedModel.getSource().trim() === '',
  }));
  return {
    path: w.context.path,
    dirty: w.context.model.dirty,
    kernel: kernel ? kernel.status : null,
    busy: w.sessionContext ? w.sessionContext.kernelDisplayStatus : null,
    cells,
  };
}
"""

JS_ERROR_OUTPUTS = """
() => {
  const out = [];
  const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  cells.forEach((cell, i) => {
    const errs = cell.querySelectorAll(
      '.jp-RenderedText[data-mime-type*="error"], ' +
      '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
    errs.forEach(e => {
      const text = e.innerText || '';
      const isError = (e.getAttribute('data-mime-type') || '').includes('error');
      if (isError || /Traceback|Error/.test(text)) out.push({cell: i, text: text.slice(0, 1500)});
    });
  });
  return out;
}
"""

# Every stderr output of the open notebook: {cell, text}.
JS_STDERR_OUTPUTS = """
() => {
  const out = [];
  const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  cells.forEach((cell, i) => {
    cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').forEach(e => {
      out.push({cell: i, text: (e.innerText || '').slice(0, 1500)});
    });
  });
  return out;
}
"""

# tqdm falls back to text bars, with this warning on stderr, when ipywidgets cannot
# show its notebook bar: the lecture's progress bars would not be the widgets the issue asks for.
TEXT_BAR_WARNING = re.compile(r"TqdmWarning|IProgress not found")


def text_bar_warnings(stderr: list[dict]) -> list[dict]:
    """The stderr outputs (``{cell, text}``) that say tqdm fell back to text progress bars."""
    return [o for o in stderr if TEXT_BAR_WARNING.search(o.get("text") or "")]


# The state of the outputs of one cell: a digest per image (data: or blob:
# src, inline SVG, canvas) and the visible text of widget labels and outputs
# except slider readouts.
JS_OUTPUT_STATE = """
async (index) => {
  const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');
  const cell = cells[index];
  if (!cell) return null;
  const area = cell.querySelector('.jp-Cell-outputWrapper') || cell;
  const digest = async (buf) => {
    const h = await crypto.subtle.digest('SHA-256', buf);
    return Array.from(new Uint8Array(h)).map(b => b.toString(16).padStart(2, '0')).join('');
  };
  const images = [];
  for (const img of area.querySelectorAll('img')) {
    const src = img.getAttribute('src') || '';
    try {
      const r = await fetch(src);
      images.push('img:' + await digest(await r.arrayBuffer()));
    } catch (e) {
      images.push('src:' + src.length + ':' + src.slice(-64));
    }
  }
  for (const svg of area.querySelectorAll('svg')) {
    if (svg.closest('.jp-OutputArea-output, .widget-output, .jupyter-widgets-output-area'))
      images.push('svg:' + await digest(new TextEncoder().encode(svg.outerHTML)));
  }
  for (const cv of area.querySelectorAll('canvas')) {
    try { images.push('canvas:' + await digest(new TextEncoder().encode(cv.toDataURL()))); }
    catch (e) { images.push('canvas:?'); }
  }
  const clone = area.cloneNode(true);
  clone.querySelectorAll('.widget-readout, .noUi-target, svg, style, script').forEach(e => e.remove());
  return {images, text: (clone.innerText || clone.textContent || '').replace(/\\s+/g, ' ').trim()};
}
"""


def notebook_state(page) -> dict | None:
    return page.evaluate(JS_CURRENT_NOTEBOOK)


def wait_for_notebook(page, path: str, timeout: float = 120.0) -> dict:
    """Wait until ``path`` is the current notebook, its cells are rendered and its kernel idle."""
    deadline = time.monotonic() + timeout_s(timeout)
    state = None
    while time.monotonic() < deadline:
        state = notebook_state(page)
        if (
            state
            and state["path"] == path
            and state["cells"]
            and state["kernel"] == "idle"
        ):
            return state
        dismiss_kernel_dialogs(page)
        page.wait_for_timeout(500)
    raise TimeoutError(
        f"notebook {path} did not open with an idle kernel within "
        f"{timeout_s(timeout):.0f} s; last state: {_summary(state)}"
    )


def _summary(state) -> str:
    if not state:
        return "no notebook is the current widget"
    prompts = [c["prompt"] for c in state["cells"] if c["type"] == "code"]
    return f"path={state['path']} kernel={state['kernel']} prompts={prompts}"


def dismiss_kernel_dialogs(page) -> None:
    """Accept a 'Select Kernel' dialog if JupyterLab shows one."""
    dlg = page.locator(".jp-Dialog")
    if dlg.count() and "Select Kernel" in (dlg.first.inner_text(timeout=2000) or ""):
        page.locator(".jp-Dialog .jp-mod-accept").first.click()


def click_menu(page, *labels: str) -> None:
    """Click through the main menu bar: click_menu(page, 'Run', 'Run All Cells')."""
    top, *rest = labels
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).first.click()
    for label in rest:
        item = page.locator(
            ".lm-Menu:visible .lm-Menu-item:not(.lm-mod-disabled) .lm-Menu-itemLabel",
            has_text=re.compile(rf"^{re.escape(label)}$"),
        ).first
        item.wait_for(state="visible", timeout=timeout_ms(15))
        item.click()


def run_all_and_wait(page, path: str, timeout: float = 300.0) -> dict:
    """Run > Run All Cells, then wait until every code cell has run and the kernel is idle.

    Returns the final state. Raises if a cell was left unexecuted (JupyterLab
    stops a run at the first error) or the run takes longer than ``timeout``.
    """
    click_menu(page, "Run", "Run All Cells")
    deadline = time.monotonic() + timeout_s(timeout)
    state = None
    page.wait_for_timeout(1000)
    while time.monotonic() < deadline:
        state = notebook_state(page)
        if state and state["path"] == path:
            code = [c for c in state["cells"] if c["type"] == "code"]
            running = any("*" in c["prompt"] for c in code)
            if state["kernel"] == "idle" and not running:
                return state
        page.wait_for_timeout(1000)
    raise TimeoutError(
        f"Run All Cells on {path} did not finish within {timeout_s(timeout):.0f} s; "
        f"last state: {_summary(state)}"
    )


def unexecuted_cells(state: dict) -> list[int]:
    """Indices of non-empty code cells without an execution count."""
    return [
        c["index"] for c in state["cells"]
        if c["type"] == "code" and c["count"] is None and not c["empty"]
    ]


def error_outputs(page) -> list[dict]:
    return page.evaluate(JS_ERROR_OUTPUTS)


def stderr_outputs(page) -> list[dict]:
    return page.evaluate(JS_STDERR_OUTPUTS)


def output_state(page, cell_index: int) -> dict:
    return page.evaluate(JS_OUTPUT_STATE, cell_index)


def find_slider_cells(page) -> list[int]:
    """Indices of the cells whose outputs hold an ipywidgets slider."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll(
              '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell'))
             .map((c, i) => c.querySelector('.jp-Cell-outputWrapper .widget-slider') ? i : -1)
             .filter(i => i >= 0)"""
    )


def cell_locator(page, index: int):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def set_cell_source(page, index: int, text: str) -> str:
    """Replace a cell's text the way a person pastes it: click into the editor,
    select all, insert the text. Returns the cell's source afterwards."""
    cell = cell_locator(page, index)
    cell.scroll_into_view_if_needed()
    classes = cell.get_attribute("class") or ""
    if "jp-MarkdownCell" in classes and "jp-mod-rendered" in classes:
        cell.dblclick()  # a rendered markdown cell (a written answer) opens its editor on a double click
    editor = cell.locator(".jp-InputArea-editor .cm-content").first
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    if text:
        page.keyboard.insert_text(text)
    else:
        page.keyboard.press("Delete")
    page.keyboard.press("Escape")  # command mode
    return cell_source(page, index)


def cell_source(page, index: int) -> str:
    return page.evaluate(
        "(i) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.getSource()",
        index,
    )


def set_cell_source_model(page, index: int, text: str) -> None:
    """Set a cell's source through JupyterLab's model (used only when typing failed)."""
    page.evaluate(
        "([i, t]) => window.jupyterapp.shell.currentWidget.content.widgets[i].model.sharedModel.setSource(t)",
        [index, text],
    )


def click_validate(page, timeout: float = 300.0) -> tuple[str, str]:
    """Click nbgrader's Validate button; return (dialog class list, dialog text).

    The button saves the notebook, then asks the server to validate it; the
    answer is a 'Validation Results' dialog."""
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .validate-button").first.click()
    dialog = page.locator(".jp-Dialog").filter(has_text="Validat")
    dialog.first.wait_for(state="visible", timeout=timeout_ms(timeout))
    body = dialog.first.locator(".jp-Dialog-body")
    text = body.inner_text()
    inner = body.locator("div").first
    classes = inner.get_attribute("class") or ""
    return classes, text


def close_dialog(page) -> None:
    dlg = page.locator(".jp-Dialog")
    if dlg.count():
        page.locator(".jp-Dialog .jp-mod-accept, .jp-Dialog button.jp-mod-reject").first.click()
        dlg.first.wait_for(state="detached", timeout=timeout_ms(15))


def open_in_file_browser(page, rel_path: str) -> None:
    """Open ``rel_path`` by double-clicking through the left file browser."""
    page.locator(".jp-DirListing").first.wait_for(state="visible", timeout=timeout_ms(60))
    parts = rel_path.split("/")
    for part in parts:
        item = page.locator(
            ".jp-DirListing-item .jp-DirListing-itemText",
            has_text=re.compile(rf"^{re.escape(part)}$"),
        ).first
        item.wait_for(state="visible", timeout=timeout_ms(30))
        item.dblclick()
        page.wait_for_timeout(300)


# --------------------------------------------------------------------------- demo instance


DEMO_STUDENTS = 20
DEMO_CELL_TIMEOUT = 10


def run_course_demo(instance: Path, log: Path, source: Path | None = None) -> subprocess.Popen:
    """Start `course demo` into ``instance`` (in the background; returns the process)."""
    course = shutil.which("course", path=str(Path(sys.executable).parent)) or shutil.which("course")
    if course is None:
        raise FileNotFoundError(
            "the `course` command is not installed in this environment (pip install -e .)"
        )
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    cmd = [course]
    if source is not None:
        cmd += ["--root", str(source)]
    cmd += ["demo", *demo_instance_args(course, instance)]
    out = open(log, "wb")
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    out.close()
    proc.cmd = cmd  # type: ignore[attr-defined]
    return proc


class SharedDemo:
    """One `course demo` per test run, shared by the pytest-xdist workers.

    The first worker that asks starts it (in the background, under a file
    lock in the run's shared temp dir); every worker can then wait for its
    exit status, which a thread of the starting worker writes to a file.
    """

    def __init__(self, shared: Path, source: Path | None, timeout: float = 600.0):
        self.shared = Path(shared)
        self.root = self.shared / "browser-instructor"  # the instructor's server root
        self.instance = self.root / "demo"
        self.log = self.shared / "course-demo.log"
        self.rc_file = self.shared / "course-demo.rc"
        self.source = source
        self.timeout = timeout_s(timeout)
        self.proc: subprocess.Popen | None = None
        self.started_at = time.monotonic()

    def start(self) -> None:
        import fcntl
        import threading

        self.shared.mkdir(parents=True, exist_ok=True)
        with open(self.shared / "course-demo.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            marker = self.shared / "course-demo.started"
            if marker.exists():
                return  # another worker runs it
            marker.write_text(str(os.getpid()))
        self.root.mkdir(parents=True, exist_ok=True)
        prebuilt = os.environ.get("COURSE_BROWSER_DEMO")
        if prebuilt:
            shutil.copytree(prebuilt, self.instance, symlinks=True)
            self.log.write_text(f"copied the demo instance {prebuilt}\n")
            self.rc_file.write_text("0")
            return
        try:
            self.proc = run_course_demo(self.instance, self.log, source=self.source)
        except FileNotFoundError as exc:
            self.log.write_text(f"{exc}\n")
            self.rc_file.write_text("error")
            return
        proc, rc_file = self.proc, self.rc_file

        def record():
            rc = proc.wait()
            rc_file.write_text(str(rc))

        threading.Thread(target=record, daemon=True).start()

    def command(self) -> str:
        return " ".join(getattr(self.proc, "cmd", ["course", "demo"]))

    def wait(self) -> None:
        """Wait for the demo to finish; raise unless it exited with status 0."""
        deadline = self.started_at + self.timeout
        while not self.rc_file.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"`course demo` did not finish within {self.timeout:.0f} s")
            time.sleep(1)
        time.sleep(0.2)  # the status file is written in one go; let it land
        rc = self.rc_file.read_text().strip()
        assert rc == "0", f"`{self.command()}` failed (exit status {rc})"

    def log_tail(self, n: int = 40) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "(no course demo output)"
        return f"--- course demo output ({self.log}), last {n} lines ---\n" + "\n".join(lines[-n:])

    def stop(self) -> None:
        """At the end of the session: let a demo another worker may be waiting for finish
        (bounded by the timeout), then stop it with its children."""
        if self.proc is None:
            return
        remaining = self.started_at + self.timeout - time.monotonic()
        if remaining > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=remaining)
        stop_process_group(self.proc)


def stop_process_group(proc: subprocess.Popen | None, grace: float = 20.0) -> None:
    """Stop a process started with start_new_session=True, with its children."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def demo_instance_args(course: str, instance: Path) -> list[str]:
    """How `course demo` is told where to put the instance (read from its --help)."""
    try:
        help_text = subprocess.run([course, "demo", "--help"], capture_output=True,
                                   text=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        help_text = ""
    def has(flag):
        return re.search(rf"(^|[\s\[]){re.escape(flag)}[\s=,\]]", help_text) is not None

    args = ["--instance", str(instance)]
    for flag in ("--instance", "--instance-dir", "--dir", "--out", "--output"):
        if has(flag):
            args = [flag, str(instance)]
            break
    if has("--no-progress"):
        args.append("--no-progress")
    # The smallest class `course demo` accepts and a short cell timeout: the Formgrader only
    # has to show what the gradebook holds, and at the default 20 s the looping student alone
    # holds a worker that long. Every cell of a correct unit-01 submission runs in well under
    # 10 s, so the class still spans 0 to 100 (checked by the Formgrader test).
    if has("--students"):
        args += ["--students", str(DEMO_STUDENTS)]
    if has("--timeout"):
        args += ["--timeout", str(DEMO_CELL_TIMEOUT)]
    return args
