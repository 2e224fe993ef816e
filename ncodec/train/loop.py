"""The one training loop every ncodec codec uses.

Features: Adam with linear warm-up and cosine decay (tuned for short runs: the peak rate is reached
quickly and annealed to ``lr_final``), a step count or a wall-clock budget, gradient clipping,
checkpoints with exact resume (weights, optimizer, step and elapsed time; batches and noise are drawn
from generators seeded by the step, so no iterator state is needed), DistributedDataParallel under
``torchrun`` (gloo on CPU, NCCL on CUDA), bf16 autocast and channels_last for the GPU profile, a
progress bar with live metrics and a CSV log.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from .config import TrainConfig
from .task import TrainTask

CHECKPOINT_NAME = "checkpoint.pt"
THROUGHPUT_WARMUP_STEPS = 5
MAX_CONSECUTIVE_BAD_STEPS = 20


def learning_rate(config: TrainConfig, step: int, progress: float) -> float:
    """Warm-up for ``warmup_steps`` then cosine from ``lr`` to ``lr_final`` over ``progress`` in [0, 1]."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    p = min(max(progress, 0.0), 1.0)
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1 + math.cos(math.pi * p))


class _Distributed:
    """Rank and world size from torchrun's environment; a no-op for a single process."""

    def __init__(self, device: str) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.active = self.world > 1
        if self.active and not dist.is_initialized():
            backend = "nccl" if device.startswith("cuda") else "gloo"
            dist.init_process_group(backend=backend)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def broadcast_flag(self, flag: bool, device: str) -> bool:
        """Rank 0 decides (e.g. 'time is up') and every rank follows, so none waits forever."""
        if not self.active:
            return flag
        t = torch.tensor([1 if flag else 0], device=device)
        dist.broadcast(t, src=0)
        return bool(t.item())

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def _save_checkpoint(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, step: int,
                     elapsed: float, config: TrainConfig, task: TrainTask) -> None:
    tmp = path.with_suffix(".tmp")
    extra = getattr(task, "extra_state", None)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "elapsed": elapsed, "config": config.to_dict(), "task": extra() if extra else {}}, tmp)
    os.replace(tmp, path)


def _progress(config: TrainConfig, step: int, elapsed: float) -> float:
    parts = []
    if config.steps:
        parts.append(step / config.steps)
    if config.time_budget_min:
        parts.append(elapsed / (config.time_budget_min * 60.0))
    return max(parts) if parts else 0.0


