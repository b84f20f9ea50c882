"""Model names -> local folders or hub ids (`bundled`, curated list), and loading that fails fast with one-line reasons."""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar
from urllib.parse import urlsplit

from bertstudio.errors import StudioError

if TYPE_CHECKING:
    from transformers import PreTrainedModel
    from transformers.tokenization_utils_base import PreTrainedTokenizerBase

BUNDLED_MODEL = "bundled"

# (id, short description) for the model picker. Kept to WordPiece BERT-family encoders, whose
# tokenizers behave alike (lowercasing, [CLS]/[SEP]) so previews and truncation mean the same thing.
CURATED_MODELS: list[tuple[str, str]] = [
    (BUNDLED_MODEL, "Tiny English BERT that ships with BERT Studio: works offline, for quick tries "
                    "and demos, not for best accuracy."),
    ("bert-base-uncased", "The original English BERT (110 M parameters, lowercase): a solid default."),
    ("bert-base-cased", "English BERT that keeps capital letters, for text where case carries meaning."),
    ("distilbert-base-uncased", "Distilled English BERT: 40 % smaller and 60 % faster, nearly as "
                                "accurate."),
    ("bert-base-multilingual-cased", "BERT for 104 languages: for non-English or mixed-language text."),
    ("sentence-transformers/all-MiniLM-L6-v2", "MiniLM, 6 small layers (23 M): quick on a CPU and "
                                               "strong on short texts."),
    ("google/bert_uncased_L-4_H-256_A-4", "Small BERT from Google (11 M, 4 layers): fast, fair "
                                          "accuracy."),
    ("huawei-noah/TinyBERT_General_4L_312D", "TinyBERT (14 M), distilled from BERT-base: fast and "
                                             "decent."),
    ("prajjwal1/bert-tiny", "BERT-tiny (4 M, 2 layers): for very quick experiments."),
]

HUB_UNREACHABLE = ("Can't reach the Hugging Face Hub to download '{name}'; use the bundled model "
                   "('bundled') or a local model folder.")
HUB_OFFLINE = ("Can't download '{name}' because offline mode is on (HF_HUB_OFFLINE); use the bundled "
               "model ('bundled') or a local model folder.")
# Files of which a tokenizer folder needs at least one (fast JSON, WordPiece, BPE, SentencePiece).
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json", "tokenizer.model", "spiece.model",
                   "sentencepiece.bpe.model")
# transformers' safetensors bot opens a PR with this title on repos that only have .bin weights.
_SAFETENSORS_PR_TITLE = "Adding `safetensors` variant of this model"

T = TypeVar("T")


def bundled_model_path() -> Path:
    """The small BERT that ships in the repository (built by scripts/build_bundled_model.py)."""
    return Path(__file__).resolve().parent.parent / "assets" / "bundled-bert"


def _looks_like_path(name: str) -> bool:
    """'./m', '/m', '~/m', 'C:\\m', 'runs/x/model' are paths; 'org/name' is a hub id."""
    if name.startswith((".", "/", "~", "\\")) or (len(name) > 1 and name[1] == ":"):
        return True
    if os.sep != "/" and os.sep in name:
        return True
    # A hub id has at most one slash; more than that can only be a folder.
    return name.count("/") > 1


def resolve_model(name: str) -> str:
    """'bundled' -> its folder; an existing folder -> its absolute path; otherwise the hub id as is."""
    name = name.strip()
    if not name:
        raise StudioError("No model was given; pick one from the list or type 'bundled'.")
    if name == BUNDLED_MODEL:
        folder = bundled_model_path()
        if not (folder / "config.json").is_file():
            raise StudioError("The bundled model is missing from this installation; reinstall BERT "
                              "Studio or run scripts/build_bundled_model.py.", detail=str(folder))
        return str(folder)
    folder = Path(name).expanduser()
    if (folder / "model" / "config.json").is_file():
        folder = folder / "model"  # a run folder: its model (e.g. a pretraining run to fine-tune)
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise StudioError(f"The folder '{name}' isn't a model folder (it has no config.json); "
                              "pick the folder that save_pretrained wrote, or a hub model id.",
                              detail=str(folder.resolve()))
        return str(folder.resolve())
    if folder.exists():
        raise StudioError(f"'{name}' is a file, not a model folder; pick the folder that holds "
                          "config.json, or a hub model id.")
    if _looks_like_path(name):
        raise StudioError(f"There is no folder '{name}'; check the path, or give a hub model id such "
                          "as bert-base-uncased.", detail=str(folder.absolute()))
    return name


