"""The gan procedure beyond the generic procedure test: it learns (a seeded run on the ring
of Gaussians), every loss and schedule trains, its settings do what they say, and bad
bindings are refused with what to do."""

from __future__ import annotations

import math

import pytest
import torch

import assets
from builder import CATALOG
from builder.training.kernels import adversarial
from builder.training.procedures import PROCEDURES, BindingError
from builder.training.records import EpochRecord, ErrorRecord, StepRecord, ViewRecord
from builder.training.trainer import Trainer, TrainingError
from graph import project_file

GAN = PROCEDURES["gan"]


def ring(epochs: int = 30, **settings) -> project_file.Project:
    """The ring example made short: 1000 points, batches of 50 (Adam 1e-3 for both)."""
    project = project_file.load(assets.example("gan_2d_ring"), CATALOG)
    training = project.training
    training["epochs"] = epochs
    training["batch_size"] = 50
    training["dataset"] = {"name": "ring", "samples": 1000}
    for role in ("generator", "discriminator"):
        training["optimizers"][role]["lr"] = 1e-3
    if settings:
        training["procedure_settings"] = settings
    return project


def digits(epochs: int = 1) -> project_file.Project:
    project = project_file.load(assets.example("gan_digits"), CATALOG)
    project.training["epochs"] = epochs
    return project


def epochs_of(records) -> list[EpochRecord]:
    return [r for r in records if isinstance(r, EpochRecord)]


def refusal(project, error=BindingError) -> str:
    with pytest.raises(error) as info:
        Trainer(project).prepare()
    return str(info.value)


# ----------------------------------------------------------------------------- learning


def test_a_short_run_on_the_ring_learns_its_density_and_draws_the_plane():
    trainer = Trainer(ring(epochs=30))
    trainer.set_views(True)
    trainer.prepare()
    x, y = trainer.eval_split
    untrained = trainer.kernel.evaluate(trainer.kernel_state, x, y)
    records = trainer.run()
    assert trainer.state == "finished", records[-1]
    final = epochs_of(records)[-1].metrics
    # seed 0: KL 10.9 untrained, 2.7 after 30 epochs (8 of 8 modes by epoch 60 of the example)
    assert untrained["kl"] > 8.0 and final["kl"] < 4.0, (untrained, final)
    assert 0 < final["js"] < untrained["js"] <= math.log(2)
    assert 0 <= final["modes"] <= 8
    views = {r.key: r.payload for r in records if isinstance(r, ViewRecord)}
    assert {"points", "verdict", "manifold"} <= set(views) and "samples" not in views
    real = min(500, x.shape[0])  # the evaluated split's points, up to 500
    assert views["points"]["points"].shape == (real + 500, 2)  # and 500 generated
    assert set(views["points"]["labels"].tolist()) == {0, 1}
    assert views["verdict"]["values"].shape == (48, 48)
    assert views["manifold"]["points"].shape == (225, 2)


def test_the_image_example_trains_both_networks_and_shows_fixed_noise_samples(tmp_path):
    trainer = Trainer(digits(epochs=1))
    trainer.set_views(True)
    trainer.prepare()
    before = {
        role: [p.detach().clone() for p in model.parameters()]
        for role, model in trainer.models.items()
    }
    records = trainer.run()
    assert trainer.state == "finished", records[-1]
    for role, model in trainer.models.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[role], model.parameters())), role
    step = [r for r in records if isinstance(r, StepRecord)][-1]
    assert {"d_loss", "g_loss", "d_x", "d_g_z1", "d_g_z2"} <= set(step.series)
    assert 0 < step.series["d_x"][-1] < 1 and 0 < step.series["d_g_z1"][-1] < 1
    # both networks' layers are monitored, named by network
    assert {"generator/fc1", "discriminator/fc1"} <= set(step.grad_norms)
    samples = [r for r in records if isinstance(r, ViewRecord) and r.key == "samples"][-1]
    assert samples.payload["images"].shape == (64, 1, 8, 8) and samples.payload["cols"] == 8
    # the generated images measured by the feature classifier: classes, FID, KID per epoch
    (epoch,) = [r for r in records if isinstance(r, EpochRecord)]
    assert 0 <= epoch.metrics["classes"] <= 10 and epoch.metrics["fid"] > 0
    assert math.isfinite(epoch.metrics["kid"]) and 0 < epoch.metrics["diversity"]
    coverage = [r for r in records if isinstance(r, ViewRecord) and r.key == "coverage"][-1]
    assert coverage.payload["values"].shape == (10,)
    assert sum(coverage.payload["values"]) == pytest.approx(1.0)
    files = trainer.weight_files()
    assert set(files) == {"weights.pt", "weights_discriminator.pt"}
    assert files["weights.pt"].keys() == trainer.models["generator"].state_dict().keys()