def train(task: TrainTask, on_log: Callable[[dict[str, Any]], None] | None = None,
          stop_after: int | None = None) -> dict[str, Any]:
    """Run (or resume) training for ``task.config``; returns a summary for the model card.

    ``stop_after`` ends this invocation after that many steps in total, with a checkpoint, without
    changing the schedule: a later call resumes exactly where it stopped.
    """
    config = task.config
    if not config.steps and not config.time_budget_min:
        raise ValueError("set steps or time_budget_min: a run needs an end")
    device = config.resolved_device()
    ddp = _Distributed(device)
    if device.startswith("cuda"):
        device = f"cuda:{ddp.local_rank}"
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    out_dir = Path(config.out_dir)
    if ddp.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    ddp.barrier()

    torch.manual_seed(config.seed)  # the initialisation is part of the recipe
    model = task.build_model().to(device)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    step, elapsed = 0, 0.0
    ckpt_path = out_dir / CHECKPOINT_NAME
    task_state: dict[str, Any] = {}
    if ckpt_path.exists():
        state = torch.load(ckpt_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state["elapsed"])
        task_state = state.get("task") or {}
    train_model: nn.Module = model
    if ddp.active:
        # Every rank starts from rank 0's weights, so a fresh run and a resume agree everywhere.
        for p in model.state_dict().values():
            dist.broadcast(p, src=0)
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[ddp.local_rank] if device.startswith("cuda") else None)
    forward_model: nn.Module = torch.compile(train_model) if config.compile else train_model  # type: ignore[assignment]

    task.setup_data(device)
    if task_state and hasattr(task, "load_extra_state"):
        task.load_extra_state(task_state)  # what the task trains besides the model (e.g. an adversary)
    log_file = None
    writer = None
    if ddp.is_main:
        new_log = not (out_dir / "log.csv").exists()
        log_file = open(out_dir / "log.csv", "a", newline="")
        writer = csv.writer(log_file)
        if new_log:
            writer.writerow(["step", "elapsed_s", "lr", "loss", "bpp", "psnr", "other", "val"])
    bar = tqdm(total=config.steps, initial=step, disable=not ddp.is_main or not sys.stderr.isatty(),
               dynamic_ncols=True, desc=f"train {config.modality}")
    last_ckpt = time.monotonic()
    t_start = time.monotonic() - elapsed
    running: dict[str, float] = {}
    count = 0
    skipped_steps = bad_steps = 0
    # Throughput is timed from the WARMUP_STEPS-th step of this invocation, after compilation,
    # autotuning and the first validation have settled, and counts only training steps.
    first_step, timed_from, timed_steps, val_time = step, None, 0, 0.0
    try:
        while True:
            elapsed = time.monotonic() - t_start
            done = _progress(config, step, elapsed) >= 1.0 or (stop_after is not None and step >= stop_after)
            if ddp.broadcast_flag(done, device):
                break
            lr = learning_rate(config, step, _progress(config, step, elapsed))
            for group in optimizer.param_groups:
                group["lr"] = lr
            seed = config.seed * 1_000_003 + step * 997 + ddp.rank
            data_gen = torch.Generator(device="cpu").manual_seed(seed)
            torch.manual_seed(seed + 1)  # noise of the quantization proxy, per step and rank
            batch = task.batch(data_gen, device)
            if batch.ndim == 4:  # images; the layout does not apply to audio's (B, n) batches
                batch = batch.to(memory_format=memory_format)
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16, enabled=config.bf16):
                loss, metrics = task.loss(forward_model, batch, data_gen)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            # The gradient norm is the same on every DDP rank (gradients are all-reduced), so every
            # rank takes the same decision: a non-finite step (a bf16 overflow, a bad batch) is
            # skipped rather than allowed to poison the weights, and a run that keeps producing
            # them stops with an error instead of training garbage for hours.
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip or math.inf)
            if bool(torch.isfinite(grad_norm)):
                optimizer.step()
                bad_steps = 0
            else:
                skipped_steps += 1
                bad_steps += 1
                if bad_steps >= MAX_CONSECUTIVE_BAD_STEPS:
                    raise RuntimeError(f"training diverged: {bad_steps} consecutive steps with a "
                                       f"non-finite gradient (last at step {step})")
            step += 1
            if step - first_step == THROUGHPUT_WARMUP_STEPS:
                if device.startswith("cuda"):
                    torch.cuda.synchronize(device)
                timed_from, timed_steps, val_time = time.monotonic(), 0, 0.0
            elif timed_from is not None:
                timed_steps += 1
            for k, v in metrics.items():
                running[k] = running.get(k, 0.0) + v
            count += 1
            bar.update(1)
            if step % config.log_every == 0 and ddp.is_main and writer is not None:
                avg = {k: v / count for k, v in running.items()}
                bar.set_postfix({k: f"{v:.3f}" for k, v in avg.items()})
                other = {k: v for k, v in avg.items() if k not in ("loss", "bpp", "psnr")}
                writer.writerow([step, f"{elapsed:.1f}", f"{lr:.3g}", f"{avg.get('loss', 0):.5f}",
                                 f"{avg.get('bpp', 0):.4f}", f"{avg.get('psnr', 0):.3f}", _fmt(other), ""])
                assert log_file is not None
                log_file.flush()
                if on_log:
                    on_log({"step": step, "lr": lr, **avg})
                running, count = {}, 0
            if ddp.is_main and config.val_every and step % config.val_every == 0:
                val_start = time.monotonic()
                val = task.validate(model)
                val_time += time.monotonic() - val_start
                if writer is not None:
                    writer.writerow([step, f"{elapsed:.1f}", f"{lr:.3g}", "", "", "", "", _fmt(val)])
            if ddp.is_main and time.monotonic() - last_ckpt > config.checkpoint_every_min * 60:
                _save_checkpoint(ckpt_path, model, optimizer, step, time.monotonic() - t_start, config, task)
                last_ckpt = time.monotonic()
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)
        elapsed = time.monotonic() - t_start
        summary: dict[str, Any] = {"steps": step, "wall_time_s": round(elapsed, 1), "world_size": ddp.world,
                                   "device": _device_name(device), "skipped_steps": skipped_steps}
        if timed_from is not None and timed_steps > 0:
            seconds = time.monotonic() - timed_from - val_time
            summary["steps_per_s"] = round(timed_steps / max(seconds, 1e-9), 3)
        if ddp.is_main:
            _save_checkpoint(ckpt_path, model, optimizer, step, elapsed, config, task)
        ddp.barrier()
        return {"model": model, **summary}
    finally:
        bar.close()
        if log_file is not None:
            log_file.close()
        ddp.close()


def _fmt(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in metrics.items())


def _device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(device)
    return f"cpu ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
