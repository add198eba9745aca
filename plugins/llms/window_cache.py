"""`WindowCache`: the constant-size key/value cache of a context policy (`model.context`).

Per layer one pre-allocated buffer `[B, heads, W - 1 + 2C, head_dim]` (`W` the window,
`C` the chunk size of one forward call): slots `0..S-1` hold the `S` attention sinks
(prefix-tuning keys first, then the first tokens of the sequence), the following slots the
most recent tokens, oldest first, without gaps per sequence. A forward call writes its
`c <= C` new tokens after each sequence's cached ones (`scatter_`, no concatenation); the
attention mask hides tokens older than the window. Once a sequence's slots pass `W - 1 + C`,
`WindowCache.commit` moves its last `W - 1 - S` tokens down behind the sinks (one copy
every `C` tokens, not one per token). Nothing grows with the length of the video.

Every query attends to the sinks and to the `W - S` most recent tokens, itself included,
with the positions StreamingLLM gives them (positions inside the cache, never past the
model's table):

- `absolute` (GPT-2, OPT): a token's position is its ring slot, `u` for `u < S`, else
  `S + (u - S) mod (W - S)` (`u` counts the prefix too), minus the prefix length: the
  window always holds each position once; positions stay `< W`.
- `rotary` (LLaMA-style): a token at cache slot `j` is rotated to position `j - P`
  (`P` prefix keys, which are never rotated). On eviction the kept keys move down and are
  rotated back by the same amount. A query at slot `q` sees the sinks as if it stood at
  slot `min(u, W - 1)`, as one-token-at-a-time StreamingLLM does: the sink keys are rotated
  by the excess, in place from a pristine copy when a call has one query per sequence, as a
  few extra keys per excess when a chunk has several.
- `relative` (T5): the model's relative-position bias is corrected through the additive
  attention mask to the distances inside the cache, the same ones.

So a chunk of `c` tokens gives what `c` one-token calls give (within float error):
batch forward over any length equals unit-by-unit streaming.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor
from transformers.cache_utils import Cache


def rotate(x: Tensor, delta: Tensor, inv_freq: Tensor) -> Tensor:
    """Rotary keys `x [..., T, D]` moved by `delta` positions (broadcast to `[..., T]`),
    LLaMA's `rotate_half` layout on the first `2 * len(inv_freq)` channels."""
    angle = delta.to(torch.float32)[..., None] * inv_freq.to(torch.float32)  # [..., T, F]
    cos, sin = torch.cat([angle.cos(), angle.cos()], -1), torch.cat([angle.sin(), angle.sin()], -1)
    d = cos.shape[-1]
    xr = x[..., :d].to(torch.float32)
    half = xr.shape[-1] // 2
    rotated = torch.cat([-xr[..., half:], xr[..., :half]], -1)
    out = (xr * cos + rotated * sin).to(x.dtype)
    if d == x.shape[-1]:
        return out
    return torch.cat([out, x[..., d:].expand(*out.shape[:-1], -1)], -1)


