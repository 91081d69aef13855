#!/usr/bin/env python3
"""Writes ml-worker/golden/derivations.json: inputs and expected outputs of the worker's own
derivations (docs/PROTOCOL.md): the random stream, the data split, the synthetic data set and
the initial weights. Computed here from the document's text with nothing but the Python standard
library (hashlib's BLAKE2b, struct, math.sqrt and math.floor, which IEEE 754 makes exact or
correctly rounded everywhere); the Rust tests of pol-worker check that the worker computes the
same bits. Another implementation can do the same to prove it agrees.

The two transcendental functions of the protocol, `log` and `exp`, are the `libm` crate's 0.2.16
(musl's former log.c, from FreeBSD msun's e_log.c, and FreeBSD's e_exp.c), ported below operation
by operation (docs/PROTOCOL.md, appendix A). They are not
correctly rounded, so a platform's `log` and `exp` (Python's `math`, glibc) may differ from them
in the last bit.

Usage:
  python3 scripts/vectors/gen_worker_vectors.py [output]       write the vectors
  python3 scripts/vectors/gen_worker_vectors.py --mpmath [N]   compare the ports of log and exp
      with mpmath's correctly rounded values on N random inputs (needs mpmath)

The `digits` part reads the canonical digits export (scripts/setup.sh) from $POL_DATA/digits, else
~/.cache/polchain/data/digits, and checks its SHA-256 first.
"""
import ast
import hashlib
import json
import math
import os
import struct
import sys
from pathlib import Path

M64 = (1 << 64) - 1


# ---------------------------------------------------------------- encodings

def b2(*parts: bytes) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        h.update(p)
    return h.digest()


def u64(x: int) -> bytes: return struct.pack('<Q', x)
def bits64(x: float) -> int: return struct.unpack('<Q', struct.pack('<d', x))[0]
def from_bits64(b: int) -> float: return struct.unpack('<d', struct.pack('<Q', b))[0]
def f32(x: float) -> float: return struct.unpack('<f', struct.pack('<f', x))[0]  # round to nearest even
def bits32(x: float) -> int: return struct.unpack('<I', struct.pack('<f', x))[0]
def hx(b: bytes) -> str: return '0x' + b.hex()
def jf64(x: float) -> dict: return {'bits': '%016x' % bits64(x), 'value': repr(x)}
def jf32(x: float) -> dict: return {'bits': '%08x' % bits32(x), 'value': repr(f32(x))}


def round_half_away(x: float) -> float:
    """Rust's f64::round for finite x >= 0: to the nearest integer, halves away from zero
    (Python's round() rounds halves to even)."""
    f = math.floor(x)
    return f + 1.0 if x - f >= 0.5 else f


def as_usize(x: float) -> int:
    """Rust's `as usize` of a float: truncation, NaN and negatives to 0."""
    return 0 if x != x or x <= 0.0 else int(x)


# ---------------------------------------------------------------- libm: log and exp

# FreeBSD msun e_log.c, as the `libm` crate (0.2.16, src/math/log.rs) writes it. Every operation
# is one IEEE double operation, rounded to nearest even, in the order written (no fused
# multiply-add).
LN2_HI = from_bits64(0x3fe62e42fee00000)
LN2_LO = from_bits64(0x3dea39ef35793c76)
LG1 = from_bits64(0x3fe5555555555593)
LG2 = from_bits64(0x3fd999999997fa04)
LG3 = from_bits64(0x3fd2492494229359)
LG4 = from_bits64(0x3fcc71c51d8e78af)
LG5 = from_bits64(0x3fc7466496cb03de)
LG6 = from_bits64(0x3fc39a09d078c69f)
LG7 = from_bits64(0x3fc2f112df3e5244)


def libm_log(x: float) -> float:
    ui = bits64(x)
    hx_ = ui >> 32
    k = 0
    if hx_ < 0x00100000 or hx_ >> 31:
        if (ui << 1) & M64 == 0:
            return -math.inf                      # log(±0)
        if hx_ >> 31:
            return math.nan                       # log(negative)
        k -= 54                                   # subnormal: scale by 2^54
        x *= from_bits64(0x4350000000000000)
        ui = bits64(x)
        hx_ = ui >> 32
    elif hx_ >= 0x7ff00000:
        return x                                  # inf, NaN
    elif hx_ == 0x3ff00000 and ui & 0xffffffff == 0:
        return 0.0                                # log(1)
    # x = 2^k (1 + f), sqrt(2)/2 < 1 + f < sqrt(2)
    hx_ += 0x3ff00000 - 0x3fe6a09e
    k += (hx_ >> 20) - 0x3ff
    hx_ = (hx_ & 0x000fffff) + 0x3fe6a09e
    x = from_bits64((hx_ << 32) | (ui & 0xffffffff))
    f = x - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    r = t2 + t1
    dk = float(k)
    return s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI


