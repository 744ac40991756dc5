"""The hub-model option (`--visual-model`), exercised offline with a tiny random CLIP saved locally."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, ImageDraw


def _tiny_clip(path) -> str:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    path.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    for c in "abcdefghijklmnopqrstuvwxyz0123456789":
        vocab.setdefault(c, len(vocab))
        vocab.setdefault(c + "</w>", len(vocab))
    (path / "vocab.json").write_text(json.dumps(vocab))
    (path / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(path / "vocab.json"), str(path / "merges.txt"))
    config = CLIPConfig(
        text_config=dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=64, patch_size=16),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(path)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> str:
    return _tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


def test_tiny_clip_encodes_images_and_text(tiny_clip):
    from core.signals.visual import HFVisualEncoder, load_visual_encoder

    enc = load_visual_encoder(tiny_clip)
    assert isinstance(enc, HFVisualEncoder) and enc.text_aligned
    vec, labels = enc.encode(Image.new("RGB", (120, 60), "red"))
    assert vec.shape == (enc.dim,) == (16,)
    assert np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)
    assert labels == []
    text = enc.encode_text(["red banner", "blue sky"])
    assert text.shape == (2, 16)
    other, _ = enc.encode(Image.new("RGB", (120, 60), "blue"))
    assert not np.allclose(vec, other)


def test_ingest_with_hub_model_option(tiny_clip, tmp_path):
    from core.ingest import ingest
    from core.store import Library

    src = tmp_path / "src"
    src.mkdir()
    for i, colour in enumerate(["red", "navy", "gold", "teal"]):
        img = Image.new("RGB", (200, 200), colour)
        ImageDraw.Draw(img).rectangle([40 + i * 10, 40, 150, 150], fill="white")
        img.save(src / f"ad{i}.png")
    lib = Library(tmp_path / "lib")
    summary = ingest(lib, src, visual_model=tiny_clip, workers=1)
    assert summary.ads_added == 4 and not summary.errors
    rows = lib.execute("SELECT visual_model, len(visual) FROM creatives").fetchall()
    assert {r[0] for r in rows} == {tiny_clip} and {r[1] for r in rows} == {16}
    lib.close()
