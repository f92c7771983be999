"""Small real computations that produce one result of every kind, for the view tests.

These are not workbench methods (plugins bring those): a logistic regression on scikit-learn's real
digits, contours of a drawn scene, TF-IDF word attributions and a RANSAC/Kabsch rigid fit. They exist so
each result view can be shown with meaningful data without a plugin that produces that kind.
"""

from __future__ import annotations

import numpy as np

from workbench.core import results as R


def _digits_model(seed: int = 0):
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x, y = digits.images.reshape(len(digits.images), -1) / 16.0, digits.target
    known = y < 6
    x_tr, x_te, y_tr, y_te = train_test_split(x[known], y[known], test_size=0.3, random_state=seed, stratify=y[known])
    model = LogisticRegression(max_iter=500).fit(x_tr, y_tr)
    rng = np.random.default_rng(seed)
    noise = np.clip(rng.normal(0.3, 0.3, (300, 64)), 0, 1)
    return model, {"ID test (0-5)": x_te, "digits 6-9": x[~known], "noise": noise}, y_te


def digits_scores(seed: int = 0) -> tuple[R.ScoreSet, R.ImageGrid, R.Heatmap, R.MetricsTable]:
    """Max-probability and max-logit scores of a logistic regression: ID digits vs unseen digits vs noise."""
    from sklearn.metrics import roc_auc_score

    model, sets, y_te = _digits_model(seed)
    scores: dict[str, dict[str, np.ndarray]] = {"max probability": {}, "max logit": {}}
    for name, x in sets.items():
        scores["max probability"][name] = model.predict_proba(x).max(1)
        scores["max logit"][name] = model.decision_function(x).max(1)
    id_set = "ID test (0-5)"
    score_set = R.ScoreSet(name="digits-scores", title="Logistic regression on real digits: ID vs OOD scores",
                           scores=scores, id_set=id_set, groups={"digits 6-9": "near", "noise": "far"})
    rows = []
    for det, by_set in scores.items():
        for name in ("digits 6-9", "noise"):
            y = np.r_[np.ones(len(by_set[id_set])), np.zeros(len(by_set[name]))]
            rows.append([det, name, float(roc_auc_score(y, np.r_[by_set[id_set], by_set[name]]))])
    accuracy = float((model.predict(sets[id_set]) == y_te).mean())
    table = R.MetricsTable(name="digits-auroc", title="AUROC (ID positive)", columns=["detector", "OOD set", "AUROC"],
                           rows=rows, notes=f"ID test accuracy {accuracy:.3f}")
    near = sets["digits 6-9"]
    order = np.argsort(scores["max probability"]["digits 6-9"])[::-1][:8]
    grid = R.ImageGrid(name="confident-near-ood", title="Unseen digits the model is most confident about",
                       images=[(near[i].reshape(8, 8) * 255).astype(np.uint8) for i in order],
                       captions=[f"p={scores['max probability']['digits 6-9'][i]:.2f}" for i in order], ncols=8)
    image = sets[id_set][0].reshape(8, 8)
    pred = int(model.predict(sets[id_set][:1])[0])
    contribution = (model.coef_[pred] * sets[id_set][0]).reshape(8, 8)
    big = np.kron(image, np.ones((8, 8)))
    heat = R.Heatmap(name="digit-evidence", title=f"Per-pixel evidence for class {pred}",
                     image=np.repeat((big[..., None] * 255).astype(np.uint8), 3, axis=2),
                     heat=np.kron(contribution, np.ones((8, 8))), signed=True, label="weight x pixel")
    return score_set, grid, heat, table


