"""The defaults of ``sinabs train`` reach 90% test accuracy (a full run: ``make
test-slow``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("sklearn", reason="sinabs train needs the demo extra (scikit-learn)")
pytest.importorskip("matplotlib", reason="sinabs train needs the demo extra (matplotlib)")

from sinabs.cli import main


@pytest.mark.slow
def test_train_defaults_reach_90_percent(tmp_path: Path) -> None:
    assert main(["train", "--out", str(tmp_path), "--quiet"]) == 0
    summary = json.loads((tmp_path / "train" / "results.json").read_text())["summary"]
    assert summary["test_accuracy"] >= 0.90, summary


@pytest.mark.slow
def test_convert_defaults_approach_the_ann(tmp_path: Path) -> None:
    assert main(["convert", "--out", str(tmp_path), "--quiet"]) == 0
    summary = json.loads((tmp_path / "convert" / "results.json").read_text())["summary"]
    assert summary["ann_accuracy"] >= 0.90, summary
    assert summary["snn_accuracy_at_max_timesteps"] >= summary["ann_accuracy"] - 0.05, summary