# FreeBSD msun e_exp.c, as the `libm` crate (src/math/exp.rs) writes it, with its scalbn.
INVLN2 = from_bits64(0x3ff71547652b82fe)
P1 = from_bits64(0x3fc555555555553e)
P2 = from_bits64(0xbf66c16c16bebd93)
P3 = from_bits64(0x3f11566aaf25de2c)
P4 = from_bits64(0xbebbbd41c5d26bf1)
P5 = from_bits64(0x3e66376972bea4d0)


def scalbn(x: float, n: int) -> float:
    """x·2^n with one rounding (musl's scalbn; the libm crate's generic one)."""
    if n > 1023:
        x *= from_bits64(0x7fe0000000000000)      # 2^1023
        n -= 1023
        if n > 1023:
            x *= from_bits64(0x7fe0000000000000)
            n -= 1023
            if n > 1023:
                n = 1023
    elif n < -1022:
        x *= from_bits64(0x0360000000000000)      # 2^-969 = 2^-1022 · 2^53
        n += 969
        if n < -1022:
            x *= from_bits64(0x0360000000000000)
            n += 969
            if n < -1022:
                n = -1022
    return x * from_bits64((0x3ff + n) << 52)


def libm_exp(x: float) -> float:
    hx_ = bits64(x) >> 32
    sign = hx_ >> 31
    hx_ &= 0x7fffffff
    if hx_ >= 0x4086232b:                         # |x| >= 708.39...
        if x != x:
            return x
        if x > 709.782712893383973096:
            return math.inf
        if x < -745.13321910194110842:
            return 0.0
    if hx_ > 0x3fd62e42:                          # |x| > 0.5 ln2
        if hx_ >= 0x3ff0a2b2:                     # |x| >= 1.5 ln2
            k = int(INVLN2 * x + (-0.5 if sign else 0.5))   # truncated toward zero
        else:
            k = 1 - sign - sign
        hi = x - float(k) * LN2_HI                # exact
        lo = float(k) * LN2_LO
        x = hi - lo
    elif hx_ > 0x3e300000:                        # |x| > 2^-28
        k = 0
        hi = x
        lo = 0.0
    else:
        return 1.0 + x
    xx = x * x
    c = x - xx * (P1 + xx * (P2 + xx * (P3 + xx * (P4 + xx * P5))))
    y = 1.0 + (x * c / (2.0 - c) - lo + hi)
    return y if k == 0 else scalbn(y, k)


# ---------------------------------------------------------------- the random stream

class Rng:
    """SplitMix64 seeded from u64_le(blake2_256(tag ‖ seed)[0..8])."""

    def __init__(self, tag: bytes, seed: bytes):
        self.state = struct.unpack('<Q', b2(tag, seed)[:8])[0]

    def next_u64(self) -> int:
        self.state = (self.state + 0x9e3779b97f4a7c15) & M64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        return z ^ (z >> 31)

    def uniform(self) -> float:
        """The top 53 bits of next_u64, times 2^-53: in [0, 1), exactly."""
        return float(self.next_u64() >> 11) * (1.0 / float(1 << 53))

    def below(self, n: int) -> int:
        return self.next_u64() % n

    def normal(self) -> float:
        """Marsaglia's polar method; the second variate is dropped."""
        while True:
            u = 2.0 * self.uniform() - 1.0
            v = 2.0 * self.uniform() - 1.0
            s = u * u + v * v
            if 0.0 < s < 1.0:
                return u * math.sqrt(-2.0 * libm_log(s) / s)

    def gamma(self, alpha: float) -> float:
        """Marsaglia–Tsang, boosted for alpha < 1."""
        if alpha < 1.0:
            u = 1.0 - self.uniform()
            return self.gamma(alpha + 1.0) * libm_exp(libm_log(u) / alpha)
        d = alpha - 1.0 / 3.0
        c = 1.0 / math.sqrt(9.0 * d)
        while True:
            x = self.normal()
            t = 1.0 + c * x
            v = t * t * t
            if v <= 0.0:
                continue
            u = 1.0 - self.uniform()
            if libm_log(u) < 0.5 * x * x + d - d * v + d * libm_log(v):
                return d * v

    def shuffle(self, items: list) -> None:
        """Fisher–Yates from the end: for i = len−1 down to 1, swap i with below(i + 1)."""
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


