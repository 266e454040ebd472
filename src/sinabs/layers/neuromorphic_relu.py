"""``NeuromorphicReLU``: a rectifier whose outputs are whole spike counts."""

from __future__ import annotations

import torch
from torch import nn

from ..activation.quantize import Quantize, StochasticRounding


class NeuromorphicReLU(nn.Module):
    r"""ReLU followed by rounding to whole numbers, for training networks to be converted.

    .. math::
        y = q(\max(x, 0)),\qquad
        \text{activity} = \frac{\sum y}{\text{len}(y)} \cdot \text{fanout}

    where :math:`q` is

    * ``floor`` with a straight-through gradient (``quantize=True``, the default), so the
      gradient is 1 where :math:`x > 0` and 0 elsewhere;
    * stochastic rounding (round up with probability equal to the fractional part) with
      a straight-through gradient, when ``stochastic_rounding=True`` in training mode;
    * ``torch.round`` (half to even, zero gradient) when ``stochastic_rounding=True``
      in evaluation mode;
    * the identity when ``quantize=False``.

    ``len(y)`` is the size of dimension 0 (the batch), so ``activity`` is the number of
    events per sample times the fan-out: an estimate of the synaptic operations this
    layer's output triggers downstream. It is kept in ``self.activity`` after every
    forward call and read by :class:`sinabs.synopcounter.SynOpCounter`.

    Args:
        quantize: round the rectified input to whole numbers.
        fanout: number of connections each output unit drives (scales ``activity``).
        stochastic_rounding: round stochastically during training (see above).

    Shape:
        any input shape; the output has the same shape.

    Returns:
        the rounded, rectified input.

    Example:
        >>> relu = NeuromorphicReLU(fanout=2)
        >>> relu(torch.tensor([[-1.0, 0.4, 2.7]]))
        tensor([[0., 0., 2.]])
        >>> relu.activity
        tensor(4.)
    """

    activity: torch.Tensor

    def __init__(
        self, quantize: bool = True, fanout: int = 1, stochastic_rounding: bool = False
    ) -> None:
        super().__init__()
        self.quantize = quantize
        self.fanout = fanout
        self.stochastic_rounding = stochastic_rounding

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        output = torch.nn.functional.relu(input)
        if self.quantize:
            if not self.stochastic_rounding:
                output = Quantize.apply(output)
            elif self.training:
                output = StochasticRounding.apply(output)
            else:
                output = output.round()
        self.activity = output.sum() / len(output) * self.fanout
        return output

    def extra_repr(self) -> str:
        return (
            f"quantize={self.quantize}, fanout={self.fanout}, "
            f"stochastic_rounding={self.stochastic_rounding}"
        )
