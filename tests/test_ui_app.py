"""The app entry point: nothing heavy at import or build time; flags and environment pick the settings."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(code: str, **env) -> str:
    import os

    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, **env})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_building_the_page_loads_neither_torch_nor_transformers():
    code = ("import sys, app; demo = app.build_demo(); "
            "print(sorted(m for m in ('torch', 'transformers', 'accelerate') if m in sys.modules))")
    assert _run(code, BERTSTUDIO_RUNS_DIR="/tmp/bertstudio-test-runs") == "[]"


def test_importing_app_builds_nothing():
    assert _run("import sys, app; print('demo' in vars(app), 'gradio' in sys.modules)") == "False False"


@pytest.fixture(scope="module")
def app():
    """app.py loaded by path: it is a script at the repository root, not part of the package."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bertstudio_app_script", REPO / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_header_names_the_files_and_the_three_tasks_the_studio_takes():
    from bertstudio.ui.app import HEADER

    for words in ("CSV", "Excel", "JSON", "Parquet", "one label", "several tags", "a score"):
        assert words in HEADER, words


def test_runs_folder_comes_from_the_flag_then_the_environment_then_the_default(app, tmp_path, monkeypatch):
    monkeypatch.delenv("BERTSTUDIO_RUNS_DIR", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert app.settings_from(app.parse_args([])).runs_dir == Path("runs").resolve()
    monkeypatch.setenv("BERTSTUDIO_RUNS_DIR", str(tmp_path / "env-runs"))
    assert app.settings_from(app.parse_args([])).runs_dir == tmp_path / "env-runs"
    flagged = app.settings_from(app.parse_args(["--runs-dir", str(tmp_path / "flag-runs")]))
    assert flagged.runs_dir == tmp_path / "flag-runs"


def test_a_space_keeps_each_browsers_runs_private_unless_told_otherwise(app, monkeypatch):
    monkeypatch.delenv("BERTSTUDIO_PRIVATE_RUNS", raising=False)
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert app.settings_from(app.parse_args([])).private_runs is False
    monkeypatch.setenv("SPACE_ID", "someone/bert-studio")
    assert app.settings_from(app.parse_args([])).private_runs is True
    assert app.settings_from(app.parse_args(["--no-private-runs"])).private_runs is False


def test_host_and_port_flags_are_optional_so_gradio_reads_its_own_environment(app):
    args = app.parse_args([])
    assert args.host is None and args.port is None
    assert app.parse_args(["--host", "0.0.0.0", "--port", "9000"]).port == 9000


def test_app_help_runs_without_starting_a_server():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--runs-dir" in out.stdout


def _hosted_env(monkeypatch, **extra):
    for name in ("SPACE_ID", "BERTSTUDIO_PRIVATE_RUNS", "BERTSTUDIO_USERS", "BERTSTUDIO_AUTH_USER",
                 "BERTSTUDIO_AUTH_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BERTSTUDIO_HOSTED", "1")
    for name, value in extra.items():
        monkeypatch.setenv(name, value)


def test_hosted_mode_makes_runs_private_blocks_the_runs_folder_and_caps_uploads(app, monkeypatch, tmp_path):
    _hosted_env(monkeypatch, BERTSTUDIO_MAX_UPLOAD_MB="3")
    args = app.parse_args(["--runs-dir", str(tmp_path / "runs")])
    settings = app.settings_from(args)
    assert settings.limits is not None and settings.private_runs is True
    assert settings.uploads_dir == tmp_path / "runs" / ".uploads"
    launch = app.launch_arguments(settings, args)
    assert launch["max_file_size"] == 3_000_000 and launch["blocked_paths"] == [str(tmp_path / "runs")]
    assert "allowed_paths" not in launch and "auth" not in launch
    monkeypatch.setenv("BERTSTUDIO_HOSTED", "0")
    personal = app.settings_from(args)
    personal_launch = app.launch_arguments(personal, args)
    assert personal.limits is None and personal_launch["allowed_paths"] == [str(tmp_path / "runs")]
    assert str(tmp_path / "runs" / ".owners") in personal_launch["blocked_paths"]
    assert str(tmp_path / "runs" / ".browser-secret") in personal_launch["blocked_paths"]


def test_a_login_is_asked_for_when_users_are_set(app, monkeypatch, tmp_path):
    _hosted_env(monkeypatch, BERTSTUDIO_USERS="alice:pw1,bob:pw2")
    args = app.parse_args(["--runs-dir", str(tmp_path)])
    assert app.launch_arguments(app.settings_from(args), args)["auth"] == [("alice", "pw1"), ("bob", "pw2")]


def test_a_mistyped_limit_stops_the_app_with_one_line(monkeypatch, tmp_path):
    out = subprocess.run([sys.executable, "app.py", "--runs-dir", str(tmp_path)], cwd=REPO, capture_output=True,
                         text=True, timeout=60, env={**__import__("os").environ, "BERTSTUDIO_HOSTED": "1",
                                                     "BERTSTUDIO_MAX_ROWS": "many"})
    assert out.returncode == 1 and out.stderr.strip().splitlines()[-1].startswith(
        "error: BERTSTUDIO_MAX_ROWS is 'many'")


def test_the_hosted_page_states_its_limits_and_a_personal_one_does_not(app, monkeypatch, tmp_path):
    _hosted_env(monkeypatch, BERTSTUDIO_MAX_EPOCHS="3")
    args = app.parse_args(["--runs-dir", str(tmp_path)])
    hosted = app.build_demo(app.settings_from(args))
    banner = [b for b in hosted.config["components"] if b.get("props", {}).get("elem_id") == "hosted-banner"]
    assert len(banner) == 1 and "shared public demo" in banner[0]["props"]["value"]
    assert "up to 3 epochs" in banner[0]["props"]["value"]
    epochs = [b for b in hosted.config["components"] if b.get("props", {}).get("elem_id") == "cfg-epochs"]
    assert epochs[0]["props"]["maximum"] == 3
    monkeypatch.setenv("BERTSTUDIO_HOSTED", "0")
    personal = app.build_demo(app.settings_from(args))
    assert not [b for b in personal.config["components"] if b.get("props", {}).get("elem_id") == "hosted-banner"]


# --- no event feeds its own trigger -------------------------------------------------------------

def change_loops(blocks) -> list[list[str]]:
    """Chains of components where a `.change` handler (or a `.then` after it) writes a component
    whose own `.change` leads back to the first: the page would keep sending events by itself."""
    deps = {d["id"]: d for d in blocks.config["dependencies"]}

    def roots(dep):
        while dep["trigger_after"] is not None:
            dep = deps[dep["trigger_after"]]
        return dep["targets"]

    writes: dict[int, set[int]] = {}
    for dep in deps.values():
        for component, event in roots(dep):
            if event == "change":
                writes.setdefault(component, set()).update(dep["outputs"])
    names = {c["id"]: c.get("props", {}).get("elem_id") or c.get("props", {}).get("label") or c["type"]
             for c in blocks.config["components"]}
    loops = []
    for start in writes:
        stack = [[start]]
        while stack:
            path = stack.pop()
            for nxt in writes.get(path[-1], ()):
                if nxt == start:
                    loops.append([names.get(i, str(i)) for i in path + [start]])
                elif nxt not in path:
                    stack.append(path + [nxt])
    return loops


def test_a_change_that_writes_back_into_its_own_trigger_is_found():
    import gradio as gr

    with gr.Blocks() as chained:
        a, b, c = gr.Slider(elem_id="a"), gr.Slider(elem_id="b"), gr.Slider(elem_id="c")
        a.change(lambda v: v, a, b)
        b.change(lambda v: v, b, c).then(lambda v: v, c, a)
    assert ["a", "b", "a"] in change_loops(chained)
    with gr.Blocks() as person_only:
        a, b = gr.Slider(elem_id="a"), gr.Slider(elem_id="b")
        a.change(lambda v: v, a, b)
        b.input(lambda v: v, b, a)  # a person's own move only: no loop
    assert change_loops(person_only) == []


def test_no_change_event_on_the_page_feeds_back_into_its_own_trigger(app, tmp_path, monkeypatch):
    """A model change once re-applied the preset to every form control, the model among them."""
    monkeypatch.delenv("BERTSTUDIO_HOSTED", raising=False)
    demo = app.build_demo(app.settings_from(app.parse_args(["--runs-dir", str(tmp_path)])))
    assert change_loops(demo) == []


# --- where runs train ---------------------------------------------------------------------------

def test_runs_train_in_processes_of_their_own_unless_told_otherwise(app, monkeypatch, tmp_path):
    from bertstudio.errors import StudioError
    from bertstudio.launch.process import ProcessLauncher
    from bertstudio.launch.thread import ThreadLauncher

    monkeypatch.delenv("BERTSTUDIO_LAUNCHER", raising=False)
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    settings = app.settings_from(app.parse_args(["--runs-dir", str(tmp_path)]))
    assert isinstance(app.job_manager(settings)._launcher, ProcessLauncher)
    assert isinstance(app.job_manager(settings, app.parse_args(["--launcher", "thread"]).launcher)._launcher,
                      ThreadLauncher)
    monkeypatch.setenv("BERTSTUDIO_LAUNCHER", "thread")
    assert isinstance(app.job_manager(settings)._launcher, ThreadLauncher)
    monkeypatch.setenv("BERTSTUDIO_LAUNCHER", "docker")
    with pytest.raises(StudioError, match="must be 'process' or 'thread'"):
        app.job_manager(settings)


def test_a_zero_gpu_space_trains_in_slices_of_gpu_calls(app, monkeypatch, tmp_path):
    import types

    from bertstudio.hosting import ZERO_GPU_SWITCH
    from bertstudio.launch.sliced import SlicedLauncher

    def gpu(duration):  # the `spaces` package's decorator, as a Space has it
        return lambda function: function

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=gpu))
    monkeypatch.setenv(ZERO_GPU_SWITCH, "true")
    settings = app.settings_from(app.parse_args(["--runs-dir", str(tmp_path)]))
    assert isinstance(app.job_manager(settings)._launcher, SlicedLauncher)