# ---------------------------------------------------------------- data

TAG_SPLIT = b'pol-worker-split'
TAG_SYNTHETIC = b'pol-worker-synthetic'
TAG_INIT = b'pol-worker-init'


def split(task_id: int, labels: list, num_shards: int, partition: str, alpha: float, validation: float):
    n = len(labels)
    rng = Rng(TAG_SPLIT, u64(task_id))
    order = list(range(n))
    rng.shuffle(order)
    parts = int(min(max(round_half_away(validation * 1e9), 0.0), 1e9))   # a Perbill
    n_val = n * parts // 1_000_000_000
    val, train = order[:n_val], order[n_val:]
    shards = [[] for _ in range(num_shards)]
    if partition == 'iid':
        for i, s in enumerate(train):
            shards[i % num_shards].append(s)
    else:
        classes = max(labels) + 1
        for c in range(classes):
            members = [s for s in train if labels[s] == c]
            weights = [rng.gamma(alpha) for _ in range(num_shards)]
            total = 0.0
            for w in weights:
                total += w
            cut_prev, acc = 0, 0.0
            for k, w in enumerate(weights):
                acc += w
                if k + 1 == num_shards or total <= 0.0:
                    cut = len(members)
                else:
                    cut = as_usize(round_half_away((acc / total) * float(len(members))))
                cut = min(max(cut, cut_prev), len(members))
                shards[k].extend(members[cut_prev:cut])
                cut_prev = cut
        for shard in shards:
            shard.sort()
    return val, shards


def synthetic(seed: int, samples: int, features: int, classes: int):
    rng = Rng(TAG_SYNTHETIC, u64(seed))
    centres = [1.5 * rng.normal() for _ in range(classes * features)]
    labels = [i % classes for i in range(samples)]
    rng.shuffle(labels)
    x = []
    for label in labels:
        for f in range(features):
            x.append(f32(centres[label * features + f] + rng.normal()))
    return x, labels


# ---------------------------------------------------------------- models

def model_shapes(spec: str):
    """The parameters of a model spec, sorted by name (byte order): [(name, dims)]."""
    shapes = []
    if spec.startswith('mlp:'):
        widths = [int(w) for w in spec[4:].split('-')]
        for i in range(len(widths) - 1):
            shapes.append((f'fc{i}.weight', [widths[i + 1], widths[i]]))
            shapes.append((f'fc{i}.bias', [widths[i + 1]]))
    elif spec.startswith('cnn:'):
        parts = spec[4:].split('-')
        h, w, c = (int(d) for d in parts[0].split('x'))
        for i, p in enumerate(parts[1:-1]):
            out = int(p[1:])
            shapes.append((f'conv{i}.weight', [out, c, 3, 3]))
            shapes.append((f'conv{i}.bias', [out]))
            c, h, w = out, h // 2, w // 2
        classes = int(parts[-1])
        shapes.append(('fc.weight', [classes, c * h * w]))
        shapes.append(('fc.bias', [classes]))
    else:
        raise ValueError(spec)
    return sorted(shapes, key=lambda s: s[0].encode())


def fan_in(shapes, name: str) -> int:
    layer = name.rsplit('.', 1)[0] if '.' in name else name
    for n, dims in shapes:
        if n == layer + '.weight':
            return max(math.prod(dims[1:]), 1)
    return 1


def init_params(shapes, seed: int):
    out = []
    for name, dims in shapes:
        bound = 1.0 / math.sqrt(float(fan_in(shapes, name)))
        preimage = u64(seed) + name.encode()
        rng = Rng(TAG_INIT, preimage)
        state = rng.state
        values = [f32((2.0 * rng.uniform() - 1.0) * bound) for _ in range(math.prod(dims))]
        out.append({'name': name, 'dims': dims, 'fan_in': fan_in(shapes, name), 'bound': bound,
                    'seed': preimage, 'state': state, 'values': values})
    return out


