"""Speck memory validator: ValidateMapping and validate_memory_mapping_speck.

Expected numbers are worked out by hand from the memory model (see the module
docstring of sinabs.validate_memory_speck).
"""

from __future__ import annotations

from typing import Any

import pytest

import sinabs
from sinabs.utils import validate_memory_mapping_speck
from sinabs.validate_memory_speck import SpeckMappingError, SpeckStrideError, ValidateMapping


def test_pinned_kernel_memory_too_large() -> None:
    # 64 * 2^(ceil(log2 9) + ceil(log2 65)) = 64 * 2^11 = 128Ki
    with pytest.raises(Exception) as info:  # sinabs raised a plain Exception
        validate_memory_mapping_speck(64, 65, (3, 3), (1, 1), (1, 1), [8, 8])
    assert str(info.value) == (
        "Kernel memory is 128Ki and can not be mapped on chip. "
        "Kernel memory on chip needs to be at most 64Ki."
    )
    assert isinstance(info.value, SpeckMappingError)


def test_pinned_layer_fits() -> None:
    # kernel: 2 * 2^(4 + 6) = 2Ki; neuron: 64 * 2^(3 + 3) = 4Ki
    msg = validate_memory_mapping_speck(2, 64, (3, 3), (1, 1), (1, 1), [8, 8])
    assert msg == (
        "Layer can be mapped successfully. Kernel memory is 2Ki and neuron memory is 4Ki."
    )


def test_both_memories_rule_b_and_c() -> None:
    # kernel: 32 * 2^(0 + 10) = 32Ki; neuron: 1024 * 2^(3 + 3) = 64Ki
    mapping = ValidateMapping(32, 1024, (1, 1), (1, 1), (0, 0), [8, 8])
    kernel, neuron, kernel_msg, neuron_msg = mapping.calculate_total_memory()
    assert (kernel, neuron) == (32, 64)
    assert kernel_msg == (
        "There is no core on chip to fit neuron and kernel memories. When kernel memory is "
        "higher than 16Ki, neuron memory needs to be at most 32Ki. Kernel is 32Ki and neuron "
        "is 64Ki."
    )
    assert neuron_msg == (
        "There is no core on chip to fit neuron and kernel memories. When neuron memory is "
        "higher than 32Ki, kernel memory needs to be at most 16Ki. Neuron is 64Ki and kernel "
        "is 32Ki."
    )
    with pytest.raises(SpeckMappingError) as info:
        validate_memory_mapping_speck(32, 1024, (1, 1), (1, 1), (0, 0), [8, 8])
    assert str(info.value) == f"{kernel_msg} {neuron_msg}"


def test_neuron_memory_too_large() -> None:
    # kernel: 1 * 2^(0 + 10) = 1Ki; neuron: 1024 * 2^(4 + 4) = 256Ki
    with pytest.raises(SpeckMappingError) as info:
        validate_memory_mapping_speck(1, 1024, (1, 1), (1, 1), (0, 0), [16, 16])
    assert str(info.value) == (
        "Neuron memory is 256Ki and can not be mapped on chip. "
        "Neuron memory on chip needs to be at most 64Ki."
    )


def test_later_rule_overwrites_earlier() -> None:
    # kernel 128Ki (> 64, rule A) with neuron 65 * 2^(5 + 5) = 65Ki (> 16): rule C wins
    _, neuron, kernel_msg, _ = ValidateMapping(
        64, 65, (3, 3), (1, 1), (1, 1), [32, 32]
    ).calculate_total_memory()
    assert neuron == 65
    assert kernel_msg.startswith("There is no core on chip")
    assert "at most 16Ki. Kernel is 128Ki and neuron is 65Ki." in kernel_msg


def test_fractional_feature_map_rounds_up() -> None:
    # fx = fy = (64 - 3 + 0) / 2 + 1 = 31.5 -> 2^5 each: 8 * 2^10 = 8Ki
    mapping = ValidateMapping(1, 8, (3, 3), (2, 2), (0, 0))
    assert mapping.calculate_neuron_memory() == 8 * 1024


def test_stride_check_accepts_any_valid_component() -> None:
    assert ValidateMapping(1, 8, (3, 3), (3, 1), (0, 0), [16, 16]).check_stride()


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"kernel_size": (3, 3), "conv_2d": False}, SpeckMappingError, "kernel_size.*4x4"),
        ({"kernel_size": (2, 4), "conv_2d": False}, SpeckMappingError, "kernel_size.*4x4"),
        ({"kernel_size": (8, 8), "conv_2d": False}, SpeckMappingError, "kernel_size.*4x4"),
        ({"kernel_size": (17, 3)}, SpeckMappingError, "kernel_size.*16x16"),
        ({"output_feature_size": 1025}, SpeckMappingError, "output_feature_size.*1024"),
        ({"stride": (3, 3)}, SpeckStrideError, "stride.*1, 2, 4 or 8"),
        ({"kernel_size": (3, 3, 3)}, SpeckMappingError, "kernel_size.*at most 2"),
        ({"input_dimension": (8, 8, 1)}, SpeckMappingError, "input_dimension.*at most 2"),
        ({"input_dimension": (2, 8)}, SpeckMappingError, "input_dimension.*kernel_size"),
        ({"input_feature_size": 0}, ValueError, "input_feature_size"),
        ({"stride": (0, 1)}, ValueError, "stride must be positive"),
        ({"padding": (-1, 0)}, ValueError, "padding must not be negative"),
        ({"kernel_size": "3x3"}, TypeError, "kernel_size"),
    ],
    ids=[
        "avgpool-kernel-3",
        "avgpool-not-square",
        "avgpool-kernel-8",
        "kernel-17",
        "too-many-features",
        "bad-stride",
        "3d-kernel",
        "3d-input",
        "input-smaller-than-kernel",
        "zero-features",
        "zero-stride",
        "negative-padding",
        "kernel-not-ints",
    ],
)
def test_impossible_layers_raise_naming_the_argument(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    arguments: dict[str, Any] = {
        "input_feature_size": 2,
        "output_feature_size": 8,
        "kernel_size": (3, 3),
        "stride": (1, 1),
        "padding": (0, 0),
        "input_dimension": (8, 8),
        **kwargs,
    }
    with pytest.raises(error, match=match):
        ValidateMapping(**arguments)


def test_stride_error_is_also_a_warning() -> None:
    # sinabs raised Warning (as an exception) for a bad stride
    with pytest.raises(Warning):
        ValidateMapping(2, 8, (3, 3), (5, 5), (0, 0))


def test_only_conv_layers_are_validated() -> None:
    with pytest.raises(ValueError, match="only validates Conv2D"):
        validate_memory_mapping_speck(2, 8, (2, 2), (2, 2), (0, 0), conv_2d=False)


def test_ints_are_accepted_for_pairs() -> None:
    assert ValidateMapping(2, 64, 3, 1, 1, 8).calculate_total_memory() == (2, 4, "", "")


def test_top_level_exports() -> None:
    assert sinabs.ValidateMapping is ValidateMapping
    assert sinabs.utils.ValidateMapping is ValidateMapping
    assert sinabs.validate_memory_mapping_speck is validate_memory_mapping_speck
    assert sinabs.validate_memory_speck.ValidateMapping is ValidateMapping