@pytest.mark.parametrize("loss", GAN.param("loss").choices)
def test_every_loss_trains_with_several_steps_per_role(loss):
    trainer = Trainer(ring(epochs=1, loss=loss, d_steps=2, g_steps=3))
    records = trainer.run()
    assert trainer.state == "finished", records[-1]
    losses = [x for r in records if isinstance(r, StepRecord) for x in r.losses]
    assert len(losses) == trainer.step == 16 and all(map(math.isfinite, losses))
    for role, updates in (("discriminator", 2), ("generator", 3)):
        optimizer = trainer.kernel_state["optimizers"][role]
        state = optimizer.state[optimizer.param_groups[0]["params"][0]]
        assert int(state["step"]) == updates * trainer.step, role


def test_each_role_has_its_own_optimiser_with_dcgans_defaults():
    project = digits()
    del project.training["optimizers"]
    project.training["optimizers"] = {"generator": {"lr": 1e-3}}  # the rest stays DCGAN's
    trainer = Trainer(project)
    trainer.prepare()
    g = trainer.kernel_state["optimizers"]["generator"].param_groups[0]
    d = trainer.kernel_state["optimizers"]["discriminator"].param_groups[0]
    assert (g["lr"], tuple(g["betas"])) == (1e-3, (0.5, 0.999))
    assert (d["lr"], tuple(d["betas"])) == (2e-4, (0.5, 0.999))


def test_a_changed_learning_rate_of_one_role_is_applied_on_resume(tmp_path):
    first = Trainer(ring(epochs=1))
    first.run()
    first.save_checkpoint(tmp_path / "gan.pt")
    project = ring(epochs=2)
    project.training["optimizers"]["generator"]["lr"] = 1e-4
    second = Trainer(project, resume=tmp_path / "gan.pt")
    second.prepare()
    assert second.resume_changes == ["optimizers.generator.lr 0.001 -> 0.0001"]
    assert second.kernel_state["optimizers"]["generator"].param_groups[0]["lr"] == 1e-4
    assert second.kernel_state["optimizers"]["discriminator"].param_groups[0]["lr"] == 1e-3


# ----------------------------------------------------------------------------- settings


def _state(**settings):
    base = {"label_smoothing": 0.0, "label_noise": 0.0, "instance_noise": 0.0}
    return {"settings": {**base, "instance_noise_epochs": 10, **settings}, "batches": 4}


def test_label_smoothing_is_one_sided_and_label_noise_swaps_a_share():
    gen = torch.Generator().manual_seed(0)
    state = _state(label_smoothing=0.1)
    assert torch.all(adversarial._labels(state, 5, True, gen, "cpu") == 0.9)
    assert torch.all(adversarial._labels(state, 5, False, gen, "cpu") == 0.0)
    noisy = adversarial._labels(_state(label_noise=0.25), 20000, True, gen, "cpu")
    assert set(noisy.unique().tolist()) == {0.0, 1.0}
    assert float((noisy == 0).float().mean()) == pytest.approx(0.25, abs=0.02)


def test_instance_noise_falls_linearly_to_zero_over_its_epochs():
    state = _state(instance_noise=0.5)  # 10 epochs of 4 batches
    assert adversarial.sigma_at(state, 0) == 0.5
    assert adversarial.sigma_at(state, 20) == pytest.approx(0.25)
    assert adversarial.sigma_at(state, 40) == adversarial.sigma_at(state, 100) == 0.0
    state["settings"]["instance_noise_epochs"] = 0  # 0: it stays
    assert adversarial.sigma_at(state, 1000) == 0.5


