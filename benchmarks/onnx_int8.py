"""ONNX Runtime int8 dynamic quantisation vs the float32 export: speed and what it changes, side by side.

    python benchmarks/onnx_int8.py [--images 2048] [--repeats 7] [--threads 1]

Digits CNN (the zoo's ``digits-cnn``): time per pass over the same images (interleaved medians), top-1
agreement on the ID test split, and the MSP/energy AUROC (ID test vs every OOD set) of each model. The tiny
CLIP's encoders (``tiny-clip``): time and the cosine between the float32 and int8 embeddings of the same scenes.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score
from timing import interleaved_medians

from workbench.api import ClassifierOutputs, RunContext, load_clip, load_sample, load_zoo_model, onnx_session
from workbench.core.onnx_export import quantize_int8


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _aurocs(outputs, id_name: str) -> dict[str, float]:
    """Mean AUROC over the OOD sets (ID positive) of MSP and energy."""
    scores = {"msp": lambda lo: _softmax(lo).max(axis=1),
              "energy": lambda lo: np.log(np.exp(lo - lo.max(1, keepdims=True)).sum(1)) + lo.max(1)}
    out = {}
    for name, fn in scores.items():
        id_scores = fn(outputs[id_name])
        out[name] = float(np.mean([
            roc_auc_score(np.r_[np.ones(len(id_scores)), np.zeros(len(lo))], np.r_[id_scores, fn(lo)])
            for set_name, lo in outputs.items() if set_name != id_name]))
    return out


def classifier_rows(quick: bool, n_images: int | None = None, repeats: int | None = None) -> dict[str, float]:
    world = load_sample("digits", seed=0)
    model = load_zoo_model("digits-cnn").eval()
    images = np.random.default_rng(0).random((n_images or (1024 if quick else 4096), 1, 32, 32), dtype=np.float32)
    sets = {"id-test": world.x_test, **world.ood}
    with tempfile.TemporaryDirectory() as tmp:
        ctx = RunContext(run_dir=Path(tmp), seed=0, engine="onnx", device="cpu", logger=logging.getLogger("int8"))
        fp32 = ClassifierOutputs(model, ctx, images)
        int8 = ClassifierOutputs(model, ctx, images, onnx_file=quantize_int8(fp32.export.path, Path(tmp) / "q.onnx"))
        t = interleaved_medians({"fp32": lambda: fp32.outputs(images), "int8": lambda: int8.outputs(images)},
                                repeats or (5 if quick else 9))
        logits = {name: {k: pipe.outputs(x)[0] for k, x in sets.items()} for name, pipe in
                  (("fp32", fp32), ("int8", int8))}
    agree = float((logits["fp32"]["id-test"].argmax(1) == logits["int8"]["id-test"].argmax(1)).mean())
    acc = {k: float((lo["id-test"].argmax(1) == world.y_test).mean()) for k, lo in logits.items()}
    auroc = {k: _aurocs(lo, "id-test") for k, lo in logits.items()}
    return {"fp32 s": t["fp32"], "int8 s": t["int8"], "int8 / fp32 time": t["int8"] / t["fp32"],
            "top-1 agreement": agree, "fp32 accuracy": acc["fp32"], "int8 accuracy": acc["int8"],
            "fp32 AUROC msp": auroc["fp32"]["msp"], "int8 AUROC msp": auroc["int8"]["msp"],
            "fp32 AUROC energy": auroc["fp32"]["energy"], "int8 AUROC energy": auroc["int8"]["energy"],
            "AUROC change": max(abs(auroc["int8"][d] - auroc["fp32"][d]) for d in ("msp", "energy"))}


def clip_rows(quick: bool, repeats: int | None = None) -> dict[str, float]:
    from wb_shapes.world import generate_scenes

    clip = load_clip("tiny-clip")
    scenes = generate_scenes(64 if quick else 256, "test", 0, image_size=clip.image_size)
    pixels = clip.preprocess([s.image for s in scenes]).numpy()
    tokens = clip.tokenize([s.caption for s in scenes]).numpy()
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        clip.export_onnx(Path(tmp), check_batch_sizes=(1, 3))
        for tower, feed, output in (("image", {"pixels": pixels}, "image_embeds"),
                                    ("text", {"tokens": tokens}, "text_embeds")):
            fp32_file = Path(tmp) / f"{tower}_encoder.onnx"
            sessions = {"fp32": onnx_session(fp32_file), "int8": onnx_session(quantize_int8(fp32_file))}
            t = interleaved_medians({k: (lambda s=s, o=output, f=feed: s.run([o], f)) for k, s in sessions.items()},
                                    repeats or (5 if quick else 9))
            emb = {k: s.run([output], feed)[0] for k, s in sessions.items()}
            a, b = (e / np.linalg.norm(e, axis=1, keepdims=True) for e in (emb["fp32"], emb["int8"]))
            out[f"clip {tower} int8 / fp32 time"] = t["int8"] / t["fp32"]
            out[f"clip {tower} min cosine fp32 vs int8"] = float((a * b).sum(axis=1).min())
    return out


def measure(quick: bool = False) -> dict[str, float]:
    """The classifier's and the tiny CLIP's int8-vs-float32 rows (one ONNX Runtime thread pool each, default)."""
    return {**classifier_rows(quick), **clip_rows(quick)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    m = {**classifier_rows(False, args.images, args.repeats), **clip_rows(False, args.repeats)}
    print(f"digits-cnn, {args.images} images: int8 {1000 * m['int8 s']:.1f} ms vs fp32 {1000 * m['fp32 s']:.1f} ms "
          f"(x{m['int8 / fp32 time']:.2f} the time; speed-up {1 / m['int8 / fp32 time']:.2f}x)")
    print(f"  top-1 agreement on the ID test split {m['top-1 agreement']:.3f}; accuracy fp32 {m['fp32 accuracy']:.3f}"
          f" -> int8 {m['int8 accuracy']:.3f}")
    for det in ("msp", "energy"):
        print(f"  mean AUROC {det:6s} fp32 {m[f'fp32 AUROC {det}']:.4f} -> int8 {m[f'int8 AUROC {det}']:.4f} "
              f"(change {m[f'int8 AUROC {det}'] - m[f'fp32 AUROC {det}']:+.4f})")
    for tower in ("image", "text"):
        print(f"tiny-clip {tower} encoder: int8 x{m[f'clip {tower} int8 / fp32 time']:.2f} the fp32 time; "
              f"min cosine(fp32, int8) {m[f'clip {tower} min cosine fp32 vs int8']:.4f}")


if __name__ == "__main__":
    main()
