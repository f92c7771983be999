"""AlignIT's splice on the tiny pipeline (method notes 7.5): identical sources and an empty concept set give the
base output bit for bit, only the conditional half changes, a textual-inversion concept's drift on later tokens
is what the base branch removes; bad inputs are named."""

import copy

import numpy as np
import pytest

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from wb_diffusion import alignit  # noqa: E402
from wb_diffusion.tiny import tiny_sd_pipeline, tiny_unet  # noqa: E402
from workbench.api import UserError  # noqa: E402

PROMPT = "a red circle left of a blue square"


@pytest.fixture(scope="module")
def base():
    pipe = tiny_sd_pipeline(seed=2)
    alignit.classic_attention(pipe.unet)
    return pipe


def _sample(pipe, **kw):
    return pipe(num_inference_steps=3, height=32, width=32, output_type="np", guidance_scale=5.0,
                generator=torch.Generator().manual_seed(0), **kw).images


def _alignit(base, custom, inputs, layers=None):
    before = alignit.install(custom.unet, base.unet, layers)
    try:
        return _sample(custom, prompt_embeds=inputs.prompt_embeds, negative_prompt_embeds=inputs.negative_prompt_embeds,
                       cross_attention_kwargs={"splice": inputs.splice})
    finally:
        alignit.restore(custom.unet, before)


def test_identical_sources_and_an_empty_concept_set_reproduce_the_base_bit_for_bit(base):
    reference = _sample(base, prompt=PROMPT)
    custom = copy.deepcopy(base)
    same = alignit.prepare(base, custom, PROMPT, "red", concept_prompt=PROMPT)
    assert same.src == same.dst
    np.testing.assert_array_equal(_alignit(base, custom, same), reference)
    other = alignit.prepare(base, custom, PROMPT, "red")
    other.splice.dst, other.splice.src = [], []
    np.testing.assert_array_equal(_alignit(base, custom, other), reference)


def test_only_the_conditional_half_is_spliced_and_splicing_changes_it(base):
    custom = copy.deepcopy(base)
    with torch.no_grad():
        for layer in alignit.cross_attention_layers(custom.unet).values():
            layer.to_k.weight.mul_(1.5)
            layer.to_v.weight.add_(0.05)
    inputs = alignit.prepare(base, custom, PROMPT, "red")
    states = torch.cat([inputs.negative_prompt_embeds, inputs.prompt_embeds])
    latents = torch.randn(2, 4, 16, 16, generator=torch.Generator().manual_seed(1)).expand(2, -1, -1, -1)
    t = torch.tensor(500)
    with torch.no_grad():
        alignit.install(base.unet, base.unet)
        plain = base.unet(latents, t, states).sample
        alignit.classic_attention(base.unet)
        before = alignit.install(custom.unet, base.unet)
        spliced = custom.unet(latents, t, states, cross_attention_kwargs={"splice": inputs.splice}).sample
        unspliced = custom.unet(latents, t, states).sample
        alignit.restore(custom.unet, before)
    assert torch.equal(spliced[0], unspliced[0])
    assert (spliced[1] - unspliced[1]).abs().max() > 1e-4
    assert not torch.equal(spliced, plain)


def _textual_inversion(base):
    custom = copy.deepcopy(base)
    custom.tokenizer.add_tokens(["<c>"])
    custom.text_encoder.resize_token_embeddings(len(custom.tokenizer))
    with torch.no_grad():
        custom.text_encoder.get_input_embeddings().weight[-1] = torch.randn(
            custom.text_encoder.config.hidden_size, generator=torch.Generator().manual_seed(5))
    return custom