def caption_tokens(reference: str = "a red circle above a small blue square",
                   caption: str = "a red square above a small green circle") -> R.TokenScores:
    """Leave-one-word-out change of TF-IDF cosine similarity between a caption and a reference text."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = caption.split()
    vec = TfidfVectorizer(token_pattern=r"(?u)\b\w+\b").fit([reference, caption])
    ref = vec.transform([reference])

    def sim(text: str) -> float:
        return float((vec.transform([text]) @ ref.T).toarray()[0, 0])

    full = sim(caption)
    scores = np.array([full - sim(" ".join(words[:i] + words[i + 1:])) for i in range(len(words))])
    threshold = 0.0
    return R.TokenScores(name="caption-words", title="Word contributions to caption/reference similarity",
                         tokens=words, scores=scores, flags=scores < threshold, threshold=threshold,
                         summary={"similarity": full})


def scene_regions(size: int = 160) -> R.Regions:
    """Contours of a drawn scene, labelled by corner count and fill; score = the fraction of the box filled."""
    import cv2

    img = np.full((size, size, 3), 245, np.uint8)
    cv2.circle(img, (45, 45), 25, (220, 60, 50), -1)
    cv2.rectangle(img, (95, 20), (145, 70), (40, 90, 200), -1)
    cv2.fillPoly(img, [np.array([[30, 145], [75, 145], [52, 100]], np.int32)], (40, 160, 80))
    cv2.ellipse(img, (115, 120), (30, 16), 20, 0, 360, (200, 160, 30), -1)
    mask = (img.min(axis=2) < 230).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    boxes, labels, scores = [], [], []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        corners = len(cv2.approxPolyDP(contour, 0.04 * cv2.arcLength(contour, True), True))
        fill = cv2.contourArea(contour) / float(w * h)
        labels.append("triangle" if corners == 3 else "rectangle" if corners == 4 and fill > 0.9 else "ellipse")
        boxes.append([x, y, x + w, y + h])
        scores.append(fill)
    return R.Regions(name="scene-regions", title="Shapes found by contour analysis", image=img,
                     boxes=np.array(boxes, float), labels=labels, scores=np.array(scores))


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ca, cb = a.mean(0), b.mean(0)
    u, _, vt = np.linalg.svd((a - ca).T @ (b - cb))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    rot = vt.T @ np.diag([1, 1, d]) @ u.T
    out = np.eye(4)
    out[:3, :3], out[:3, 3] = rot, cb - rot @ ca
    return out


def surface_registration(seed: int = 0, n: int = 600, n_corr: int = 120, outlier_ratio: float = 0.4) -> R.Registration:
    """A sampled surface moved by a known rigid motion; RANSAC + Kabsch on noisy, partly wrong matches."""
    rng = np.random.default_rng(seed)
    uv = rng.uniform(-1, 1, (n, 2))
    source = np.c_[uv, 0.3 * np.sin(2.5 * uv[:, 0]) * np.cos(2.0 * uv[:, 1])]
    angle = 0.6
    rot = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    rot = rot @ np.array([[1, 0, 0], [0, np.cos(0.4), -np.sin(0.4)], [0, np.sin(0.4), np.cos(0.4)]])
    target = source @ rot.T + np.array([0.8, 0.3, 0.2]) + rng.normal(0, 0.01, source.shape)
    src_idx = rng.choice(n, n_corr, replace=False)
    tgt_idx = src_idx.copy()
    wrong = rng.random(n_corr) < outlier_ratio
    tgt_idx[wrong] = rng.integers(0, n, wrong.sum())
    truth = src_idx == tgt_idx
    best, best_inliers = np.eye(4), np.zeros(n_corr, bool)
    for _ in range(200):
        pick = rng.choice(n_corr, 3, replace=False)
        t = _kabsch(source[src_idx[pick]], target[tgt_idx[pick]])
        residual = np.linalg.norm(source[src_idx] @ t[:3, :3].T + t[:3, 3] - target[tgt_idx], axis=1)
        inliers = residual < 0.05
        if inliers.sum() > best_inliers.sum():
            best, best_inliers = t, inliers
    best = _kabsch(source[src_idx[best_inliers]], target[tgt_idx[best_inliers]])
    return R.Registration(name="surface-registration", title="RANSAC + Kabsch on a sampled surface",
                          source=source, target=target, transform=best,
                          correspondences=np.c_[src_idx, tgt_idx], inliers=best_inliers, truth=truth, status="ok")


def sgd_curves(seed: int = 0, epochs: int = 15) -> R.Curves:
    """Train/test accuracy of a linear SGD classifier on the real digits, one point per epoch."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import SGDClassifier
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_tr, x_te, y_tr, y_te = train_test_split(digits.data / 16.0, digits.target, test_size=0.3, random_state=seed)
    model = SGDClassifier(loss="log_loss", random_state=seed)
    train, test = [], []
    for _ in range(epochs):
        model.partial_fit(x_tr, y_tr, classes=np.arange(10))
        train.append(model.score(x_tr, y_tr))
        test.append(model.score(x_te, y_te))
    x = np.arange(1, epochs + 1, dtype=float)
    return R.Curves(name="sgd-accuracy", title="Linear SGD on real digits", x_label="epoch", y_label="accuracy",
                    series={"train": np.vstack([x, train]), "test": np.vstack([x, test])})


def all_demo_results() -> list[R.Result]:
    scores, grid, heat, table = digits_scores()
    return [table, scores, grid, heat, caption_tokens(), scene_regions(), surface_registration(), sgd_curves()]
