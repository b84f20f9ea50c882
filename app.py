"""BERT Studio's web app: `python app.py` serves it on http://127.0.0.1:7860 (and runs a Hugging Face Space).

Host and port come from --host/--port, else GRADIO_SERVER_NAME/GRADIO_SERVER_PORT, else gradio's
defaults; the runs folder from --runs-dir, else BERTSTUDIO_RUNS_DIR, else ./runs. Hosted mode
(BERTSTUDIO_HOSTED=1, or SPACE_ID on a Space) turns on the limits of `bertstudio.hosting`; a login
comes from BERTSTUDIO_USERS or BERTSTUDIO_AUTH_USER/PASSWORD. Nothing is built at import: `main()`
does the setup, and `demo` is made on first access for tools that look for it (gradio's reload mode).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
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
                        help="each browser sees only the runs it started (on by default in hosted mode, "
                             "on a Hugging Face Space, or with BERTSTUDIO_PRIVATE_RUNS=1)")
    parser.add_argument("--require-signin", action=argparse.BooleanOptionalAction, default=None,
                        help="hosted: training needs a Hugging Face sign-in; exploring data and the tokenizer "
                             "never does (on by default on a Space, or with BERTSTUDIO_REQUIRE_SIGNIN=1)")
    parser.add_argument("--launcher", choices=("process", "thread"), default=None,
                        help="where runs train: 'process' (default), each run its own process, which can use "
                             "every GPU, survives a crash and a restart of the studio; 'thread', inside the "
                             "server [BERTSTUDIO_LAUNCHER]")
    parser.add_argument("--mcp", action="store_true",
                        help="also serve the published endpoints (tokenize, predict, list_runs) as MCP tools "
                             "at /gradio_api/mcp/ (needs: pip install -e \".[mcp]\") [GRADIO_MCP_SERVER]")
    parser.add_argument("--default-model", default="bundled",
                        help="model preselected in the UI [bundled: works offline]")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace):
    from dataclasses import replace

    from bertstudio.hosting import HostingSettings
    from bertstudio.ui.app import AppSettings, default_runs_dir
    from bertstudio.ui.app_settings import with_account_key

    hosting = HostingSettings.from_env()
    if args.require_signin is not None:  # the flag over the variable; sign-in exists only hosted
        hosting = replace(hosting, require_signin=args.require_signin and hosting.hosted)
    private = args.private_runs
    if private is None:
        # A Space, or any hosted deployment, is public: visitors must not see each other's runs
        # unless the operator says otherwise with --no-private-runs.
        private = hosting.hosted or bool(os.environ.get("SPACE_ID")) or _flag_on("BERTSTUDIO_PRIVATE_RUNS")
    runs_dir = Path(args.runs_dir) if args.runs_dir else default_runs_dir()
    downloads_root = Path(tempfile.gettempdir()) / "bertstudio-downloads" if hosting.hosted else None
    return with_account_key(AppSettings(runs_dir=runs_dir.resolve(), private_runs=private,
                                        default_model=args.default_model, hosting=hosting,
                                        downloads_root=downloads_root))


def job_manager(settings, launcher_name: str | None = None):
    """The one worker for every visitor, each visitor with one run waiting or training (a second
    Start, even a double click, is refused on the server); hosted, also a capped queue and a
    wall-time limit per run. Runs train in processes of their own unless `launcher_name` (or
    BERTSTUDIO_LAUNCHER) says 'thread'; on a ZeroGPU Space, in slices of GPU calls."""
    from bertstudio.worker import JobManager

    limits = settings.limits
    launcher = make_launcher(launcher_name or os.environ.get("BERTSTUDIO_LAUNCHER") or "process")
    if limits is None:
        return JobManager(one_per_owner=True, launcher=launcher)
    return JobManager(max_waiting=limits.max_waiting, one_per_owner=True, max_run_seconds=limits.max_run_seconds,
                      launcher=launcher)


def make_launcher(name: str):
    from bertstudio.errors import StudioError
    from bertstudio.hosting import zero_gpu_slicing
    from bertstudio.launch.process import ProcessLauncher
    from bertstudio.launch.sliced import SlicedLauncher
    from bertstudio.launch.thread import ThreadLauncher

    # ZeroGPU lends its GPU only inside decorated calls of this process: no child could use it.
    slicing = zero_gpu_slicing()
    if slicing is not None:
        return SlicedLauncher(slicing["call"], slicing["slice_seconds"])
    if name == "thread":
        return ThreadLauncher()
    if name == "process":
        return ProcessLauncher()
    raise StudioError(f"BERTSTUDIO_LAUNCHER must be 'process' or 'thread', not '{name}'.")


def build_demo(settings=None, jobs=None):
    """The gr.Blocks app (not launched) with its own job manager unless one is given."""
    from bertstudio.ui.app import build_app

    settings = settings or settings_from(parse_args([]))
    return build_app(settings, jobs or job_manager(settings))


def start_sweeper(settings, jobs):
    """Hosted: delete runs, kept uploads and download folders past their time to live, now and
    every ten minutes (or sooner for a short TTL), and forget the jobs that ended that long ago."""
    from bertstudio.hosting import Sweeper, sweep

    limits = settings.limits
    ttl = limits.ttl_seconds

    def clean() -> None:
        sweep(settings.runs_dir, ttl, busy=jobs.is_live, extra_dirs=[settings.downloads_root])
        jobs.forget_ended(ttl)

    return Sweeper(clean, interval=min(600.0, max(1.0, ttl / 4))).start()


def launch_arguments(settings, args: argparse.Namespace) -> dict:
    """What `demo.launch` gets besides the theme: address, login, upload cap and served folders.

    On a personal install the runs folder is served (links to its files work); hosted, it is
    blocked, and every download is a copy in the visitor's own folder instead.
    """
    from bertstudio.hosting import PRIVATE_NAMES, auth_from_env

    options: dict = dict(server_name=args.host, server_port=args.port, share=args.share)
    users = auth_from_env()
    if users:
        options.update(auth=users, auth_message="This BERT Studio is private; sign in to use it.")
    limits = settings.limits
    if limits is None:
        options["allowed_paths"] = [str(settings.runs_dir)]
        # Owner records, kept uploads and the browsers' key are never files to hand out.
        options["blocked_paths"] = [str(settings.runs_dir / name) for name in PRIVATE_NAMES]
    else:
        options["max_file_size"] = limits.max_upload_bytes
        options["blocked_paths"] = [str(settings.runs_dir)]
    if getattr(args, "mcp", False):
        options["mcp_server"] = True
    return options


def check_mcp_installed(args: argparse.Namespace) -> None:
    """--mcp needs gradio's MCP extra: say which, in one line, before anything starts."""
    from bertstudio.errors import StudioError

    if getattr(args, "mcp", False):
        import importlib.util

        if importlib.util.find_spec("mcp") is None:
            raise StudioError('--mcp needs the MCP server package: pip install -e ".[mcp]"')


