"""`bertstudio predict`: texts or a file through a finished run's model; a file's predictions are
written in the format the --output name asks for, into a folder checked before the model loads."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from bertstudio.errors import StudioError


def run(args: argparse.Namespace) -> int:
    """Predict --text values (one line each) or a --data file (written to --output)."""
    from bertstudio.predict import Predictor

    if args.data and not args.output:
        raise StudioError("Predicting a file needs --output FILE for the file with predictions.")
    if args.sheet is not None and not args.data:
        raise StudioError("--sheet picks a sheet of the --data file; leave it out when predicting --text.")
    if args.text_pair and len(args.text_pair) != len(args.text or []):
        raise StudioError("Give one --text-pair for every --text, or none.")
    if getattr(args, "explain_label", None) and not getattr(args, "explain", False):
        raise StudioError("--explain-label names what --explain explains; add --explain.")
    if getattr(args, "explain", False):
        _check_explainable(args)
    if args.data:
        _check_output_file(args.output)  # before the model loads: a typo costs no wait
    predictor = Predictor.load(args.model, backend=args.backend)
    if args.data:
        try:
            path = _predict_file(predictor, args)
        except OSError as exc:  # reading the data raises StudioError; an OSError here is the write
            raise StudioError(_unwritten(args.output, exc)) from exc
        if args.json:
            print(json.dumps({"output": str(path)}))
        else:
            print(path)
        return 0
    if getattr(args, "explain", False):
        return _explained(predictor, args)
    predictions = predictor.predict(args.text, args.text_pair)
    if args.json:
        print(json.dumps([{"text": t, **p.to_dict()} for t, p in zip(args.text, predictions)], ensure_ascii=False))
        return 0
    for text, prediction in zip(args.text, predictions):
        print(_prediction_line(text, prediction))
    return 0


def _check_explainable(args: argparse.Namespace) -> None:
    """--explain explains typed texts through the PyTorch model; said before the model loads."""
    if args.data:
        raise StudioError("--explain explains --text predictions; leave it out when predicting a --data file.")
    if getattr(args, "backend", "torch") != "torch":
        raise StudioError("--explain needs the run's PyTorch model; leave out --backend onnx.")
    from bertstudio.explain import check_available

    check_available()


def _explained(predictor, args: argparse.Namespace) -> int:
    """Each text's prediction line, then the words that pushed it most (or one JSON list with an
    "explanation" per text). Imported only here, so a plain prediction never loads Captum."""
    from bertstudio.explain import explain

    pairs = args.text_pair or [None] * len(args.text)
    explained = [explain(predictor, text, pair, target=args.explain_label) for text, pair in zip(args.text, pairs)]
    if args.json:
        print(json.dumps([{"text": t, **e.prediction.to_dict(), "explanation": e.to_dict()}
                          for t, e in zip(args.text, explained)], ensure_ascii=False))
        return 0
    for text, explanation in zip(args.text, explained):
        print(_prediction_line(text, explanation.prediction))
        print(f"  why, {explanation.toward} ({explanation.change()}): {explanation.summary(EXPLAINED_WORDS)}")
    return 0


EXPLAINED_WORDS = 6  # words listed per text: those with the largest shares, either way


def _prediction_line(text: str, prediction) -> str:
    """One text's prediction as a tab-separated line: what it is, how sure, the text, the rest."""
    others = ", ".join(f"{label} {prob:.3f}" for label, prob in prediction.probabilities.items())
    if prediction.value is not None:  # regression: the number in the user's units
        return f"{prediction.value:.4g}\t{text}"
    if prediction.labels is not None:  # multi-label: the tags (maybe none), every tag's probability
        tags = ", ".join(prediction.labels) or "(none of the labels)"
        return f"{tags}\t{text}\t({others})"
    return f"{prediction.label}\t{prediction.confidence:.3f}\t{text}\t({others})"


def _predict_file(predictor, args: argparse.Namespace) -> Path:
    """The file's rows with the task's columns, written in the format --output's name asks for
    (`write_predictions` decides, for the CLI as for every other caller)."""
    return predictor.predict_csv(args.data, args.output, args.text_column, args.text_pair_column,
                                 sheet=args.sheet)


def _check_output_file(output: str) -> None:
    """--output must name a file in a folder that exists and takes files. A missing folder is
    refused, not made: a typo would otherwise leave folders behind and the CSV where nobody looks."""
    target = Path(output).expanduser()
    folder = target.parent
    if target.is_dir():
        raise StudioError(f"--output '{output}' is a folder; name a file in it, such as "
                          f"{target / 'predictions.csv'}.")
    if not folder.exists():
        raise StudioError(f"The folder '{folder}' does not exist; create it first (mkdir -p {folder}), "
                          "or choose an --output in a folder that exists.")
    if not folder.is_dir():
        raise StudioError(f"'{folder}' is a file, not a folder; choose an --output in a folder.")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StudioError(f"You may not write to the folder '{folder}'; choose an --output somewhere "
                          "you may write.")


def _unwritten(output: str, exc: OSError) -> str:
    from bertstudio.atomic import disk_is_full

    folder = Path(output).expanduser().parent
    if disk_is_full(exc, folder):
        return f"The disk holding '{folder}' is full; free some space or choose another --output."
    reason = (exc.strerror or str(exc)).lower()
    return f"Could not write the predictions into the folder '{folder}' ({reason}); choose another --output."
