"""`bertstudio tokenize`: one text's WordPiece pieces, ids and truncation cut, as a model would see it."""

from __future__ import annotations

import argparse
import json

from bertstudio.config import TrainConfig


def run(args: argparse.Namespace) -> int:
    """Print the pieces, ids and what truncation cuts (or one JSON object)."""
    from bertstudio.models import load_tokenizer
    from bertstudio.text.token_preview import preview

    # The bounds training accepts: a preview of a length no run can use would mislead.
    TrainConfig(model=args.model, max_length=args.max_length, truncation=args.truncation).validate()
    tokenizer = load_tokenizer(args.model)
    result = preview(tokenizer, args.text, args.text_pair, max_length=args.max_length,
                     truncation=args.truncation)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    kept = [p for p in result.tokens if p.kept]
    dropped = [p for p in result.tokens if not p.kept]
    print("pieces:  " + " ".join(p.text for p in kept))
    print("ids:     " + " ".join(str(p.id) for p in kept))
    if args.text_pair is not None:
        print("segment: " + " ".join(str(p.segment) for p in kept))
    print(f"length:  {result.kept_length} of {result.length} tokens kept (max length {args.max_length}, "
          f"truncation {args.truncation})")
    if dropped:
        print("dropped: " + " ".join(p.text for p in dropped)
              + (f" … and {result.hidden_count:,} more" if result.hidden_count else ""))
    if result.unknown_count:
        print(f"unknown: {result.unknown_count} piece(s) became [UNK]")
    return 0
