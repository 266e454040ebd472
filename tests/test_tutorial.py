"""The seed scenario: the "Choosing a neuron model" tutorial runs as written."""

from __future__ import annotations

import runpy
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

TUTORIAL = Path(__file__).resolve().parents[1] / "examples" / "choosing_a_neuron_model.py"

# (title, line labels) of the six figures.
EXPECTED = [
    ("IAF neuron dynamics", ["v_mem", "output", "spike_threshold"]),
    ("IAF neuron dynamics", ["v_mem", "i_syn", "output", "spike_threshold"]),
    ("LIF neuron dynamics", ["v_mem", "output", "spike_threshold"]),
    ("LIF neuron dynamics", ["v_mem", "i_syn", "output", "spike_threshold"]),
    ("ExpLeak neuron dynamics", ["v_mem", "output", "spike_threshold"]),
    ("ALIF neuron dynamics", ["v_mem", "b", "spike_threshold", "output"]),
]


def _traces(figure: Figure) -> dict[str, np.ndarray]:
    """Line label -> y data as a float array (``None`` becomes NaN)."""
    return {
        str(line.get_label()): np.asarray(line.get_ydata(), dtype=float)
        for line in figure.axes[0].get_lines()
    }


@pytest.fixture
def tutorial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[list[Figure], Path]]:
    """Run the tutorial as a script into tmp_path; yield its open figures and out dir."""
    out_dir = tmp_path / "figures"
    monkeypatch.setattr(sys, "argv", [str(TUTORIAL), str(out_dir)])
    plt.close("all")
    runpy.run_path(str(TUTORIAL), run_name="__main__")
    try:
        yield [plt.figure(n) for n in plt.get_fignums()], out_dir
    finally:
        plt.close("all")


def test_six_figures_with_expected_lines(tutorial: tuple[list[Figure], Path]) -> None:
    figures, _ = tutorial
    assert len(figures) == 6
    for figure, (title, labels) in zip(figures, EXPECTED, strict=True):
        (ax,) = figure.axes
        assert ax.get_title() == title
        assert ax.get_legend() is not None
        traces = _traces(figure)
        assert len(traces) == len(ax.get_lines())  # no duplicate labels
        assert sorted(traces) == sorted(labels)
        for label, y in traces.items():
            assert y.shape == (100,), (title, label)
            if title.startswith("ExpLeak") and label == "spike_threshold":
                # ExpLeak has no threshold: the tutorial plots [None] * 100, which
                # matplotlib draws as nothing.
                assert np.isnan(y).all()
            else:
                assert np.isfinite(y).all(), (title, label)


def test_dynamics_look_like_the_tutorial(tutorial: tuple[list[Figure], Path]) -> None:
    figures, _ = tutorial
    iaf, iaf_syn, lif, lif_syn, exp_leak, alif = (_traces(f) for f in figures)
    # Constant input makes IAF and LIF fire; a single pulse through i_syn does too.
    for traces in (iaf, lif, alif):
        assert traces["output"].sum() > 0
    # IAF: 0.03 per step, threshold 1: a spike about every 33 steps.
    assert 2 <= iaf["output"].sum() <= 3
    # A single pulse at t=0 enters i_syn, which then decays and charges v_mem.
    for traces in (iaf_syn, lif_syn):
        i_syn = traces["i_syn"]
        assert i_syn[0] > 0
        assert (np.diff(i_syn) <= 0).all()
        assert traces["v_mem"][1:].max() > 0
    # ExpLeak output is its membrane potential.
    np.testing.assert_allclose(exp_leak["output"], exp_leak["v_mem"])
    # ALIF threshold rises above its resting value b0 = 1 after spikes.
    assert alif["spike_threshold"].max() > 1.0


def test_pngs_saved(tutorial: tuple[list[Figure], Path]) -> None:
    _, out_dir = tutorial
    pngs = sorted(out_dir.glob("*.png"))
    assert len(pngs) == 6
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
