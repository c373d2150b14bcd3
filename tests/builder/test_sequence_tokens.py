"""The transformer's sequence layers: the class token goes first, the same for every sample;
sinusoidal positions are the original transformer's; learned ones train."""

from __future__ import annotations

import math

import torch

from builder.catalog.modules import ClassToken, PositionalEncoding, sinusoids


def test_sinusoids_are_the_transformers():
    table = sinusoids(50, 8)
    pos, i = 7, 3  # feature 2i is sin(pos / 10000^(2i/d)), 2i + 1 its cos
    angle = pos / 10000 ** (2 * i / 8)
    assert math.isclose(float(table[pos, 2 * i]), math.sin(angle), abs_tol=1e-6)
    assert math.isclose(float(table[pos, 2 * i + 1]), math.cos(angle), abs_tol=1e-6)
    layer = PositionalEncoding(8, 50)
    x = torch.randn(2, 10, 8)
    assert torch.equal(layer(x), x + table[:10])
    assert list(layer.state_dict()) == []  # fixed: nothing to save or train


def test_the_class_token_is_first_and_learned_positions_train():
    token = ClassToken(4)
    with torch.no_grad():
        token.token.fill_(3.0)
    out = token(torch.zeros(2, 5, 4))
    assert out.shape == (2, 6, 4) and torch.equal(out[:, 0], torch.full((2, 4), 3.0))
    learned = PositionalEncoding(4, 6, kind="learned")
    learned(torch.zeros(1, 6, 4)).sum().backward()
    assert learned.positions.grad is not None and learned.positions.grad.abs().sum() > 0
