#!/usr/bin/env python3
"""One epoch of batch-1 SGD on a 784-H-10 MLP in plain numpy (float32), for xbarc's online bench.

The same run as xbarc's ideal training loop (bench/online.bench.ts): the bench writes, into the
directory given as the argument, the initial weights (xbarc's seeded initialization), the
samples in the epoch's visiting order and the labels; this script trains on them sample by
sample — forward (x·W1 + b1, ReLU, ·W2 + b2), softmax cross-entropy, backward, W ← W − lr·dW,
every array float32 — writes its final weights next to them (final_*.f32) and prints one JSON
line: {"seconds": <training loop only>, "cpuSeconds": <its CPU time>, "samples": ..., "trainLoss": <mean>,
"numpy": "<version>"}.

Files (raw little-endian, row-major): meta.json {"samples", "inputs", "hidden", "classes", "lr"},
x.f32 [samples × inputs], y.i32 [samples], fc1_weight.f32 [inputs × hidden], fc1_bias.f32,
fc2_weight.f32 [hidden × classes], fc2_bias.f32.
"""

import json
import os
import sys
import time

import numpy as np


def load(folder: str, name: str, dtype, shape) -> np.ndarray:
    return np.fromfile(os.path.join(folder, name), dtype=dtype).reshape(shape)


def main() -> None:
    folder = sys.argv[1]
    with open(os.path.join(folder, "meta.json"), encoding="utf8") as f:
        meta = json.load(f)
    n, k, h, c = meta["samples"], meta["inputs"], meta["hidden"], meta["classes"]
    x_all = load(folder, "x.f32", np.float32, (n, 1, k))
    y_all = load(folder, "y.i32", np.int32, (n,))
    w1 = load(folder, "fc1_weight.f32", np.float32, (k, h)).copy()
    b1 = load(folder, "fc1_bias.f32", np.float32, (h,)).copy()
    w2 = load(folder, "fc2_weight.f32", np.float32, (h, c)).copy()
    b2 = load(folder, "fc2_bias.f32", np.float32, (c,)).copy()
    lr = np.float32(meta["lr"])
    onehot = np.eye(c, dtype=np.float32)

    loss_sum = 0.0
    t0 = time.perf_counter()
    c0 = time.process_time()
    for i in range(n):
        x = x_all[i]
        hidden = x @ w1 + b1
        a = np.maximum(hidden, np.float32(0))
        z = a @ w2 + b2
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        target = onehot[y_all[i : i + 1]]
        loss_sum += float(-(target * logp).sum())
        dz = np.exp(logp) - target  # mean over a batch of 1
        dw2 = a.T @ dz
        db2 = dz.sum(axis=0)
        dh = (dz @ w2.T) * (hidden > 0)
        dw1 = x.T @ dh
        db1 = dh.sum(axis=0)
        w1 -= lr * dw1
        b1 -= lr * db1
        w2 -= lr * dw2
        b2 -= lr * db2
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - c0

    for name, value in (("fc1_weight", w1), ("fc1_bias", b1), ("fc2_weight", w2), ("fc2_bias", b2)):
        value.astype(np.float32).tofile(os.path.join(folder, f"final_{name}.f32"))
    print(json.dumps({"seconds": seconds, "cpuSeconds": cpu_seconds, "samples": n, "trainLoss": loss_sum / n, "numpy": np.__version__}))


if __name__ == "__main__":
    main()
