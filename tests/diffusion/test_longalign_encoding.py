"""LongAlign segment encoding: the split rules (the reference's quirk written out), the merge, and the known
answers of the method notes (section 7.3) on the tiny pipeline with eager attention."""

import re

import pytest

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from wb_diffusion.longalign import pad_embedding, segment_encode, segment_prompt_embeds, split_segments  # noqa: E402
from workbench.api import UserError  # noqa: E402


def reference_split(caption):
    """The official rule, independently: split on the alternation, drop empty pieces, append '.'."""
    pieces = [p + "." for p in re.split(r'"!|\.|\?|;"', caption) if len(p) > 0]
    return pieces if pieces else [caption + "."]


@pytest.mark.parametrize("caption", ["Dr. Smith has 3.5 cats.", "a red circle", "One. Two? Three! Four; five.",
                                     'He said "hi!" then; "left', "...", "a. b. c", "trailing space. "])
def test_reference_rule_matches_the_official_split(caption):
    assert split_segments(caption, "reference") == reference_split(caption)


def test_the_documented_quirk_and_the_sentence_rule():
    assert split_segments("Dr. Smith has 3.5 cats.", "reference") == ["Dr.", " Smith has 3.", "5 cats."]
    assert split_segments("Dr. Smith has 3.5 cats. They sleep!", "sentences") == ["Dr. Smith has 3.5 cats.",
                                                                                "They sleep!"]
    assert split_segments("a red circle", "sentences") == ["a red circle."]
    assert split_segments("One; two? three", "sentences") == ["One;", "two?", "three."]


@pytest.fixture(scope="module")
def pipe():
    from wb_diffusion.tiny import tiny_sd_pipeline

    pipe = tiny_sd_pipeline(seed=1)
    pipe.text_encoder.set_attn_implementation("eager")
    return pipe


def plain(pipe, prompt):
    embeds, _ = pipe.encode_prompt(prompt, "cpu", 1, False)
    return embeds[0]


def test_one_sentence_keeps_the_plain_rows_bit_for_bit_and_pads_with_the_pad_embedding(pipe):
    prompt = "a red circle left of a blue square."
    enc = segment_encode(pipe.tokenizer, pipe.text_encoder, prompt, token_length=120)
    n = len(pipe.tokenizer(prompt).input_ids) - 1
    assert enc.embeds.shape == (120, pipe.text_encoder.config.hidden_size)
    assert torch.equal(enc.embeds[:n], plain(pipe, prompt)[:n])
    pad = pad_embedding(pipe.tokenizer, pipe.text_encoder)
    assert torch.equal(enc.embeds[n:], pad.expand(120 - n, -1))
    assert enc.rows[0] == (0, "<|startoftext|>") and enc.rows[n] is None and enc.start_rows == 1


def test_keep_all_at_the_context_length_is_the_plain_encoding(pipe):
    prompt = "a red circle."
    enc = segment_encode(pipe.tokenizer, pipe.text_encoder, prompt, token_length=77, keep_end_tokens=True,
                         padding="max_length")
    assert torch.equal(enc.embeds, plain(pipe, prompt))


def test_n_sentences_give_n_start_rows_and_a_missing_period_is_added(pipe):
    enc = segment_encode(pipe.tokenizer, pipe.text_encoder, "a red circle. a blue square? a green star")
    assert enc.start_rows == 3 and [s.text for s in enc.segments][-1] == " a green star."
    tokens = [r[1] for r in enc.rows if r is not None and r[0] == 2]
    assert tokens[-1] == ".</w>"


def test_segments_past_the_context_are_cut_and_say_so(pipe):
    long_sentence = "a " + "very " * 100 + "red circle."
    enc = segment_encode(pipe.tokenizer, pipe.text_encoder, long_sentence + " a blue square.", token_length=240)
    assert [s.truncated for s in enc.segments] == [True, False]
    assert enc.segments[0].tokens > 77 and enc.start_rows == 2


def test_batch_embeds_feed_the_pipeline(pipe):
    embeds, negative = segment_prompt_embeds(pipe, ["a red circle. a blue square.", "a star."], token_length=100)
    assert embeds.shape == negative.shape == (2, 100, 32)
    image = pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, num_inference_steps=2, height=32,
                 width=32, output_type="np", generator=torch.Generator().manual_seed(0)).images
    assert image.shape == (2, 32, 32, 3)


@pytest.mark.parametrize("prompt", ["", "   ", ". ; ?", '"!'])
def test_prompts_without_words_are_refused(pipe, prompt):
    with pytest.raises(UserError, match="no words"):
        segment_encode(pipe.tokenizer, pipe.text_encoder, prompt)