def test_a_textual_inversion_concept_drifts_later_tokens_and_alignit_keeps_the_base_branch(base):
    custom = _textual_inversion(base)
    prompt = "a <c> circle left of a blue square"
    drift = alignit.kv_drift(base, custom, prompt, prompt.replace("<c>", "x"))
    at = custom.tokenizer(prompt).input_ids.index(len(custom.tokenizer) - 1)
    assert torch.all(drift[:at] == 0) and drift[at:].min() > 0
    inputs = alignit.prepare(base, custom, prompt, "<c>", stand_in="x")
    assert inputs.base_prompt == "a x circle left of a blue square" and inputs.dst == [at]
    customised = _sample(custom, prompt=prompt)
    aligned = _alignit(base, custom, inputs)
    assert np.abs(aligned - customised).max() > 1e-3


def test_end_rows_come_from_the_concept_prompt_or_add_its_difference(base):
    custom = _textual_inversion(base)
    prompt, concept_prompt = "a <c> circle left of a blue square", "a photo of <c>"
    kwargs = dict(stand_in="x", concept_prompt=concept_prompt)
    plain = alignit.prepare(base, custom, prompt, "<c>", **kwargs)
    spliced = alignit.prepare(base, custom, prompt, "<c>", end="concept", **kwargs)
    n_prompt, n_concept = (len(custom.tokenizer(p).input_ids) for p in (prompt, concept_prompt))
    end = list(range(n_prompt - 1, 77))
    assert spliced.dst == plain.dst and list(spliced.splice.dst) == plain.dst + end
    assert list(spliced.splice.src) == plain.src + list(range(n_concept - 1, n_concept - 1 + len(end)))
    delta = alignit.prepare(base, custom, prompt, "<c>", end="delta", **kwargs)
    assert list(delta.splice.dst) == plain.dst
    changed = (delta.prompt_embeds - plain.prompt_embeds).abs().amax(dim=-1)[0]
    assert torch.all(changed[: n_prompt - 1] == 0) and torch.all(changed[n_prompt - 1:] > 0)
    images = [_alignit(base, custom, inputs) for inputs in (plain, spliced, delta)]
    assert min(np.abs(a - b).max() for a, b in zip(images, images[1:] + images[:1])) > 1e-3
    reference = _sample(base, prompt=PROMPT)
    for mode in ("concept", "delta"):
        twin = copy.deepcopy(base)
        same = alignit.prepare(base, twin, PROMPT, "red", concept_prompt=PROMPT, end=mode)
        np.testing.assert_array_equal(_alignit(base, twin, same), reference)
    with pytest.raises(UserError, match="end='tail'"):
        alignit.prepare(base, custom, prompt, "<c>", end="tail", **kwargs)


def test_layers_choose_where_to_splice(base):
    custom = _textual_inversion(base)
    inputs = alignit.prepare(base, custom, "a <c> circle", "<c>", stand_in="x")
    down_only = _alignit(base, custom, inputs, layers=["down_blocks"])
    everywhere = _alignit(base, custom, inputs)
    assert np.abs(down_only - everywhere).max() > 0
    with pytest.raises(UserError, match="no cross-attention layer matches"):
        alignit.install(custom.unet, base.unet, ["nowhere"])


@pytest.mark.parametrize("kwargs,message", [
    (dict(prompt="a blue square", concept="red"), "does not occur in the prompt"),
    (dict(prompt="a red circle", concept="red", concept_prompt="red and red"),
     r"takes 3 token position\(s\) in the prompt but 6"),
    (dict(prompt="   ", concept="red"), "prompt is empty"),
    (dict(prompt="a red circle", concept="red", template="a photo"), "needs a {}"),
])
def test_bad_inputs_are_named(base, kwargs, message):
    with pytest.raises(UserError, match=message):
        alignit.prepare(base, copy.deepcopy(base), **kwargs)


def test_a_stand_in_of_another_length_and_another_architecture_are_refused(base):
    custom = _textual_inversion(base)
    with pytest.raises(UserError, match="stand_in"):
        alignit.prepare(base, custom, "a <c> circle", "<c>", stand_in="xyz")
    with pytest.raises(UserError, match="not the same architecture"):
        alignit.install(tiny_unet(cross_attention_dim=64), base.unet)
