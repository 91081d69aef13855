#!/usr/bin/env python3
"""The training loop of `pol-worker bench`, in PyTorch, for a side-by-side comparison.

Same model (from the task's spec), same data, the batch of each step derived as the protocol
derives it (BLAKE2b-256 of "pol-data" || data_seed || step || b, first 8 bytes little-endian,
mod N; data_seed = BLAKE2b-256("pol-bench")), the same momentum SGD (b <- mu*b + g;
w <- w - lr*b), the same thread count, the loss read back every step as the Rust loop does.
Prints JSON.

Two styles of the same loop (same batches, same update, so the same losses up to rounding):
- idiomatic (default): what a PyTorch engineer would write: every step's batch indices computed
  before timing into one tensor, torch.optim.SGD(momentum=mu, foreach=True) (the same update: the
  momentum buffer starts at zero and dampening is 0), zero_grad(set_to_none=True);
- handwritten: the indices hashed in Python inside the timed loop and SGD written out by hand.

Both sides run the same kernels: the task's determinism profile pins ATen's width and MKL's and
oneDNN's portable code (ml-worker/src/profile.rs, `Isa::environment`), set here before torch
loads; `--native` leaves torch to pick its fastest kernels for this CPU instead (for reference:
that compares libraries, not loops).

After min(steps, 20) warm-up steps (0, 1, ...), the timed loop (the next --loop-steps steps) runs
--repeat times, each run from the same post-warm-up state (restored untimed); the JSON's
loop_steps_per_s is the best run, `runs` every run, `final_loss` the last step's loss.

Usage: bench_torch.py <task.toml> [--loop-steps N] [--threads N]
                      [--style idiomatic|handwritten] [--repeat R] [--native]
"""
import argparse
import hashlib
import json
import os
import struct
import time
import tomllib
from pathlib import Path


# The profile's environment (profile.rs, `Isa::environment`), read by ATen, MKL and oneDNN when
# torch loads: so it is set from the task file before `import torch`.
PROFILE_ENV = {
    'default': {'ATEN_CPU_CAPABILITY': 'default'},
    'avx2': {'ATEN_CPU_CAPABILITY': 'avx2'},
    'avx512': {'ATEN_CPU_CAPABILITY': 'avx512'},
}
PORTABLE_LIBRARIES = {'MKL_CBWR': 'COMPATIBLE', 'ONEDNN_MAX_CPU_ISA': 'SSE41'}


def pin_profile(argv: list[str]) -> str:
    """Sets the task's kernel environment unless --native; returns what was pinned."""
    config = next((a for a in argv if a.endswith('.toml')), None)
    if '--native' in argv or config is None:
        return 'native'
    task = tomllib.loads(Path(config).read_text())
    isa = task.get('verification', {}).get('profile', {}).get('isa', 'avx2')
    env = dict(PROFILE_ENV.get(isa, {}))
    if os.uname().machine == 'x86_64':
        env.update(PORTABLE_LIBRARIES)
    os.environ.update(env)
    return isa


import sys  # noqa: E402
PINNED = pin_profile(sys.argv[1:])

import numpy as np  # noqa: E402
import torch  # noqa: E402
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
    ap.add_argument('--style', choices=('idiomatic', 'handwritten'), default='idiomatic')
    ap.add_argument('--repeat', type=int, default=1, help='timed runs; the best is reported')
    ap.add_argument('--native', action='store_true',
                    help="torch's own kernel choice, not the task's profile")
    args = ap.parse_args()
    if args.loop_steps < 1 or args.repeat < 1:
        raise SystemExit('--loop-steps and --repeat must be at least 1')
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
    seed = blake2_256(b'pol-bench')
    warmup = min(args.loop_steps, 20)

    if args.style == 'handwritten':
        bufs = [torch.zeros_like(p) for p in params]

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

        def state() -> list[torch.Tensor]:
            return params + bufs
    else:
        # The same indices as batch_indices gives, every step's at once, before any timing.
        steps_idx = torch.tensor(
            [batch_indices(seed, s, batch, n) for s in range(warmup + args.loop_steps)],
            dtype=torch.int64)
        opt = torch.optim.SGD(params, lr=lr, momentum=mu, foreach=True)

        def step(s: int) -> float:
            idx = steps_idx[s]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            return loss.item()

        def state() -> list[torch.Tensor]:
            bufs = (opt.state[p].get('momentum_buffer') for p in params)  # none without momentum
            return params + [b for b in bufs if b is not None]

    for s in range(warmup):
        step(s)
    # Every timed run starts from the post-warm-up weights and momentum, restored in place.
    with torch.no_grad():
        saved = [t.detach().clone() for t in state()]
    runs, loss = [], float('nan')
    for _ in range(args.repeat):
        with torch.no_grad():
            for t, v in zip(state(), saved):
                t.copy_(v)
        t0 = time.perf_counter()
        for s in range(warmup, warmup + args.loop_steps):
            loss = step(s)
        runs.append(args.loop_steps / (time.perf_counter() - t0))
    print(json.dumps({
        'model': task['task']['model'],
        'style': args.style,
        'threads': torch.get_num_threads(),
        'batch_size': batch,
        'loop_steps': args.loop_steps,
        'loop_steps_per_s': max(runs),
        'repeat': args.repeat,
        'runs': runs,
        'final_loss': loss,
        'torch': torch.__version__,
        'kernels': PINNED,
    }))


if __name__ == '__main__':
    main()
