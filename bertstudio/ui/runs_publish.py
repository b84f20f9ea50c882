"""The Runs tab's "Publish to the Hugging Face Hub": a finished run's model, card, config and metrics.

The upload is `bertstudio.runs.publish.push_run`; this module offers it only for a run with a
model, and on a hosted deployment only to a signed-in visitor, whose own token it uses (never
the server's). On a personal install the token comes from the environment when nobody signed in.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from bertstudio.errors import StudioError
from bertstudio.ui import render

REPO_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


@dataclass
class PublishSection:
    group: gr.Group
    repo: gr.Textbox
    private: gr.Checkbox
    button: gr.Button
    result: gr.HTML


def build() -> PublishSection:
    with gr.Group(visible=False, elem_id="runs-publish") as group:
        gr.Markdown("**Publish to the Hugging Face Hub**: the model, tokenizer, model card, settings and "
                    "metrics of this run, uploaded to a model repository of yours.")
        with gr.Row(equal_height=False):
            repo = gr.Textbox(label="Repository name", placeholder="your-name/my-classifier", scale=3,
                              elem_id="runs-publish-repo",
                              info="your-name/model-name, or just model-name for your own account")
            private = gr.Checkbox(label="Private", value=True, scale=1, elem_id="runs-publish-private",
                                  info="only you (and your organisation) can see it")
            button = gr.Button("Publish", variant="primary", size="md", scale=1, min_width=120,
                               elem_id="runs-publish-button", elem_classes="align-end")
        result = gr.HTML(elem_id="runs-publish-result")
    return PublishSection(group=group, repo=repo, private=private, button=button, result=result)


def suggested_repo(run_id: str, run_name: str | None) -> str:
    """A repository name from the run's name (or its id), in the characters the Hub accepts."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", run_name or "").strip("-._") or f"bertstudio-{run_id[-12:]}"
    return base[:96]


def check_repo(repo: str | None) -> str:
    """`repo` as "name" or "owner/name"; StudioError naming what to type otherwise."""
    text = (repo or "").strip()
    parts = text.split("/")
    if not text or len(parts) > 2 or not all(REPO_PART.fullmatch(part) for part in parts):
        raise StudioError("Type a repository name such as my-classifier or your-name/my-classifier: letters, "
                          "digits, '-', '_' and '.', with at most one '/'.")
    return text


def may_publish(hosted: bool, signed_in: bool, has_model: bool) -> bool:
    """Whether the publish control shows: a run with a model, and on a hosted deployment a
    signed-in visitor (the upload uses their account, never the server's token)."""
    return has_model and (signed_in or not hosted)


def view(runs_dir: Path, private: bool, hosted: bool, memory_value: Any, run_id: str | None,
         signed_in: bool) -> tuple[Any, Any, str]:
    """Outputs: the publish group (shown or hidden), the repository box's suggestion, the result box."""
    from bertstudio.runs.folder import read_run
    from bertstudio.ui.runs_tab import may_see

    record = read_run(Path(runs_dir) / run_id) if may_see(runs_dir, private, memory_value, run_id) else None
    shown = record is not None and record.status in ("finished", "stopped") and may_publish(
        hosted, signed_in, record.has_model)
    if not shown:
        return gr.update(visible=False), gr.skip(), ""
    name = record.config.run_name if record.config is not None else None
    return gr.update(visible=True), suggested_repo(record.run_id, name), ""


def publish(runs_dir: Path, private: bool, hosted: bool, memory_value: Any, run_id: str | None, repo: str | None,
            private_repo: bool, token: str | None) -> str:
    """Upload the opened run; the result box's HTML: the new repository's address, or why not."""
    if hosted and token is None:
        return render.problem("Sign in with Hugging Face first: the model is published to your account.")
    from bertstudio.ui.runs_tab import may_see

    if not may_see(runs_dir, private, memory_value, run_id):
        return render.problem("Pick one of your runs to publish; press Refresh if it is gone.")
    try:
        repo_id = check_repo(repo)
        try:
            from bertstudio.runs.publish import push_run
        except ImportError as exc:  # an older copy of the studio without the publisher
            raise StudioError("Publishing is not available in this copy of BERT Studio; update it.") from exc
        url = push_run(Path(runs_dir) / run_id, repo_id, private=bool(private_repo), token=token)
    except StudioError as exc:
        return render.problem(exc.message)
    return published_html(str(url), bool(private_repo))


def published_html(url: str, private_repo: bool) -> str:
    """The notice naming the new repository, its address a link only when it is a web address."""
    said = f"Published to a {'private' if private_repo else 'public'} repository: "
    if not url.startswith(("https://", "http://")):
        return render.notice(said + url)
    address = html.escape(url)
    return (f'<div class="notice">{html.escape(said)}<a href="{address}" target="_blank" '
            f'rel="noopener noreferrer">{address}</a></div>')