def model_hash(tensors) -> bytes:
    """pol_primitives' model hash of f32 tensors (design: "Hashes and encodings")."""
    h = hashlib.blake2b(digest_size=32)
    for t in sorted(tensors, key=lambda t: t['name'].encode()):
        name = t['name'].encode()
        h.update(struct.pack('<I', len(name)) + name + bytes([0]) + struct.pack('<I', len(t['dims'])))
        for d in t['dims']:
            h.update(u64(d))
        h.update(struct.pack('<%df' % len(t['values']), *t['values']))
    return h.digest()


# ---------------------------------------------------------------- digits

DIGITS_SHA256 = {
    'x.npy': 'b0d9a6a65c36bccf6bd5b34d26cf32ab7e9c7a624dfa0c11ada280e21a73125f',
    'y.npy': '0e1c5e26d7ec59f910975e2cd61b6b76bc67b4bfaa8a4233726a6038d8e62a2c',
}


def read_npy(path: Path):
    """A C-order .npy file (version 1): (descr, shape, data bytes)."""
    b = path.read_bytes()
    assert b[:6] == b'\x93NUMPY' and b[6] == 1, path
    n = struct.unpack('<H', b[8:10])[0]
    header = b[10:10 + n].decode()
    d = ast.literal_eval(header)                 # a Python dict literal, numpy's own format
    assert not d['fortran_order']
    return d['descr'], d['shape'], b[10 + n:]


def digits_dir() -> Path:
    root = os.environ.get('POL_DATA') or str(Path.home() / '.cache' / 'polchain' / 'data')
    return Path(root) / 'digits'


def list_digest(indices) -> str:
    return hx(b2(b''.join(u64(i) for i in indices)))


def digits_vectors():
    d = digits_dir()
    for f, want in DIGITS_SHA256.items():
        got = hashlib.sha256((d / f).read_bytes()).hexdigest()
        if got != want:
            sys.exit(f'{d / f}: SHA-256 {got}, not the canonical export {want} (scripts/setup.sh)')
    xd, xs, xb = read_npy(d / 'x.npy')
    yd, ys, yb = read_npy(d / 'y.npy')
    assert (xd, xs, yd, ys) == ('<f4', (1797, 64), '<i8', (1797,)), (xd, xs, yd, ys)
    labels = list(struct.unpack('<1797q', yb))
    x0 = struct.unpack('<64f', xb[:256])
    v = {'about': 'The canonical digits export (scripts/data/export_digits.py): x.npy <f4 [1797, 64], '
                  'pixel / 16; y.npy <i8 [1797]. Splits: first indices, lengths, and blake2_256 of the '
                  'concatenated u64_le indices of each list.',
         'sha256': DIGITS_SHA256, 'first_labels': labels[:16],
         'first_sample': [jf32(v) for v in x0], 'splits': []}
    for name, task, shards, part, alpha in [('golden runs', 1, 1, 'iid', 1.0),
                                           ('digits-mlp.toml', 1, 5, 'dirichlet', 0.5),
                                           ('digits-cnn.toml', 2, 4, 'iid', 1.0),
                                           ('digits-demo.toml as the chain\'s task 0', 0, 4, 'iid', 1.0),
                                           ('the worker tests\' TASK', 42, 5, 'dirichlet', 0.5)]:
        val, sh = split(task, labels, shards, part, alpha, 0.2)
        v['splits'].append({
            'what': name, 'task_id': str(task), 'num_shards': shards, 'partition': part, 'alpha': alpha,
            'validation': 0.2,
            'output': {'validation': {'len': len(val), 'first': val[:8], 'digest': list_digest(val)},
                       'shards': [{'len': len(s), 'first': s[:8], 'digest': list_digest(s)} for s in sh]}})
    return v


# ---------------------------------------------------------------- the vectors

def stream_case(tag: bytes, seed: bytes):
    fresh = lambda: Rng(tag, seed)
    r = fresh()
    case = {'tag': hx(tag), 'seed': hx(seed), 'state': str(r.state),
            'next_u64': [str(r.next_u64()) for _ in range(6)]}
    r = fresh()
    case['uniform'] = [jf64(r.uniform()) for _ in range(6)]
    r = fresh()
    case['normal'] = [jf64(r.normal()) for _ in range(6)]
    case['gamma'] = []
    for alpha in (0.3, 1.0, 2.5):
        r = fresh()
        draws = [jf64(r.gamma(alpha)) for _ in range(4)]
        case['gamma'].append({'alpha': jf64(alpha), 'draws': draws, 'then_next_u64': str(r.next_u64())})
    return case


