"""Why this label: one prediction's token attributions, by integrated gradients over the word
embeddings (Captum's `LayerIntegratedGradients`), per WordPiece piece and summed per word.

What is attributed is the number the user sees, so the scores add up in its units:
    one label per row   the predicted class's softmax probability (or `target`'s)
    several labels      one tag's sigmoid probability: the most probable of the predicted tags,
                        the most probable tag when none passed its threshold (or `target`'s);
                        one tag at a time, so "toward" has one meaning
    a score             the predicted value itself, in the user's units: "toward" = higher
The baseline is the same text with every content piece replaced by [PAD] and [CLS]/[SEP] kept,
so the specials score 0 and the pieces' scores sum to output(text) - output(baseline), less the
reported convergence delta (the integral's error).

Gradient x input (one backward pass, about 10x cheaper) was measured against it and is not
offered: its word ranking's Spearman correlation with integrated gradients had a median of 0.11
(bundled-model run, 39 rows of assets/sample_reviews.csv; the same top word on 15%) and -0.06
(MiniLM, 20 rows) (bench/explain_methods.py).

Captum is an optional extra (`pip install -e ".[explain]"`), imported only here and only when an
explanation is asked for; nothing of this module loads for a plain prediction.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from bertstudio.errors import StudioError

if TYPE_CHECKING:
    import torch

    from bertstudio.predict import Predictor
    from bertstudio.tasks.base import Prediction
    from bertstudio.text.token_preview import TokenPreview

DEFAULT_STEPS = 32          # Gauss-Legendre points: on real rows the delta was < 1e-3 of the change
CONVERGED = 0.05            # |delta| / |output change| accepted; past it the steps are doubled
MAX_AUTO_STEPS = 128        # ...up to this many (a sharp sigmoid took 64 to get under 1%)
MAX_STEPS = 512
INTERNAL_BATCH = 16         # interpolation points per forward pass: bounds memory at 512 tokens
MISSING_CAPTUM = 'Explanations need Captum; install it with: pip install -e ".[explain]"'


@dataclass
class PieceScore:
    """One kept WordPiece piece of the encoding the model saw."""

    text: str               # the piece as in the vocabulary ("##ing", "[CLS]")
    id: int
    score: float            # its attribution, in the output's units (probability or value)
    share: float            # score / the sum of |score| over all pieces: signed, |shares| sum to 1
    position: int           # index in the encoding (the Tokenizer tab's #)
    word_index: int | None  # groups a word's pieces; None for [CLS]/[SEP]
    is_special: bool


@dataclass
class WordScore:
    """A word's pieces summed: `##` pieces joined to the word they continue."""

    text: str               # the word as written in the (cleaned) text
    score: float
    share: float
    positions: list[int]    # its pieces' positions


@dataclass
class Explanation:
    """One text's attributions toward `target` (a class, a tag, or "a higher value")."""

    target: str             # the class or tag explained; a score's column name
    target_kind: str        # "class" | "tag" | "value"
    toward: str             # in words: "toward 'positive'", "toward a higher value"
    output: float           # the explained number for the text
    baseline_output: float  # the same with every content piece [PAD]
    delta: float            # convergence delta: sum(scores) - (output - baseline_output)
    method: str             # "integrated_gradients"
    steps: int
    seconds: float
    pieces: list[PieceScore]
    words: list[WordScore]
    prediction: "Prediction | None" = None
    preview: "TokenPreview | None" = field(default=None, repr=False)  # for the chips; not in to_dict

    def top_words(self, n: int = 5) -> list[WordScore]:
        """The words that moved the output most, either way, largest |share| first."""
        return sorted(self.words, key=lambda w: -abs(w.share))[:n]

    def summary(self, n: int = 5) -> str:
        """One line: the top words with their signed shares ("+zebra 61%, -the 4%")."""
        return ", ".join(f"{w.text} {w.share:+.0%}" for w in self.top_words(n)) or "(no words)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: everything but the prediction (its caller prints it) and the preview."""
        return {k: v for k, v in asdict(self).items() if k not in ("prediction", "preview")}

    def change(self) -> str:
        """How far the text moved the output from the all-[PAD] baseline, in its units."""
        what = "the value" if self.target_kind == "value" else f"the probability of '{self.target}'"
        return f"{what}: {self.baseline_output:.3g} with every word [PAD], {self.output:.3g} with the text"


