"""The shared trainer: any registered family, one process or many (torchrun), resumable, seeded.

RUN/checkpoints/step-NNNNNNN.{safetensors,json}  model + optimizer + epoch position, for resuming (last `keep_last`)
RUN/checkpoints/best-step-NNNNNNN.*              the lowest validation loss so far (model only)
RUN/model.{safetensors,json}                     the best model, exported when training ends
RUN/metrics.csv, RUN/loss.png                    one row per log interval; the loss curves
RUN/tensorboard/                                 the same scalars as TensorBoard events (--tensorboard)
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from backend import checkpoints
from backend.checkpoints import Checkpoint

from .critic import CriticStep
from .registry import Family
from .run_log import RunLog

STEP_PREFIX = "step-"
BUCKET_BATCHES = 32  # batches per length-sorted bucket (TrainConfig.bucket_by_length)
BEST_PREFIX = "best-step-"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    """optimizer steps in all (a resumed run continues up to this count)"""
    batch_size: int = 12
    """items per step and per process"""
    lr: float = 1e-3
    """Adam learning rate at its peak; it warms up linearly, then decays by a cosine to lr x final_lr_ratio"""
    warmup_steps: int = 50
    final_lr_ratio: float = 0.1
    grad_clip: float = 1.0
    seed: int = 0
    log_every: int = 10
    eval_every: int = 100
    """steps between validation passes; each one also writes a checkpoint"""
    val_items: int = 48
    """validation utterances per pass (the first ones of the split)"""
    keep_last: int = 2
    threads: int = 1
    """torch CPU threads per process"""
    amp: bool = True
    """bfloat16 autocast on GPU; ignored on CPU, where training stays deterministic"""
    tensorboard: bool = False
    resume: bool = True
    init_from: str = ""
    """a checkpoint (path without suffix) whose weights start a new run: a later training stage; a
    resumed run ignores it"""
    init_parts: tuple[str, ...] = ()
    """the model parts (state-dict prefixes, e.g. "encoder") taken from init_from, the rest starting fresh;
    empty: the whole model, every tensor fitting"""
    workers: int = 0
    bucket_by_length: bool = False
    """batch utterances of similar lengths together (for families that pad whole utterances)"""
    device: str = "auto"
    """auto | cpu | cuda"""

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        if "init_parts" in data:
            data["init_parts"] = tuple(data["init_parts"])
        return cls(**data)


@dataclass(frozen=True)
class Distributed:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup_distributed(device_choice: str) -> Distributed:
    """One process, or torchrun's: gloo on CPU, nccl on GPU."""
    use_cuda = device_choice == "cuda" or (device_choice == "auto" and torch.cuda.is_available())
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if world > 1 and not torch.distributed.is_initialized():
        if use_cuda:
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return Distributed(rank=rank, world=world, device=device)


def epoch_batches(n_items: int, epoch: int, dist: Distributed, batch_size: int, seed: int,
                  lengths: list[float] | None = None) -> list[list[int]]:
    """This process's index batches for an epoch: one seeded shuffle, shared out by rank, full batches.

    With `lengths`, each run of BUCKET_BATCHES batches of the shuffle is sorted by length before it is cut,
    and the batches are shuffled again: batches of similar lengths, so that less time goes on padding."""
    generator = torch.Generator().manual_seed(seed * 100003 + epoch)
    order = torch.randperm(n_items, generator=generator).tolist()
    mine = order[dist.rank::dist.world]
    usable = len(order) // dist.world // batch_size * batch_size
    mine = mine[:usable]
    if lengths is not None:
        span = BUCKET_BATCHES * batch_size
        mine = [i for start in range(0, usable, span) for i in sorted(mine[start:start + span], key=lengths.__getitem__)]
    batches = [mine[i:i + batch_size] for i in range(0, usable, batch_size)]
    if lengths is not None:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]
    return batches


def step_seed(seed: int, step: int, rank: int) -> int:
    """Dropout's seed for one step of one process: randomness that is a function of the step, so a resumed
    run needs no saved generator state and continues exactly as an unbroken one."""
    return (seed * 1_000_003 + step) * 1009 + rank


