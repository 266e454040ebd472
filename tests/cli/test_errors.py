"""Bad arguments end a command with one line on stderr and exit status 2 (1 for a
missing optional package), never a traceback; ``--help`` explains every command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sinabs.cli import main

COMMANDS = ("gallery", "train", "convert", "bench", "demo")


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_python_m_sinabs_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sinabs", "--help"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    for command in COMMANDS:
        assert command in proc.stdout


def test_missing_device_exits_2_without_traceback(tmp_path: Path) -> None:
    """The real process: exit status and stderr as a user sees them."""
    device = f"cuda:{torch.cuda.device_count()}"  # one past the last (cuda:0 without CUDA)
    proc = subprocess.run(
        [sys.executable, "-m", "sinabs", "train", "--device", device, "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"sinabs train: error: --device {device}")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "train").exists()  # nothing was started


@pytest.mark.parametrize("command", COMMANDS)
def test_help_explains_each_option(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "--out" in text and "--quiet" in text
    if command != "gallery":
        assert "--device" in text and "--backend" in text
    if command in ("train", "convert", "demo"):
        assert "--seed" in text
    if command in ("train", "convert"):
        assert "--epochs" in text


@pytest.mark.parametrize("command", ["train", "convert", "bench", "demo"])
def test_unknown_backend(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--backend", "fast"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'fast'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--device", "gpu0"], "--device 'gpu0' is not a device name"),
        (["train", "--device", "cuda:99"], "--device cuda:99"),
        (["convert", "--device", "meta"], "--device meta: only cpu, cuda[:N] and mps"),
        (["train", "--backend", "triton"], "--backend triton on cpu"),
        (["bench", "--backend", "reference"], "--backend reference: bench compares"),
        (["train", "--samples", "5"], "--samples"),
        (["convert", "--samples", "100000"], "--samples"),
    ],
    ids=["device-name", "cuda-index", "device-type", "triton-on-cpu", "bench-ref", "few", "many"],
)
def test_bad_argument(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert message in _error_line(capsys)


@pytest.mark.parametrize("command", ["gallery", "train", "bench"])
def test_unwritable_out(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main([command, "--out", str(blocker / "out"), "--quiet"]) == 2
    assert f"--out {blocker / 'out'}: cannot write results there" in _error_line(capsys)


@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_epochs_must_be_positive(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", value])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_missing_extra_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # import fails
    assert main(["train", "--out", str(tmp_path), "--quiet"]) == 1
    line = _error_line(capsys)
    assert "scikit-learn" in line and 'pip install "sinabs[demo]"' in line


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "gallery" in capsys.readouterr().err
