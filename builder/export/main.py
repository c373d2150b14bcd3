"""The exported script's fixed text: its docstring and its main, the part only a script
has (the command line, the device, torchrun, the printed epochs and the JSON log) around the
app's code it carries: ``make_dataset`` calls the dataset's copied loader, ``train`` sets up
the copied kernel with the settings literal and iterates the copied ``fit`` as the Trainer
does (the seeds: SEED + 1 shuffling, + 2 augmentation, + 3 dropout). No training is written
here; :mod:`builder.export.script` fills in the names (``__LOADER__``, ``__MODEL__``...) and
``__AFTER__``: nothing, or the lines that save what the procedure's script saves after
training beside the weights (builder.export.script.AFTER_TRAINING: a GAN's fixed-noise
samples as ``samples.png``, a SOM's codebook, hit map and U-matrix).
"""

DOC_TRAIN = '''
"""A network built in NeuralCanvas, as a standalone PyTorch training script.

NeuralCanvas wrote this file from a project (named in the comments below): the settings,
the model class, NeuralCanvas's own code for the data and the training (copied from its
source: the dataset's loader, the splits, the __PROCEDURE__ procedure's kernel and the
training loop) and a short main that runs them. It needs torch and numpy (and
scikit-learn for its datasets), never NeuralCanvas itself.

    python __FILE__ --epochs 10 --out run
    torchrun --standalone --nproc_per_node=2 __FILE__ --epochs 10 --out run

With one process it reproduces the app's run step for step: the same data, split and
batches, the same initial weights and the same losses. Under torchrun each process
trains a DistributedDataParallel copy of the model on its own share of every batch.
"""
'''

DOC_MODEL = '''
"""A network built in NeuralCanvas, as a standalone PyTorch module.

NeuralCanvas wrote this file from a project (named in the comments below). There is no
training loop: the note below says why. Running it builds the model with the project's
seed and writes its initial weights:

    python __FILE__ --out run
"""
'''

