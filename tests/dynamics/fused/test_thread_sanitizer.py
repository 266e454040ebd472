"""The CPU kernel's threads under ThreadSanitizer: no data race.

The kernel's C sources (``src/sinabs/dynamics/fused/csrc``) and ``tsan_driver.c`` are
compiled with ``-fsanitize=thread`` into one program, which runs forward and backward
passes of several configurations and shapes (an overlapping last slot, many batch
rows, fewer neurons than a slot, float64) on several threads, on every instruction set
of this CPU. ``tsan_driver.c`` says why a program rather than the library loaded into
Python: an uninstrumented interpreter and torch's OpenMP pool, whose synchronisation
ThreadSanitizer cannot see, would make it report races that are none. The kernel
therefore runs on threads it starts itself (its other pool, the one it uses where no
OpenMP runtime is loaded).

Runs where the C compiler has ThreadSanitizer (gcc with libtsan, Debian's ``libtsan2``,
or clang) and the sanitizer works on this system (it first has to catch a planted
race); skips with the reason otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[3] / "src" / "sinabs" / "dynamics" / "fused" / "csrc"
DRIVER = Path(__file__).with_name("tsan_driver.c")
# setup.py's flags that matter for the code (-ffp-contract=off etc.) and every call
# split among threads however small (scan.c, WORK_SHIFT_*). -O0: every memory access
# of the source stays for the sanitizer to see, and compiling and running took 24 CPU
# seconds here against 48 with -O1
FLAGS = [
    "-std=c11",
    "-O0",
    "-g",
    "-fsanitize=thread",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-pthread",
    "-DWORK_SHIFT_THREADS=0",
    "-DWORK_SHIFT_OPENMP=0",
]
# halt_on_error: the first report fails the run, with ThreadSanitizer's exit code
TSAN_ENV = {"TSAN_OPTIONS": "halt_on_error=1:exitcode=66"}

PLANTED_RACE = r"""
#include <pthread.h>
static int counter;
static void *bump(void *arg) { (void)arg; counter++; return 0; }
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, bump, 0);
    counter++;
    pthread_join(t, 0);
    return 0;
}
"""


def _compiler() -> str | None:
    for name in ("cc", "gcc", "clang"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


@pytest.fixture(scope="module")
def tsan_driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The driver built with ThreadSanitizer (skips where that is impossible)."""
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH")
    work = tmp_path_factory.mktemp("tsan")
    probe = work / "planted_race.c"
    probe.write_text(PLANTED_RACE)
    built = _run([cc, "-fsanitize=thread", "-g", "-pthread", str(probe), "-o", str(work / "race")])
    if built.returncode != 0:
        pytest.skip(
            f"{cc} cannot build with -fsanitize=thread (gcc needs libtsan, Debian's "
            f"libtsan2): {built.stderr.strip()[-300:]}"
        )
    ran = _run([str(work / "race")], env={**os.environ, **TSAN_ENV})
    if ran.returncode != 66 or "data race" not in ran.stderr:
        pytest.skip(
            "ThreadSanitizer does not work on this system (a planted race went unreported): "
            f"exit {ran.returncode}, {ran.stderr.strip()[-300:]}"
        )

    sources = [*sorted(CSRC.glob("*.c")), DRIVER]

    def compile_one(src: Path) -> subprocess.CompletedProcess[str]:
        return _run(
            [cc, *FLAGS, "-I", str(CSRC), "-c", str(src), "-o", str(work / f"{src.stem}.o")]
        )

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(compile_one, sources))
    for src, result in zip(sources, results, strict=True):
        assert result.returncode == 0, f"{src.name}: {result.stderr}"
    objects = [str(work / f"{src.stem}.o") for src in sources]
    exe = work / "tsan_driver"
    linked = _run([cc, "-fsanitize=thread", "-pthread", *objects, "-o", str(exe), "-lm", "-ldl"])
    assert linked.returncode == 0, linked.stderr
    return exe


def test_kernel_threads_have_no_data_race(tsan_driver: Path) -> None:
    result = _run([str(tsan_driver)], env={**os.environ, **TSAN_ENV})
    assert "ThreadSanitizer" not in result.stderr, result.stderr[-4000:]
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    # every multi-threaded run started threads (the driver checks each one)
    summary = re.fullmatch(r"(\d+) runs, 0 failures, (\d+) threads started", result.stdout.strip())
    assert summary is not None, result.stdout
    assert int(summary[1]) >= 20 and int(summary[2]) >= int(summary[1])
