#!/usr/bin/env python3
"""Time ResNet training in PyTorch (CPU, eager) for the xbarc scale benchmark (bench/scale.bench.ts).

The networks are xbarc's stdlib ones, layer for layer: convolutions without bias, batchnorm
(momentum 0.1, eps 1e-5), basic blocks whose downsampling shortcut is a strided 1x1 conv + batchnorm,
global average pooling, a dense classifier with bias; SGD with momentum 0.9, mean cross-entropy.

  resnet20 --data DIR: one epoch over DIR/data_batch_1.bin (CIFAR-10 binary records, the bench's
      synthetic set) in shuffled batches, after one untimed warm-up step, then an evaluation pass
      over DIR/test_batch.bin (no gradients, running statistics).
  resnet18: training steps on a fixed random batch of 3x224x224 images (1000 classes).

Prints one JSON line with the times (ms) and the peak resident set size of this process (KiB,
getrusage ru_maxrss).
"""

import argparse
import json
import resource
import statistics
import time

import numpy as np
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


def stages(widths: list, blocks: int, cin: int) -> nn.Sequential:
    layers = []
    for i, w in enumerate(widths):
        for b in range(blocks):
            layers.append(Block(cin, w, 2 if (b == 0 and i > 0) else 1))
            cin = w
    return nn.Sequential(*layers)


def resnet20(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        stages([16, 32, 64], 3, 16),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes),
    )


def resnet18(classes: int = 1000) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        stages([64, 128, 256, 512], 2, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes),
    )


def read_cifar(path: str) -> tuple:
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    labels = torch.from_numpy(raw[:, 0].astype(np.int64))
    x = torch.from_numpy(raw[:, 1:].astype(np.float32).reshape(-1, 3, 32, 32) / 255.0)
    return (x - 0.5) / 0.25, labels


def peak_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=["resnet20", "resnet18"])
    parser.add_argument("--data", help="directory with data_batch_1.bin and test_batch.bin (resnet20)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--eval-batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3, help="timed steps (resnet18)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = resnet20() if args.model == "resnet20" else resnet18()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    def step(x: torch.Tensor, y: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        optimizer.step()

    out = {"torch": torch.__version__, "threads": torch.get_num_threads(), "model": args.model}
    if args.model == "resnet20":
        x, y = read_cifar(f"{args.data}/data_batch_1.bin")
        xt, yt = read_cifar(f"{args.data}/test_batch.bin")
        model.train()
        step(x[: args.batch], y[: args.batch])  # warm-up, untimed
        order = torch.randperm(len(y))
        t0 = time.perf_counter()
        for b in range(0, len(y), args.batch):
            idx = order[b:b + args.batch]
            step(x[idx], y[idx])
        out["epochMs"] = (time.perf_counter() - t0) * 1000.0
        out["trainImages"] = len(y)
        model.eval()
        t0 = time.perf_counter()
        with torch.no_grad():
            for b in range(0, len(yt), args.eval_batch):
                model(xt[b:b + args.eval_batch])
        out["evalMs"] = (time.perf_counter() - t0) * 1000.0
        out["testImages"] = len(yt)
    else:
        x = torch.randn(args.batch, 3, 224, 224)
        y = torch.randint(0, 1000, (args.batch,))
        model.train()
        step(x, y)  # warm-up, untimed
        samples = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            step(x, y)
            samples.append((time.perf_counter() - t0) * 1000.0)
        out["stepMs"] = statistics.median(samples)
        out["minStepMs"] = min(samples)
    out["peakRssKiB"] = peak_kib()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
