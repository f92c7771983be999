"""Known answers of the MaPO and Diffusion-DPO losses (method notes, section 7.1), computed here independently."""

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")

from wb_diffusion.losses import (  # noqa: E402
    bounded_score,
    diffusion_target,
    dpo_loss,
    mapo_loss,
    per_sample_error,
)


def _t(*values):
    return torch.tensor(values, dtype=torch.float64, requires_grad=True)


def _score(err, lam=0.5):
    return 1.0 if err == 0 else lam * err / math.expm1(lam * err)


def test_equal_errors_give_the_chosen_error_plus_beta_ln2():
    out = mapo_loss(_t(0.3, 0.7), _t(0.3, 0.7))
    assert out.loss.item() == pytest.approx(0.5 + 0.1 * math.log(2), abs=1e-12)
    assert out.terms["implicit_acc"] == 0.0 and out.terms["sft"] == pytest.approx(0.5)


def test_a_much_worse_chosen_error_gives_the_notes_82_39():
    out = mapo_loss(_t(5.0), _t(0.01))
    expected = 5.0 + 0.1 * 1000 * (_score(0.01) - _score(5.0))
    assert out.loss.item() == pytest.approx(expected, rel=1e-9)
    assert out.loss.item() == pytest.approx(82.39, abs=0.005)
    assert mapo_loss(_t(0.01), _t(5.0)).loss.item() == pytest.approx(0.01, abs=1e-9)


def test_beta_zero_is_the_mean_chosen_error():
    win, lose = _t(0.2, 0.9, 0.4), _t(0.1, 3.0, 0.4)
    assert mapo_loss(win, lose, beta=0.0).loss.item() == pytest.approx((0.2 + 0.9 + 0.4) / 3, abs=1e-12)


def test_gradient_signs_and_finite_at_zero_error():
    win, lose = _t(0.30, 0.0), _t(0.31, 0.0)
    out = mapo_loss(win, lose)
    out.loss.backward()
    assert torch.isfinite(out.loss) and torch.isfinite(win.grad).all() and torch.isfinite(lose.grad).all()
    assert win.grad[0] > 0 and lose.grad[0] < 0
    assert bounded_score(torch.zeros(1), 0.5).item() == 1.0
    assert bounded_score(torch.tensor([1e-8]), 0.5).item() == pytest.approx(1.0, abs=1e-8)
    assert bounded_score(torch.tensor([2.0]), 0.5).item() == pytest.approx(_score(2.0), rel=1e-6)


def test_mapo_logs_scores_and_implicit_accuracy():
    out = mapo_loss(_t(0.1, 0.5), _t(0.2, 0.4))
    assert out.terms["win_score"] == pytest.approx((_score(0.1) + _score(0.5)) / 2, rel=1e-9)
    assert out.terms["lose_score"] == pytest.approx((_score(0.2) + _score(0.4)) / 2, rel=1e-9)
    assert out.terms["implicit_acc"] == 0.5
    assert out.terms["loss"] == pytest.approx(out.terms["sft"] + out.terms["margin"], rel=1e-12)


def test_dpo_is_log2_with_accuracy_one_half_when_the_model_is_the_reference():
    win, lose = _t(0.3, 0.2), _t(0.25, 0.6)
    out = dpo_loss(win, lose, win.detach(), lose.detach())
    assert out.loss.item() == pytest.approx(math.log(2), abs=1e-12) and out.terms["implicit_acc"] == 0.5
    out.loss.backward()
    assert (win.grad > 0).all() and (lose.grad < 0).all()


def test_dpo_matches_its_formula():
    win, lose, rw, rl = 0.30, 0.35, 0.31, 0.33
    inside = -2500 / 2 * ((win - lose) - (rw - rl))
    expected = -math.log(1 / (1 + math.exp(-inside)))
    out = dpo_loss(_t(win), _t(lose), _t(rw), _t(rl))
    assert out.loss.item() == pytest.approx(expected, rel=1e-9) and out.terms["implicit_acc"] == 1.0


def test_per_sample_error_averages_channels_and_pixels():
    pred = torch.zeros(2, 4, 3, 3)
    target = torch.zeros(2, 4, 3, 3)
    target[1, 0, 0, 0] = 6.0
    assert per_sample_error(pred, target).tolist() == [0.0, 36.0 / 36]


def test_targets_are_the_noise_or_the_scheduler_velocity():
    from diffusers import DDPMScheduler

    x0, noise, t = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8), torch.tensor([10, 900])
    eps = DDPMScheduler(prediction_type="epsilon")
    assert diffusion_target(eps, x0, noise, t) is noise
    v_sched = DDPMScheduler(prediction_type="v_prediction")
    a = v_sched.alphas_cumprod[t].sqrt().view(-1, 1, 1, 1)
    s = (1 - v_sched.alphas_cumprod[t]).sqrt().view(-1, 1, 1, 1)
    torch.testing.assert_close(diffusion_target(v_sched, x0, noise, t), a * noise - s * x0)
    with pytest.raises(ValueError, match="sample"):
        diffusion_target(DDPMScheduler(prediction_type="sample"), x0, noise, t)
