#!/usr/bin/env python3
"""Prints the weight of closing one round at the runtime's bounds, from the generated weights
files: the task registry's close_round, scoring's on_round_end and on_round_start, and rewards'
reward_round (docs/PERFORMANCE.md). Run from the repository root:

    python3 scripts/weights/round-close.py

Weight = compute + reads x 8 us + writes x 50 us (ParityDbWeight); a block is 1 s of reference
time.
"""
import re

READ_PS = 8_000_000
WRITE_PS = 50_000_000
BLOCK_PS = 1_000_000_000_000

# The runtime's bounds: MaxMinersPerTask, MaxScorers; 256 proposers is a conservative stand-in
# for the 64 scorers that may propose.
MINERS, SCORERS = 256, 64
PARTS = [
    ("pallets/task-registry/src/weights.rs", "close_round", dict(u=MINERS, p=MINERS, m=MINERS)),
    ("pallets/scoring/src/weights.rs", "on_round_end", dict(m=MINERS, v=SCORERS, d=MINERS, u=0)),
    ("pallets/rewards/src/weights.rs", "reward_round", dict(m=MINERS, v=SCORERS)),
    ("pallets/scoring/src/weights.rs", "on_round_start", {}),
]


def body(path, name):
    """The text of `name` in the runtime's implementation (SubstrateWeight) of `path`."""
    text = open(path).read()
    start = text.index("impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T>")
    at = text.index("fn %s(" % name, start)
    return text[at : text.index("\n\t}\n", at)]


def params(path, name):
    """The component names of `name`, in order."""
    text = body(path, name)
    head = text[: text.index(")")]
    return re.findall(r"(\w+): u32", head)


def evaluate(path, name, comp):
    """(compute ps, reads, writes) of `name` at the components `comp`."""
    text = body(path, name)
    num = lambda s: int(s.replace("_", ""))
    compute = num(re.search(r"Weight::from_parts\(([\d_]+), \d+\)\n", text).group(1))
    for c, v in re.findall(r"Weight::from_parts\(([\d_]+), 0\)\.saturating_mul\((\w+)\.into\(\)\)", text):
        compute += num(c) * comp[v]
    reads = sum(num(c) for c in re.findall(r"reads\(([\d_]+)_u64\)\)", text))
    reads += sum(num(c) * comp[v] for c, v in re.findall(r"reads\(\(([\d_]+)_u64\)\.saturating_mul\((\w+)\.into\(\)\)\)", text))
    writes = sum(num(c) for c in re.findall(r"writes\(([\d_]+)_u64\)\)", text))
    writes += sum(num(c) * comp[v] for c, v in re.findall(r"writes\(\(([\d_]+)_u64\)\.saturating_mul\((\w+)\.into\(\)\)\)", text))
    return compute, reads, writes


def main():
    total = [0, 0, 0]
    print("| part (benchmark and components) | compute | DB reads | DB writes | weight | share of the block |")
    print("|---|---|---|---|---|---|")
    for path, name, comp in PARTS:
        names = params(path, name)
        missing = [n for n in names if n not in comp]
        if missing:
            raise SystemExit("%s in %s has components %s this script does not set" % (name, path, missing))
        compute, reads, writes = evaluate(path, name, comp)
        weight = compute + reads * READ_PS + writes * WRITE_PS
        args = ", ".join(str(comp[n]) for n in names)
        print("| %s(%s) | %.1f ms | %d | %d | %.1f ms | %.1f%% |" % (
            name, args, compute / 1e9, reads, writes, weight / 1e9, 100 * weight / BLOCK_PS))
        total = [total[0] + compute, total[1] + reads, total[2] + writes]
    weight = total[0] + total[1] * READ_PS + total[2] * WRITE_PS
    print("| **one round closed at the bounds** | %.1f ms | %d | %d | **%.1f ms** | **%.1f%%** |" % (
        total[0] / 1e9, total[1], total[2], weight / 1e9, 100 * weight / BLOCK_PS))


if __name__ == "__main__":
    main()
