"""sinabs.plotting.plot_dynamics."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after the backend choice)
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import sinabs.layers as sl  # noqa: E402
from sinabs.plotting import plot_dynamics  # noqa: E402

T = 50
CONST = torch.full((1, T, 1), 0.05)
PULSE = torch.zeros((1, T, 1))
PULSE[:, 0] = 0.5

CASES = {
    "IAF": (lambda: sl.IAF(), CONST, ["v_mem", "output", "spike_threshold"]),
    "LIF-tau_syn": (
        lambda: sl.LIF(tau_mem=20.0, tau_syn=10.0, norm_input=False),
        PULSE,
        ["v_mem", "i_syn", "output", "spike_threshold"],
    ),
    "ExpLeak": (lambda: sl.ExpLeak(tau_mem=30.0), CONST, ["v_mem", "output"]),
    "ALIF": (
        lambda: sl.ALIF(tau_mem=20.0, tau_adapt=20.0, adapt_scale=5, norm_input=False),
        CONST * 4,
        ["v_mem", "b", "spike_threshold", "output"],
    ),
}


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def _labels(fig: Figure) -> list[str]:
    return sorted(str(line.get_label()) for line in fig.axes[0].get_lines())


def _traces(fig: Figure) -> dict[str, np.ndarray]:
    """Line label -> y data as a float array."""
    return {
        str(line.get_label()): np.asarray(line.get_ydata(), dtype=float)
        for line in fig.axes[0].get_lines()
    }


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("record_states", [False, True], ids=["rec-off", "rec-on"])
def test_labels_and_record_states_restored(name: str, record_states: bool) -> None:
    make_layer, current, labels = CASES[name]
    layer = make_layer()
    layer.record_states = record_states
    fig = plot_dynamics(layer, current)
    assert isinstance(fig, Figure)
    assert _labels(fig) == sorted(labels)
    assert layer.record_states is record_states
    (ax,) = fig.axes
    assert ax.get_title() == f"{type(layer).__name__} neuron dynamics"
    for y in _traces(fig).values():
        assert y.shape == (T,)
        assert np.isfinite(y).all()


def test_traces_match_a_plain_forward() -> None:
    layer = sl.LIF(tau_mem=20.0, tau_syn=10.0, norm_input=False, record_states=True)
    fig = plot_dynamics(layer, PULSE)
    lines = _traces(fig)

    reference = sl.LIF(tau_mem=20.0, tau_syn=10.0, norm_input=False, record_states=True)
    out = reference(PULSE)
    np.testing.assert_allclose(lines["output"], out.detach().flatten().numpy())
    for key, recording in reference.recordings.items():
        np.testing.assert_allclose(lines[key], recording.detach().flatten().numpy())
    np.testing.assert_allclose(lines["spike_threshold"], np.ones(T, dtype=np.float32))


def test_alif_threshold_is_the_recorded_one() -> None:
    layer = sl.ALIF(tau_mem=20.0, tau_adapt=20.0, adapt_scale=5, norm_input=False)
    fig = plot_dynamics(layer, CONST * 4)
    assert _labels(fig).count("spike_threshold") == 1
    threshold = layer.recordings["spike_threshold"].detach().flatten().numpy()
    np.testing.assert_allclose(_traces(fig)["spike_threshold"], threshold)
    assert threshold.max() > 1.0  # it adapted


def test_plots_sample_0_neuron_0_of_a_batch() -> None:
    current = torch.rand((3, T, 2, 2))
    layer = sl.IAF(spike_threshold=torch.tensor([[0.5, 2.0], [3.0, 4.0]]))
    fig = plot_dynamics(layer, current)
    lines = _traces(fig)
    reference = sl.IAF(spike_threshold=torch.tensor([[0.5, 2.0], [3.0, 4.0]]))
    out = reference(current)
    np.testing.assert_allclose(lines["output"], out[0, :, 0, 0].detach().numpy())
    np.testing.assert_allclose(lines["spike_threshold"], np.full(T, 0.5))


def test_draws_into_given_axes_with_title() -> None:
    fig, (left, right) = plt.subplots(1, 2)
    result = plot_dynamics(sl.IAF(), CONST, ax=right, title="mine")
    assert result is fig
    assert right.get_title() == "mine"
    assert not left.get_lines()


def test_rejects_input_without_time_axis() -> None:
    layer = sl.IAF()
    with pytest.raises(ValueError, match="batch, time"):
        plot_dynamics(layer, torch.ones(5))
    assert layer.record_states is False


def test_record_states_restored_when_forward_fails() -> None:
    class Failing(sl.IAF):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("boom")

    layer = Failing()
    with pytest.raises(RuntimeError, match="boom"):
        plot_dynamics(layer, CONST)
    assert layer.record_states is False


def test_missing_matplotlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'sinabs\[plot\]'"):
        plot_dynamics(sl.IAF(), CONST)
