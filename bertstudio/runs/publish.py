"""Publishing a finished run to the Hugging Face Hub: which files go, the Hub's own model card, and
the push itself, each way it can go wrong told in one plain sentence.

The repo is laid out so `pipeline(..., model="user/name")` loads it: the saved model and tokenizer
at its root, the Hub card as README.md, and the run's own records under `bertstudio/`. Left out:
checkpoints (resume state, gigabytes), tracker logs, the events log and data.json (they hold the
local paths of the user's files), the validation predictions (the user's rows) and anything the
studio keeps about owners. The token is never written anywhere: it goes from the argument, else
the environment (HF_TOKEN) or the stored `hf auth login`, straight to huggingface_hub.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bertstudio.errors import StudioError
from bertstudio.runs.folder import (CARD_FILE, CONFIG_FILE, ENVIRONMENT_FILE, METRICS_FILE, MODEL_DIR,
                                    PREDICTIONS_FILE, RunRecord, read_run)

RECORDS_DIR = "bertstudio"  # the run's config, metrics and environment inside the repo
RECORD_FILES = (CONFIG_FILE, METRICS_FILE, ENVIRONMENT_FILE)
PUBLISHABLE = ("finished", "stopped")  # runs that ended with a saved model
_PATH_SETTINGS = ("data", "validation_data")  # absolute local paths: only their names are published


def upload_files(run_dir: str | Path) -> list[tuple[Path, str]]:
    """The files a push sends: (local file, path in the repo). README.md and config.json are sent
    rewritten for the Hub (`payload`): the card loads the model from the repo and shows one of
    the run's own validation texts, the settings name the data files without their folders."""
    run_dir = Path(run_dir)
    model = run_dir / MODEL_DIR
    files = [(path, path.relative_to(model).as_posix()) for path in sorted(model.rglob("*"))
             if path.is_file() and not path.name.startswith(".")]
    files.append((run_dir / CARD_FILE, "README.md"))
    files += [(run_dir / name, f"{RECORDS_DIR}/{name}") for name in RECORD_FILES if (run_dir / name).is_file()]
    return files


def payload(run_dir: str | Path, repo_id: str) -> list[tuple[str, bytes | Path]]:
    """What each repo path receives: a local file as it is, or the bytes rewritten for the Hub."""
    record = publishable_run(run_dir)
    rewritten = {"README.md": hub_card(record, repo_id).encode("utf-8"),
                 f"{RECORDS_DIR}/{CONFIG_FILE}": _published_config(record)}
    return [(in_repo, rewritten.get(in_repo, local)) for local, in_repo in upload_files(run_dir)]


def publishable_run(run_dir: str | Path) -> RunRecord:
    """The run, read back, when it can be published; else one sentence saying why not."""
    record = read_run(run_dir)
    if record is None:
        raise StudioError(f"'{run_dir}' is not a run folder; pass a folder from the runs list, such as runs/<id>.")
    if record.damage:
        raise StudioError(record.damage)
    if record.status not in PUBLISHABLE or not record.has_model or record.config is None:
        raise StudioError(f"The run '{record.run_id}' is {record.status} and has no saved model to publish; "
                          "publish it once it has finished.")
    return record


def validation_example(run_dir: str | Path) -> str | None:
    """A text from the run's validation data (its predictions file), for the card's widget: the
    first short one, else the first cut short; None when the run has none."""
    path = Path(run_dir) / PREDICTIONS_FILE
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            texts = [_unneutralised(row.get("text") or "") for _, row in zip(range(50), csv.DictReader(handle))]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    texts = [text for text in texts if text.strip()]
    return next((text for text in texts if len(text) <= 200), texts[0] if texts else None)


def _unneutralised(text: str) -> str:
    """The predictions file guards cells that a spreadsheet would run as a formula with a
    leading apostrophe (data/csvsafe.py); the widget wants the text as the user wrote it."""
    from bertstudio.data.csvsafe import FORMULA_PREFIXES

    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES) else text


def hub_card(record: RunRecord, repo_id: str) -> str:
    from bertstudio.runs.folder import RunFolder
    from bertstudio.runs.modelcard import render_model_card

    environment = RunFolder(Path(record.path)).read_json(ENVIRONMENT_FILE) or {}
    return render_model_card(record.run_id, record.config, record.data_record, record.metrics, environment,
                             warning=record.warning, hub_id=repo_id, example=validation_example(record.path))


def _published_config(record: RunRecord) -> bytes:
    """The run's settings with each data file named, not where it lies on the user's disk."""
    settings: dict[str, Any] = record.config.to_dict()
    for name in _PATH_SETTINGS:
        if settings.get(name):
            settings[name] = Path(settings[name]).name
    if settings.get("unlabeled_data"):
        settings["unlabeled_data"] = [Path(item).name for item in settings["unlabeled_data"]]
    settings["output_dir"] = "runs"
    return (json.dumps(settings, indent=2) + "\n").encode("utf-8")


def push_run(run_dir: str | Path, repo_id: str, *, private: bool = True, token: str | None = None) -> str:
    """Upload the run to the Hub repo `repo_id` ("user/name"), made private unless `private` is
    False (an existing repo keeps its visibility), in one commit; returns the repo's URL."""
    from bertstudio.runs.hub import hub_api, hub_errors, validate_name

    validate_name(repo_id)
    files = payload(run_dir, repo_id)  # a run that cannot be published is said before any network
    api, token = hub_api(token)
    from huggingface_hub import CommitOperationAdd

    with hub_errors(repo_id):
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model", token=token)
        operations = [CommitOperationAdd(path_in_repo=in_repo,
                                         path_or_fileobj=content if isinstance(content, bytes) else str(content))
                      for in_repo, content in files]
        api.create_commit(repo_id, operations=operations, repo_type="model", token=token,
                          commit_message=f"BERT Studio run {Path(run_dir).name}")
    return str(url)
