"""Which networks a run trains and what they are bound to: each role of the procedure gets a
network of the project, and a role that takes the dataset's samples gets an Input that takes
them. The trainer and the exported script bind the same way."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from builder.compile import Port
from builder.data import Splits
from builder.training.procedures.spec import Binding, BindingError, ProcedureSpec
from graph.document import Network, Project
from graph.errors import NeuralCanvasError


class TrainingError(NeuralCanvasError):
    """Training cannot start or cannot go on; the message says why and what to do."""


def _listing(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) or "none"


def role_networks(
    project: Project, spec: ProcedureSpec, roles: Mapping[str, str], network: str | None
) -> dict[str, Network]:
    """The network each of ``spec``'s roles trains, in the order of the roles.

    One role: the network ``training.roles`` names for it, else ``network`` (the one shown,
    or the first). Several roles (a GAN's generator and discriminator): each the network
    ``roles`` names, else the network called like the role; one network cannot take two
    roles. A :class:`BindingError` says what to set."""
    if len(spec.roles) == 1:
        role = spec.roles[0].name
        name = roles.get(role, network)
        if name is not None and name not in project.networks:
            raise BindingError(
                f"training.roles.{role}: the project has no network {name!r}; its networks are"
                f" {_listing(list(project.networks))}"
            )
        return {role: project.network(name)}
    chosen: dict[str, Network] = {}
    known = _listing(list(project.networks))
    for role in spec.roles:
        name = roles.get(role.name, role.name if role.name in project.networks else None)
        if name is None:
            wanted = " and ".join(r.name for r in spec.roles)
            raise BindingError(
                f"The {spec.id} procedure trains {len(spec.roles)} networks ({wanted}), but no"
                f" network is bound to the {role.name}: set training.roles.{role.name} to the"
                f" name of its network (the project has {known}), or name a network"
                f" {role.name!r}"
            )
        if name not in project.networks:
            raise BindingError(
                f"training.roles.{role.name}: the project has no network {name!r}; its"
                f" networks are {known}"
            )
        chosen[role.name] = project.networks[name]
    taken: dict[str, str] = {}
    for role, net in chosen.items():
        if net.name in taken:
            raise BindingError(
                f"Network {net.name!r} is bound to both the {taken[net.name]} and the {role}:"
                f" each role needs a network of its own; set training.roles.{role} to another"
                f" network (the project has {known})"
            )
        taken[net.name] = role
    return chosen


def procedure_hint(project: Project, spec: ProcedureSpec) -> str | None:
    """The advice to choose another procedure rather than to change the layers, when the
    project is built for one: a SOM layer (som), or a generator and a discriminator (a
    network whose output a second network takes, scored by one value: gan); None
    otherwise."""
    from builder.shapes import check_compilable

    if spec.id != "som":
        for name, net in project.networks.items():
            if any(net.type_of(n) == "SOM" for n in net.nodes):
                return (
                    f"Network {name!r} has a SOM layer, which learns by a rule of its own:"
                    ' set training.procedure to "som" (the Training panel\'s procedure)'
                    " rather than changing its layers"
                )
    if len(spec.roles) != 1 or len(project.networks) < 2:
        return None
    shapes: dict[str, tuple[Any, Any]] = {}
    for name, net in project.networks.items():
        try:
            inputs, outputs = ports(net, check_compilable(net))
        except NeuralCanvasError:
            continue
        if len(inputs) == 1 and len(outputs) == 1:
            shapes[name] = (tuple(inputs[0].shape[1:]), tuple(outputs[0].shape[1:]))
    for g, (_, made) in shapes.items():
        for d, (takes, verdict) in shapes.items():
            if g != d and made == takes and verdict in ((1,), ()):
                return (
                    f"Networks {g!r} and {d!r} look like a GAN's generator and discriminator:"
                    ' set training.procedure to "gan" (the Training panel\'s procedure) to'
                    " train them against each other, rather than changing their layers"
                )
    return None


def bind(
    nets: Mapping[str, Network],
    models: Mapping[str, Any],
    splits: Splits,
    spec: ProcedureSpec,
    loaded: frozenset[str] = frozenset(),
) -> Binding:
    """The compiled ``models`` of ``nets`` (by role) bound to the procedure's roles with the
    data, after checking that each role that takes the data has one Input that takes the
    dataset's samples (the exported script binds the same way, builder.export.script); a
    :class:`TrainingError` says what to change."""
    ds = splits.dataset
    for role in spec.roles:
        net, model = nets[role.name], models[role.name]
        inputs, outputs = model.meta["inputs"], model.meta["outputs"]
        check_ports(net, inputs, outputs, ds, spec.id, role.takes_data)
        if role.optimised:
            no_threshold_units(net, spec.id)
            params = list(model.parameters())
            frozen = any(not net.trainable_of(n) for n in net.nodes)  # by the user
            if frozen and params and not any(p.requires_grad for p in params):
                raise BindingError(
                    f"Every layer of network {net.name!r} is frozen: the {spec.id} procedure has"
                    " nothing to train; make a layer trainable (Properties: Trainable)"
                )
    return Binding(
        roles=dict(models),
        networks=dict(nets),
        outputs={
            role: {nets[role].name_of(o.node_id): o for o in model.meta["outputs"]}
            for role, model in models.items()
        },
        dataset=ds,
        train=(splits.train.x, splits.train.y),
        loaded=loaded,
    )


def no_threshold_units(net: Any, procedure: str) -> None:
    """Refuse a Step layer for training by gradients: its gradient is 0 almost everywhere,
    so nothing before it would learn (PyTorch would fail with "does not require grad")."""
    from builder.shapes import live_nodes

    steps = [n for n in net.nodes if net.type_of(n) == "Step" and n in live_nodes(net)]
    if steps:
        raise BindingError(
            f"Step {net.name_of(steps[0])!r} is a threshold unit: its gradient is 0 almost"
            f" everywhere, so the {procedure} procedure (backprop) cannot train through it."
            " Choose the perceptron or delta procedure for Input → Linear → Step → Output,"
            " or replace the Step by a Sigmoid to train by backprop"
        )


def check_ports(
    net: Any,
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    ds: Any,
    procedure: str,
    takes_data: bool = True,
) -> None:
    """Refuse a network whose Inputs / Outputs (:class:`builder.compile.Port`\\ s, compiled
    or from shape inference: see :func:`ports`) do not take dataset ``ds``'s samples (or,
    when the network does not take the data, that is not one Input and an Output)."""
    if not takes_data and len(inputs) != 1:
        raise TrainingError(
            f"Network {net.name!r} has {len(inputs)} Inputs, but it takes the {procedure} procedure's noise"
            " through exactly one Input (its shape sets the size of the noise, e.g. [16]):"
            + (" add an Input before its first layer" if not inputs else " keep one")
        )
    if len(inputs) != 1 or not outputs:
        raise TrainingError(
            f"Network {net.name!r} has {len(inputs)} Input(s) and {len(outputs)} Output(s):"
            f" {procedure} training needs exactly one Input and an Output"
        )
    if not takes_data:
        return
    port = inputs[0]
    want = tuple(port.shape[1:])
    if want != tuple(ds.input_shape):
        shape = ", ".join(map(str, ds.input_shape))
        raise TrainingError(
            f"The Input '{net.name_of(port.node_id)}' takes (N, {', '.join(map(str, want))}) but dataset"
            f" '{ds.name}' gives samples of shape ({shape}): set the Input's shape to [{shape}]"
        )
    data_int = not ds.x.is_floating_point()
    if data_int != (port.shape.dtype == "int64"):
        kind = "integer token ids" if data_int else "real values"
        raise TrainingError(
            f"Dataset '{ds.name}' gives {kind} but the Input '{net.name_of(port.node_id)}' has dtype"
            f" {port.shape.dtype}: set the Input's dtype to {'int64' if data_int else 'float32'}"
        )


def ports(net: Any, results: dict[str, Any]) -> tuple[list[Port], list[Port]]:
    """The Input and Output ports of ``net`` as compiling it would give them
    (``model.meta``), from its shape inference ``results``: no module is built."""
    inputs = [
        Port(n, "", results[n].outputs["out"], net.name_of(n))
        for n in net.nodes
        if net.type_of(n) == "Input"
    ]
    outputs = [
        Port(n, "", results[n].inputs["in"], net.name_of(n))
        for n in net.nodes
        if net.type_of(n) == "Output"
    ]
    return inputs, outputs
