"""The host's CLIP service, shared by every CLIP-based plugin (no Qt, no method-specific science).

``load_clip`` returns a :class:`LoadedClip`: the open_clip model, its BPE tokenizer and preprocessing,
with image/text encoders, per-patch image tokens, per-token text states, attention recording and ONNX
export. Importing this package is cheap: torch and open_clip load when a model does. Plugins import it
through ``workbench.api``.

A gradient-through-attention method (CLIP4DM-style) on the zoo's tiny CLIP::

    clip = load_clip("tiny-clip")                      # a zoo id, or ("ViT-B-32", weights="/path/w.safetensors")
    tokens = clip.tokenize("A photo depicts a red star")  # [1, 77], SOT ... EOT 0 ...
    pieces = clip.token_strings("A photo depicts a red star")  # BPE strings for tokens 1..EOT-1
    with clip.record_text_attention() as maps:         # one [B, heads, L, L] tensor per text layer
        states = clip.text_states(tokens)              # hidden/projected per token, eot index, pooled
        s = torch.cosine_similarity(clip.encode_image(image), states.pooled).sum()
    grads = torch.autograd.grad(s, maps[-3:])          # dS/dA for the last three layers

``record_image_attention`` does the same for the vision tower; ``image_tokens`` gives the per-patch
joint-space tokens (``patch_grid`` rows x columns).
"""

from workbench.clip.loading import (
    TINY_ARCHITECTURE,
    CaptionTruncatedWarning,
    ClipLoadError,
    LoadedClip,
    is_offline,
    load_clip,
    register_model_configs,
    save_clip_dir,
)

__all__ = [
    "TINY_ARCHITECTURE", "CaptionTruncatedWarning", "ClipLoadError", "LoadedClip", "is_offline", "load_clip",
    "register_model_configs", "save_clip_dir",
]
