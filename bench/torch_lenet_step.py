#!/usr/bin/env python3
"""Time one LeNet-5 SGD step in PyTorch (CPU, eager) for the xbarc benchmark comparison.

Same step as xbarc's ideal LeNet-5 training graph: forward, softmax cross-entropy, backward,
SGD-with-momentum update, on a fixed random batch. Prints one JSON line:
{"epochSeconds": ... | null, "medianMs": ..., "minMs": ..., "reps": ..., "threads": ..., "torch": "<version>"}
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def lenet5(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--epoch-steps", type=int, default=0,
                        help="also time this many consecutive steps (an epoch) after the timed reps")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = lenet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randn(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    samples = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step()
        samples.append((time.perf_counter() - t0) * 1000.0)

    epoch_seconds = None
    if args.epoch_steps > 0:
        t0 = time.perf_counter()
        for _ in range(args.epoch_steps):
            step()
        epoch_seconds = time.perf_counter() - t0

    print(json.dumps({
        "epochSeconds": epoch_seconds,
        "medianMs": statistics.median(samples),
        "minMs": min(samples),
        "reps": args.reps,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }))


if __name__ == "__main__":
    main()
