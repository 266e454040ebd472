"""Will a convolutional layer fit into the memory of one Speck core?

A Speck core holds the kernel weights and the neuron states of one layer, each padded
to powers of two:

.. math::
    K &= C_{in} \\cdot 2^{\\lceil \\log_2 (k_0 k_1) \\rceil + \\lceil \\log_2 C_{out} \\rceil}\\\\
    f_i &= \\frac{D_i - k_i + 2 p_i}{s_i} + 1, \\qquad
    N = C_{out} \\cdot 2^{\\lceil \\log_2 f_0 \\rceil + \\lceil \\log_2 f_1 \\rceil}

in entries (reported in Ki = 1024 entries). Kernel memory must be at most 64Ki; a core
with more than 16Ki of one kind has at most 32Ki of the other, and one with more than
32Ki of one kind at most 16Ki of the other.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["SpeckMappingError", "SpeckStrideError", "ValidateMapping"]

Pair = int | Sequence[int]

_VALID_STRIDES = (1, 2, 4, 8)


class SpeckMappingError(ValueError):
    """A layer that cannot be mapped onto a Speck core."""


class SpeckStrideError(SpeckMappingError, Warning):
    """A stride Speck does not support.

    Also a ``Warning``: sinabs 3.x raised ``Warning`` as an exception for this case.
    """


def _as_pair(value: Pair, name: str) -> tuple[int, ...]:
    if isinstance(value, bool | str | bytes):
        raise TypeError(f"{name} must be an int or a sequence of two ints; got {value!r}")
    if isinstance(value, int):
        return (value, value)
    try:
        items = tuple(value)
    except TypeError as err:
        raise TypeError(f"{name} must be an int or a sequence of two ints; got {value!r}") from err
    if len(items) > 2:
        raise SpeckMappingError(
            f"{name}={value!r}: Speck layers are two-dimensional, so {name} can have at "
            "most 2 entries."
        )
    if len(items) == 1:
        items = (items[0], items[0])
    if len(items) == 0 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise TypeError(f"{name} must be an int or a sequence of two ints; got {value!r}")
    return items


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


class ValidateMapping:
    """Memory check of one Conv2d (or AvgPool2d) layer for a Speck core.

    All checks run in the constructor; the memory is computed by
    :meth:`calculate_total_memory`.

    Args:
        input_feature_size: number of input channels.
        output_feature_size: number of output channels (at most 1024).
        kernel_size: kernel ``(height, width)`` or one int for both (at most 16).
        stride: stride ``(height, width)`` or one int; 1, 2, 4 or 8.
        padding: zero padding ``(height, width)`` or one int.
        input_dimension: input ``(height, width)``.
        conv_2d: False for an AvgPool2d layer (kernel 1x1, 2x2 or 4x4).

    Raises:
        SpeckMappingError: the layer's geometry is not supported (the message names the
            argument).
        SpeckStrideError: no component of ``stride`` is 1, 2, 4 or 8.

    Example:
        >>> ValidateMapping(2, 64, (3, 3), (1, 1), (1, 1), (8, 8)).calculate_total_memory()[:2]
        (2.0, 4.0)
    """

    def __init__(
        self,
        input_feature_size: int,
        output_feature_size: int,
        kernel_size: Pair,
        stride: Pair,
        padding: Pair,
        input_dimension: Pair = (64, 64),
        conv_2d: bool = True,
    ) -> None:
        self.input_feature_size = _positive_int(input_feature_size, "input_feature_size")
        self.output_feature_size = _positive_int(output_feature_size, "output_feature_size")
        self.kernel_size = _as_pair(kernel_size, "kernel_size")
        self.stride = _as_pair(stride, "stride")
        self.padding = _as_pair(padding, "padding")
        self.input_dimension = _as_pair(input_dimension, "input_dimension")
        self.conv_2d = conv_2d

        k0, k1 = self.kernel_size
        if not conv_2d and (k0 != k1 or k0 == 3 or k0 > 4):
            raise SpeckMappingError(
                f"kernel_size={kernel_size!r}: kernel size limited to 1x1, 2x2 or 4x4 for "
                "AvgPool2D."
            )
        for name, pair in (
            ("kernel_size", self.kernel_size),
            ("stride", self.stride),
            ("input_dimension", self.input_dimension),
        ):
            if min(pair) <= 0:
                raise ValueError(f"{name} must be positive; got {pair!r}")
        if min(self.padding) < 0:
            raise ValueError(f"padding must not be negative; got {self.padding!r}")
        if max(self.kernel_size) > 16:
            raise SpeckMappingError(
                f"kernel_size={kernel_size!r}: the kernel can be at most 16x16 on Speck."
            )
        if self.output_feature_size > 1024:
            raise SpeckMappingError(
                f"output_feature_size={output_feature_size!r}: the number of output "
                "features can be at most 1024 on Speck."
            )
        if not self.check_stride():
            raise SpeckStrideError(f"stride={stride!r}: the stride must be 1, 2, 4 or 8 on Speck.")
        for axis in range(2):
            side = self.input_dimension[axis] + 2 * self.padding[axis]
            if side < self.kernel_size[axis]:
                raise SpeckMappingError(
                    f"input_dimension={input_dimension!r} with padding={padding!r} is smaller "
                    f"than kernel_size={kernel_size!r} along axis {axis}."
                )

    def check_stride(self) -> bool:
        """True if any stride component is 1, 2, 4 or 8 (sinabs accepts a single one)."""
        return any(s in _VALID_STRIDES for s in self.stride)

    def calculate_kernel_memory(self) -> int:
        """Kernel memory :math:`K` in entries."""
        k0, k1 = self.kernel_size
        exponent = math.ceil(math.log2(k0 * k1)) + math.ceil(math.log2(self.output_feature_size))
        return self.input_feature_size * 2**exponent

    def calculate_neuron_memory(self) -> float:
        """Neuron memory :math:`N` in entries."""
        fx, fy = (
            (self.input_dimension[i] - self.kernel_size[i] + 2 * self.padding[i]) / self.stride[i]
            + 1
            for i in range(2)
        )
        return self.output_feature_size * 2 ** (math.ceil(math.log2(fx)) + math.ceil(math.log2(fy)))

    def calculate_total_memory(self) -> tuple[float, float, str, str]:
        """Kernel and neuron memory in Ki, with a message for each ("" if it fits).

        Returns:
            ``(kernel Ki, neuron Ki, kernel message, neuron message)``.
        """
        kernel = self.calculate_kernel_memory()
        neuron = self.calculate_neuron_memory()
        kernel_msg = self.verify_combined_memories("kernel", kernel, "neuron", neuron)
        neuron_msg = self.verify_combined_memories("neuron", neuron, "kernel", kernel)
        return kernel / 1024, neuron / 1024, kernel_msg, neuron_msg

    def verify_combined_memories(
        self,
        base_name: str,
        base_memory: float,
        compared_name: str,
        compared_memory: float,
    ) -> str:
        """Why memory ``base_name`` does not fit next to ``compared_name`` ("" if it does).

        Args:
            base_name: "kernel" or "neuron".
            base_memory: its size in entries.
            compared_name: the other memory's name.
            compared_memory: the other memory's size in entries.

        Returns:
            The message of the last failed rule, or "".
        """
        base_ki = base_memory / 1024
        other_ki = compared_memory / 1024
        base = base_name.capitalize()
        msg = ""
        if base_ki > 64:
            msg = (
                f"{base} memory is {base_ki:g}Ki and can not be mapped on chip. "
                f"{base} memory on chip needs to be at most 64Ki."
            )
        if 16 < base_ki <= 32 and other_ki > 32:
            msg = _no_core_message(base_name, base_ki, compared_name, other_ki, 16, 32)
        if base_ki > 32 and other_ki > 16:
            msg = _no_core_message(base_name, base_ki, compared_name, other_ki, 32, 16)
        return msg


def _no_core_message(
    base_name: str, base_ki: float, other_name: str, other_ki: float, above: int, limit: int
) -> str:
    return (
        "There is no core on chip to fit neuron and kernel memories. "
        f"When {base_name} memory is higher than {above}Ki, {other_name} memory needs to be "
        f"at most {limit}Ki. {base_name.capitalize()} is {base_ki:g}Ki and {other_name} is "
        f"{other_ki:g}Ki."
    )
