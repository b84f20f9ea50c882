"""`bertstudio export runs/<id> [--int8]`: the run's model as ONNX in runs/<id>/onnx/ (with an int8
copy on request), served by `bertstudio predict --backend onnx`; prints the parity report and the
export folder as the last line."""

from __future__ import annotations

import argparse
import json
import sys


def add_parser(commands) -> None:
    export = commands.add_parser(
        "export", help="write the run's model as ONNX for serving; prints the export folder as the last line",
        description="Writes runs/<id>/onnx/: model.onnx (and model.int8.onnx with --int8), the tokenizer, "
                    "the model's config (labels, task, thresholds) and export.json, so the folder serves on "
                    "its own; parity.json compares its answers with PyTorch's on the run's validation rows. "
                    'Needs the onnx extra: pip install -e ".[onnx]".')
    export.add_argument("run_dir", metavar="RUN_DIR", help="the run folder, such as runs/<id>")
    export.add_argument("--int8", action="store_true",
                        help="also write a dynamically quantised int8 model (smaller and faster on a CPU); "
                             "predict --backend onnx then serves it")
    export.add_argument("--json", action="store_true", help="print one JSON object (folder, files, parity)")


def run(args: argparse.Namespace) -> int:
    from bertstudio.export.onnx_export import export_run

    print(f"exporting {args.run_dir} to ONNX{' (fp32 and int8)' if args.int8 else ''}…", file=sys.stderr)
    result = export_run(args.run_dir, int8=args.int8)
    if args.json:
        print(json.dumps({"folder": str(result.folder), "files": result.files, "parity": result.parity}))
        return 0
    for line in result.summary:
        print(line)
    print(result.folder)
    return 0