class WindowCache(Cache):
    """Bounded cache of `B` sequences under a window `W` with `S` sinks.

    Args:
        window: `W`, tokens a query attends to at most (itself and the sinks included).
        sink: `S`, first slots kept for good.
        chunk: `C`, most tokens per forward call.
        kind: `"absolute"`, `"rotary"` or `"relative"` (see the module docstring).
        batch_size: `B`.
        device: where the state lives.
        inv_freq: rotary frequencies `[D/2]` (`rotary` only).
        bias: `relative position [B, c, K] -> bias [B, H, c, K]` of the model (`relative` only).
        prefix: a `transformers` cache with the prefix-tuning keys/values (`P` per layer).

    Attributes: `length [B]` cached slots per sequence, `seen [B]` slots ever filled
    (prefix included), `keys`/`values` one buffer per layer; rotary only: `sink_off [B]`
    the rotation the sink slots carry now, `sink_base` their unrotated keys per layer.
    """

    is_compileable = False

    def __init__(self, window: int, sink: int, chunk: int, kind: str, *, batch_size: int, device: Any,
                 inv_freq: Tensor | None = None, bias: Callable[[Tensor], Tensor] | None = None, prefix: Any = None):
        super().__init__(layers=[])
        self.window, self.sink, self.chunk, self.kind = int(window), int(sink), int(chunk), kind
        self.recent = self.window - self.sink
        self.slack = self.chunk  # slots past W - 1 before a sequence is compacted
        self.capacity = self.window - 1 + self.slack + self.chunk
        self.inv_freq, self.bias = inv_freq, bias
        self.length = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.seen = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.sink_off = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.keys: list[Tensor] = []
        self.values: list[Tensor] = []
        self.sink_base: list[Tensor] = []
        self.prefix = 0
        self._offsets: Tensor | None = None
        self._sink_target: Tensor | None = None
        if prefix is not None:
            self._seed(prefix)

    # -- buffers --------------------------------------------------------------------
    def _alloc(self, k: Tensor, v: Tensor) -> None:
        b, h = k.shape[:2]
        self.keys.append(k.new_zeros(b, h, self.capacity, k.shape[-1]))
        self.values.append(v.new_zeros(b, v.shape[1], self.capacity, v.shape[-1]))

    def _seed(self, prefix: Any) -> None:
        """Prefix-tuning keys/values `[B, h, P, d]` per layer into slots `0..P-1`."""
        layers = getattr(prefix, "self_attention_cache", prefix).layers
        for layer in layers:
            self._alloc(layer.keys, layer.values)
            p = layer.keys.shape[2]
            self.keys[-1][:, :, :p] = layer.keys
            self.values[-1][:, :, :p] = layer.values
        self.prefix = int(layers[0].keys.shape[2])
        self.length += self.prefix
        self.seen += self.prefix

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffers (constant once every layer ran)."""
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def slot_mask(self) -> Tensor:
        """`[B, capacity]` bool: which slots hold a token (prefix keys included; the mask of
        each call hides those older than the window)."""
        return torch.arange(self.capacity, device=self.length.device)[None] < self.length[:, None]

    # -- one forward call --------------------------------------------------------------
    def plan(self, n: Tensor, c: int, dtype: torch.dtype) -> tuple[Tensor | None, Tensor]:
        """Before a call with `c` columns of which the first `n [B]` are real tokens:
        -> `(position_ids [B, c] or None, additive mask [B, 1 or H, c, K])`."""
        dev = self.length.device
        i = torch.arange(c, device=dev)
        qs = self.length[:, None] + i  # query slots [B, c]
        u = self.seen[:, None] + i  # slots ever filled, as one-token calls count them
        off = (qs - (self.window - 1)).clamp(min=0)  # how far past StreamingLLM's query slot
        real = i[None] < n[:, None]
        k0 = int(self.length.max()) + c
        j = torch.arange(k0, device=dev)[None, None]  # key slots [1, 1, K0]
        q = qs[..., None]
        sinks = j < self.sink
        self._offsets, self._sink_target = None, None
        if self.kind == "rotary":
            if bool((n <= 1).all()):  # one query per sequence: its sinks are rotated in place to its excess
                self._sink_target = torch.where(n > 0, off[:, 0], self.sink_off)
            else:  # several: sinks as they are for queries without excess, copies for the others
                self._sink_target = torch.zeros_like(self.sink_off)
                sinks = sinks & (off[..., None] == 0)
        allow = (j <= q) & (sinks | ((j >= self.sink) & (q - j < self.recent)))
        allow = torch.where(real[..., None], allow, j == q)  # padding queries see themselves only
        if self.kind == "rotary" and not bool((n <= 1).all()) and bool((off[real] > 0).any()):
            self._offsets = torch.unique(off[real & (off > 0)])
            block = (off[..., None] == self._offsets).repeat_interleave(self.sink, -1) & real[..., None]  # [B, c, O*S]
            allow = torch.cat([allow, block], -1)
        mask = torch.zeros(allow.shape, dtype=dtype, device=dev).masked_fill(~allow, float("-inf"))[:, None]
        if self.kind == "relative":
            d = torch.where(j < self.sink, torch.minimum(u, torch.full_like(u, self.window - 1))[..., None], q) - j
            actual = j - i[None, :, None]  # what the model computes: key index - query index
            mask = mask + (self.bias(-d) - self.bias(actual.expand_as(d))).to(dtype)
            return None, mask
        if self.kind == "rotary":
            return (qs - self.prefix).clamp(min=0), mask
        ring = torch.where(u < self.sink, u, self.sink + (u - self.sink) % self.recent)
        return (ring - self.prefix).clamp(min=0), mask

    def update(self, key_states: Tensor, value_states: Tensor, layer_idx: int, *args, **kwargs) -> tuple[Tensor, Tensor]:
        """Write the call's keys/values `[B, h, c, d]` after each sequence's cached slots ->
        the keys/values to attend to `[B, h, K, d]` (the planned layout)."""
        if layer_idx >= len(self.keys):
            self._alloc(key_states, value_states)
        c = key_states.shape[2]
        idx = (self.length[:, None] + torch.arange(c, device=self.length.device))[:, None, :, None]
        kidx = idx.expand(-1, key_states.shape[1], -1, key_states.shape[-1])
        vidx = idx.expand(-1, value_states.shape[1], -1, value_states.shape[-1])
        if torch.is_grad_enabled():  # training through a long input: keep the graph, no in-place writes
            self.keys[layer_idx] = self.keys[layer_idx].scatter(2, kidx, key_states)
            self.values[layer_idx] = self.values[layer_idx].scatter(2, vidx, value_states)
        else:
            self.keys[layer_idx].scatter_(2, kidx, key_states)
            self.values[layer_idx].scatter_(2, vidx, value_states)
        if self._sink_target is not None:
            self._rotate_sinks(layer_idx)
        k0 = int(self.length.max()) + c
        keys, values = self.keys[layer_idx][:, :, :k0], self.values[layer_idx][:, :, :k0]
        if self._offsets is not None:  # the sinks as seen from StreamingLLM's query slot, one copy per excess
            sk = self.sink_base[layer_idx][:, :, None]  # [B, h, 1, S, d]
            delta = self._offsets[:, None].expand(-1, self.sink)  # [O, S]
            sk = rotate(sk, delta, self.inv_freq).flatten(2, 3)
            keys = torch.cat([keys, sk], 2)
            values = torch.cat([values, self.values[layer_idx][:, :, : self.sink].repeat(1, 1, len(self._offsets), 1)], 2)
        return keys, values

    def _rotate_sinks(self, layer: int) -> None:
        """Sink slots of `layer` to the planned rotation (from their pristine keys, no drift)."""
        buf = self.keys[layer]
        if layer >= len(self.sink_base):
            self.sink_base.append(buf[:, :, : self.sink].clone())
        pristine = (self.sink_off == 0)[:, None, None, None]  # these still hold unrotated sinks: refresh
        self.sink_base[layer] = torch.where(pristine, buf[:, :, : self.sink], self.sink_base[layer])
        if not bool((self._sink_target != self.sink_off).any()):
            return
        rotated = rotate(self.sink_base[layer], self._sink_target[:, None, None], self.inv_freq)
        if torch.is_grad_enabled():
            self.keys[layer] = torch.cat([rotated, buf[:, :, self.sink :]], 2)
        else:
            buf[:, :, : self.sink] = rotated

    def commit(self, n: Tensor) -> None:
        """After the call: `n [B]` real tokens were added; evict down to `W - 1` slots."""
        self.length = self.length + n
        self.seen = self.seen + n
        if self._sink_target is not None:
            self.sink_off = self._sink_target
        self._offsets, self._sink_target = None, None
        over = self.length - (self.window - 1)
        over = torch.where(over > self.slack, over, torch.zeros_like(over))  # compact only once past the slack
        if not bool((over > 0).any()):
            return
        keep = self.window - 1 - self.sink
        if torch.is_grad_enabled():  # training: out of place, one gather per buffer
            src = self.sink + over[:, None] + torch.arange(keep, device=over.device)  # [B, keep]
            for store in (self.keys, self.values):
                for layer, buf in enumerate(store):
                    moved = buf.gather(2, src[:, None, :, None].expand(-1, buf.shape[1], -1, buf.shape[-1]))
                    if store is self.keys and self.kind == "rotary":
                        moved = rotate(moved, -over[:, None, None], self.inv_freq)
                    store[layer] = torch.cat([buf[:, :, : self.sink], moved, buf[:, :, self.window - 1 :]], 2)
        else:  # inference: per sequence, a contiguous slice moves down in place
            for b, o in enumerate(over.tolist()):
                if o == 0:
                    continue
                lo, hi = self.sink + o, self.sink + o + keep
                for layer in range(len(self.keys)):
                    k = self.keys[layer][b, :, lo:hi]
                    if self.kind == "rotary":
                        k = rotate(k, over.new_tensor(-o), self.inv_freq)
                    self.keys[layer][b, :, self.sink : self.sink + keep] = k.clone()
                    self.values[layer][b, :, self.sink : self.sink + keep] = self.values[layer][b, :, lo:hi].clone()
        self.length = self.length - over

    # -- what transformers and beam search ask of a cache -----------------------------------
    def get_seq_length(self, layer_idx: int = 0) -> int:
        """0: positions and masks come from `plan`, never from the cache length."""
        return 0

    def get_mask_sizes(self, query_length: int, layer_idx: int = 0) -> tuple[int, int]:
        return int(self.length.max()) + query_length, 0

    def get_max_length(self, layer_idx: int | None = None) -> int:
        return self.capacity

    def __len__(self) -> int:
        return len(self.keys)

    def _map(self, fn: Callable[[Tensor], Tensor]) -> None:
        self.keys = [fn(t) for t in self.keys]
        self.values = [fn(t) for t in self.values]
        self.sink_base = [fn(t) for t in self.sink_base]
        self.length, self.seen, self.sink_off = fn(self.length), fn(self.seen), fn(self.sink_off)

    def reorder_cache(self, beam_idx: Tensor) -> None:
        """Keep sequences `beam_idx [B']` (any `B'`), in place."""
        self._map(lambda t: t.index_select(0, beam_idx.to(t.device)))

    def batch_repeat_interleave(self, repeats: int) -> None:
        self._map(lambda t: t.repeat_interleave(repeats, dim=0))

    def fork(self) -> "WindowCache":
        """An independent copy (a continuation of it leaves this one untouched)."""
        twin = WindowCache(self.window, self.sink, self.chunk, self.kind, batch_size=0, device=self.length.device,
                           inv_freq=self.inv_freq, bias=self.bias)
        twin.prefix = self.prefix
        twin.keys, twin.values = [t.clone() for t in self.keys], [t.clone() for t in self.values]
        twin.sink_base = [t.clone() for t in self.sink_base]
        twin.length, twin.seen, twin.sink_off = self.length.clone(), self.seen.clone(), self.sink_off.clone()
        return twin