def test_dcgan_initialisation_draws_weights_from_n_0_002():
    layer, norm = torch.nn.Linear(400, 400), torch.nn.BatchNorm1d(4000)
    adversarial.dcgan_init(torch.nn.Sequential(layer, norm))
    assert float(layer.weight.detach().std()) == pytest.approx(0.02, rel=0.02)
    assert float(layer.bias.detach().abs().max()) == 0.0
    assert float(norm.weight.detach().mean()) == pytest.approx(1.0, abs=0.002)
    assert float(norm.weight.detach().std()) == pytest.approx(0.02, rel=0.05)


def test_uniform_noise_lies_in_minus_one_to_one():
    state = {"settings": {"latent_shape": [3], "noise": "uniform"}}
    z = adversarial.noise(state, 5000, torch.Generator().manual_seed(1), "cpu")
    assert z.shape == (5000, 3) and float(z.min()) >= -1 and float(z.max()) <= 1
    assert float(z.min()) < -0.99 and float(z.max()) > 0.99


# ----------------------------------------------------------------------------- refusals


def test_a_generator_whose_output_is_not_the_discriminators_input_is_told_the_reshape():
    project = digits()
    g = project.networks["generator"]
    g.remove_node(g.find("to_image"))
    g.connect(g.find("pixels"), g.find("image"))
    message = refusal(project)
    assert "The generator's Output 'image' ('generator') gives (N, 64)" in message
    assert "discriminator's Input 'image' ('discriminator') takes (N, 1, 8, 8)" in message
    assert "add a Reshape to (1, 8, 8) before the generator's Output 'image'" in message


def test_a_discriminator_with_more_than_one_output_unit_is_refused():
    project = digits()
    d = project.networks["discriminator"]
    d.set_param(d.find("fc2"), "out_features", 10)
    assert "gives (N, 10): a discriminator scores each sample with one number" in refusal(project)


def test_a_generator_without_an_input_is_told_to_add_one():
    project = digits()
    g = project.networks["generator"]
    g.remove_node(g.find("noise"))
    message = refusal(project, Exception)
    assert "Network 'generator' cannot be built" in message
    assert "it has no Input layer: add one from the palette and set its shape" in message


def test_one_network_cannot_take_both_roles():
    project = digits()
    project.training["roles"] = {"generator": "discriminator"}
    message = refusal(project)
    assert "Network 'discriminator' is bound to both the generator and the discriminator" in message


def test_a_role_bound_to_a_missing_network_names_the_networks():
    project = digits()
    project.training["roles"] = {"generator": "gen"}
    message = refusal(project)
    assert "training.roles.generator: the project has no network 'gen'" in message
    assert "'generator', 'discriminator'" in message


def test_a_gan_project_trained_as_supervised_is_told_to_choose_gan():
    project = digits()
    project.training["procedure"] = "supervised"
    project.training["loss"] = "bce"
    del project.training["optimizers"]
    message = refusal(project, TrainingError)
    assert 'set training.procedure to "gan"' in message
    assert "rather than changing their layers" in message


def test_hinge_with_a_sigmoid_discriminator_is_told_to_remove_it():
    project = digits()
    project.training["procedure_settings"] = {"loss": "hinge"}
    message = refusal(project)
    assert "ends in a Sigmoid: remove the Sigmoid" in message


def test_a_nan_in_one_network_stops_the_run_naming_it_and_keeps_the_weights(monkeypatch):
    calls = {"n": 0}
    real = adversarial.g_loss_of

    def poisoned(state, out):
        calls["n"] += 1
        loss = real(state, out)
        return loss * math.nan if calls["n"] > 20 else loss  # in the second epoch

    monkeypatch.setattr(adversarial, "g_loss_of", poisoned)
    trainer = Trainer(ring(epochs=3))
    records = trainer.run()
    (error,) = [r for r in records if isinstance(r, ErrorRecord)]
    assert error.diverged
    assert "the loss of the generator 'generator' (g_loss) became NaN" in error.message
    weights = trainer.weight_files()["weights.pt"]
    assert all(torch.isfinite(v).all() for v in weights.values())
