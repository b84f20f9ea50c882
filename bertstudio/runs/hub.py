"""The Hugging Face Hub client for publishing: the token it uses, and the Hub's errors as one plain
sentence each (offline, unreachable, no token, token refused, a name the Hub will not take)."""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from bertstudio.errors import StudioError

LOGIN_HINT = "sign in with `hf auth login`, or set HF_TOKEN to a token with write access"


def _hub():
    try:
        import huggingface_hub
    except ImportError as exc:
        raise StudioError("Publishing needs huggingface_hub: run pip install -e \".[hub]\".") from exc
    return huggingface_hub


def validate_name(repo_id: str) -> None:
    """'user/name' or 'name' (the signed-in user's), as the Hub spells repo names."""
    _hub()
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not isinstance(repo_id, str) or not repo_id.strip() or repo_id.count("/") > 1:
        raise StudioError(f"'{repo_id}' is not a Hub repo name; write it as your-name/model-name.")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        raise StudioError(f"'{repo_id}' is not a Hub repo name: use letters, digits, '-', '_' and '.', at most "
                          "96 characters, as in your-name/model-name.", detail=str(exc)) from exc


def hub_api(token: str | None):
    """An HfApi and the token it sends: the one given, else HF_TOKEN or the stored login. The
    endpoint is HF_ENDPOINT's when set (a mirror, a test server), read now, not at import."""
    hub = _hub()
    token = token or hub.get_token()
    if not token:
        raise StudioError(f"No Hugging Face token was found; {LOGIN_HINT}.")
    endpoint = os.environ.get("HF_ENDPOINT") or None
    return hub.HfApi(endpoint=endpoint, token=token), token


def _network_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean the Hub was not reached, from whichever HTTP library this
    huggingface_hub uses (httpx2, httpx or requests)."""
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            kinds.append(__import__(module).TransportError)
    with contextlib.suppress(ImportError):
        import requests

        kinds.append(requests.ConnectionError)
    return tuple(kinds)


@contextlib.contextmanager
def hub_errors(repo_id: str) -> Iterator[None]:
    """Turn what the Hub (or the way to it) answers into one sentence saying what to do."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        yield
    except OfflineModeIsEnabled as exc:
        raise StudioError("BERT Studio is set to work offline (HF_HUB_OFFLINE=1), so it cannot reach the Hub; "
                          "unset HF_HUB_OFFLINE and try again.", detail=str(exc)) from exc
    except HfHubHTTPError as exc:
        raise _http_error(repo_id, exc) from exc
    except _network_errors() as exc:
        raise StudioError("Cannot reach the Hugging Face Hub; check the internet connection (or HF_ENDPOINT) "
                          "and try again.", detail=f"{type(exc).__name__}: {exc}") from exc


def _http_error(repo_id: str, exc) -> StudioError:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    detail = str(exc)
    if status == 401:
        return StudioError(f"The Hub refused the token (401 Unauthorized); {LOGIN_HINT}.", detail=detail)
    if status == 403:
        return StudioError(f"The token may not write to '{repo_id}' (403 Forbidden); use a token with write "
                           "access, or a repo in your own namespace.", detail=detail)
    if status in (400, 422):
        return StudioError(f"The Hub would not take the repo name '{repo_id}' ({status}); choose another "
                           "name, as in your-name/model-name.", detail=detail)
    return StudioError(f"The Hub answered {status or 'with an error'} while publishing '{repo_id}'; try again "
                       "in a while.", detail=detail)
