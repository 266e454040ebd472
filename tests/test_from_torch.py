"""sinabs.from_model: converting ReLU networks into spiking networks.

Includes two end-to-end checks of conversion quality on a small CNN trained here on
synthetic data: spike rates approach the ANN's outputs as the number of time steps
grows, and weight normalisation removes the saturation of single-spike neurons.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import sinabs
import sinabs.layers as sl
from sinabs.activation import (
    MembraneReset,
    MembraneSubtract,
    MultiSpike,
    SingleExponential,
    SingleSpike,
)
from sinabs.from_torch import from_model
from sinabs.network import Network
from sinabs.utils import normalize_weights


def mlp() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(6, 5),
        nn.ReLU(),
        nn.Linear(5, 4),
        nn.ReLU(),
        nn.Linear(4, 2),
    )


def conv_net() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 3, 3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 2 * 2, 5),
    )


def spiking_layers(net: Network) -> list[sl.StatefulLayer]:
    return [m for m in net.spiking_model.modules() if isinstance(m, sl.StatefulLayer)]


# ---------------------------------------------------------------------------------------
# structure and arguments


def test_relus_become_spiking_layers_in_a_copy() -> None:
    model = conv_net()
    net = from_model(model, batch_size=2)
    assert isinstance(net, Network)
    assert net.analog_model is model
    assert net.spiking_model is not model
    assert [type(m) for m in net.spiking_model] == [
        nn.Conv2d, sl.IAFSqueeze, nn.AvgPool2d, nn.Conv2d, sl.IAFSqueeze, nn.Flatten, nn.Linear,
    ]  # fmt: skip
    assert [type(m) for m in model].count(nn.ReLU) == 2
    assert torch.equal(net.spiking_model[0].weight, model[0].weight)
    assert net.spiking_model[0].weight is not model[0].weight


def test_default_layer_configuration() -> None:
    net = from_model(mlp(), batch_size=3)
    for layer in spiking_layers(net):
        assert layer.spike_threshold == 1.0
        assert layer.min_v_mem == -1.0
        assert layer.spike_fn is MultiSpike
        assert layer.reset_fn == MembraneSubtract()
        assert layer.surrogate_grad_fn == SingleExponential()


def test_every_layer_owns_its_threshold() -> None:
    # sinabs shared one default threshold tensor between all layers (Q8)
    first, second = spiking_layers(from_model(mlp(), batch_size=3))
    with torch.no_grad():
        first.spike_threshold.fill_(5.0)
    assert second.spike_threshold == 1.0
    assert spiking_layers(from_model(mlp(), batch_size=3))[0].spike_threshold == 1.0


def test_user_threshold_tensor_is_not_shared() -> None:
    threshold = torch.tensor(2.0)
    layers = spiking_layers(from_model(mlp(), spike_threshold=threshold, batch_size=3))
    with torch.no_grad():
        layers[0].spike_threshold.fill_(7.0)
    assert threshold == 2.0
    assert layers[1].spike_threshold == 2.0


@pytest.mark.parametrize(
    ("batch_size", "num_timesteps"),
    [(32, None), (None, 10), (4, 10)],
    ids=["batch", "time", "both"],
)
def test_squeeze_layers_get_batch_size_and_num_timesteps(
    batch_size: int | None, num_timesteps: int | None
) -> None:
    net = from_model(conv_net(), batch_size=batch_size, num_timesteps=num_timesteps)
    for index in (1, 4):
        layer = net.spiking_model[index]
        assert layer.batch_size == (batch_size or -1)
        assert layer.num_timesteps == (num_timesteps or -1)


def test_squeeze_class_without_batch_size_or_num_timesteps() -> None:
    with pytest.raises(TypeError, match="needs batch_size or num_timesteps"):
        from_model(mlp())
    # nothing to replace: nothing to complain about
    net = from_model(nn.Sequential(nn.Linear(2, 2)))
    assert isinstance(net.spiking_model[0], nn.Linear)


def test_backend_argument_is_deprecated() -> None:
    with pytest.warns(UserWarning, match="deprecated"):
        net = from_model(mlp(), backend="sinabs", batch_size=2)
    assert all(type(layer) is sl.IAFSqueeze for layer in spiking_layers(net))


def test_unknown_backend() -> None:
    with (
        pytest.warns(UserWarning, match="deprecated"),
        pytest.raises(KeyError, match="backend='nope'"),
    ):
        from_model(mlp(), backend="nope", batch_size=2)


@pytest.mark.parametrize(
    ("layer_class", "kwargs_backend", "check"),
    [
        (sl.IAF, None, lambda layer: type(layer) is sl.IAF),
        (
            sl.LIFSqueeze,
            {"tau_mem": 20.0},
            lambda layer: type(layer) is sl.LIFSqueeze and layer.tau_mem == 20.0,
        ),
        (
            sl.IAFSqueeze,
            {"tau_syn": 5.0},
            lambda layer: layer.tau_syn == 5.0 and layer.batch_size == 2,
        ),
    ],
    ids=["IAF", "LIFSqueeze-tau", "IAFSqueeze-tau_syn"],
)
def test_spike_layer_class_and_kwargs_backend(
    layer_class: type[nn.Module],
    kwargs_backend: dict[str, Any] | None,
    check: Callable[[nn.Module], bool],
) -> None:
    given = copy.deepcopy(kwargs_backend)
    net = from_model(
        mlp(), spike_layer_class=layer_class, kwargs_backend=kwargs_backend, batch_size=2
    )
    layers = spiking_layers(net)
    assert len(layers) == 2
    assert all(check(layer) for layer in layers)
    assert kwargs_backend == given  # the caller's dict is never changed (Q22)


def test_unsqueezed_layers_take_time_in_input_shape() -> None:
    # the dummy input is (batch_size * num_timesteps, *input_shape) = (2, 2, 10, 5)
    model = nn.Sequential(nn.Linear(5, 3), nn.ReLU())
    net = from_model(model, input_shape=(2, 10, 5), batch_size=2, spike_layer_class=sl.IAF)
    assert net.spiking_model[1].out_shape == (2, 10, 3)
    assert net.spiking_model[1].v_mem.shape == (2, 10, 3)


def test_neuromorphic_relus_are_replaced() -> None:
    model = nn.Sequential(nn.Linear(3, 3), sl.NeuromorphicReLU(), nn.Linear(3, 3), nn.ReLU())
    net = from_model(model, batch_size=1)
    assert type(net.spiking_model[1]) is sl.IAFSqueeze
    assert type(net.spiking_model[3]) is sl.IAFSqueeze


def test_spike_output_only_on_the_converted_model() -> None:
    model = mlp()
    net = from_model(model, add_spiking_output=True, batch_size=2)
    assert isinstance(net.spiking_model.spike_output, sl.StatefulLayer)
    assert "spike_output" not in dict(model.named_children())
    assert len(model) == 5
    out = net(torch.rand(2 * 3, 6))
    assert set(out.unique().tolist()) <= {0.0, 1.0, 2.0, 3.0}  # spikes, not analog values


def test_spike_output_not_added_after_a_relu() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
    with pytest.warns(UserWarning, match="can only be added"):
        net = from_model(model, add_spiking_output=True, batch_size=2)
    assert "spike_output" not in dict(net.spiking_model.named_children())


class TwoLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def test_spike_output_on_a_custom_module_is_registered_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="only an nn.Sequential calls it"):
        net = from_model(TwoLayers(), add_spiking_output=True, batch_size=2)
    assert isinstance(net.spiking_model.spike_output, sl.IAFSqueeze)
    assert type(net.spiking_model.act) is sl.IAFSqueeze


def test_bias_rescaling_touches_linear_and_conv2d_only() -> None:
    model = nn.Sequential(
        nn.Conv1d(1, 2, 3),
        nn.Flatten(),
        nn.Linear(2 * 4, 3),
        nn.ReLU(),
        nn.Unflatten(1, (3, 1, 1)),
        nn.Conv2d(3, 2, 1),
    )
    net = from_model(model, bias_rescaling=2.0, batch_size=1)
    snn = net.spiking_model
    assert torch.allclose(snn[2].bias, model[2].bias / 2)
    assert torch.allclose(snn[5].bias, model[5].bias / 2)
    assert torch.equal(snn[0].bias, model[0].bias)  # Conv1d: not rescaled (as sinabs)
    assert torch.equal(snn[2].weight, model[2].weight)


def test_activation_change() -> None:
    model = nn.Sequential(nn.Linear(1, 1, bias=False), nn.ReLU())
    with torch.no_grad():
        model[0].weight.fill_(1.0)
    net = from_model(
        model,
        spike_threshold=3.0,
        spike_fn=SingleSpike,
        reset_fn=MembraneReset(),
        min_v_mem=-3.0,
        batch_size=1,
    )
    layer = net.spiking_model[1]
    assert layer.spike_threshold == 3.0 and layer.min_v_mem == -3.0
    with torch.no_grad():
        assert net(torch.ones(10, 1)).sum() == 3
        net.reset_states()
        pulse = torch.zeros(10, 1)
        pulse[0] = 7.0
        assert net(pulse).sum() == 1


def test_network_conversion_advanced() -> None:
    """Conv-BN-ReLU-AvgPool-Conv-BN in eval mode: SNN rates match the CNN output."""
    torch.manual_seed(0)
    cnn = nn.Sequential(
        nn.Conv2d(2, 8, 3, bias=False),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Conv2d(8, 4, 3, bias=False),
        nn.BatchNorm2d(4),
    )
    with torch.no_grad():
        for bn in (cnn[1], cnn[5]):
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.1, 0.1)
    cnn.eval()
    image = torch.rand(2, 12, 12)
    with torch.no_grad():
        expected = cnn(image.unsqueeze(0))
    net = from_model(cnn, input_shape=(2, 12, 12), batch_size=1)
    assert net.spiking_model[2].out_shape == (8, 10, 10)
    net.reset_states()
    spikes = sl.Img2SpikeLayer(image_shape=(2, 12, 12), tw=1000, norm=1)(image)
    with torch.no_grad():
        rates = net(spikes).mean(0, keepdim=True)
    assert rates.shape == expected.shape
    assert torch.allclose(rates, expected, atol=0.025)


def test_input_shape_pass_initialises_states() -> None:
    # Kept from sinabs (Q22): the shape pass leaves the states initialised.
    net = from_model(mlp(), input_shape=(6,), batch_size=3)
    layer = net.spiking_model[1]
    assert layer.v_mem.shape == (3, 5)
    assert net.spiking_model[0].out_shape == (5,)
    assert all(not m._forward_hooks for m in net.spiking_model.modules())


def test_device_follows_the_model_parameters() -> None:
    net = from_model(mlp().double(), batch_size=1)
    assert all(layer.spike_threshold.device.type == "cpu" for layer in spiking_layers(net))
    # a model without parameters converts too
    net = from_model(nn.Sequential(nn.ReLU()), input_shape=(3,), batch_size=1)
    assert type(net.spiking_model[0]) is sl.IAFSqueeze


def test_a_bare_relu_converts_to_a_spiking_layer() -> None:
    net = from_model(nn.ReLU(), batch_size=1)
    assert type(net.spiking_model) is sl.IAFSqueeze


def test_top_level_export() -> None:
    assert sinabs.from_model is from_model
    assert sinabs.from_torch.from_model is from_model


# ---------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "resnet"}, TypeError, "model must be a torch.nn.Module"),
        ({"model": [nn.Linear(2, 2), nn.ReLU()]}, TypeError, "model must be a torch.nn.Module"),
        ({"spike_layer_class": sl.IAF()}, TypeError, "spike_layer_class"),
        ({"spike_layer_class": dict}, TypeError, "spike_layer_class"),
        ({"input_shape": 6}, TypeError, "input_shape"),
        ({"input_shape": (6, 0)}, ValueError, "input_shape"),
        ({"input_shape": (7,)}, ValueError, r"input_shape=\(7,\) does not fit"),
        ({"model": conv_net(), "input_shape": (2, 3, 3)}, ValueError, "input_shape"),
        ({"bias_rescaling": 0.0}, ValueError, "bias_rescaling"),
        ({"bias_rescaling": "2"}, TypeError, "bias_rescaling"),
    ],
    ids=[
        "model-string",
        "model-list",
        "layer-instance",
        "layer-not-module",
        "input-shape-int",
        "input-shape-zero",
        "input-shape-mismatch",
        "input-shape-smaller-than-kernel",
        "bias-rescaling-zero",
        "bias-rescaling-string",
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    arguments: dict[str, Any] = {"model": mlp(), "batch_size": 2, **kwargs}
    with pytest.raises(error, match=match):
        from_model(**arguments)


def test_unconverted_activations_are_named() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.Sigmoid(), nn.Linear(3, 3), nn.ReLU(), nn.Tanh())
    with pytest.warns(UserWarning, match="stay analog.*Sigmoid, Tanh"):
        net = from_model(model, batch_size=1)
    assert type(net.spiking_model[3]) is sl.IAFSqueeze
    assert type(net.spiking_model[1]) is nn.Sigmoid


def test_plain_relu_models_convert_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        from_model(conv_net(), input_shape=(2, 10, 10), batch_size=1)


# ---------------------------------------------------------------------------------------
# conversion quality


BATCH = 64


def synthetic_images(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Noisy 8x8 images of four classes: a row, a column, the diagonal, a square."""
    labels = torch.randint(0, 4, (n,), generator=generator)
    images = torch.rand(n, 1, 8, 8, generator=generator) * 0.3
    for i, label in enumerate(labels.tolist()):
        if label == 0:
            images[i, 0, 2, :] += 0.7
        elif label == 1:
            images[i, 0, :, 5] += 0.7
        elif label == 2:
            images[i, 0].diagonal().add_(0.7)
        else:
            images[i, 0, 4:7, 1:4] += 0.7
    return images, labels