def main(argv: Sequence[str] | None = None) -> None:
    from bertstudio.errors import StudioError
    from bertstudio.ui.app import launch_options
    from bertstudio.warmup import warm_imports

    args = parse_args(argv)
    try:
        settings = settings_from(args)
        launch = launch_arguments(settings, args)
        check_mcp_installed(args)
    except StudioError as exc:  # a mistyped limit or login variable: say which, and stop
        sys.exit(f"error: {exc.message}")
    settings.runs_dir.mkdir(parents=True, exist_ok=True)
    # Tokenizers' own thread pool would fight the training thread for the same cores.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        jobs = job_manager(settings, args.launcher)
    except StudioError as exc:
        sys.exit(f"error: {exc.message}")
    # Runs an earlier studio started in their own processes and still training: follow them again.
    adopted = jobs.adopt_running(settings.runs_dir)
    if adopted:
        print(f"Following {len(adopted)} run(s) still training from before: "
              + ", ".join(job.run_id for job in adopted), flush=True)
    demo = build_demo(settings, jobs)
    if settings.limits is not None:
        start_sweeper(settings, jobs)
    # The handlers import torch and transformers on first use; the first visitors of a new app
    # would import them from many threads at once, which transformers' lazy imports do not survive.
    warm_imports()
    demo.queue(default_concurrency_limit=4)
    demo.launch(**launch, **launch_options())


def __getattr__(name: str):
    if name == "demo":  # built on first access only, for a tool that will serve it
        from bertstudio.warmup import warm_imports

        global demo
        demo = build_demo()
        warm_imports()
        return demo
    raise AttributeError(name)


if __name__ == "__main__":
    main()