# --- the hub ----------------------------------------------------------------------------------

def _offline_mode() -> bool:
    """Read at call time: huggingface_hub reads these variables once, when it is imported."""
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any(
        (flag or "").strip().upper() in {"1", "ON", "YES", "TRUE"} for flag in flags)


def is_hub_reachable(timeout: float = 3.0, endpoint: str | None = None) -> bool:
    """Whether a TCP connection to the hub (or the HTTPS proxy in use) opens within `timeout` seconds.

    The probe runs in a daemon thread because name resolution ignores socket timeouts; a resolver
    that hangs must not hang the caller.
    """
    if endpoint is None:
        from huggingface_hub import constants
        endpoint = constants.ENDPOINT
    proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
    url = urlsplit(proxy if proxy and "://" in proxy else endpoint)
    host = url.hostname
    if not host:
        return False
    port = url.port or (80 if url.scheme == "http" else 443)
    reached = threading.Event()

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                reached.set()
        except OSError:
            pass

    threading.Thread(target=probe, name="hub-probe", daemon=True).start()
    return reached.wait(timeout)


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything it was raised from: transformers wraps hub errors in OSError."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def explain_load_error(name: str, error: BaseException) -> StudioError:
    """Turn what transformers / huggingface_hub / safetensors raised into one plain sentence."""
    from huggingface_hub import errors as hub_errors

    if isinstance(error, StudioError):
        return error
    chain = _causes(error)
    detail = f"{type(error).__name__}: {error}"
    text = " ".join(str(item) for item in chain)

    def has(kind: type) -> bool:
        return any(isinstance(item, kind) for item in chain)

    if has(hub_errors.GatedRepoError):
        return StudioError(f"'{name}' is gated: accept its licence on huggingface.co and log in with "
                           "`hf auth login`.", detail=detail)
    if has(hub_errors.RepositoryNotFoundError):
        return StudioError(f"No model called '{name}' on the Hugging Face Hub; check the spelling "
                           "(e.g. bert-base-uncased).", detail=detail)
    if has(hub_errors.HFValidationError):
        return StudioError(f"'{name}' is neither a model folder nor a valid hub model id; check the "
                           "spelling (e.g. bert-base-uncased) or pick 'bundled'.", detail=detail)
    if "Unrecognized configuration class" in text:
        return StudioError(f"'{name}' is not a kind of model that can classify text; pick a "
                           "BERT-family model such as bert-base-uncased.", detail=detail)
    if "Unrecognized model in" in text or "`model_type` key" in text:
        return StudioError(f"The config.json of '{name}' doesn't say which kind of model it is; "
                           "pick a folder written by save_pretrained or a hub model id.",
                           detail=detail)
    if has(json.JSONDecodeError) or "not a valid JSON file" in text:
        return StudioError(f"A settings file of '{name}' is not valid JSON, so the model folder looks "
                           "damaged; save or download it again.", detail=detail)
    if "safetensors" in text and ("no file named" in text or "does not appear to have" in text):
        return StudioError(f"'{name}' has no safetensors weights, which BERT Studio needs to load "
                           "models safely; pick another model or convert it with save_pretrained.",
                           detail=detail)
    if any(type(item).__name__ == "SafetensorError" for item in chain) or "deserializ" in text:
        return StudioError(f"The weights file of '{name}' is damaged or incomplete; save or "
                           "download the model again.", detail=detail)
    if "size mismatch" in text or "mismatched" in text.lower():
        return StudioError(f"The weights of '{name}' don't match its config.json; the model folder "
                           "looks damaged, save or download it again.", detail=detail)
    if has(hub_errors.OfflineModeIsEnabled) or has(hub_errors.LocalEntryNotFoundError):
        return StudioError(HUB_UNREACHABLE.format(name=name), detail=detail)
    if has(hub_errors.HfHubHTTPError) or has(ConnectionError) or has(TimeoutError):
        return StudioError(f"The download of '{name}' from the Hugging Face Hub failed; try again, or "
                           "use the bundled model ('bundled').", detail=detail)
    return StudioError(f"Couldn't load '{name}'; the details say why, or pick another model.",
                       detail=detail)