# The script's main: the data, the model, the kernel's state and the loop, as the Trainer
# runs them (the seeds: SEED + 1 shuffling, + 2 augmentation, + 3 dropout), plus what only
# a script does: the command line, the device, torchrun, the printed epochs and the log.
MAIN = '''
def make_dataset() -> Dataset:
    """The dataset, made by NeuralCanvas's own loader (above)."""
    return __LOADER__(DATASET, __BASE__, SEED)


def load_data() -> tuple[torch.Tensor, torch.Tensor]:
    """The dataset's inputs and targets, as the app makes them."""
    ds = make_dataset()
    return ds.x, ds.y


def load_splits(device: torch.device) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The app's train / validation / test splits (inputs and targets) on ``device``."""
    splits = split_dataset(make_dataset(), DATASET, SEED)
    parts = {"train": splits.train, "val": splits.val, "test": splits.test}
    return {
        name: (part.x.to(device), part.y.to(device))
        for name, part in parts.items()
        if part is not None
    }


__KERNEL__


# Each role's model class (above), built in this order with the seeds SEED, SEED + 1, ...
MODELS = __MODELS__


def build_models(device: torch.device) -> dict[str, nn.Module]:
    """Every role's network with the app's initial weights (the same in every process)."""
    models = {}
    for offset, (role, model_class) in enumerate(MODELS.items()):
        torch.manual_seed(SEED + offset)
        models[role] = model_class().to(device)
    __INITIAL__
    return models


def weight_files(models: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """The files the weights go to: weights.pt for the first role, weights_<role>.pt for
    each other one (the app's names)."""
    return {
        "weights.pt" if i == 0 else f"weights_{role}.pt": model
        for i, (role, model) in enumerate(models.items())
    }


def share_buffers(model: nn.Module) -> None:
    """Every process takes rank 0's buffers (BatchNorm statistics)."""
    for buffer in model.buffers():
        dist.broadcast(buffer, 0)


class Distributed:
    """The kernel in one of several processes (torchrun): it trains a
    DistributedDataParallel copy of the model (gradients averaged over the processes), a
    step's loss is the mean over the processes, and every evaluation starts from rank 0's
    buffers, so that all processes see the same figures and decide alike (divergence,
    early stopping, the plateau schedule). Several networks (a GAN's, each used several
    times in a step, which DistributedDataParallel does not allow) are trained as they
    are, each optimiser averaging its gradients over the processes before it steps."""

    def __init__(self, kernel: Any, world: int, device: torch.device) -> None:
        self.kernel, self.world, self.device = kernel, world, device
        self.prepare, self.end_epoch = kernel.prepare, kernel.end_epoch
        self.models: dict[str, nn.Module] = {}

    def setup(self, models: dict[str, nn.Module], settings: dict[str, Any]) -> dict:
        self.models = models
        if len(models) > 1:
            state = self.kernel.setup(models, settings)
            for optimizer in state["optimizers"].values():
                optimizer.register_step_pre_hook(self.average_gradients)
            return state
        ids = [self.device.index] if self.device.type == "cuda" else None
        copies = {
            name: DistributedDataParallel(m, device_ids=ids, broadcast_buffers=False)
            for name, m in models.items()
        }
        return self.kernel.setup(copies, settings)

    def average_gradients(self, optimizer: torch.optim.Optimizer, *_: Any) -> None:
        grads = [
            p.grad
            for group in optimizer.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if grads:
            flat = torch.cat([g.reshape(-1) for g in grads])
            dist.all_reduce(flat)
            flat /= self.world
            pieces = flat.split([g.numel() for g in grads])
            torch._foreach_copy_(grads, [p.view_as(g) for p, g in zip(pieces, grads)])

    def train_step(
        self, state: dict, x: torch.Tensor, y: torch.Tensor, step: int
    ) -> dict:
        logs = self.kernel.train_step(state, x, y, step)
        # a float from a kernel on the host (the VAE's, the RBM's): as a tensor
        loss = torch.as_tensor(logs["loss"], dtype=torch.float32, device=x.device)
        loss = loss.detach().clone()
        dist.all_reduce(loss)
        return {**logs, "loss": loss / self.world}

    def evaluate(self, state: dict, x: torch.Tensor, y: torch.Tensor) -> dict:
        for model in self.models.values():
            share_buffers(model)
        return self.kernel.evaluate(state, x, y)


def describe(train_loss: float, evaluation: dict[str, Any], has_val: bool) -> str:
    figures = [f"loss {train_loss:.4g}"]
    if has_val:
        figures.append(f"validation loss {evaluation['loss']:.4g}")
    figures += [
        f"{key} {value:.4g}"
        for key, value in evaluation.items()
        if key != "loss" and type(value) in (int, float)  # numbers, not booleans
    ]
    return ", ".join(figures)


def train(
    models: dict[str, nn.Module],
    splits: dict,
    epochs: int,
    rank: int,
    world: int,
    log: dict,
) -> str:
    """Train ``models`` as the app does (its kernel, driven by its loop, both above), then
    evaluate the test split; return how the run ended."""
    device = splits["train"][0].device
    kernel = KERNEL if world == 1 else Distributed(KERNEL, world, device)
    state = kernel.setup(dict(models), {**SETTINGS, "epochs": epochs})
    # the same in every process; None: the rows in their order
    shuffle = torch.Generator().manual_seed(SEED + 1) if SHUFFLE else None
    augment = DATASET["augment"]
    transform = None
    if any(augment.values()):
        generator = torch.Generator(device=device).manual_seed(SEED + 2 + 1000 * rank)

        def transform(x: torch.Tensor) -> torch.Tensor:
            return augment_batch(x, augment, generator)

    torch.manual_seed(SEED + 3 + 1000 * rank)  # dropout and other layer randomness
    val = splits.get("val")
    stopping = EarlyStopping(**EARLY_STOPPING)
    batches = (splits["train"], val, epochs, BATCH_SIZE, shuffle, Progress(), stopping)
    outcome = "finished"
    for event in fit(kernel, state, *batches, transform, rank, world):
        if isinstance(event, Diverged):
            log["steps"] += event.losses
            if rank == 0:
                what = {
                    "not finite": "the loss diverged (NaN or infinite)",
                    "loss": f"the loss blew up to {event.value:.4g} (lowest {event.reference:.4g})",
                    "weights": f"the weights' norm blew up to {event.value:.4g}"
                    f" (from {event.reference:.4g})",
                }[event.reason]
                kept = "; the best weights are restored" if event.restored else ""
                print(f"Epoch {event.epoch + 1}: {what}{kept}.")
            return "restored" if event.restored else "diverged"
        if not isinstance(event, Epoch):
            continue
        log["steps"] += event.losses
        lr = state.get("lr", 0.0)  # a rule's (a SOM's η), else the first optimiser's
        for optimizer in list(state["optimizers"].values())[:1]:
            lr = optimizer.param_groups[0]["lr"]
        if rank == 0:
            text = describe(event.train_loss, event.evaluation, val is not None)
            print(f"epoch {event.epoch}/{epochs}: {text}", flush=True)
            entry = {"epoch": event.epoch, "train_loss": event.train_loss}
            entry["val_loss"] = event.evaluation["loss"] if val is not None else None
            entry.update({k: v for k, v in event.evaluation.items() if k != "loss"})
            log["epochs"].append({**entry, "lr": lr})
        if event.stop and event.reason:  # the kernel ends the run (a rule converged)
            if rank == 0:
                print(f"{event.reason}.")
        elif event.stop:
            outcome = "early_stopped"
            if rank == 0:
                print(f"Early stopping after epoch {event.epoch}.")
    if "test" in splits:
        log["test"] = kernel.evaluate(state, *splits["test"])
        if rank == 0:
            print(f"test split: {describe(log['test']['loss'], log['test'], False)}")
    return outcome


def pick_device(name: str, local_rank: int, world: int) -> torch.device:
    """auto: a CUDA GPU (under torchrun, this process's own), then MPS, then the CPU."""
    if name in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if name == "cuda":
        raise SystemExit("--device cuda: no CUDA GPU is available here")
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if name in ("auto", "mps") and world == 1 and mps_ok:
        return torch.device("mps")
    if name == "mps":
        raise SystemExit("--device mps: Apple's GPU backend is not available here")
    return torch.device("cpu")


def run(args: argparse.Namespace, device: torch.device, rank: int, world: int) -> int:
    splits = load_splits(device)
    models = build_models(device)
    log = {"steps": [], "epochs": [], "test": None}
    outcome = train(models, splits, args.epochs, rank, world, log)
    if world > 1:  # e.g. BatchNorm statistics: every process keeps rank 0's
        for model in models.values():
            share_buffers(model)
    out = Path(args.out)
    files = weight_files(models)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if outcome != "diverged":  # the trained, early-stopped or restored best weights
            for name, model in files.items():
                torch.save(model.state_dict(), out / name)
                print(f"Wrote {out / name}")
__AFTER__
        if args.log_json:
            text = json.dumps({"outcome": outcome, **log}, indent=1)
            Path(args.log_json).write_text(text)
    if args.save_every_rank:
        out.mkdir(parents=True, exist_ok=True)
        for name, model in files.items():
            torch.save(model.state_dict(), out / name.replace(".pt", f"-rank{rank}.pt"))
    if world > 1:
        dist.barrier()
    return 1 if outcome in ("diverged", "restored") else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the exported network.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="epochs to train")
    parser.add_argument("--out", default="run", help="folder for the weights (run)")
    parser.add_argument(
        "--device", default=DEVICE, choices=("auto", "cpu", "cuda", "mps")
    )
    parser.add_argument("--log-json", metavar="FILE", help="write every loss to FILE")
    parser.add_argument(
        "--save-every-rank",
        action="store_true",
        help="every process also writes weights-rank<R>.pt (to compare them)",
    )
    args = parser.parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(args.device, int(os.environ.get("LOCAL_RANK", "0")), world)
    if world > 1:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return run(args, device, rank, world)
    finally:
        if world > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
'''

