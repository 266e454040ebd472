"""The order of the gallery's examples: the tutorial first, then the path of a user
(neurons, training, conversion, cost); examples not listed come last, by name."""

from __future__ import annotations

ORDER = (
    "plot_choosing_a_neuron_model.py",
    "plot_spike_functions_and_resets.py",
    "plot_surrogate_gradients.py",
    "plot_neuron_models.py",
    "plot_training_bptt.py",
    "plot_streaming.py",
    "plot_ann_to_snn.py",
    "plot_synops.py",
)


def key(filename: str) -> tuple[int, str]:
    """Sort key of sphinx-gallery's ``within_subsection_order``."""
    return (ORDER.index(filename) if filename in ORDER else len(ORDER), filename)
