"""The omega decomposition of a CLIP-style score (method notes 7.4), on fixed random embeddings."""

import torch
import torch.nn.functional as F

from wb_diffusion.reward_split import segment_text_embedding, shared_direction, split_score


def _embeddings(n=8, d=16):
    g = torch.Generator().manual_seed(0)
    common = torch.randn(d, generator=g)
    text = 3 * common + torch.randn(n, d, generator=g)
    image = torch.randn(n, d, generator=g) + common
    return image, text


def test_omega_one_is_the_raw_cosine():
    image, text = _embeddings()
    split = split_score(image, text, omega=1.0)
    torch.testing.assert_close(split.score, F.cosine_similarity(image, text, dim=-1))


def test_omega_zero_scores_against_a_text_vector_orthogonal_to_the_shared_direction():
    image, text = _embeddings()
    split = split_score(image, text, omega=0.0)
    f_t = F.normalize(text, dim=-1)
    residual = f_t - split.eta[:, None] * split.direction
    torch.testing.assert_close(residual @ split.direction, torch.zeros(len(text)), atol=1e-6, rtol=0)
    torch.testing.assert_close(split.score, (F.normalize(image, dim=-1) * residual).sum(-1))


def test_the_change_is_minus_one_minus_omega_eta_times_the_image_projection():
    image, text = _embeddings()
    for omega in (0.0, 0.3, 0.7):
        split = split_score(image, text, omega)
        expected = -(1 - omega) * split.eta * (F.normalize(image, dim=-1) @ split.direction)
        torch.testing.assert_close(split.score - split.raw, expected)
    assert split.eta.min() > 0.8


def test_a_given_direction_is_used_and_the_batch_mean_is_the_default():
    image, text = _embeddings()
    v = torch.zeros(16)
    v[0] = 2.0
    assert torch.equal(split_score(image, text, 0.3, v).direction, F.normalize(v, dim=0))
    torch.testing.assert_close(split_score(image, text).direction, shared_direction(text))


def test_segment_embedding_is_the_unnormalised_mean_of_unit_segments():
    table = {"a.": torch.tensor([3.0, 0.0]), "b.": torch.tensor([0.0, 4.0])}
    emb = segment_text_embedding(lambda texts: torch.stack([table[t] for t in texts]), ["a.", "b."])
    torch.testing.assert_close(emb, torch.tensor([0.5, 0.5]))