def explain(predictor: "Predictor", text: str, pair: str | None = None, *, target: str | None = None,
            steps: int | None = None,
            internal_batch_size: int = INTERNAL_BATCH, max_text_chars: int | None = None) -> Explanation:
    """Explain `predictor`'s prediction for one text (or pair). `target`: a class or tag name to
    explain instead of the predicted one (a score has one output and takes none). `steps`: the
    integral's points; None starts at DEFAULT_STEPS and doubles them while the convergence delta
    is over CONVERGED of the output's change, up to MAX_AUTO_STEPS."""
    if getattr(predictor, "model", None) is None:
        raise StudioError("Explanations need the run's PyTorch model; predict with the torch backend.")
    _captum()  # the one-line install hint before any work
    if steps is not None and not 2 <= steps <= MAX_STEPS:
        raise StudioError(f"Integrated gradients needs 2 to {MAX_STEPS} steps; {steps} was asked for.")
    started = time.perf_counter()
    prediction = predictor.predict([text], None if pair is None else [pair],
                                   **({} if max_text_chars is None else {"max_text_chars": max_text_chars}))[0]
    kind, index, name = _target(prediction, predictor.labels, target)
    preview, inputs, text, pair = _encoded(predictor, text, pair)
    score = _scorer(predictor.model, kind, index, inputs)
    tried = steps or DEFAULT_STEPS
    while True:
        raw, output, base, delta = _integrated_gradients(predictor.model, score, inputs, tried, internal_batch_size)
        if steps is not None or tried >= MAX_AUTO_STEPS or abs(delta) <= CONVERGED * max(abs(output - base), 1e-3):
            break
        tried *= 2
    pieces = _pieces(preview, raw)
    return Explanation(target=name, target_kind=kind, toward=_toward(kind, name), output=output,
                       baseline_output=base, delta=delta, method="integrated_gradients", steps=tried,
                       seconds=time.perf_counter() - started, pieces=pieces,
                       words=_words(pieces, preview, text, pair), prediction=prediction, preview=preview)


def check_available() -> None:
    """StudioError naming the extra to install when Captum is missing; for a caller that wants
    to say so before it loads a model."""
    _captum()


def _captum():
    try:
        import captum.attr
    except ImportError as exc:
        raise StudioError(MISSING_CAPTUM) from exc
    return captum.attr


def _target(prediction: "Prediction", labels: list[str], target: str | None) -> tuple[str, int, str]:
    """(kind, output index, name) of what to explain, read from the prediction's shape: a value
    (a score), a set of tags (several labels), else one class."""
    if prediction.value is not None:
        if target is not None:
            raise StudioError("A model that predicts a number has one output; leave the label to explain out.")
        return "value", 0, labels[0] if labels else "value"
    kind = "tag" if prediction.labels is not None else "class"
    if target is None and kind == "tag":  # the surest of the predicted tags; none: the likeliest tag
        probabilities = prediction.probabilities
        target = max(prediction.labels or probabilities, key=probabilities.__getitem__)
    elif target is None:
        target = prediction.label
    if target not in labels:
        plural = "classes" if kind == "class" else "tags"
        raise StudioError(f"The model has no {kind} '{target}'; its {plural} are: {', '.join(labels)}.")
    return kind, labels.index(target), target


def _toward(kind: str, name: str) -> str:
    return "toward a higher value" if kind == "value" else f"toward '{name}'"


def _encoded(predictor: "Predictor", text: str, pair: str | None) -> tuple["TokenPreview", dict, str, str | None]:
    """The text cleaned as in training and tokenized as `predict` does (the preview's kept ids
    equal encode_examples'), as one-row tensors with its [PAD] baseline; the cleaned texts too
    (the pieces' offsets point into them)."""
    import torch

    from bertstudio.data.cleaning import clean_texts
    from bertstudio.text.token_preview import preview as token_preview

    text = clean_texts([text], predictor.cleaning)[0]
    pair = None if pair is None else clean_texts([pair], predictor.cleaning)[0]
    seen = token_preview(predictor.tokenizer, text, pair, max_length=predictor.max_length,
                         truncation=predictor.truncation, max_chars=len(text) + len(pair or "") + 1)
    kept = [p for p in seen.tokens if p.kept]
    ids = torch.tensor([seen.input_ids])
    pad = predictor.tokenizer.pad_token_id or 0
    baseline = torch.tensor([[p.id if p.is_special else pad for p in kept]])
    device = next(predictor.model.parameters()).device
    inputs = {"input_ids": ids.to(device), "baseline_ids": baseline.to(device),
              "token_type_ids": torch.tensor([seen.token_type_ids]).to(device),
              "attention_mask": torch.ones_like(ids).to(device)}
    return seen, inputs, text, pair


