"""Batched decoding of Whisper windows on the model's device (greedy or beam search), without ``generate``.

`BatchDecoder` runs the decoder of a loaded transformers Whisper model step by step over a
batch of windows, with Whisper's timestamp rules applied to the whole batch at once on the
device (openai/whisper's ``ApplyTimestampRules``, vectorised):

* text and timestamps alternate in pairs: after a lone timestamp comes another timestamp or
  the end; after a pair comes text; the first token is a timestamp within the first second;
* timestamps never go back, and never past the window's end;
* when the timestamps together are likelier than the likeliest text token, a timestamp is taken.

Its own forward pass (`_Layers`) reads the weights of the transformers modules and keeps a
preallocated key/value cache, so one step is a few dozen kernels and no Python bookkeeping per
window: transformers' ``generate`` spent most of its time on the CPU (its logits processors and
beam bookkeeping; benchmarks/results/scale.md). Finished windows are dropped from the batch as
it runs. The same forward pass, teacher-forced, gives the alignment heads' cross-attention for
word times (`cross_attention`).

`BatchDecoder.decode` searches greedily, `BatchDecoder.beam_search` with beams as openai/whisper
does; `mediarag.transcribe.batched.WindowDecoder` picks one by its ``beam_size``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Windows whose decoding ended are taken out of the batch every this many steps (once at least
#: a quarter of it has ended): checking costs a device synchronisation.
COMPACT_EVERY = 8
#: The first timestamp may be at most this many 20-ms steps into the window (openai/whisper's
#: ``max_initial_timestamp`` of 1 s).
MAX_INITIAL_TIMESTAMP = 50


class _Layers:
    """The decoder's weights, read from a transformers ``WhisperForConditionalGeneration``, and
    a forward pass over them with a preallocated key/value cache."""

    def __init__(self, model: Any) -> None:
        decoder = model.model.decoder
        self.embed = decoder.embed_tokens.weight
        self.positions = decoder.embed_positions.weight
        self.embed_scale = float(getattr(decoder, "embed_scale", 1.0) or 1.0)
        self.layers = list(decoder.layers)
        self.norm = decoder.layer_norm
        self.heads = int(model.config.decoder_attention_heads)
        self.width = int(model.config.d_model)
        self.max_positions = int(model.config.max_target_positions)
        self.output = model.proj_out.weight

    def cross_cache(self, encoded: Any) -> list[tuple[Any, Any]]:
        """Each layer's cross-attention keys and values over the encoder output."""
        return [
            (self._split(layer.encoder_attn.k_proj(encoded)), self._split(layer.encoder_attn.v_proj(encoded)))
            for layer in self.layers
        ]

    def _split(self, x: Any) -> Any:
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.width // self.heads).transpose(1, 2)

    def _merge(self, x: Any) -> Any:
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.width)

    def forward(
        self,
        tokens: Any,
        start: int,
        self_cache: list[tuple[Any, Any]] | None,
        cross: list[tuple[Any, Any]],
        *,
        weights_of: dict[int, Sequence[int]] | None = None,
    ) -> tuple[Any, dict[int, Any]]:
        """The last layer's normalised output for ``tokens`` (batch, length) at positions
        ``start...``; keys and values written into ``self_cache`` (layers of
        ``(batch, heads, positions, head width)``) when given. ``cross`` may hold one window's
        keys and values for several consecutive rows of ``tokens`` (the beams of a beam search). ``weights_of`` names, per layer,
        heads whose cross-attention weights to return ``(batch, heads, length, frames)``."""
        import torch
        import torch.nn.functional as F

        length = tokens.shape[1]
        x = F.embedding(tokens, self.embed) * self.embed_scale + self.positions[start : start + length]
        causal = length > 1
        weights: dict[int, Any] = {}
        for index, (layer, (ck, cv)) in enumerate(zip(self.layers, cross)):
            attn = layer.self_attn
            h = layer.self_attn_layer_norm(x)
            q, k, v = self._split(attn.q_proj(h)), self._split(attn.k_proj(h)), self._split(attn.v_proj(h))
            if self_cache is not None:
                keys, values = self_cache[index]
                keys[:, :, start : start + length] = k
                values[:, :, start : start + length] = v
                k, v = keys[:, :, : start + length], values[:, :, : start + length]
            if causal and start:
                raise ValueError("a multi-token step must start at position 0")
            x = x + attn.out_proj(self._merge(F.scaled_dot_product_attention(q, k, v, is_causal=causal)))
            cross_attn = layer.encoder_attn
            h = layer.encoder_attn_layer_norm(x)
            q = self._split(cross_attn.q_proj(h))
            group = q.shape[0] // ck.shape[0]
            if group > 1:
                # the beams of one window read the same audio: their queries attend together
                rows, heads, width = q.shape[0], q.shape[1], q.shape[3]
                folded = q.view(ck.shape[0], group, heads, length, width).transpose(1, 2)
                folded = folded.reshape(ck.shape[0], heads, group * length, width)
                out = F.scaled_dot_product_attention(folded, ck, cv)
                out = out.view(ck.shape[0], heads, group, length, width).transpose(1, 2)
                attended = out.reshape(rows, heads, length, width)
            else:
                attended = F.scaled_dot_product_attention(q, ck, cv)
            x = x + cross_attn.out_proj(self._merge(attended))
            if weights_of and index in weights_of:
                heads = list(weights_of[index])
                scores = q[:, heads] @ ck[:, heads].transpose(-1, -2) / math.sqrt(q.shape[-1])
                weights[index] = torch.softmax(scores.float(), dim=-1)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        return self.norm(x), weights

    def logits(self, hidden: Any) -> Any:
        return (hidden @ self.output.T).float()


