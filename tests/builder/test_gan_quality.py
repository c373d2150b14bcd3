"""A GAN's quality in numbers and its alarms: the feature classifier, the Fréchet distance
and KID against their definitions, the classes covered, and each alarm raised by what it
names and not by a healthy run."""

from __future__ import annotations

import math

import pytest
import torch

from builder.data import load_dataset
from builder.training.kernels import quality
from builder.training.procedures.gan_alarms import EXPLODING_NORM, WINDOW, alarms


@pytest.fixture(scope="module")
def digits():
    ds = load_dataset({"name": "digits"}, base_dir=None, seed=0)
    x, y = torch.as_tensor(ds.x).float(), torch.as_tensor(ds.y).long()
    made = quality.train_classifier(x[:1400], y[:1400], seed=0)
    return x, y, made


def test_frechet_and_kid_follow_their_definitions():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=gen, dtype=torch.float64)
    m, c = quality.moments(a)
    assert quality.frechet(m, c, m, c) == pytest.approx(0.0, abs=1e-9)
    shift = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    assert quality.frechet(m, c, m + shift, c) == pytest.approx(5.0, abs=1e-9)
    # diagonal covariances: tr(c1 + c2 - 2 sqrt(c1 c2)) = sum (sqrt(s1) - sqrt(s2))^2
    c1, c2 = torch.diag(torch.tensor([1.0, 4.0])), torch.diag(torch.tensor([9.0, 1.0]))
    zero = torch.zeros(2, dtype=torch.float64)
    expected = (1 - 3) ** 2 + (2 - 1) ** 2
    assert quality.frechet(zero, c1.double(), zero, c2.double()) == pytest.approx(expected)
    b = torch.randn(4000, 3, generator=gen, dtype=torch.float64)
    same, shifted = quality.kid(a[:1000], b[:1000]), quality.kid(a[:1000], b[:1000] + 1.0)
    assert abs(same) < 0.02 * shifted  # the same distribution: about 0 (unbiased)
    assert quality.kid(a[:1000], a[:1000]) < 0  # unbiased: a set against itself goes below 0


def test_the_classifier_tells_real_digits_from_noise_and_one_class(digits):
    x, y, made = digits
    assert made["accuracy"] > 0.95 and made["classes"] == 10
    assert quality.train_classifier(x[:1400], y[:1400], seed=0) is made  # trained once, kept
    held_out = quality.measure_images(made, x[1400:])
    noise = quality.measure_images(made, torch.rand(1000, 1, 8, 8, generator=torch.Generator()))
    ones = x[1400:][y[1400:] == 1]
    single = quality.measure_images(made, ones.repeat(10, 1, 1, 1))
    assert held_out["classes"] == 10
    assert held_out["fid"] < 1.0 < 10 * held_out["fid"] < noise["fid"]
    assert held_out["kid"] < 0.05 < noise["kid"]
    assert single["classes"] <= 2 and single["fid"] > 10 * held_out["fid"]
    shares = quality.class_shares(made, ones)
    assert int(shares.argmax()) == 1 and math.isclose(float(shares.sum()), 1.0)


def healthy(epochs: int = 12) -> list[dict]:
    return [
        {
            "d_loss": 1.2,
            "g_loss": 0.8,
            "d_x": 0.6,
            "d_g_z": 0.45,
            "classes": 9,
            "fid": 10.0 - 0.5 * e,
            "diversity": 0.8,
        }
        for e in range(epochs)
    ]


SETTINGS = {"loss": "non_saturating"}


def keys(raised) -> set[str]:
    return {a[0] for a in raised}


def test_a_healthy_run_raises_no_alarm():
    assert alarms(healthy(), ("generator/fc1", 3.0), SETTINGS) == ()
    assert alarms([], None, SETTINGS) == ()


def test_each_alarm_is_raised_by_what_it_names_and_says_what_to_try():
    won = healthy()
    won[-1] = {**won[-1], "d_x": 0.99, "d_g_z": 0.01, "d_loss": 0.02}
    (alarm,) = alarms(won, None, SETTINGS)
    assert alarm[0] == "discriminator_wins" and "D(G(z)) = 0.010" in alarm[1]
    assert "label smoothing" in alarm[2]
    # scores, not probabilities: D(G(z)) near 0 says nothing about who wins
    assert alarms(won, None, {"loss": "wasserstein_gp"}) == ()

    collapsed = healthy()
    collapsed[-1] = {**collapsed[-1], "classes": 2}
    (alarm,) = alarms(collapsed, None, SETTINGS)
    assert alarm[0] == "mode_collapse" and "2 classes, down from 9" in alarm[1]
    # data without classes: the diversity falling to under half of its best
    spread = [{k: v for k, v in e.items() if k != "classes"} for e in healthy()]
    spread[-1]["diversity"] = 0.3
    assert keys(alarms(spread, None, SETTINGS)) == {"mode_collapse"}

    (alarm,) = alarms(healthy(), ("discriminator/fc1", 250.0), SETTINGS)
    assert alarm[0] == "exploding_gradients" and "discriminator/fc1" in alarm[1]
    assert alarms(healthy(), ("discriminator/fc1", EXPLODING_NORM), SETTINGS) == ()
    assert "clip" in alarm[2]

    fooled = healthy()
    for i, e in enumerate(fooled[-WINDOW - 1 :]):
        e.update(g_loss=1.0 - 0.1 * i, fid=5.0 + 0.01 * i)
    (alarm,) = alarms(fooled, None, SETTINGS)
    assert alarm[0] == "generator_fools" and "FID" in alarm[1]
    # the same on 2-D data, judged by the KL of the density
    ring = [{"g_loss": e["g_loss"], "kl": e["fid"], "d_x": 0.6, "d_g_z": 0.4} for e in fooled]
    assert keys(alarms(ring, None, SETTINGS)) == {"generator_fools"}
