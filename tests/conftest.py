"""Session set-up and fixtures shared across the test suite.

* torch.compile's cache (``TORCHINDUCTOR_CACHE_DIR``, by default one folder per user in
  the system's temporary directory) does not tell CPU capabilities apart: a process that
  loads kernels compiled under another ``ATEN_CPU_CAPABILITY`` (or on another machine
  sharing the folder) corrupts its heap. So the suite compiles into a fresh folder of
  its own, removed at the end, unless the user chose one explicitly. Inductor keeps its
  Triton kernels below that folder too; Triton's own cache (``TRITON_CACHE_DIR``) is
  keyed by GPU and compiler version and is left alone.
* ``--kernel-isa=avx2`` (or ``baseline``) runs the compiled CPU kernel as on a CPU
  without the higher instruction sets: calls without an explicit ``isa_name`` run that
  one, and higher ones are refused as the library refuses them there.
  (``ATEN_CPU_CAPABILITY`` does the same for torch's own kernels.)
* ``repo_copy`` (and ``copy_repo``, to copy it anywhere): a copy of the working tree
  (what git tracks or would track) in a temporary folder, for tests that build
  something from the sources (the docs site, the sdist and wheel) without writing into
  the checkout.
* ``browse``: opens a folder of web pages in headless Chromium, served over
  localhost, and reports what a reader would see broken. A test of a page is a few
  lines::

      def test_report_page(browse):
          site = browse(ROOT / "out")
          assert site.visit("index.html").problems == []

  It needs Debian's ``chromium`` package (``apt-get install chromium``) and the
  Python package ``playwright`` (in the ``test`` extra; it drives that Chromium and
  downloads no browser of its own); without them the tests that use it are skipped
  with a message saying what to install.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

_CACHE = "TORCHINDUCTOR_CACHE_DIR"
_created: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--kernel-isa",
        choices=("baseline", "avx2", "avx512"),
        default=None,
        help="run the compiled CPU kernel on this instruction set at best",
    )


def pytest_configure(config: pytest.Config) -> None:
    # before any test module is imported (and so before torch compiles anything);
    # subprocesses started by tests inherit it
    if _CACHE not in os.environ:
        path = tempfile.mkdtemp(prefix="sinabs-tests-inductor-")
        _created.append(path)
        os.environ[_CACHE] = path
    isa = config.getoption("--kernel-isa")
    if isa is not None:
        _limit_kernel_isa(isa)


def _limit_kernel_isa(name: str) -> None:
    from sinabs.dynamics.fused import cpu_kernel

    if not cpu_kernel.available():
        raise pytest.UsageError(f"--kernel-isa: {cpu_kernel.unavailable_reason()}")
    isas, best = cpu_kernel.ISAS, cpu_kernel.isa()
    level = isas.index(name)
    if level > isas.index(best):
        raise pytest.UsageError(f"--kernel-isa={name}: this CPU runs {best} at best")

    def isa_level(isa_name: str | None) -> int:
        wanted = level if isa_name is None else isas.index(isa_name)
        return wanted if wanted <= level else len(isas)  # the library refuses it

    cpu_kernel._isa_level = isa_level  # type: ignore[assignment]
    cpu_kernel.isa = lambda: name  # type: ignore[assignment]


@pytest.fixture(scope="session")
def suite_inductor_cache() -> str | None:
    """The compile cache folder this session created, or None when the user set one."""
    return _created[0] if _created else None


def pytest_unconfigure(config: pytest.Config) -> None:
    for path in _created:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get(_CACHE) == path:
            del os.environ[_CACHE]
    _created.clear()


ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")

# ---- a copy of the working tree -------------------------------------------------------

# Never copied when git is not there to say what is ignored: caches, build outputs and
# virtual environments.
_IGNORED = shutil.ignore_patterns(
    ".git",
    ".venv",
    "__pycache__",
    "*.egg-info",
    "*.so",
    ".*_cache",
    ".hypothesis",
    "_build",
    "build",
    "dist",
    "out",
)


def copy_working_tree(destination: Path) -> Path:
    """Copies the checkout's files (tracked and untracked, not ignored) to ``destination``."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        shutil.copytree(ROOT, destination, ignore=_IGNORED)
        return destination
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():  # deleted but not yet committed: skipped
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


@pytest.fixture(scope="session")
def copy_repo() -> Callable[[Path], Path]:
    """``copy_repo(destination)``: :func:`copy_working_tree`, for any fixture scope."""
    return copy_working_tree


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A fresh copy of the working tree (see :func:`copy_working_tree`)."""
    return copy_working_tree(tmp_path / "repo")


# ---- web pages in a real browser ------------------------------------------------------

# Flags that work on the closed network here: without the background-networking ones
# Chromium's own connections (updates, sync, ...) are refused and logged as errors.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# The browser probes every image of a page by loading it again: a broken image fails.
_BROKEN_IMAGES_JS = """
async () => {
  const probe = (src) => new Promise((resolve) => {
    const img = new Image();
    img.onload = () => resolve(img.naturalWidth > 0 ? null : src);
    img.onerror = () => resolve(src);
    img.src = src;
  });
  const sources = Array.from(document.images, (img) => img.currentSrc || img.src);
  return (await Promise.all(sources.map(probe))).filter((src) => src !== null);
}
"""
_LINKS_JS = "() => Array.from(document.querySelectorAll('a[href]'), (a) => a.href)"
_ID = re.compile(r"""\b(?:id|name)=["']([^"']+)["']""")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A page closed while its requests were in flight: the browser hung up.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(folder: Path) -> http.server.ThreadingHTTPServer:
    """Serves ``folder`` on an unused localhost port from a daemon thread."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class PageReport:
    """What went wrong on one page (empty lists: nothing)."""

    path: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    #: requests to other hosts: answered with an empty response (there is no network
    #: here), listed so a test can pin which ones a page makes
    external_requests: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        """Every problem, as ``"<page>: <kind>: <detail>"``."""
        kinds = {
            "console error": self.console_errors,
            "failed request": self.failed_requests,
            "broken image": self.broken_images,
            "broken link": self.broken_links,
        }
        return [f"{self.path}: {kind}: {item}" for kind, items in kinds.items() for item in items]