def libm_cases():
    """Arguments the protocol reaches, edge cases, and some where log and exp are not correctly
    rounded (found by --mpmath)."""
    log_args = [1.0, 0.5, 2.0, 1e-300, 5e-324, 0.7071067811865476, 1.4142135623730951, 0.9999999999999999,
                2.0 ** -53, 0.1, 0.3, 0.75, 1.5, 2.5, 3.0, 10.0, 123.456, 1e300, 0.36787944117144233]
    # Where log is 1 ulp from the correctly rounded value (mpmath): a correctly rounded log fails.
    log_args += [from_bits64(b) for b in (0x3fe7af4bd98ecc12, 0x3fe62ca75e4fe759, 0x3fe641f8dd2ae765,
                                          0x3fd8e1675f4da79e, 0x401543fabc1eb5f0, 0x4005e785d90cf500)]
    # Where fdlibm's e_log.c (Java's StrictMath.log, V8's Math.log) gives other bits.
    log_args += [from_bits64(b) for b in (0x4019cb655df8ad71, 0x3ffa28e8dd4bfe78, 0x3ff6c56d4102596f)]
    exp_args = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1e-9, -1e-9, 0.34657359027997264, -0.3465735902799726,
                1.0397207708399179, -1.0397207708399179, -2.302585092994046, -10.0, -36.7368005696771,
                -100.0, -700.0, -708.5, -709.1, -744.0, -745.1, -745.2, 709.0, 709.8, 3.0, -20.5]
    # Where exp is 1 ulp from the correctly rounded value (mpmath).
    exp_args += [from_bits64(b) for b in (0xc085f317d0565253, 0xc0842d3572fd0744, 0xbfe2b4b0897250b2,
                                          0xbfebae85bbaca24a, 0xc0759050aeb2db22, 0x4085579800776ff4)]
    rng = Rng(b'pol-vectors', b'libm')
    for _ in range(12):
        log_args.append(1.0 - rng.uniform())
        exp_args.append(libm_log(1.0 - rng.uniform()) / (0.05 + rng.uniform()))
    return ([{'x': jf64(x), 'y': jf64(libm_log(x))} for x in log_args],
            [{'x': jf64(x), 'y': jf64(libm_exp(x))} for x in exp_args])


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else \
        Path(__file__).resolve().parents[2] / 'ml-worker' / 'golden' / 'derivations.json'
    v = {'about': 'Generated by scripts/vectors/gen_worker_vectors.py from docs/PROTOCOL.md with the '
                  'Python standard library. Integers that may exceed 2^53 are decimal strings; an f64 is '
                  '{bits: 16 hex digits of its IEEE 754 bits, value: a decimal that reads back to it}, an f32 '
                  'likewise with 8 hex digits. Byte strings are 0x-prefixed hex. Do not edit by hand.'}

    log_cases, exp_cases = libm_cases()
    v['libm'] = {'log': log_cases, 'exp': exp_cases}

    v['rng'] = [stream_case(b'pol-test', b'vectors'),
                stream_case(TAG_SPLIT, u64(7)),
                stream_case(TAG_SYNTHETIC, u64(3))]

    # The sequence data.rs's random_draws_are_pinned_bit_for_bit pins: four normals, then
    # Gamma(0.3), Gamma(1), Gamma(4), from one stream; then the stream's next 64 bits.
    r = Rng(b'pol-test', b'vectors')
    seq = [r.normal() for _ in range(4)] + [r.gamma(a) for a in (0.3, 1.0, 4.0)]
    v['rng_sequence'] = {'tag': hx(b'pol-test'), 'seed': hx(b'vectors'),
                         'draws': ['normal'] * 4 + ['gamma 0.3', 'gamma 1', 'gamma 4'],
                         'output': [jf64(x) for x in seq], 'then_next_u64': str(r.next_u64())}

    v['split'] = []
    small = [i % 5 for i in range(50)]
    skewed = [(i * 7) % 4 if i % 3 else 0 for i in range(41)]
    for task, labels, shards, part, alpha, val in [(7, small, 3, 'iid', 1.0, 0.2),
                                                   (7, small, 3, 'dirichlet', 0.5, 0.2),
                                                   (7, small, 3, 'dirichlet', 2.5, 0.2),
                                                   (8, small, 4, 'dirichlet', 0.1, 0.333),
                                                   (9, skewed, 2, 'iid', 1.0, 0.0),
                                                   (10, skewed, 3, 'dirichlet', 1.0, 0.5)]:
        vi, sh = split(task, labels, shards, part, alpha, val)
        v['split'].append({'task_id': str(task), 'labels': labels, 'num_shards': shards, 'partition': part,
                           'alpha': alpha, 'validation': val, 'output': {'validation': vi, 'shards': sh}})

    v['synthetic'] = []
    for seed, samples, features, classes in [(3, 6, 4, 3), (7, 5, 2, 2)]:
        x, labels = synthetic(seed, samples, features, classes)
        v['synthetic'].append({'seed': str(seed), 'samples': samples, 'features': features, 'classes': classes,
                               'output': {'labels': labels, 'x': [jf32(e) for e in x]}})

    v['init'] = []
    for spec, seed, show in [('mlp:4-3-2', 0, None), ('mlp:4-3-2', 5, None), ('cnn:4x4x1-c2-3', 0, None),
                             ('cnn:5x6x2-c2-c3-4', 1, None), ('mlp:64-64-10', 0, 4),
                             ('cnn:8x8x1-c8-c16-10', 0, 4)]:
        params = init_params(model_shapes(spec), seed)
        v['init'].append({
            'spec': spec, 'seed': str(seed), 'tag': hx(TAG_INIT),
            'model_hash': hx(model_hash(params)),
            'tensors': [{'name': p['name'], 'dims': p['dims'], 'fan_in': p['fan_in'], 'bound': jf64(p['bound']),
                         'stream_seed': hx(p['seed']), 'state': str(p['state']),
                         'count': len(p['values']),
                         'first' if show else 'values': [jf32(x) for x in p['values'][:show]]}
                        for p in params]})

    v['digits'] = digits_vectors()

    out.write_text(json.dumps(v, indent=1, ensure_ascii=False) + '\n')
    print(f'wrote {out}')


