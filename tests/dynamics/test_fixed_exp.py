"""models.fixed_exp: within 2 ulp of exp over AdEx's clamped exponents, its gradient, and
bad input."""

from __future__ import annotations

import doctest
import math

import pytest
import torch

from sinabs.dynamics.models import ADEX_EXP_CAP, ADEX_EXP_FLOOR, fixed_exp


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
def test_within_two_ulp_of_exp_over_the_clamped_range(dtype: torch.dtype) -> None:
    # every float32 of a fine grid over [-80, 80], the ends and the integers among them;
    # exp in float64 as the measure (within 1 ulp of e^x itself)
    grid = torch.linspace(ADEX_EXP_FLOOR, ADEX_EXP_CAP, 400_001, dtype=torch.float64)
    ends = torch.tensor([ADEX_EXP_FLOOR, ADEX_EXP_CAP, 0.0, -0.0, 1e-30, -1e-30])
    x = torch.cat([grid, ends.double(), torch.arange(-80.0, 81.0, dtype=torch.float64)])
    x = x.to(dtype)
    got = fixed_exp(x)
    assert got.dtype == dtype
    exact = torch.exp(x.double())
    nearest = exact.to(dtype)
    ulp = (torch.nextafter(nearest, torch.tensor(math.inf, dtype=dtype)) - nearest).double()
    error = ((got.double() - exact).abs() / ulp).max().item()
    assert error <= 2.0, error
    assert torch.equal(fixed_exp(torch.zeros(3, dtype=dtype)), torch.ones(3, dtype=dtype))


def test_gradient_is_the_result() -> None:
    x = torch.linspace(-5, 5, 11, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(fixed_exp(x).sum(), x)
    assert torch.equal(grad, fixed_exp(x.detach()))
    assert torch.autograd.gradcheck(fixed_exp, (x,))


def test_nan_stays_nan_and_other_dtypes_are_refused() -> None:
    assert torch.isnan(fixed_exp(torch.tensor([float("nan")]))).all()
    with pytest.raises(TypeError, match="float32 or float64"):
        fixed_exp(torch.zeros(2, dtype=torch.float16))


def test_docstring_example() -> None:
    globs = {"torch": torch, "fixed_exp": fixed_exp}
    runner = doctest.DocTestRunner()
    for test in doctest.DocTestFinder().find(fixed_exp, "fixed_exp", globs=globs):
        runner.run(test)
    assert runner.tries > 0 and runner.failures == 0
