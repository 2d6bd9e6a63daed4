"""Train the built-in video DiT on the procedural set: ``python -m training.generator``.

Resumable (a run directory keeps the latest checkpoint; starting again with
the same ``--out`` continues from it), seeded, and bounded by wall-clock
minutes so it fits a CPU budget. Every checkpoint also exports the EMA
weights as ``model.safetensors`` + ``config.json`` in the run directory; copy
those into ``generator/weights/`` to ship them.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from generator.data import TRAIN_PHRASINGS, all_combinations, sample_batch, split_combinations
from generator.models import DiTConfig, VideoDiT
from generator.schedulers import FlowMatchEulerScheduler
from generator.text_encoder import MAX_TOKENS, TextEncoder

NATIVE_FPS = 4.0  # 16 native frames span 4 seconds


def clips_to_tensor(clips: np.ndarray) -> torch.Tensor:
    """B×T×H×W×3 uint8 → B×3×T×H×W float in [-1, 1]."""
    x = torch.from_numpy(clips).float().div(127.5).sub(1.0)
    return x.permute(0, 4, 1, 2, 3).contiguous()


def caption_cache(encoder: TextEncoder, path: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Token states for every caption of the vocabulary (plus ""), cached on disk."""
    captions = sorted({c.caption(k) for c in all_combinations() for k in range(TRAIN_PHRASINGS)} | {""})
    if path.exists():
        t = load_file(str(path))
        cached = json.loads(path.with_suffix(".json").read_text())
        if cached == captions:
            return {c: (t["states"][i], t["mask"][i].bool()) for i, c in enumerate(captions)}
    states, masks = [], []
    for i in range(0, len(captions), 64):
        s, m = encoder.encode(captions[i : i + 64])
        states.append(s)
        masks.append(m)
    states_t, masks_t = torch.cat(states), torch.cat(masks)
    save_file({"states": states_t.contiguous(), "mask": masks_t.to(torch.uint8).contiguous()}, str(path))
    path.with_suffix(".json").write_text(json.dumps(captions))
    return {c: (states_t[i], masks_t[i]) for i, c in enumerate(captions)}


def boundary(mask: torch.Tensor) -> torch.Tensor:
    """Pixels on the object's outline (B×1×T×H×W float mask → same shape, 0/1):
    the 3×3 morphological gradient per frame, one pixel inside and one outside.
    Square, circle and triangle differ only there (corners, straight edges)."""
    k, p = (1, 3, 3), (0, 1, 1)
    dilated = torch.nn.functional.max_pool3d(mask, k, stride=1, padding=p)
    eroded = -torch.nn.functional.max_pool3d(-mask, k, stride=1, padding=p)
    return dilated - eroded


