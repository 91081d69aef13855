#!/usr/bin/env python3
"""Exports the UCI handwritten digits (8x8 images, 1,797 samples) from the copy scikit-learn
ships, for the worker's `digits` data set. Nothing is downloaded.

Writes <out>/digits/x.npy (float32, shape [1797, 64], pixel values / 16 so they lie in [0, 1])
and <out>/digits/y.npy (int64 labels 0..9), plus meta.json with their SHA-256, so the worker
can tell a corrupt or foreign copy from the real one.

Usage: export_digits.py <out-dir>
"""
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else '.') / 'digits'
    out.mkdir(parents=True, exist_ok=True)
    d = load_digits()
    x = (d.data.astype(np.float32) / np.float32(16.0)).reshape(len(d.data), 64)
    y = d.target.astype(np.int64)
    np.save(out / 'x.npy', x, allow_pickle=False)
    np.save(out / 'y.npy', y, allow_pickle=False)
    meta = {
        'name': 'uci-digits',
        'samples': int(x.shape[0]),
        'features': int(x.shape[1]),
        'classes': int(y.max() + 1),
        'source': 'sklearn.datasets.load_digits',
        'sha256': {f: hashlib.sha256((out / f).read_bytes()).hexdigest() for f in ('x.npy', 'y.npy')},
    }
    (out / 'meta.json').write_text(json.dumps(meta, indent=1) + '\n')
    print(f'wrote {out} ({meta["samples"]} samples)')


if __name__ == '__main__':
    main()
