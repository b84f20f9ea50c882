"""Integrated gradients (bertstudio.explain) against gradient x input on real rows: the time of
each and how well their word rankings agree (Spearman), to decide whether the cheap one may stand
in. It did not (median 0.11, same top word on 15% of 39 rows of assets/sample_reviews.csv with a
bundled-model run), so only integrated gradients is offered.

    python bench/explain_methods.py RUN_DIR [--data assets/sample_reviews.csv] [--every 10]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time


def gradient_x_input(predictor, text: str, explanation) -> list[float]:
    """(x - baseline) . d output / d x at the word embeddings, summed per word of `explanation`."""
    import torch

    from bertstudio.explain import _encoded, _scorer

    _, inputs, _, _ = _encoded(predictor, text, None)
    model = predictor.model
    index = predictor.labels.index(explanation.target) if explanation.target_kind != "value" else 0
    score = _scorer(model, explanation.target_kind, index, inputs)
    layer, seen = model.get_input_embeddings(), {}
    handle = layer.register_forward_hook(lambda module, args, out: seen.setdefault("out", out))
    try:
        output = score(inputs["input_ids"])
    finally:
        handle.remove()
    (gradient,) = torch.autograd.grad(output.sum(), seen["out"])
    with torch.no_grad():
        per_piece = ((seen["out"] - layer(inputs["baseline_ids"])) * gradient).sum(-1)[0].tolist()
    at = {p.position: s for p, s in zip(explanation.pieces, per_piece)}
    return [sum(at[i] for i in word.positions) for word in explanation.words]


def main() -> None:
    from scipy.stats import spearmanr

    from bertstudio.explain import explain
    from bertstudio.predict import Predictor

    parser = argparse.ArgumentParser()
    parser.add_argument("run")
    parser.add_argument("--data", default="assets/sample_reviews.csv")
    parser.add_argument("--every", type=int, default=10)
    args = parser.parse_args()
    predictor = Predictor.load(args.run)
    with open(args.data, encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][::args.every]
    explain(predictor, texts[0])  # warm up
    rhos, same_top, ig_s, gxi_s = [], [], [], []
    for text in texts:
        ig = explain(predictor, text)
        started = time.perf_counter()
        cheap = gradient_x_input(predictor, text, ig)
        gxi_s.append(time.perf_counter() - started)
        ig_s.append(ig.seconds)
        full = [w.score for w in ig.words]
        rhos.append(spearmanr(full, cheap).statistic)
        same_top = same_top + [max(range(len(full)), key=lambda i: abs(full[i]))
                               == max(range(len(cheap)), key=lambda i: abs(cheap[i]))]
    print(f"{len(texts)} rows: Spearman median {statistics.median(rhos):.2f}, same top word "
          f"{sum(same_top) / len(same_top):.0%}; seconds median IG {statistics.median(ig_s):.3f}, "
          f"gradient x input {statistics.median(gxi_s):.3f}")


if __name__ == "__main__":
    main()