class _Stamps:
    """Where each row of a search stands in Whisper's timestamp pairs: whether its last and
    last-but-one tokens were timestamps, the highest timestamp index so far, and the last index
    its window allows (``ends``)."""

    def __init__(self, ends: Any, begin: int) -> None:
        import torch

        rows, device = ends.shape[0], ends.device
        # Before the first token counts as a timestamp (so the first timestamp opens a pair).
        self.last = torch.ones(rows, dtype=torch.bool, device=device)
        self.penult = torch.ones(rows, dtype=torch.bool, device=device)
        self.highest = torch.full((rows,), -1, dtype=torch.long, device=device)
        self.ends = ends
        self.begin = begin

    def advance(self, token: Any, source: Any = None) -> None:
        """Take each row's next ``token``; ``source``: the row each row continues (beam search)."""
        import torch

        if source is not None:
            self.last, self.highest = self.last.index_select(0, source), self.highest.index_select(0, source)
        is_ts = token >= self.begin
        self.highest = torch.where(is_ts, token - self.begin, self.highest)
        self.penult, self.last = self.last, is_ts

    def keep(self, rows: Any) -> None:
        """Keep only ``rows`` (the rows still searching)."""
        self.last, self.penult = self.last[rows], self.penult[rows]
        self.highest, self.ends = self.highest[rows], self.ends[rows]