@pytest.fixture(scope="module")
def trained_cnn() -> tuple[nn.Sequential, torch.Tensor]:
    """A small CNN trained for 150 Adam steps (about a second), and test images."""
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    images, labels = synthetic_images(512, generator)
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 4),
    )
    optimiser = torch.optim.Adam(cnn.parameters(), lr=1e-2)
    for _ in range(150):
        batch = torch.randint(0, len(images), (BATCH,), generator=generator)
        loss = nn.functional.cross_entropy(cnn(images[batch]), labels[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    test_images, test_labels = synthetic_images(BATCH, generator)
    with torch.no_grad():
        accuracy = (cnn(test_images).argmax(1) == test_labels).float().mean().item()
    assert accuracy > 0.9, f"the CNN did not learn the task (accuracy {accuracy:.2f})"
    return cnn, test_images


def spiking_rates(
    cnn: nn.Module, images: torch.Tensor, num_timesteps: int, **kwargs: Any
) -> torch.Tensor:
    """Time-averaged output of the converted CNN fed the images as constant currents."""
    net = from_model(cnn, batch_size=len(images), **kwargs)
    currents = images.unsqueeze(1).expand(-1, num_timesteps, -1, -1, -1).flatten(0, 1)
    with torch.no_grad():
        return net(currents).unflatten(0, (len(images), num_timesteps)).mean(1)


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(np.corrcoef(a.flatten().numpy(), b.flatten().numpy())[0, 1])


def relative_error(rates: torch.Tensor, expected: torch.Tensor) -> float:
    return float((rates - expected).norm() / expected.norm())


def normalised(cnn: nn.Module, images: torch.Tensor, percentile: float = 99) -> nn.Module:
    copied = copy.deepcopy(cnn)
    normalize_weights(copied, images, ["1"], ["0"], percentile=percentile)
    return copied


@pytest.mark.parametrize(
    "config",
    ["default", "single-spike-normalised"],
)
def test_rates_approach_ann_outputs_as_time_grows(
    trained_cnn: tuple[nn.Sequential, torch.Tensor], config: str
) -> None:
    cnn, images = trained_cnn
    kwargs: dict[str, Any] = {}
    if config == "single-spike-normalised":
        # normalised to the largest activation: no neuron saturates
        cnn = normalised(cnn, images, percentile=100)
        kwargs = {"spike_fn": SingleSpike}
    with torch.no_grad():
        expected = cnn(images)
    correlations, errors = [], []
    for steps in (8, 32, 128):
        rates = spiking_rates(cnn, images, steps, **kwargs)
        correlations.append(correlation(rates, expected))
        errors.append(relative_error(rates, expected))
    print(
        f"\n{config}: T=8/32/128 correlation "
        + " / ".join(f"{c:.6f}" for c in correlations)
        + ", relative error "
        + " / ".join(f"{e:.4f}" for e in errors)
    )
    assert correlations[0] < correlations[1] < correlations[2]
    assert errors[0] > errors[1] > errors[2]
    assert correlations[2] > 0.995
    assert errors[2] < 0.1


def test_normalize_weights_removes_single_spike_saturation(
    trained_cnn: tuple[nn.Sequential, torch.Tensor],
) -> None:
    """With one spike per step at most, activations above threshold saturate.

    The trained CNN's hidden activations reach about 3.5 (99th percentile about 2), so
    without normalisation many neurons fire at every step and the rates underestimate
    the ANN. Scaling the first layer by the 99th percentile of its activations brings
    them below threshold.
    """
    cnn, images = trained_cnn
    norm_cnn = normalised(cnn, images)
    with torch.no_grad():
        hidden = cnn[:2](images)
        expected, norm_expected = cnn(images), norm_cnn(images)
        norm_hidden = norm_cnn[:2](images)
    assert np.percentile(hidden.numpy(), 99) > 1.5
    assert np.percentile(norm_hidden.numpy(), 99) == pytest.approx(1.0, rel=1e-5)
    for steps in (16, 64):
        raw = relative_error(spiking_rates(cnn, images, steps, spike_fn=SingleSpike), expected)
        norm = relative_error(
            spiking_rates(norm_cnn, images, steps, spike_fn=SingleSpike), norm_expected
        )
        print(f"\nT={steps}: relative error {raw:.4f} raw, {norm:.4f} normalised")
        assert norm < raw / 2