def learning_rate(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * (config.final_lr_ratio + (1 - config.final_lr_ratio) * cosine)


def to_device(batch: dict, device: torch.device) -> dict:
    return {key: value.to(device) if torch.is_tensor(value) else value for key, value in batch.items()}


class Trainer:
    def __init__(self, family: Family, model_config, config: TrainConfig, train_data: Dataset,
                 val_data: Dataset, run_dir: str | os.PathLike, collate=None, about: dict | None = None):
        if len(train_data) == 0:
            raise ValueError("the training split is empty")
        self.family, self.model_config, self.config = family, model_config, config
        self.train_data, self.val_data, self.collate = train_data, val_data, collate
        self.about = about or {}  # how the run was started (command, data), kept in every checkpoint
        self.run_dir = Path(run_dir)
        self.ckpt_dir = self.run_dir / "checkpoints"
        self.dist = setup_distributed(config.device)
        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed + self.dist.rank)
        if self.dist.device.type == "cpu":
            torch.use_deterministic_algorithms(True)
        self.module = family.build(model_config).to(self.dist.device)
        self.critic = CriticStep.of(self.module, family, config.lr)  # a GAN's discriminator, its own Adam
        self.optimizer = torch.optim.Adam([p for p in self.module.parameters()
                                           if self.critic is None or not self.critic.owns(p)], lr=config.lr)
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best_val = math.inf
        self.log = RunLog(self.run_dir, config.tensorboard) if self.dist.is_main else None
        self.source = None  # a family's own batch maker (an environment), when it has one
        if family.source is not None:
            self.source = family.source(self.module, model_config, config, train_data, val_data, self.run_dir,
                                        self.dist.is_main)

    # -- records ------------------------------------------------------------------------------------------
    def record(self) -> dict:
        """The JSON-ready run description saved in every checkpoint (tuples become lists)."""
        return json.loads(json.dumps({"family": self.family.name, "model": dataclasses.asdict(self.model_config),
                                      "train": dataclasses.asdict(self.config), "world_size": self.dist.world,
                                      "about": self.about}))

    def model_tensors(self) -> dict[str, np.ndarray]:
        return {name: value.detach().cpu().numpy() for name, value in self.module.state_dict().items()}

    def training_state(self) -> tuple[dict[str, np.ndarray], dict]:
        state = self.optimizer.state_dict()
        tensors = {f"optim.{index}.{key}": torch.as_tensor(value).cpu().numpy()
                   for index, slots in state["state"].items() for key, value in slots.items()}
        groups = [{key: value for key, value in group.items()} for group in state["param_groups"]]
        extra = {"optimizer_groups": groups, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                 "best_val": self.best_val if math.isfinite(self.best_val) else None}
        if self.critic is not None:
            critic_tensors, extra["critic_optimizer_groups"] = self.critic.state()
            tensors |= critic_tensors
        if self.source is not None:
            source_tensors, extra["source"] = self.source.state()
            tensors |= {f"source.{key}": value for key, value in source_tensors.items()}
        return tensors, extra

    # -- checkpoints --------------------------------------------------------------------------------------
    def checkpoint_steps(self, prefix: str) -> list[int]:
        found = []
        for path in self.ckpt_dir.glob(f"{prefix}*.json"):
            digits = path.stem[len(prefix):]
            if digits.isdigit():
                found.append(int(digits))
        return sorted(found)

    def save_checkpoint(self, metrics: dict) -> None:
        if not self.dist.is_main:
            return
        train_tensors, extra = self.training_state()
        tensors = {f"model.{k}": v for k, v in self.model_tensors().items()} | train_tensors
        checkpoints.save(self.ckpt_dir / f"{STEP_PREFIX}{self.step:07d}",
                         Checkpoint(tensors, self.family.name, self.record(), self.step, metrics, extra))
        for old in self.checkpoint_steps(STEP_PREFIX)[:-self.config.keep_last]:
            checkpoints.remove(self.ckpt_dir / f"{STEP_PREFIX}{old:07d}")

    def save_best(self, metrics: dict) -> None:
        if not self.dist.is_main:
            return
        checkpoints.save(self.ckpt_dir / f"{BEST_PREFIX}{self.step:07d}",
                         Checkpoint(self.model_tensors(), self.family.name, self.record(), self.step, metrics))
        for old in self.checkpoint_steps(BEST_PREFIX)[:-1]:
            checkpoints.remove(self.ckpt_dir / f"{BEST_PREFIX}{old:07d}")

    def try_resume(self) -> bool:
        steps = self.checkpoint_steps(STEP_PREFIX)
        if not (self.config.resume and steps):
            return False
        saved = checkpoints.load(self.ckpt_dir / f"{STEP_PREFIX}{steps[-1]:07d}")
        if saved.family != self.family.name or self.family.config_from_dict(saved.config["model"]) != self.model_config:
            raise ValueError(f"{self.run_dir}: holds a {saved.family} run with another model config; "
                             "use a new run folder or turn resuming off")
        self.module.load_state_dict({k[6:]: torch.from_numpy(v) for k, v in saved.tensors.items()
                                     if k.startswith("model.")})
        self.optimizer.load_state_dict(self._optimizer_state(saved))
        if self.critic is not None:
            self.critic.load_state(saved.tensors, saved.extra["critic_optimizer_groups"], self.dist.device)
        self.step, self.epoch = saved.step, saved.extra["epoch"]
        self.batch_in_epoch = saved.extra["batch_in_epoch"]
        self.best_val = math.inf if saved.extra["best_val"] is None else saved.extra["best_val"]
        if self.source is not None:
            self.source.load_state({k[7:]: v for k, v in saved.tensors.items() if k.startswith("source.")},
                                   saved.extra["source"])
        return True

    def load_initial_weights(self, stem: str) -> None:
        """Start from another run's weights (same family and layer shapes; normalisation included): all of
        them, or only the `init_parts` a later stage keeps."""
        saved = checkpoints.load(stem)
        if saved.family != self.family.name:
            raise ValueError(f"{stem}: holds a {saved.family} model, not {self.family.name}")
        prefix = "model." if any(k.startswith("model.") for k in saved.tensors) else ""
        state = {k[len(prefix):]: torch.from_numpy(v) for k, v in saved.tensors.items() if k.startswith(prefix)
                 and not k.startswith(("optim.", "source."))}
        parts = tuple(f"{part}." for part in self.config.init_parts)
        if parts:
            state = {k: v for k, v in state.items() if k.startswith(parts)}
            missing = [k for k in self.module.state_dict() if k.startswith(parts) and k not in state]
            if missing or not state:
                raise ValueError(f"{stem}: lacks {missing[0] if missing else 'the parts'} "
                                 f"({', '.join(self.config.init_parts)}) this stage starts from")
            state = self.module.state_dict() | state
        try:
            self.module.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{stem}: its tensors do not fit this model ({str(err).splitlines()[0]})") from None

    def _optimizer_state(self, saved: Checkpoint) -> dict:
        state: dict[int, dict] = {}
        for name, value in saved.tensors.items():
            if name.startswith("optim."):
                _, index, key = name.split(".", 2)
                state.setdefault(int(index), {})[key] = torch.from_numpy(value).to(self.dist.device)
        for slots in state.values():
            slots["step"] = slots["step"].cpu()  # Adam keeps its step count on the CPU
        return {"state": state, "param_groups": saved.extra["optimizer_groups"]}

    def export_best(self) -> Path | None:
        """Copy the best model (or the last, with no validation data) to RUN/model.*."""
        if not self.dist.is_main:
            return None
        best = self.checkpoint_steps(BEST_PREFIX)
        if best:
            saved = checkpoints.load(self.ckpt_dir / f"{BEST_PREFIX}{best[-1]:07d}")
        else:
            saved = Checkpoint(self.model_tensors(), self.family.name, self.record(), self.step, {})
        return checkpoints.save(self.run_dir / "model", saved)

    # -- the loop -----------------------------------------------------------------------------------------
    def fit(self) -> dict:
        resumed = self.try_resume()
        if not resumed:
            self.family.prepare(self.module, self.train_data)
            if self.config.init_from:
                self.load_initial_weights(self.config.init_from)
        if self.log is not None:
            self.log.start_at(self.step)
        model = self._wrapped()
        started, totals = time.time(), {"loss": 0.0, "mse": 0.0, "n": 0}
        progress = self._progress_bar()
        metrics: dict = {}
        while self.step < self.config.steps:
            for batch in self._epoch_loader():
                loss, batch_metrics = self._train_step(model, batch)
                self.step += 1
                self.batch_in_epoch += 1
                if self.source is not None:
                    self.source.after_step(loss, batch_metrics)
                    self.epoch = self.source.epoch
                totals["loss"] += loss
                totals["mse"] += batch_metrics.get("mse", math.nan)
                totals["n"] += 1
                if progress is not None:
                    progress.update(1)
                    progress.set_postfix(loss=f"{loss:.4f}")
                metrics = self._after_step(totals, started)
                if self.step >= self.config.steps:
                    break
            else:
                self.epoch, self.batch_in_epoch = self.epoch + 1, 0
        if progress is not None:
            progress.close()
        if self.step % self.config.eval_every or not metrics:  # no validation pass at the final step yet
            metrics = self._evaluate_and_save(totals, started)
        self.export_best()
        if self.log is not None:
            self.log.close()
        self._barrier()
        return metrics

    def _wrapped(self):
        if self.dist.world == 1:
            return self.module
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
        return DistributedDataParallel(self.module, device_ids=device_ids)

    def _progress_bar(self):
        if not self.dist.is_main:
            return None
        from tqdm import tqdm

        return tqdm(total=self.config.steps, initial=self.step, desc=self.family.name, unit="step",
                    dynamic_ncols=True, mininterval=2.0)

    def _epoch_loader(self):
        if self.source is not None:
            return self.source.batches(self.module)
        if hasattr(self.train_data, "set_epoch"):
            self.train_data.set_epoch(self.epoch)
        lengths = None
        if self.config.bucket_by_length:
            lengths = [self.train_data.records[p]["duration_s"] for p in self.train_data.draws]
        batches = epoch_batches(len(self.train_data), self.epoch, self.dist, self.config.batch_size,
                                self.config.seed, lengths)
        if not batches:
            raise ValueError(f"the training split has {len(self.train_data)} items, fewer than one batch of "
                             f"{self.config.batch_size} per process")
        return DataLoader(self.train_data, batch_sampler=batches[self.batch_in_epoch:], collate_fn=self.collate,
                          num_workers=self.config.workers)

    def _train_step(self, model, batch: dict) -> tuple[float, dict]:
        model.train()
        torch.manual_seed(step_seed(self.config.seed, self.step, self.dist.rank))
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(self.step, self.config)
        batch = to_device(batch, self.dist.device)
        with self._autocast():
            loss, metrics = self.family.loss(model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.config.grad_clip)
        self.optimizer.step()
        if self.critic is not None:
            metrics = metrics | self.critic.step(model, batch, learning_rate(self.step, self.config),
                                                 self.config.grad_clip, self._autocast)
        return float(loss.detach()), metrics

    def _autocast(self):
        enabled = self.config.amp and self.dist.device.type == "cuda"
        return torch.autocast(device_type=self.dist.device.type, dtype=torch.bfloat16, enabled=enabled)

    def _after_step(self, totals: dict, started: float) -> dict:
        if self.step % self.config.eval_every == 0:
            return self._evaluate_and_save(totals, started)
        if self.step % self.config.log_every == 0:
            return self._log_row(totals, started, math.nan, math.nan)
        return {}

    def _evaluate_and_save(self, totals: dict, started: float) -> dict:
        val_loss, val_mse = self.validate()
        metrics = self._log_row(totals, started, val_loss, val_mse)
        if self.val_data is not None and len(self.val_data) and val_loss < self.best_val:
            self.best_val = val_loss
            self.save_best(metrics)
        self.save_checkpoint(metrics)
        self._barrier()
        return metrics

    def _log_row(self, totals: dict, started: float, val_loss: float, val_mse: float) -> dict:
        n = totals["n"]
        row = {"step": self.step, "epoch": self.epoch, "lr": learning_rate(self.step - 1, self.config),
               "train_loss": totals["loss"] / n if n else math.nan, "train_mse": totals["mse"] / n if n else math.nan,
               "val_loss": val_loss, "val_mse": val_mse, "elapsed_s": time.time() - started}
        totals.update(loss=0.0, mse=0.0, n=0)
        if self.log is not None:
            self.log.add(row)
            self.log.flush()
            row = dict(self.log.rows[-1])  # a validation row at a logged step carries that step's training loss
        return row

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        """Mean loss and MSE over the first `val_items` validation utterances, pooled over processes."""
        if self.source is not None:
            self.module.eval()
            return self.source.validate(self.module)
        if self.val_data is None or len(self.val_data) == 0:
            return math.nan, math.nan
        self.module.eval()
        indices = list(range(min(len(self.val_data), self.config.val_items)))[self.dist.rank::self.dist.world]
        sums = torch.zeros(3, dtype=torch.float64)
        loader = DataLoader(self.val_data, batch_sampler=[indices[i:i + 4] for i in range(0, len(indices), 4)],
                            collate_fn=self.collate)
        for batch in loader:
            batch = to_device(batch, self.dist.device)
            with self._autocast():
                loss, metrics = self.family.loss(self.module, batch)
            weight = metrics["frames"]
            sums += torch.tensor([float(loss) * weight, metrics["mse"] * weight, weight], dtype=torch.float64)
        if self.dist.world > 1:
            torch.distributed.all_reduce(sums)
        return float(sums[0] / sums[2]), float(sums[1] / sums[2])

    def _barrier(self) -> None:
        if self.dist.world > 1:
            torch.distributed.barrier()