class BatchDecoder:
    """Greedy decoding or beam search with timestamps of a batch of windows, on the model's
    device.

    Args:
        model: a loaded ``WhisperForConditionalGeneration`` (its device and dtype are used).
    """

    def __init__(self, model: Any) -> None:
        import torch

        gen = model.generation_config
        self.layers = _Layers(model)
        self.eot = int(gen.eos_token_id if not isinstance(gen.eos_token_id, list) else gen.eos_token_id[0])
        self.timestamp_begin = int(gen.no_timestamps_token_id) + 1
        vocab = int(self.layers.output.shape[0])
        device = self.layers.output.device
        # Never sampled: the symbols Whisper's config suppresses, and every special token but
        # the end of text (start of transcript, languages, tasks, no timestamps...).
        banned = _token_mask(getattr(gen, "suppress_tokens", None), vocab)
        banned[self.eot + 1 : self.timestamp_begin] = True
        self.banned = banned.to(device)
        self.banned_first = _token_mask(getattr(gen, "begin_suppress_tokens", None), vocab).to(device) | self.banned
        self.vocab = vocab
        self.device = device

    # ------------------------------------------------------------------ language

    def languages(self, cross: list[tuple[Any, Any]], start_token: int, candidates: dict[int, str]) -> list[str]:
        """The likeliest language of each window: the language token the decoder rates highest
        after the start of transcript."""
        import torch

        batch = cross[0][0].shape[0]
        tokens = torch.full((batch, 1), start_token, dtype=torch.long, device=self.device)
        hidden, _ = self.layers.forward(tokens, 0, None, cross)
        logits = self.layers.logits(hidden[:, -1])
        ids = torch.tensor(list(candidates), device=self.device)
        best = ids[logits[:, ids].argmax(dim=-1)].tolist()
        return [candidates[int(i)] for i in best]

    # ------------------------------------------------------------------ decoding

    def decode(
        self,
        cross: list[tuple[Any, Any]],
        prompts: Sequence[Sequence[int]],
        durations: Sequence[float],
        max_new_tokens: Sequence[int],
    ) -> list[list[int]]:
        """The tokens each window's decoding adds after its prompt (timestamps included, the
        end of text not), greedily. All prompts have the same length; ``durations`` (seconds)
        bound each window's timestamps, ``max_new_tokens`` its length."""
        import torch

        batch = len(prompts)
        if batch == 0:
            return []
        limit = self._check(prompts, max_new_tokens)
        device, layers = self.device, self.layers
        cache = self._self_cache(batch, len(prompts[0]) + limit)
        out = torch.full((batch, limit), self.eot, dtype=torch.long, device=device)
        rows = torch.arange(batch, device=device)  # the batch rows still decoding, as rows of out
        stamps = _Stamps(self._ends(durations), self.timestamp_begin)
        done = torch.zeros(batch, dtype=torch.bool, device=device)
        caps = torch.tensor(list(max_new_tokens), dtype=torch.long, device=device)

        tokens = torch.tensor([list(p) for p in prompts], dtype=torch.long, device=device)
        position = 0
        for step in range(limit):
            hidden, _ = layers.forward(tokens, position, cache, cross)
            position += tokens.shape[1]
            token = self._rules(layers.logits(hidden[:, -1]), step, stamps).argmax(dim=-1)
            token = torch.where(done | (step >= caps), torch.full_like(token, self.eot), token)
            out[rows, step] = token
            stamps.advance(token)
            done = done | (token == self.eot)
            tokens = token[:, None]
            if (step + 1) % COMPACT_EVERY == 0:
                left = int((~done).sum())
                if left == 0:
                    break
                if left <= 0.75 * done.numel():
                    keep = (~done).nonzero().squeeze(1)
                    cache = [(k.index_select(0, keep), v.index_select(0, keep)) for k, v in cache]
                    cross = [(k.index_select(0, keep), v.index_select(0, keep)) for k, v in cross]
                    rows, tokens, done, caps = rows[keep], tokens[keep], done[keep], caps[keep]
                    stamps.keep(keep)
        return [self._until_end(row) for row in out.tolist()]

    def beam_search(
        self,
        cross: list[tuple[Any, Any]],
        prompts: Sequence[Sequence[int]],
        durations: Sequence[float],
        max_new_tokens: Sequence[int],
        beams: int,
    ) -> list[list[int]]:
        """As `decode`, by beam search with ``beams`` beams per window, the way openai/whisper's
        decoder searches: at each step the ``2 x beams`` best continuations of a window's beams
        are taken in order; one that ends the text joins the window's finished candidates, the
        others become its next beams (``beams`` of them); a window is done once it holds
        ``beams`` finished candidates (or reaches ``max_new_tokens``, its live beams then counting
        as finished); the candidate with the best log probability per token wins. Everything
        runs on the device, with no per-window work on the CPU between two steps."""
        import torch

        batch, k = len(prompts), beams
        if batch == 0:
            return []
        limit = self._check(prompts, max_new_tokens)
        device, layers, vocab = self.device, self.layers, self.vocab
        rows = batch * k
        cache = self._self_cache(rows, len(prompts[0]) + limit)
        history = torch.full((rows, limit), self.eot, dtype=torch.long, device=device)
        score = torch.zeros(rows, dtype=torch.float32, device=device)
        score.view(batch, k)[:, 1:] = -math.inf  # the beams start equal: continue the first only
        stamps = _Stamps(self._ends(durations).repeat_interleave(k), self.timestamp_begin)
        caps = torch.tensor(list(max_new_tokens), dtype=torch.long, device=device)
        # Finished candidates of each window (slot k takes what is not kept).
        finished_score = torch.full((batch, k + 1), -math.inf, dtype=torch.float32, device=device)
        finished = torch.full((batch, k + 1, limit), self.eot, dtype=torch.long, device=device)
        count = torch.zeros(batch, dtype=torch.long, device=device)
        items = torch.arange(batch, device=device)  # the windows still searching
        best_live: dict[int, tuple[float, list[int]]] = {}
        ranks = torch.arange(2 * k, device=device)[None, :]

        tokens = torch.tensor([list(p) for p in prompts], dtype=torch.long, device=device).repeat_interleave(k, 0)
        position = 0
        for step in range(limit):
            hidden, _ = layers.forward(tokens, position, cache, cross)
            position += tokens.shape[1]
            logits = self._rules(layers.logits(hidden[:, -1]), step, stamps)
            live = items.numel()
            candidates = (score[:, None] + torch.log_softmax(logits, dim=-1)).view(live, k * vocab)
            top, index = candidates.topk(2 * k, dim=-1)
            beam, token = index // vocab, index % vocab
            source = torch.arange(live, device=device)[:, None] * k + beam  # rows continued
            ending = token == self.eot
            before = torch.cumsum(~ending, dim=1)  # continuations taken up to each candidate
            # endings met before this window's beams are full, while it has room for them
            slot = count[items][:, None] + torch.cumsum(ending & (before < k), dim=1) - 1
            kept = ending & (before < k) & (slot < k)
            slot = torch.where(kept, slot, torch.full_like(slot, k))
            finished_score[items[:, None], slot] = top / max(step, 1)
            finished[items[:, None], slot] = history[source]
            count[items] += kept.sum(dim=1)
            # the next beams: the first k continuations
            order = torch.where(~ending & (before <= k), ranks, ranks + 2 * k).argsort(dim=1)[:, :k]
            token = token.gather(1, order).reshape(-1)
            source = source.gather(1, order).reshape(-1)
            score = top.gather(1, order).reshape(-1)
            cache = [(ck.index_select(0, source), cv.index_select(0, source)) for ck, cv in cache]
            history = history.index_select(0, source)
            history[:, step] = token
            stamps.advance(token, source)
            tokens = token[:, None]
            if (step + 1) % COMPACT_EVERY == 0 or step + 1 == limit:
                full = count[items] >= k
                done = full | (caps[items] <= step + 1)
                gone = done.nonzero().squeeze(1).tolist()
                stopped = (done & ~full).nonzero().squeeze(1).tolist()
                if stopped:
                    # a window stopped by its length: its best live beam is a candidate too
                    scores = score.view(live, k)[stopped].max(dim=1)
                    for local, value, which in zip(stopped, scores.values.tolist(), scores.indices.tolist()):
                        best_live[int(items[local])] = (value / (step + 1), history[local * k + which].tolist())
                if len(gone) == live:
                    break
                if gone:
                    keep = (~done).nonzero().squeeze(1)
                    keep_rows = (keep[:, None] * k + torch.arange(k, device=device)[None, :]).reshape(-1)
                    cache = [(ck.index_select(0, keep_rows), cv.index_select(0, keep_rows)) for ck, cv in cache]
                    cross = [(ck.index_select(0, keep), cv.index_select(0, keep)) for ck, cv in cross]
                    history, score, tokens = history[keep_rows], score[keep_rows], tokens[keep_rows]
                    stamps.keep(keep_rows)
                    items = items[keep]
        result = []
        for b, (scores, seqs) in enumerate(zip(finished_score[:, :k].tolist(), finished[:, :k].tolist())):
            options = [(value, seq) for value, seq in zip(scores, seqs) if value > -math.inf]
            if b in best_live and best_live[b][0] > -math.inf:
                options.append(best_live[b])
            result.append(self._until_end(max(options, key=lambda o: o[0])[1] if options else []))
        return result

    def _check(self, prompts: Sequence[Sequence[int]], max_new_tokens: Sequence[int]) -> int:
        """The most new tokens of a batch, once its prompts are checked."""
        if len({len(p) for p in prompts}) != 1:
            raise ValueError("the prompts of one batch must have the same length")
        limit = max(max_new_tokens)
        if len(prompts[0]) + limit > self.layers.max_positions:
            raise ValueError(
                f"{len(prompts[0])} prompt and {limit} new tokens exceed the decoder's "
                f"{self.layers.max_positions} positions"
            )
        return limit

    def _self_cache(self, rows: int, positions: int) -> list[tuple[Any, Any]]:
        import torch

        layers = self.layers
        shape = (rows, layers.heads, positions, layers.width // layers.heads)
        dtype, device = layers.output.dtype, self.device
        return [
            (torch.empty(shape, dtype=dtype, device=device), torch.empty(shape, dtype=dtype, device=device))
            for _ in layers.layers
        ]

    def _ends(self, durations: Sequence[float]) -> Any:
        """The last timestamp index each window may use (its duration)."""
        import torch

        return torch.tensor(
            [min(int(math.ceil(d / 0.02)), 1500) for d in durations], dtype=torch.long, device=self.device
        )

    def _until_end(self, tokens: list[int]) -> list[int]:
        """``tokens`` up to the end of text."""
        return tokens[: tokens.index(self.eot)] if self.eot in tokens else tokens

    def _rules(self, logits: Any, step: int, stamps: _Stamps) -> Any:
        """Whisper's timestamp rules over a batch of next-token logits (float32, in place)."""
        import torch

        begin = self.timestamp_begin
        neg = -math.inf
        logits.masked_fill_((self.banned_first if step == 0 else self.banned)[None, :], neg)
        index = torch.arange(logits.shape[1] - begin, device=logits.device)[None, :]
        ts = logits[:, begin:]
        if step == 0:
            logits[:, :begin] = neg  # a window starts with a timestamp...
            ts.masked_fill_(index > MAX_INITIAL_TIMESTAMP, neg)  # ...within its first second
        else:
            # after a pair of timestamps comes text; after a lone one, a timestamp or the end
            pair = stamps.last & stamps.penult
            lone = stamps.last & ~stamps.penult
            ts.masked_fill_(pair[:, None], neg)
            logits[:, : self.eot].masked_fill_(lone[:, None], neg)
            # timestamps never go back (a closing one may equal its opening one)
            floor = torch.where(lone, stamps.highest, stamps.highest + 1)
            ts.masked_fill_(index < floor[:, None], neg)
        ts.masked_fill_(index > stamps.ends[:, None], neg)  # nor past the window's end
        logprobs = torch.log_softmax(logits, dim=-1)
        timestamp_mass = torch.logsumexp(logprobs[:, begin:], dim=-1)
        best_text = logprobs[:, :begin].max(dim=-1).values
        logits[:, :begin].masked_fill_((timestamp_mass > best_text)[:, None], neg)
        return logits

    # ------------------------------------------------------------------ word times

    def cross_attention(
        self, cross: list[tuple[Any, Any]], sequences: Sequence[Sequence[int]], heads: Sequence[tuple[int, int]]
    ) -> Any:
        """The alignment ``heads``' (layer, head) cross-attention weights over the frames for
        each token of ``sequences`` (teacher-forced; padded with the end of text):
        ``(batch, len(heads), tokens, frames)``, float32, on the device."""
        import torch

        length = max(len(s) for s in sequences)
        ids = torch.full((len(sequences), length), self.eot, dtype=torch.long)
        for b, seq in enumerate(sequences):
            ids[b, : len(seq)] = torch.tensor(list(seq))
        wanted: dict[int, list[int]] = {}
        for layer, head in heads:
            wanted.setdefault(int(layer), []).append(int(head))
        _, weights = self.layers.forward(ids.to(self.device), 0, None, cross, weights_of=wanted)
        picked = []
        for layer, head in heads:
            picked.append(weights[int(layer)][:, wanted[int(layer)].index(int(head))])
        return torch.stack(picked, dim=1)


def _token_mask(tokens: Any, vocab: int) -> Any:
    """A boolean mask over the vocabulary, true at ``tokens`` (ids outside it are ignored)."""
    import torch

    mask = torch.zeros(vocab, dtype=torch.bool)
    for token in list(tokens or []):
        if 0 <= int(token) < vocab:
            mask[int(token)] = True
    return mask