def _check_hub_weights(name: str) -> None:
    """Refuse, in one request, hub models whose weights exist only as pickles (.bin).

    Without this, transformers would start a conversion job on a remote Space and wait for it;
    a conversion the safetensors bot has already published (an open PR) is fine, transformers uses it.
    """
    from huggingface_hub import HfApi

    api = HfApi()
    info = api.model_info(name, timeout=10)
    files = {sibling.rfilename for sibling in info.siblings or []}
    if files & {"model.safetensors", "model.safetensors.index.json"}:
        return
    for discussion in api.get_repo_discussions(name, author="SFconvertbot",
                                               discussion_type="pull_request",
                                               discussion_status="open"):
        if discussion.title == _SAFETENSORS_PR_TITLE:
            return
    raise StudioError(f"'{name}' has no safetensors weights, which BERT Studio needs to load models "
                      "safely; pick another model or convert it with save_pretrained.",
                      detail=f"files on the hub: {', '.join(sorted(files)) or 'none'}")


def _load(name: str, source: str, load: Callable[..., T], *, weights: bool) -> T:
    """Local folder -> load it. Hub id -> cache, then (if online and reachable) a download."""
    if Path(source).is_dir():
        try:
            return load(source, local_files_only=True)
        except Exception as error:  # noqa: BLE001 - every failure becomes one plain sentence
            raise explain_load_error(name, error) from error
    try:
        return load(source, local_files_only=True)  # the HF cache may already hold it
    except OSError as error:  # not cached, or only partly: fall through to a download
        from huggingface_hub.errors import HFValidationError

        if any(isinstance(item, HFValidationError) for item in _causes(error)):
            raise explain_load_error(name, error) from error  # no download can fix the name
        cached_error: BaseException = error
    except Exception as error:  # noqa: BLE001 - cached but unusable (e.g. not a classifier)
        raise explain_load_error(name, error) from error
    if _offline_mode():
        raise StudioError(HUB_OFFLINE.format(name=name), detail=str(cached_error))
    if not is_hub_reachable():
        raise StudioError(HUB_UNREACHABLE.format(name=name), detail=str(cached_error))
    try:
        if weights:
            _check_hub_weights(source)
        return load(source)
    except Exception as error:  # noqa: BLE001
        raise explain_load_error(name, error) from error


# --- loading ----------------------------------------------------------------------------------

def load_tokenizer(name: str) -> "PreTrainedTokenizerBase":
    """The model's own tokenizer, from a folder, the cache or the hub."""
    from transformers import AutoTokenizer

    source = resolve_model(name)
    folder = Path(source)
    if folder.is_dir() and not any((folder / file).is_file() for file in TOKENIZER_FILES):
        raise StudioError(f"The folder '{name}' has no tokenizer files (such as tokenizer.json or "
                          "vocab.txt); copy them from the model it was trained from.",
                          detail=str(folder))
    tokenizer = _load(name, source, lambda path, **kw: AutoTokenizer.from_pretrained(
        path, trust_remote_code=False, **kw), weights=False)
    # Without a vocabulary file transformers can build a tokenizer that knows only its special
    # tokens and turns every word into [UNK]; refuse it rather than train on noise.
    if len(tokenizer) <= len(tokenizer.all_special_tokens) + 1:
        raise StudioError(f"The tokenizer of '{name}' has no vocabulary; copy the tokenizer files "
                          "from the model it was trained from.", detail=f"{len(tokenizer)} tokens")
    return tokenizer


