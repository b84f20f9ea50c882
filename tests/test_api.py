"""The studio's API and MCP tools: exactly the three published endpoints, typed and documented, every
page event private, nothing that starts a training, and on a Space nothing of anyone's runs; the
endpoints answering through gradio_client and listed by the MCP server as a caller sees them."""

import csv
import json
import urllib.request

import gradio as gr
import pytest

from bertstudio.config import TrainConfig
from bertstudio.hosting import HostingSettings
from bertstudio.training.trainer import train
from bertstudio.ui.api import StudioApi
from bertstudio.ui.app import build_app
from bertstudio.ui.app_settings import AppSettings
from bertstudio.worker import JobManager


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory, tiny_model_dir):
    folder = tmp_path_factory.mktemp("api")
    data = folder / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(40):
            writer.writerow([f"{'great lovely' if i % 2 else 'awful broken'} thing {i}", "pos" if i % 2 else "neg"])
    result = train(TrainConfig(data=str(data), model=str(tiny_model_dir), output_dir=str(folder / "runs"),
                               epochs=2, batch_size=8, max_length=16, learning_rate=1e-3, run_name="api-run"))
    assert result.status == "finished", result.message
    return folder / "runs"


def _demo(settings):
    jobs = JobManager()
    return build_app(settings, jobs), jobs


def _published(demo) -> dict:
    return demo.get_api_info()["named_endpoints"]


def test_a_personal_studio_publishes_tokenize_predict_and_list_runs_and_nothing_else(runs_dir):
    demo, jobs = _demo(AppSettings(runs_dir=runs_dir))
    try:
        assert set(_published(demo)) == {"/tokenize", "/predict", "/list_runs"}
        page_events = [fn for fn in demo.fns.values() if fn.api_name not in ("tokenize", "predict", "list_runs")]
        assert page_events and all(fn.api_visibility == "private" for fn in page_events)
        # Nothing published starts a training, and every published one is documented.
        for name, endpoint in _published(demo).items():
            assert "train" not in name and endpoint["description"], name
    finally:
        jobs.shutdown(timeout=30)


def test_the_signatures_are_typed_with_defaults():
    demo, jobs = _demo(AppSettings(runs_dir="/tmp/bertstudio-api-empty"))
    try:
        tokenize = _published(demo)["/tokenize"]["parameters"]
        assert [(p["parameter_name"], p["python_type"]["type"], p["parameter_default"]) for p in tokenize] == [
            ("text", "str", None), ("model", "str", "bundled"), ("max_length", "int", 128),
            ("truncation", "Literal['start', 'end', 'head_tail']", "start"), ("text_pair", "str", "")]
        predict = _published(demo)["/predict"]["parameters"]
        assert [p["parameter_name"] for p in predict] == ["run_id", "text", "text_pair"]
    finally:
        jobs.shutdown(timeout=30)


def test_on_a_space_with_private_runs_only_the_tokenizer_is_published(runs_dir):
    hosted = AppSettings(runs_dir=runs_dir, private_runs=True,
                         hosting=HostingSettings(hosted=True, require_signin=False))
    demo, jobs = _demo(hosted)
    try:
        assert set(_published(demo)) == {"/tokenize"}
    finally:
        jobs.shutdown(timeout=30)


def test_the_endpoints_answer_and_refuse_in_words(runs_dir):
    api = StudioApi(AppSettings(runs_dir=runs_dir))
    pieces = api.tokenize("Where is my parcel? " * 5, max_length=8)
    kept = [piece["text"] for piece in pieces["tokens"] if piece["kept"]]
    assert kept[0] == "[CLS]" and kept[-1] == "[SEP]" and len(kept) == 8 and pieces["length"] > 8
    (run,) = api.list_runs()
    assert run["name"] == "api-run" and run["status"] == "finished" and run["headline"] == "macro_f1"
    assert "path" not in run and set(run["labels"]) == {"neg", "pos"}
    answer = api.predict(run["run_id"], "great lovely thing")
    assert answer["label"] in {"neg", "pos"} and set(answer["probabilities"]) == {"neg", "pos"}
    with pytest.raises(gr.Error, match="There is no run 'nope'"):
        api.predict("nope", "text")
    with pytest.raises(gr.Error, match="choose a value from 8 to 512"):
        api.tokenize("text", max_length=100_000)


def test_a_demo_with_a_model_list_tokenizes_with_those_models_only(runs_dir):
    limited = AppSettings(runs_dir=runs_dir, hosting=HostingSettings(hosted=True, models=("bundled",)))
    api = StudioApi(limited)
    assert api.tokenize("hello")["length"] > 0
    with pytest.raises(gr.Error, match="offers only these models: bundled;"):
        api.tokenize("hello", model="bert-large-uncased")


def test_gradio_client_and_the_mcp_server_see_the_published_endpoints(runs_dir):
    pytest.importorskip("mcp", reason="needs gradio's MCP extra")
    from gradio_client import Client

    demo, jobs = _demo(AppSettings(runs_dir=runs_dir))
    try:
        demo.queue()
        _, url, _ = demo.launch(prevent_thread_lock=True, mcp_server=True, quiet=True)
        client = Client(url, verbose=False)
        assert client.predict("Where is my parcel?", api_name="/tokenize")["length"] >= 5
        # The README's example, word for word.
        result = client.predict("Where is my parcel?", "bundled", 16, "start", "", api_name="/tokenize")
        assert result["kept_length"] <= 16
        runs = client.predict(api_name="/list_runs")
        assert client.predict(runs[0]["run_id"], "great and lovely", "", api_name="/predict")["label"] in {"neg", "pos"}
        with urllib.request.urlopen(f"{url}gradio_api/mcp/schema", timeout=30) as answer:
            tools = json.loads(answer.read())
        names = sorted(tool["name"] for tool in tools)
        assert names == ["list_runs", "predict", "tokenize"], names
        tokenize = next(tool for tool in tools if tool["name"] == "tokenize")
        assert "WordPiece" in tokenize["description"]
        assert "which end is kept" in json.dumps(tokenize["inputSchema"])
    finally:
        demo.close()
        jobs.shutdown(timeout=30)
