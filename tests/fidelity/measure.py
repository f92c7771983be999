"""Print the largest differences the parity tests see, for docs/fidelity.md.

    python tests/fidelity/measure.py            (with plugins/ on PYTHONPATH, as for the tests)

Each line: method, quantity, max |ours - reference| over the parity tests' inputs (default settings), and the
same for each option that keeps an earlier variant. Nothing here asserts; the tests in this folder do.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _max(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: max(r[k] for r in rows) for k in rows[0]}


def palm() -> list[tuple[str, str, float]]:
    import test_palm_parity as t

    out = []
    default = _max([t.max_differences(*s, seed=seed) for s in t.SIZES for seed in (0, 1)])
    out += [("PALM", f"default vs reference: {k}", v) for k, v in default.items()]
    usual = [s for s in t.SIZES if s[5] >= 0.9]
    pre = [t.max_differences(*s, seed=seed, assignment="pre-update") for s in usual for seed in (0, 1)]
    for k in ("mle", "feature_grad"):
        out.append(("PALM", f"palm_assignment=pre-update vs reference: {k} (proto_m >= 0.9), min", min(r[k] for r
                                                                                                      in pre)))
        out.append(("PALM", f"palm_assignment=pre-update vs reference: {k} (proto_m >= 0.9), max", max(r[k] for r
                                                                                                      in pre)))
    return out


def mixoe() -> list[tuple[str, str, float]]:
    import test_mixoe_parity as t

    names = ("loss", "param_grad", "bn_running_stats", "lambda")
    rows = [dict(zip(names, t._step(op, "two", "batch", n, c, hw, k, seed))) for op, n, c, hw, k in t.CASES
            for seed in (0, 1)]
    out = [("MixOE", f"default vs reference: {k}", v) for k, v in _max(rows).items()]
    one = [dict(zip(names, t._step(op, "one", "batch", n, c, hw, k, seed))) for op, n, c, hw, k in t.CASES
           for seed in (0, 1)]
    out += [("MixOE", f"forward_passes=one vs reference: {k}", v) for k, v in _max(one).items() if k != "lambda"]
    per = [dict(zip(names, t._step("cutmix", "two", "per-sample", n, c, hw, k, seed)))
           for op, n, c, hw, k in t.CASES if op == "cutmix" for seed in (0, 1)]
    out += [("MixOE", f"cutmix_box=per-sample vs reference: {k}", v) for k, v in _max(per).items()]
    return out


def ascood() -> list[tuple[str, str, float]]:
    import test_ascood_parity as t
    import torch

    from wb_oodtrain import ascood as A

    out = []
    worst = 0.0
    for stats in (t.IMAGENET, t.UNIT):
        for n, ch, hw in t.SIZES:
            net = t._net(stats, channels=ch)
            x, y, g = t._batch(n, ch, hw, 0)
            got, _ = A.synthesise(net, x, y, "gradient", 300.0, 0.1, g)
            x_n = t._normalise(net, x)
            want = t.ref_gradient_ood(x_n, t.ref_saliency(net, x_n, y), 300.0, 0.1)
            worst = max(worst, float((t._normalise(net, got) - want).abs().max() / want.abs().max()))
    out.append(("ASCOOD", "default vs reference: gradient outlier (normalised units, relative to max)", worst))
    steps = [t.step_differences(kind) for kind in ("gradient", "shuffle", "gaussian")]
    out.append(("ASCOOD", "default vs reference: training loss (gradient, shuffle, gaussian)",
                max(s[0] for s in steps)))
    out.append(("ASCOOD", "default vs reference: parameter gradients, relative to max", max(s[1] / s[2] for s in
                                                                                           steps)))
    conf = 0.0
    for stats in (t.IMAGENET, t.UNIT, t.SKEWED):
        for temperature, noise in ((1000.0, 0.0014), (1.0, 0.05), (10.0, 0.3)):
            net = t._net(stats, seed=4).eval()
            images = np.random.default_rng(0).random((10, 3, 16, 16)).astype(np.float32)
            got = A.i_odin(net, images, temperature, noise, 4, "cpu")
            want = t.ref_iodin(net, t._normalise(net, torch.from_numpy(images)), temperature, noise, stats[1])
            conf = max(conf, float(np.abs(got - want.numpy()).max()))
    out.append(("ASCOOD", "default vs reference: i-ODIN confidence", conf))
    net = t._net(t.IMAGENET)
    x, y, g = t._batch(8, 3, 16, 5)
    ref_out, _ = A.synthesise(net, x, y, "gradient", 1.0, 0.1, g)
    raw_out, _ = A.synthesise(net, x, y, "gradient", 1.0, 0.1, g, "raw")
    out.append(("ASCOOD", "outlier_space=raw / reference: gradient step size in pixels (ImageNet stats), ratio",
                float((raw_out - x).norm() / (ref_out - x).norm())))
    return out


def lame() -> list[tuple[str, str, float]]:
    import test_lame_parity as t

    ref, cccp, counts, ratios = 0.0, 0.0, 0, []
    for s in t.SIZES:
        for c in t.CONFIGS:
            for seed in (0, 1):
                d, a, b = t.compare(s, c, seed)
                ref, counts = max(ref, d), counts + (a != b)
                d2, a2, b2 = t.compare(s, c, seed, stop="cccp")
                cccp = max(cccp, d2)
                ratios.append(a2 / b2)
    probs, feats = t.batch(64, 6, 32, 5)
    sym = float(np.abs(t.lame(probs, feats, kind="knn", force_symmetry=True).probs
                       - t.lame(probs, feats, kind="knn", force_symmetry=True, symmetrise_how="max").probs).max())
    return [("LAME", "default vs reference: assignments", ref),
            ("LAME", "default vs reference: batches with a different iteration count", float(counts)),
            ("LAME", "lame_stop=cccp vs reference: assignments", cccp),
            ("LAME", "lame_stop=cccp / reference: iteration count ratio, min", min(ratios)),
            ("LAME", "lame_stop=cccp / reference: iteration count ratio, max", max(ratios)),
            ("LAME", "lame_symmetrise=max vs average (kNN, force_symmetry): assignments", sym)]


def cafa() -> list[tuple[str, str, float]]:
    import test_cafa_parity as t

    rows = [t.measure(*s, seed) for s in t.SIZES for seed in (0, 1)]
    tied = [t.measure(*s, 0, covariance="tied", shrinkage=0.1) for s in t.SIZES]
    return [("CAFA", "default vs paper: loss", max(r[0] for r in rows)),
            ("CAFA", "default vs paper: feature gradient (relative to max)", max(r[1] for r in rows)),
            ("CAFA", "cafa_covariance=tied, cafa_shrinkage=0.1 vs paper: loss, min", min(r[0] for r in tied)),
            ("CAFA", "cafa_covariance=tied, cafa_shrinkage=0.1 vs paper: loss, max", max(r[0] for r in tied))]


def metrics() -> list[tuple[str, str, float]]:
    import test_openood_metrics_parity as t

    from wb_ood.metrics import ood_metrics

    runs = [(k, n, m, s) for k in t.KINDS for n, m in t.SIZES for s in (0, 1, 2)]
    out = [("OOD metrics", "default vs OpenOOD: any metric", max(t.max_difference(*r) for r in runs))]
    for kind in t.KINDS:
        ap = max(t.max_difference(kind, n, m, s, aupr="average-precision") for n, m in t.SIZES for s in (0, 1, 2))
        out.append(("OOD metrics", f"aupr=average-precision vs OpenOOD ({kind}): AUPR", ap))
    fpr = []
    for k, n, m, s in runs:
        a, b = t.score_sets(k, n, m, s)
        x, y = ood_metrics(a, b), ood_metrics(a, b, fpr95="every-threshold")
        fpr.append(max(abs(x[q] - y[q]) for q in ("fpr95_id_pos", "fpr95_ood_pos")))
    out.append(("OOD metrics", "fpr95=every-threshold vs OpenOOD: FPR@95 (all kinds)", max(fpr)))
    return out


def main() -> None:
    for fn in (palm, mixoe, ascood, lame, cafa, metrics):
        for method, what, value in fn():
            print(f"{method:12s} {what:90s} {value:.3g}")


if __name__ == "__main__":
    main()
