"""GE2E speaker embeddings (256-d): the LSTM voice encoder whose weights ship in ``resemblyzer``.

A 3-layer LSTM of 256 units over 40 linear mel energies, then a linear layer and ReLU (Wan et
al., 2018, as resemblyzer 0.1.4 trains it). Our own definition, loading resemblyzer's
``pretrained.pt``; it matches resemblyzer's ``VoiceEncoder`` to 2e-7 on 16 kHz input. The mel
energies are linear, so loudness matters: each window is scaled to -30 dBFS first, as
resemblyzer scales each utterance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .features import frame_of, frame_power, ge2e_mels

#: The loudness the encoder was trained at.
TARGET_DBFS = -30.0
BATCH = 64


class Ge2eNet(nn.Module):
    """The GE2E LSTM encoder (parameter names as in resemblyzer's checkpoint)."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(40, 256, 3, batch_first=True)
        self.linear = nn.Linear(256, 256)

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        _, (hidden, _) = self.lstm(mels)
        return F.relu(self.linear(hidden[-1]))


class Ge2eEncoder:
    """L2-normalised GE2E embeddings of windows of a signal (the regions are not needed)."""

    name = "ge2e"
    dimension = 256

    def __init__(self, net: Ge2eNet) -> None:
        self.net = net.eval()

    def embed(
        self, samples: np.ndarray, windows: Sequence[tuple[float, float]], regions: Sequence[tuple[float, float]] = ()
    ) -> np.ndarray:
        """Embeddings (n, 256) of ``windows`` (seconds)."""
        out = np.zeros((len(windows), self.dimension), dtype=np.float32)
        if not windows:
            return out
        mels = ge2e_mels(samples)
        power = frame_power(samples, len(mels))
        spans = [(frame_of(a), max(frame_of(a) + 1, min(frame_of(b), len(mels)))) for a, b in windows]
        target = 10 ** (TARGET_DBFS / 10)
        by_length: dict[int, list[int]] = {}
        for i, (a, b) in enumerate(spans):
            by_length.setdefault(b - a, []).append(i)
        for positions in by_length.values():
            for k in range(0, len(positions), BATCH):
                batch = positions[k : k + BATCH]
                stacked = np.stack([mels[spans[i][0] : spans[i][1]] for i in batch])
                level = np.array([power[spans[i][0] : spans[i][1]].mean() for i in batch])
                gain = target / np.maximum(level, 1e-12)
                with torch.inference_mode():
                    raw = self.net(torch.from_numpy((stacked * gain[:, None, None]).astype(np.float32)))
                out[batch] = F.normalize(raw, dim=1).numpy()
        return out
