"""ONNX export of the CLIP image and text encoders: parity with torch at several batch sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.api import onnx_session
from workbench.clip import load_clip


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The legacy exporter: the same graph in seconds; the dynamo exporter has its own (slow) test."""
    torch.manual_seed(1)
    clip = load_clip("tiny-clip", weights="random")
    folder = tmp_path_factory.mktemp("onnx")
    return clip, folder, clip.export_onnx(folder, check_batch_sizes=(1, 2, 5), exporter="torchscript")


def _check_reports(reports, folder, exporter):
    assert set(reports) == {"image", "text"}
    for report in reports.values():
        assert report.exporter == exporter and report.batch_sizes == (1, 2, 5) and 0 <= report.worst <= 1e-4
    assert (folder / "image_encoder.onnx").is_file() and (folder / "text_encoder.onnx").is_file()


def test_export_reports_parity_within_1e_4(exported):
    _, folder, reports = exported
    _check_reports(reports, folder, "torchscript")


@pytest.mark.slow
def test_zoo_card_exporter_uses_the_dynamo_exporter(tmp_path):
    from workbench.api import resolve_entry, zoo_card

    card = zoo_card("tiny-clip")
    report = resolve_entry(card.exporter)(card.weights_path, tmp_path / "tiny-clip.onnx")
    assert report.exporter == "dynamo" and report.worst <= 1e-4
    assert set(report.max_abs_diff) == {"image_embeds", "patch_tokens", "text_embeds", "token_states"}
    assert (tmp_path / "tiny-clip.onnx").is_file() and (tmp_path / "tiny-clip-text.onnx").is_file()


def test_onnx_encoders_match_torch_on_real_scenes(exported):
    from wb_shapes.world import generate_scenes

    clip, folder, _ = exported
    scenes = generate_scenes(4, "test", 0)
    pixels = clip.preprocess([s.image for s in scenes])
    tokens = clip.tokenize([s.caption for s in scenes[:3]])
    image = onnx_session(folder / "image_encoder.onnx").run(None, {"pixels": pixels.numpy()})
    text = onnx_session(folder / "text_encoder.onnx").run(None, {"tokens": tokens.numpy()})
    with torch.no_grad():
        pooled, patches = clip.image_tokens(pixels)
        states = clip.text_states(tokens)
    assert np.abs(image[0] - pooled.numpy()).max() <= 1e-4 and np.abs(image[1] - patches.numpy()).max() <= 1e-4
    assert np.abs(text[0] - clip.model.encode_text(tokens).detach().numpy()).max() <= 1e-4
    assert np.abs(text[1] - states.projected.numpy()).max() <= 1e-4
    assert text[1].shape == (3, 77, clip.embed_dim)
