"""BERT Studio's web app: `python app.py` serves it on http://127.0.0.1:7860 (and runs a Hugging Face Space).

Host and port come from --host/--port, else GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, else gradio's
defaults; the runs folder from --runs-dir, else BERTSTUDIO_RUNS_DIR, else ./runs. Nothing is
built at import: `main()` does the setup, and `demo` is made on first access for tools that look
for it (gradio's reload mode).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Sequence


def _flag_on(name: str) -> bool:
    return (os.environ.get(name) or "").strip().lower() in {"1", "true", "yes", "on"}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="BERT Studio: fine-tune BERT text "
                                     "classifiers on your own CSV, in the browser.")
    parser.add_argument("--host", default=None,
                        help="address to listen on [GRADIO_SERVER_NAME, else 127.0.0.1]; 0.0.0.0 for all")
    parser.add_argument("--port", type=int, default=None, help="port [GRADIO_SERVER_PORT, else 7860]")
    parser.add_argument("--runs-dir", default=None, help="folder for the runs [BERTSTUDIO_RUNS_DIR, else ./runs]")
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    parser.add_argument("--private-runs", action=argparse.BooleanOptionalAction, default=None,
                        help="each browser sees only the runs it started (on by default on a "
                             "Hugging Face Space, or with BERTSTUDIO_PRIVATE_RUNS=1)")
    parser.add_argument("--default-model", default="bundled",
                        help="model preselected in the UI [bundled: works offline]")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace):
    from bertstudio.ui.app import AppSettings, default_runs_dir

    private = args.private_runs
    if private is None:
        # A Space is public: visitors must not see each other's runs unless asked otherwise.
        private = bool(os.environ.get("SPACE_ID")) or _flag_on("BERTSTUDIO_PRIVATE_RUNS")
    runs_dir = Path(args.runs_dir) if args.runs_dir else default_runs_dir()
    return AppSettings(runs_dir=runs_dir.resolve(), private_runs=private, default_model=args.default_model)


def build_demo(settings=None, jobs=None):
    """The gr.Blocks app (not launched) with its own job manager unless one is given."""
    from bertstudio.ui.app import build_app
    from bertstudio.worker import JobManager

    settings = settings or settings_from(parse_args([]))
    return build_app(settings, jobs or JobManager())


def main(argv: Sequence[str] | None = None) -> None:
    from bertstudio.ui.app import launch_options

    args = parse_args(argv)
    settings = settings_from(args)
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    # Tokenizers' own thread pool would fight the training thread for the same cores.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    demo = build_demo(settings)
    demo.queue(default_concurrency_limit=4)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share,
                allowed_paths=[str(settings.runs_dir)], **launch_options())


def __getattr__(name: str):
    if name == "demo":  # built on first access only
        global demo
        demo = build_demo()
        return demo
    raise AttributeError(name)


if __name__ == "__main__":
    main()