def _scorer(model, kind: str, index: int, inputs: dict) -> Callable[..., "torch.Tensor"]:
    """input_ids -> the explained number per row: a class's softmax, a tag's sigmoid, the value."""
    import torch

    token_types, mask = inputs["token_type_ids"], inputs["attention_mask"]
    accepts_types = "token_type_ids" in inspect.signature(model.forward).parameters

    def score(input_ids: "torch.Tensor") -> "torch.Tensor":
        rows = input_ids.shape[0]
        extra = {"token_type_ids": token_types.expand(rows, -1)} if accepts_types else {}
        logits = model(input_ids=input_ids, attention_mask=mask.expand(rows, -1), **extra).logits.float()
        if kind == "class":
            return torch.softmax(logits, dim=-1)[:, index]
        if kind == "tag":
            return torch.sigmoid(logits[:, index])
        return logits[:, 0]

    return score


def _integrated_gradients(model, score, inputs: dict, steps: int, batch: int):
    """Per-piece attributions (summed over the embedding), output, baseline output, delta."""
    import torch

    attr = _captum()
    ig = attr.LayerIntegratedGradients(score, model.get_input_embeddings())
    with _eval(model):
        attributions, delta = ig.attribute(inputs["input_ids"], baselines=inputs["baseline_ids"],
                                           n_steps=steps, internal_batch_size=batch,
                                           return_convergence_delta=True)
        with torch.no_grad():
            output, base = score(inputs["input_ids"]).item(), score(inputs["baseline_ids"]).item()
    return attributions.sum(dim=-1)[0].detach().cpu().tolist(), output, base, float(delta.item())


class _eval:
    """The model in eval mode (no dropout) for the explanation, as it was afterwards."""

    def __init__(self, model) -> None:
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc) -> None:
        self.model.train(self.was_training)


def _pieces(preview: "TokenPreview", raw: list[float]) -> list[PieceScore]:
    kept = [p for p in preview.tokens if p.kept]
    total = sum(abs(s) for s in raw) or 1.0
    return [PieceScore(text=p.text, id=p.id, score=s, share=s / total, position=p.position,
                       word_index=p.word_index, is_special=p.is_special)
            for p, s in zip(kept, raw)]


def _words(pieces: list[PieceScore], preview: "TokenPreview", text: str, pair: str | None) -> list[WordScore]:
    """Pieces grouped by word as the Tokenizer tab groups them (same sequence and word index),
    each word's text taken from the text itself (its case and accents), else its pieces joined."""
    by_position = {p.position: p for p in preview.tokens}
    words: list[WordScore] = []
    key_of_last = None
    for piece in pieces:
        if piece.is_special or piece.word_index is None:
            key_of_last = None
            continue
        token = by_position[piece.position]
        key = (token.sequence, piece.word_index)
        if key == key_of_last:
            word = words[-1]
            word.score += piece.score
            word.share += piece.share
            word.positions.append(piece.position)
        else:
            words.append(WordScore(text="", score=piece.score, share=piece.share, positions=[piece.position]))
        key_of_last = key
    for word in words:
        word.text = _word_text([by_position[i] for i in word.positions], text, pair)
    return words


def _word_text(tokens: list, text: str, pair: str | None) -> str:
    first, last = tokens[0], tokens[-1]
    source = text if first.sequence == 0 else (pair or "")
    if first.char_start is not None and last.char_end is not None and last.char_end <= len(source):
        spelled = source[first.char_start:last.char_end]
        if spelled:
            return spelled
    return "".join(t.text[2:] if t.is_continuation and t.text.startswith("##") else t.text for t in tokens)