def export_weights(ema: VideoDiT, out_dir: Path, meta: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in ema.state_dict().items()}
    save_file(state, str(out_dir / "model.safetensors.tmp"), metadata={"format": "pt"})
    os.replace(out_dir / "model.safetensors.tmp", out_dir / "model.safetensors")
    os.chmod(out_dir / "model.safetensors", 0o644)
    cfg = {"model": ema.cfg.to_dict(), "native_fps": NATIVE_FPS, "text_max_tokens": MAX_TOKENS, **meta}
    (out_dir / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m training.generator", description=__doc__)
    ap.add_argument("--out", default="runs/generator", help="run directory (checkpoint, logs, exports)")
    ap.add_argument("--minutes", type=float, default=35.0, help="total wall-clock training budget")
    ap.add_argument("--steps", type=int, default=1_000_000, help="stop after this many steps")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=4e-4)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--cfg-dropout", type=float, default=0.1, help="share of captions replaced by ''")
    ap.add_argument("--t-uniform", type=float, default=0.3, help="share of uniform (vs logit-normal) t")
    ap.add_argument("--fg-weight", type=float, default=3.0, help="extra loss weight on object pixels")
    ap.add_argument("--edge-weight", type=float, default=0.0,
                    help="extra loss weight on the object's boundary (one pixel either side of its outline)")
    ap.add_argument("--init-from", default=None,
                    help="fresh run only: start model and EMA from these exported weights (a folder with "
                         "model.safetensors + config.json, e.g. generator/weights) with a new optimiser")
    ap.add_argument("--decay-from", type=int, default=None,
                    help="cosine-decay the learning rate from this step to --lr-min at --steps (default: constant)")
    ap.add_argument("--lr-min", type=float, default=0.0)
    ap.add_argument("--ckpt-minutes", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--refine", type=int, default=16)
    ap.add_argument("--prediction", choices=("v", "x"), default="v",
                    help="what the head predicts: the velocity, or the clean clip (turned into a velocity)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.pt"

    cfg = DiTConfig(dim=args.dim, depth=args.depth, heads=args.heads, refine_channels=args.refine,
                    prediction=args.prediction)
    torch.manual_seed(args.seed)
    model = VideoDiT(cfg)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)
    step, elapsed = 0, 0.0
    warmup_from = 0  # learning-rate warm-up restarts with a new optimiser
    history: list[dict] = []  # one entry per start/resume: from which step, with which arguments
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        cfg = DiTConfig.from_dict(ck["config"])
        model, ema = VideoDiT(cfg), VideoDiT(cfg).requires_grad_(False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
        opt.load_state_dict(ck["opt"])
        rng.bit_generator.state = ck["np_rng"]
        gen.set_state(ck["torch_rng"])
        step, elapsed = ck["step"], ck["elapsed"]
        warmup_from = int(ck.get("warmup_from", 0))
        if not ck.get("history"):  # checkpoints written before the history was kept
            first = {k: v for k, v in ck["args"].items() if k != "out"}
            ck["history"] = [{"from_step": 0, "args": {**first, "t_uniform": first.get("t_uniform", 0.0)}}]
        history = ck["history"]
        print(f"resumed from {ckpt_path} at step {step} ({elapsed / 60:.1f} min)", flush=True)
    elif args.init_from:
        # Continue an exported model (the shipped weights are its EMA): both the
        # trained and the EMA copy start from it; step, time and history carry on.
        init = Path(args.init_from)
        init_cfg = json.loads((init / "config.json").read_text())
        cfg = DiTConfig.from_dict({**init_cfg["model"], "prediction": args.prediction})
        model, ema = VideoDiT(cfg), VideoDiT(cfg).requires_grad_(False)
        state = load_file(str(init / "model.safetensors"))
        if cfg.prediction != init_cfg["model"].get("prediction", "v"):
            # The backbone carries over; the output layers start from zero again for the new target.
            state = {k: (torch.zeros_like(v) if k.startswith(("head.", "refine.2.")) else v)
                     for k, v in state.items()}
        model.load_state_dict(state)
        ema.load_state_dict(state)
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
        step = int(init_cfg.get("train_steps", 0))
        elapsed = 60.0 * float(init_cfg.get("train_minutes", 0.0))
        history = list(init_cfg.get("train_runs", []))
        warmup_from = step
        print(f"initialised from {init} (step {step}, {elapsed / 60:.1f} min, new optimiser)", flush=True)

    history.append({"from_step": step, "args": {k: v for k, v in vars(args).items() if k != "out"}})
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {cfg} — {n_params / 1e6:.2f}M parameters", flush=True)
    encoder = TextEncoder()
    cache = caption_cache(encoder, out / "captions.safetensors")
    del encoder
    train_combos, held_out = split_combinations()
    print(f"{len(train_combos)} training combinations, {len(held_out)} held out", flush=True)
    sched = FlowMatchEulerScheduler()

    def save() -> None:
        ck = {
            "config": cfg.to_dict(), "model": model.state_dict(), "ema": ema.state_dict(),
            "opt": opt.state_dict(), "np_rng": rng.bit_generator.state, "torch_rng": gen.get_state(),
            "step": step, "elapsed": elapsed, "args": vars(args), "history": history,
            "warmup_from": warmup_from,
        }
        torch.save(ck, out / "checkpoint.pt.tmp")
        os.replace(out / "checkpoint.pt.tmp", ckpt_path)
        meta = {
            "train_steps": step, "train_minutes": round(elapsed / 60, 1), "batch": args.batch,
            "lr": args.lr, "seed": args.seed, "threads": args.threads, "parameters": n_params,
            "train_runs": history,
        }
        export_weights(ema, out / "export", meta)
        print(f"checkpoint at step {step} ({elapsed / 60:.1f} min)", flush=True)

    model.train()
    last_ckpt = elapsed
    t_log, loss_acc, n_acc = time.time(), 0.0, 0
    while step < args.steps and elapsed < args.minutes * 60:
        t0 = time.time()
        clips, masks, captions = sample_batch(train_combos, args.batch, rng)
        drop = rng.random(len(captions)) < args.cfg_dropout
        captions = ["" if d else c for c, d in zip(captions, drop)]
        text = torch.stack([cache[c][0] for c in captions])
        text_mask = torch.stack([cache[c][1] for c in captions])
        x0 = clips_to_tensor(clips)
        m = torch.from_numpy(masks).float()[:, None]  # B×1×T×H×W
        weight = 1.0 + args.fg_weight * m
        if args.edge_weight:
            weight = weight + args.edge_weight * boundary(m)
        noise = torch.randn(x0.shape, generator=gen)
        t = sched.sample_timesteps(x0.shape[0], generator=gen, uniform_share=args.t_uniform)
        xt = sched.add_noise(x0, noise, t)
        pred = model(xt, t, text, text_mask)
        loss = (weight * (pred - sched.velocity_target(x0, noise)) ** 2).mean() / weight.mean()

        lr = args.lr * min(1.0, (step + 1 - warmup_from) / args.warmup)
        if args.decay_from is not None and step >= args.decay_from and args.steps > args.decay_from:
            done = min(1.0, (step - args.decay_from) / (args.steps - args.decay_from))
            lr = min(lr, args.lr_min + (args.lr - args.lr_min) * 0.5 * (1 + math.cos(math.pi * done)))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - decay)
        step += 1
        elapsed += time.time() - t0
        loss_acc += loss.item()
        n_acc += 1
        if step % 25 == 0:
            print(
                f"step {step} loss {loss_acc / n_acc:.4f} {(time.time() - t_log) / n_acc:.2f}s/step "
                f"elapsed {elapsed / 60:.1f} min",
                flush=True,
            )
            t_log, loss_acc, n_acc = time.time(), 0.0, 0
        if elapsed - last_ckpt >= args.ckpt_minutes * 60:
            save()
            last_ckpt = elapsed
    save()
    print("done", flush=True)


if __name__ == "__main__":
    main()