class Site:
    """A served folder of pages, opened in a browser.

    Args:
        browser: a Playwright ``Browser``.
        server: the server of ``folder`` (see :func:`serve`).
        folder: the folder of pages.
    """

    def __init__(self, browser: Any, server: http.server.ThreadingHTTPServer, folder: Path):
        host, port = server.server_address[:2]
        self.base_url = f"http://{host!s}:{port}/"
        self.folder = folder
        self._context = browser.new_context()
        self._ids: dict[Path, set[str]] = {}
        self._page: Any = None  # reused by visit(): a new page per visit costs 0.15 s
        self._report = PageReport("")

    def pages(self) -> list[str]:
        """Every ``.html`` file of the folder, relative, sorted."""
        return sorted(p.relative_to(self.folder).as_posix() for p in self.folder.rglob("*.html"))

    def _watch(self, page: Any, report: Callable[[], PageReport]) -> None:
        """Sends ``page``'s errors to ``report()``; answers requests to other hosts."""
        page.on(
            "console",
            lambda msg: report().console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda error: report().console_errors.append(str(error)))
        # A response with an error status is logged by the browser as a console error.
        # ERR_ABORTED: a request cancelled because the page was left (MathJax still
        # fetching its fonts when the next page is opened), not a missing resource.
        page.on(
            "requestfailed",
            lambda request: (
                report().failed_requests.append(f"{request.url} ({request.failure})")
                if "ERR_ABORTED" not in str(request.failure)
                else None
            ),
        )

        def answer_empty(route: Any) -> None:
            report().external_requests.append(route.request.url)
            route.fulfill(status=200, body="")

        # Only other hosts are intercepted (matched inside the browser): routing every
        # request through Python made each page load take a second.
        page.route(re.compile(rf"^(?!{re.escape(self.base_url)})https?://"), answer_empty)

    def _goto(self, page: Any, path: str, report: PageReport) -> None:
        response = page.goto(self.base_url + path, wait_until="load")
        if response is None or response.status >= 400:
            status = "no response" if response is None else response.status
            report.failed_requests.append(f"{self.base_url}{path} ({status})")

    def open(self, path: str, report: PageReport | None = None) -> Any:
        """A new Playwright ``Page`` at ``path`` (close it after use), for interactions;
        its problems go to ``report``."""
        own = report if report is not None else PageReport(path)
        page = self._context.new_page()
        self._watch(page, lambda: own)
        self._goto(page, path, own)
        return page

    def visit(self, path: str) -> PageReport:
        """Loads ``path`` and checks its console, requests, images and internal links."""
        report = self._report = PageReport(path)
        if self._page is None:
            self._page = self._context.new_page()
            self._watch(self._page, lambda: self._report)
        self._goto(self._page, path, report)
        report.broken_images.extend(self._page.evaluate(_BROKEN_IMAGES_JS))
        for link in dict.fromkeys(self._page.evaluate(_LINKS_JS)):  # unique, in order
            if link.startswith(self.base_url) and not self._link_target_exists(link):
                report.broken_links.append(link)
        return report

    def _link_target_exists(self, url: str) -> bool:
        parts = urlsplit(url)
        target = self.folder / unquote(parts.path).lstrip("/")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            return False
        if not parts.fragment or target.suffix != ".html":
            return True
        if target not in self._ids:
            self._ids[target] = set(_ID.findall(target.read_text(errors="replace")))
        return unquote(parts.fragment) in self._ids[target]

    def close(self) -> None:
        self._context.close()


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, driven by Playwright (which gives every launch a
    fresh profile of its own: a --user-data-dir here would be refused)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright ``Browser``); skips when it is not installed."""
    sync_api = pytest.importorskip(
        "playwright.sync_api",
        reason='browser tests need playwright: pip install -e ".[test]"',
    )
    if not CHROMIUM.is_file():
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium "
            "(Debian's package; .ci/run installs it)"
        )
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browse(chromium: Any) -> Iterator[Callable[[Path], Site]]:
    """``browse(folder)`` serves ``folder`` on localhost and returns a :class:`Site`."""
    opened: list[tuple[Site, http.server.ThreadingHTTPServer]] = []

    def open_site(folder: Path) -> Site:
        server = serve(folder)
        site = Site(chromium, server, folder)
        opened.append((site, server))
        return site

    yield open_site
    for site, server in opened:
        site.close()
        server.shutdown()
        server.server_close()
