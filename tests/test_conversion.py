"""sinabs.conversion: replace_module (copying) and replace_module_ (in place)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from torch import nn

import sinabs.layers as sl
from sinabs.conversion import replace_module, replace_module_


def iaf_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3),
        sl.IAF(spike_threshold=2.0),
        nn.Conv2d(4, 4, 3),
        sl.IAF(spike_threshold=2.0),
    )


def to_squeeze(module: nn.Module) -> nn.Module:
    return sl.IAFSqueeze(**module._param_dict, batch_size=18)


def test_replace_module_returns_a_converted_copy() -> None:
    model = iaf_model()
    filtered = replace_module(model, sl.IAF, to_squeeze)
    assert model is not filtered
    assert len(filtered) == len(model)
    for index in (1, 3):
        assert type(filtered[index]) is sl.IAFSqueeze
        assert filtered[index].spike_threshold == 2
        assert filtered[index].batch_size == 18
        # the original is untouched
        assert type(model[index]) is sl.IAF
    assert filtered[0] is not model[0]


def test_replace_module_on_a_matching_module_returns_the_mapper_output() -> None:
    relu = nn.ReLU()
    new = sl.IAF()
    assert replace_module(relu, nn.ReLU, lambda m: new) is new


class MyReLU(nn.ReLU):
    """A ReLU subclass: not an exact match."""


class Branches(nn.Module):
    """A non-Sequential model with nested containers."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
        self.deep = nn.Sequential(nn.Sequential(nn.Linear(3, 3), nn.ReLU()), MyReLU())
        self.act = nn.ReLU()

    def forward(self, x: Any) -> Any:
        return self.act(self.deep(self.stem(x)))


def test_replaces_at_any_depth_exact_types_only() -> None:
    model = Branches()
    new = replace_module(model, nn.ReLU, lambda m: sl.IAF())
    assert type(new.stem[1]) is sl.IAF
    assert type(new.deep[0][1]) is sl.IAF
    assert type(new.act) is sl.IAF
    assert type(new.deep[1]) is MyReLU  # a subclass is not replaced
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 4


def test_mapper_sees_each_old_module_in_order() -> None:
    model = nn.Sequential(nn.ReLU(), nn.Sequential(nn.ReLU()), nn.ReLU())
    seen: list[nn.Module] = []

    def mapper(module: nn.Module) -> nn.Module:
        seen.append(module)
        return nn.Identity()

    replace_module_(model, nn.ReLU, mapper)
    assert len(seen) == 3
    assert all(type(m) is nn.ReLU for m in seen)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())


def test_replace_module_in_place() -> None:
    model = iaf_model()
    layer0 = model[0]
    assert replace_module_(model, sl.IAF, to_squeeze) is None
    assert type(model[1]) is sl.IAFSqueeze
    assert model[1].spike_threshold == 2
    assert model[0] is layer0


def test_replace_module_in_place_on_a_bare_matching_module_warns() -> None:
    layer = sl.IAF(spike_threshold=2.0)
    with pytest.warns(UserWarning, match="cannot be converted in place"):
        result = replace_module_(layer, sl.IAF, to_squeeze)
    assert result is None
    assert type(layer) is sl.IAF


def test_matching_containers_are_replaced_without_warning() -> None:
    # deep is a Sequential holding a Sequential: both are visited, neither warns
    model = Branches()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = replace_module(model, nn.Sequential, lambda m: nn.Identity())
    assert type(new.stem) is nn.Identity
    assert type(new.deep) is nn.Identity
    assert type(new.act) is nn.ReLU


@pytest.mark.parametrize(
    ("model", "source_class", "mapper", "match"),
    [
        ("not a model", nn.ReLU, lambda m: m, "model must be a torch.nn.Module"),
        (nn.Sequential(), nn.ReLU(), lambda m: m, "source_class must be a class"),
        (nn.Sequential(), nn.ReLU, "nope", "mapper_fn must be callable"),
    ],
    ids=["model-not-module", "source-instance", "mapper-not-callable"],
)
@pytest.mark.parametrize("function", [replace_module, replace_module_], ids=["copy", "in-place"])
def test_bad_arguments(
    function: Any, model: Any, source_class: Any, mapper: Any, match: str
) -> None:
    with pytest.raises(TypeError, match=match):
        function(model, source_class, mapper)
