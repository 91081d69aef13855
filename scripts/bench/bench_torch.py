#!/usr/bin/env python3
"""The training loop of `pol-worker bench`, in PyTorch, for a side-by-side comparison.

Same model (from the task's spec), same data, the batch of each step derived as the protocol
derives it (BLAKE2b-256 of "pol-data" || data_seed || step || b, first 8 bytes little-endian,
mod N; data_seed = BLAKE2b-256("pol-bench")), the same SGD written by hand
(b <- mu*b + g; w <- w - lr*b), the same thread count. Prints JSON.

Usage: bench_torch.py <task.toml> [--loop-steps N] [--threads N]
"""
import argparse
import hashlib
import json
import os
import struct
import time
import tomllib
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def blake2_256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def batch_indices(data_seed: bytes, step: int, batch: int, n: int) -> list[int]:
    out = []
    for b in range(batch):
        h = blake2_256(b'pol-data' + data_seed + struct.pack('<I', step) + struct.pack('<I', b))
        out.append(int.from_bytes(h[:8], 'little') % n)
    return out


class Mlp(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i + 1 < len(self.fcs):
                x = F.relu(x)
        return x


class Cnn(nn.Module):
    def __init__(self, h, w, c, conv, classes):
        super().__init__()
        self.shape = (c, h, w)
        chans = [c] + conv
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))
        for _ in conv:
            h //= 2
            w //= 2
        self.fc = nn.Linear(chans[-1] * h * w, classes)

    def forward(self, x):
        x = x.view(-1, *self.shape)
        for conv in self.convs:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.fc(x.flatten(1))


def model_of(spec: str) -> nn.Module:
    kind, rest = spec.split(':', 1)
    if kind == 'mlp':
        return Mlp([int(p) for p in rest.split('-')])
    if kind == 'cnn':
        parts = rest.split('-')
        h, w, c = (int(p) for p in parts[0].split('x'))
        return Cnn(h, w, c, [int(p[1:]) for p in parts[1:-1]], int(parts[-1]))
    raise SystemExit(f'unknown model spec {spec!r}')


def data_of(task: dict):
    d = task['data']
    if d['source'] == 'digits':
        root = Path(os.environ.get('POL_DATA', Path.home() / '.cache/polchain/data')) / 'digits'
        return torch.from_numpy(np.load(root / 'x.npy')), torch.from_numpy(np.load(root / 'y.npy'))
    if d['source'] == 'synthetic':
        s = d['synthetic']
        g = torch.Generator().manual_seed(s['seed'])
        x = torch.randn(s['samples'], s['features'], generator=g)
        y = torch.randint(0, s['classes'], (s['samples'],), generator=g)
        return x, y
    raise SystemExit('bench_torch.py knows the digits and synthetic sources')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument('config')
    ap.add_argument('--loop-steps', type=int, default=500)
    ap.add_argument('--threads', type=int)
    args = ap.parse_args()
    task = tomllib.loads(Path(args.config).read_text())
    # The task's determinism profile names the threads the Rust side runs with.
    threads = args.threads or task.get('verification', {}).get('profile', {}).get('threads', 1)
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    hp = task['hyperparameters']
    lr, mu, batch = hp['learning_rate'], hp.get('momentum', 0.0), hp['batch_size']
    x, y = data_of(task)
    n = len(y)
    model = model_of(task['task']['model'])
    params = [p for _, p in sorted(model.named_parameters())]
    bufs = [torch.zeros_like(p) for p in params]
    seed = blake2_256(b'pol-bench')

    def step(s: int) -> float:
        idx = torch.tensor(batch_indices(seed, s, batch, n), dtype=torch.int64)
        xb, yb = x.index_select(0, idx), y.index_select(0, idx)
        for p in params:
            p.grad = None
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        with torch.no_grad():
            for p, b in zip(params, bufs):
                if mu > 0:
                    b.mul_(mu).add_(p.grad)
                    p.sub_(b * lr)
                else:
                    p.sub_(p.grad * lr)
        return loss.item()

    warmup = min(args.loop_steps, 20)
    for s in range(warmup):
        step(s)
    t = time.perf_counter()
    for s in range(warmup, warmup + args.loop_steps):
        step(s)
    secs = time.perf_counter() - t
    print(json.dumps({
        'model': task['task']['model'],
        'threads': torch.get_num_threads(),
        'batch_size': batch,
        'loop_steps': args.loop_steps,
        'loop_steps_per_s': args.loop_steps / secs,
        'torch': torch.__version__,
    }))


if __name__ == '__main__':
    main()
