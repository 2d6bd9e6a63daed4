"""The public contract: request validation, types, limits (no model needed)."""

import dataclasses

import numpy as np
import pytest

import generator
from generator import SUPPORTED_SIZES, Frames, GenerationRequest, GeneratorError, validate_request


def test_public_names():
    for name in (
        "GenerationRequest", "Frames", "GeneratorError", "ProgressCallback", "VideoGenerator",
        "load_builtin", "describe_model", "SUPPORTED_SIZES", "BUILTIN_NAME",
    ):
        assert hasattr(generator, name), name
    assert issubclass(GeneratorError, ValueError)


def test_request_defaults_and_frozen():
    r = GenerationRequest("a red circle")
    assert (r.seconds, r.size, r.seed, r.steps, r.guidance, r.reference_image) == (4.0, (256, 256), 0, None, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.prompt = "x"  # type: ignore[misc]
    f = Frames(np.zeros((8, 16, 16, 3), np.uint8), 8.0)
    assert f.seconds == 1.0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"prompt": ""}, "non-empty"),
        ({"prompt": "   "}, "non-empty"),
        ({"size": (250, 256)}, "not divisible by 16"),
        ({"size": (256, 100)}, "out of range"),
        ({"size": (2048, 256)}, f"between 128 and {SUPPORTED_SIZES.max_side}"),
        ({"size": (256,)}, "(width, height)"),
        ({"size": (256.0, 256.0)}, "integers"),
        ({"seconds": 0.5}, "allowed: 1 to 20"),
        ({"seconds": 25}, "out of range"),
        ({"seconds": "four"}, "number"),
        ({"steps": 0}, "steps"),
        ({"guidance": -1.0}, "guidance"),
        ({"seed": 1.5}, "seed"),
        ({"reference_image": np.zeros((8, 8), np.uint8)}, "H×W×3 uint8"),
        ({"reference_image": np.zeros((8, 8, 3), np.float32)}, "H×W×3 uint8"),
    ],
)
def test_bad_parameters_have_clear_messages(kwargs, needle):
    req = GenerationRequest(**{"prompt": "a red circle", **kwargs})
    with pytest.raises(GeneratorError) as exc:
        validate_request(req)
    assert needle in str(exc.value)


def test_good_parameters_pass():
    for size in [(128, 128), (256, 256), (1280, 720), (720, 1280), (1280, 1280)]:
        assert size in SUPPORTED_SIZES
        validate_request(GenerationRequest("x", size=size, seconds=1))
    validate_request(GenerationRequest("x", seconds=20, steps=200, guidance=0.0, seed=-3))
    assert (130, 128) not in SUPPORTED_SIZES


def test_describe_model_lists_vocabulary():
    info = generator.describe_model()
    assert info["name"] == generator.BUILTIN_NAME
    assert "circle" in info["description"] and "red" in info["description"]
    assert set(info["vocabulary"]) == {"shapes", "colours", "motions", "backgrounds"}
    assert info["training"]["train_steps"] > 0


def test_generator_is_independent_of_other_packages():
    import ast
    from pathlib import Path

    root = Path(generator.__file__).parent
    forbidden = {"gateway", "classifiers", "policies", "watermark"}
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for n in names:
                assert n.split(".")[0] not in forbidden, f"{path} imports {n}"


def test_shipped_checkpoint_files():
    import json
    from pathlib import Path

    weights = Path(generator.__file__).parent / "weights"
    size = (weights / "model.safetensors").stat().st_size
    assert size <= 50 * 1024 * 1024
    cfg = json.loads((weights / "config.json").read_text())
    assert cfg["model"]["frames"] == 16 and cfg["train_steps"] > 0
    assert json.loads((weights / "eval.json").read_text())["held_out"]["accuracy"]["colour"] >= 0.9


def test_out_of_vocabulary_detection():
    from generator.builtin import knows_prompt

    assert knows_prompt("A RED circle")
    assert not knows_prompt("a cat playing the piano in Paris")