# ---------------------------------------------------------------- checks against mpmath

def against_mpmath(count: int):
    """Each port against mpmath's correctly rounded value on `count` random arguments in the
    ranges the protocol reaches and beyond; prints how many differ and by how many ulps."""
    import random
    import mpmath
    mpmath.mp.prec = 200

    def cr(fn, x):
        return float(mpmath.nstr(fn(mpmath.mpf(x)), 60))   # 60 digits, then rounded once

    def ulps(a, b):
        key = lambda x: bits64(x) if bits64(x) < 1 << 63 else -(bits64(x) & ~(1 << 63))
        return abs(key(a) - key(b))

    rnd = random.Random(20240607)
    ranges = {
        'log': [('uniform (0,1] as the stream makes it', lambda: 1.0 - float(rnd.getrandbits(53)) * 2.0 ** -53),
                ('s of the polar method, (0,1)', lambda: rnd.random() ** 2 + rnd.random() ** 2 or 0.5),
                ('v of Marsaglia–Tsang, (0, 8)', lambda: rnd.uniform(1e-6, 8.0)),
                ('any positive double', lambda: from_bits64(rnd.getrandbits(63) % 0x7ff0000000000000 or 1))],
        'exp': [('log(u)/alpha, [-40/0.05, 0]', lambda: -rnd.random() * 800.0),
                ('[-1, 1]', lambda: rnd.uniform(-1.0, 1.0)),
                ('[-745.2, 709.7]', lambda: rnd.uniform(-745.2, 709.7))],
    }
    fns = {'log': (libm_log, mpmath.log, math.log), 'exp': (libm_exp, mpmath.exp, math.exp)}
    report = {}
    for name, rs in ranges.items():
        port, exact, libc = fns[name]
        for what, gen in rs:
            n = count // len(rs)
            off1 = off_more = libc_off = port_vs_libc = 0
            examples = []
            for _ in range(n):
                x = gen()
                if name == 'log' and not x > 0.0:
                    continue
                y, want, c = port(x), cr(exact, x), libc(x)
                d = ulps(y, want)
                if d == 1:
                    off1 += 1
                    if len(examples) < 3:
                        examples.append('%016x' % bits64(x))
                elif d > 1:
                    off_more += 1
                libc_off += c != want
                port_vs_libc += c != y
            report[f'{name} on {what}'] = {
                'inputs': n, 'port 1 ulp from correctly rounded': off1, 'port >1 ulp': off_more,
                'math module (libc) not correctly rounded': libc_off,
                'port differs from math module': port_vs_libc, 'examples (x bits)': examples}
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--mpmath':
        against_mpmath(int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    else:
        main()