def load_classifier(name: str, head: "dict[str, Any] | Sequence[str]") -> "PreTrainedModel":
    """A pretrained encoder with a new head: `head` is the task's `head(space)` keywords
    (num_labels, id2label, label2id, problem_type); a list of class names means single-label
    over them (index = class id)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    if not isinstance(head, dict):
        labels = list(head)
        id2label = dict(enumerate(labels))
        head = {"num_labels": len(labels), "id2label": id2label,
                "label2id": {label: index for index, label in id2label.items()},
                "problem_type": "single_label_classification"}
    names = list((head.get("id2label") or {}).values())
    if head.get("problem_type") == "single_label_classification" and (
            len(names) < 2 or len(set(names)) != len(names)):
        raise StudioError("A classifier needs at least two different labels; check the label column.",
                          detail=repr(names))
    options: dict[str, Any] = dict(
        **head,
        use_safetensors=True, trust_remote_code=False,
        # fp32 master weights whatever the checkpoint's dtype; mixed precision is the trainer's job.
        dtype=torch.float32,
        # A checkpoint fine-tuned for another label count gets a fresh head instead of an error.
        ignore_mismatched_sizes=True,
    )
    return _load(name, resolve_model(name),
                 lambda path, **kw: AutoModelForSequenceClassification.from_pretrained(
                     path, **options, **kw), weights=True)


def load_masked_lm(name: str) -> "PreTrainedModel":
    """A pretrained encoder with its masked-LM (word-guessing) head, for continued pretraining.
    A checkpoint saved without that head (many sentence encoders, MiniLM among them) gets a new
    one; BERT ties its output matrix to the word embeddings, so only a small layer is new."""
    import torch
    from transformers import AutoModelForMaskedLM

    options: dict[str, Any] = dict(use_safetensors=True, trust_remote_code=False, dtype=torch.float32)
    return _load(name, resolve_model(name),
                 lambda path, **kw: AutoModelForMaskedLM.from_pretrained(path, **options, **kw), weights=True)


def load_trained(path: str | Path) -> "PreTrainedModel":
    """A model saved by BERT Studio (or any save_pretrained sequence classifier), in eval mode:
    single-label, multi-label or regression, as its config says (`bertstudio_task`, `problem_type`)
    and its head's shape is kept as saved."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise StudioError(f"There is no folder '{path}'; pick a run folder that holds a trained "
                          "model.", detail=str(folder.absolute()))
    if not (folder / "config.json").is_file():
        raise StudioError(f"The folder '{path}' holds no trained model (no config.json); pick a "
                          "finished run.", detail=str(folder.resolve()))
    try:
        config = AutoConfig.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
        architectures = config.architectures or []
        if getattr(config, "bertstudio_task", None) == "masked_lm":
            from bertstudio.tasks.masked_lm import NOT_A_CLASSIFIER

            raise StudioError(NOT_A_CLASSIFIER, detail=f"architectures: {architectures}")
        if not any(arch.endswith("ForSequenceClassification") for arch in architectures):
            raise StudioError(f"'{path}' holds a base model, not a trained classifier; train one "
                              "first, or pick a finished run.", detail=f"architectures: {architectures}")
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, local_files_only=True, use_safetensors=True, trust_remote_code=False,
            dtype=torch.float32)
    except Exception as error:  # noqa: BLE001 - every failure becomes one plain sentence
        raise explain_load_error(str(path), error) from error
    return model.eval()
