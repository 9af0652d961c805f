"""Linear layers on fixed-size row blocks: a row's output is the same whatever shares its call."""

from __future__ import annotations

import pytest
import torch

from smallrag.core.fixed_rows import GEMM_ROWS, fix_linear_rows


def _layer_and_rows(seed: int = 0):
    torch.manual_seed(seed)
    # MiniLM's FFN output shape (1536 -> 384): the one whose rounding moved with the row count
    return torch.nn.Linear(1536, 384), torch.randn(700, 1536)


@pytest.mark.parametrize("bf16", [False, True])
def test_a_row_gets_the_same_bits_in_any_call_size_and_position(bf16):
    layer, x = _layer_and_rows()
    fix_linear_rows(layer)
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        alone = layer(x[:1])[0]
        for count in (2, 7, 33, 64, 100, 192, 255, 256, 257, 700):
            rows = x[:count].clone()
            where = count // 2
            rows[where] = x[0]
            assert torch.equal(layer(rows)[where], alone), count


def test_values_equal_the_plain_layer_up_to_rounding_and_shapes_are_kept():
    layer, x = _layer_and_rows(1)
    with torch.inference_mode():
        plain = layer(x.reshape(7, 100, 1536))
        fix_linear_rows(layer)
        fixed = layer(x.reshape(7, 100, 1536))
    assert fixed.shape == plain.shape == (7, 100, 384)
    torch.testing.assert_close(fixed, plain, rtol=1e-5, atol=1e-5)


def test_every_linear_of_a_model_is_patched_once_and_bad_rows_are_refused():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    assert fix_linear_rows(model) is model
    first = model[0].forward
    fix_linear_rows(model)
    assert model[0].forward is first  # not wrapped twice
    assert all(getattr(m, "_smallrag_gemm_rows", None) == GEMM_ROWS for m in (model[0], model[2]))
    with torch.inference_mode():
        assert model(torch.randn(3, 4)).shape == (3, 2)
    with pytest.raises(ValueError, match="rows must be a positive int"):
        fix_linear_rows(model, rows=0)
    with pytest.raises(ValueError, match="rows must be a positive int"):
        fix_linear_rows(model, rows=True)
