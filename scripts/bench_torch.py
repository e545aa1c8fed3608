"""PyTorch twins of the benchmark's Keras models, trained the plain eager way.

What a PyTorch user would write: `nn` modules, Adam, cross-entropy, batches
sliced from tensors in a reshuffled order each epoch; float32, or bfloat16
autocast. Imported only when torch is installed (`pip install -e '.[bench]'`).
"""

import time

import numpy as np
import torch
from bench_models import VOCABULARY
from torch import nn


class _LastState(nn.Module):
    """LSTM over embedded tokens, returning the last hidden state (Keras's LSTM default)."""

    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(VOCABULARY, 64)
        self.lstm = nn.LSTM(64, 64, batch_first=True)

    def forward(self, tokens):
        _, (hidden, _) = self.lstm(self.embedding(tokens))
        return hidden[-1]


def twin(name):
    """The PyTorch model matching `bench_models.BUILDERS[name]`; it outputs logits
    (CrossEntropyLoss applies the softmax that the Keras models end with)."""
    if name == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(5 * 5 * 64, 10),
        )
    if name == "mlp":
        return nn.Sequential(nn.Linear(30, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 2))
    return nn.Sequential(_LastState(), nn.Linear(64, 2))


def throughput(name, features, labels, batch, epochs, bf16=False):
    """Examples per second over `epochs` epochs, after one warm-up epoch."""
    torch.manual_seed(0)
    model = twin(name)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    if name == "cnn":
        features = np.transpose(features, (0, 3, 1, 2))  # PyTorch's NCHW
    inputs = torch.from_numpy(np.ascontiguousarray(features))
    inputs = inputs.long() if name == "lstm" else inputs
    targets = torch.from_numpy(labels).long()

    def epoch():
        model.train()
        order = torch.randperm(len(targets))
        for start in range(0, len(targets), batch):
            index = order[start : start + batch]
            optimizer.zero_grad()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                loss = loss_fn(model(inputs[index]), targets[index])
            loss.backward()
            optimizer.step()

    epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    return epochs * len(targets) / (time.perf_counter() - start)


def version():
    return torch.__version__