# What ``run`` adds (for ``__AFTER__``, after the weights) for a procedure whose script saves
# something after training (builder.export.script.AFTER_TRAINING): __SAVE__ is the copied
# function, called with the __ROLE__'s trained network, the settings and the training inputs.
# SAVE_FILE: it writes one file (__TARGET__, in the output folder); SAVE_FILES: it writes
# several in the output folder and returns them.
SAVE_FILE = """\
            # __WHAT__
            saved = out / __TARGET__
            __SAVE__(models[__ROLE__], SETTINGS, splits["train"][0], saved)
            print(f"Wrote {saved}")
"""

SAVE_FILES = """\
            # __WHAT__
            saved = __SAVE__(models[__ROLE__], SETTINGS, splits["train"][0], out)
            print(f"Wrote {', '.join(path.name for path in saved)} in {out}")
"""

MAIN_MODEL_ONLY = """
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the exported network.")
    parser.add_argument("--out", default="run", help="folder for weights.pt (run)")
    args = parser.parse_args(argv)
    torch.manual_seed(SEED)  # the app's initial weights
    model = __MODEL__()
    count = sum(p.numel() for p in model.parameters())
    print(f"{type(model).__name__}: {count} parameters")
    if int(os.environ.get("RANK", "0")) == 0:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), out / "weights.pt")
        print(f"Wrote {out / 'weights.pt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
"""
