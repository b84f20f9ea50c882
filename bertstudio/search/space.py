"""The search space, read from TrainConfig's field metadata: which settings a search tries, over
what range, and how one trial's choices become an ordinary TrainConfig.

A field's `search` metadata is either `(low, high)` for a number (drawn on a log scale when the
field has `log=True`, in the field's slider `step` otherwise) or a tuple of three or more values
to choose from. Fields the caller fixes (flags given on the command line) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bertstudio.config import TrainConfig, base_type, field_specs
from bertstudio.errors import StudioError

# The seed has no range in its metadata: searching it is a choice (`--search-seed`), since a
# better seed is luck on this validation split, not a setting that carries over to new data.
SEED_RANGE = (0, 10_000)


@dataclass(frozen=True)
class Dimension:
    """One searched setting: a number in [low, high] (log-scaled or in steps) or one of `choices`."""

    name: str
    kind: str  # "float" | "int" | "choice"
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "choice":
            return {"name": self.name, "kind": self.kind, "choices": list(self.choices or ())}
        out = {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            out["step"] = self.step
        return out

    def suggest(self, trial) -> Any:
        """This dimension's value for an optuna trial."""
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.choices or ()))
        if self.kind == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log,
                                   step=None if self.log else self.step)


def searchable_fields() -> list[str]:
    """Every TrainConfig field with a `search` range, in declaration order."""
    return [spec.name for spec in field_specs() if "search" in spec.metadata]


def search_space(fixed: Iterable[str] = (), search_seed: bool = False) -> list[Dimension]:
    """The dimensions a search tries: every field with `search` metadata not in `fixed`, plus the
    seed when `search_seed` (and it is not fixed)."""
    fixed = set(fixed)
    dims = [_dimension(spec) for spec in field_specs() if "search" in spec.metadata and spec.name not in fixed]
    if search_seed and "seed" not in fixed:
        dims.append(Dimension("seed", "int", low=SEED_RANGE[0], high=SEED_RANGE[1]))
    if not dims:
        raise StudioError("Every searched setting is fixed by a flag, so there is nothing to search; "
                          "leave out one of " + ", ".join("--" + n.replace("_", "-") for n in searchable_fields())
                          + ", or use `bertstudio train`.")
    return dims


def _dimension(spec) -> Dimension:
    meta, kind = spec.metadata, base_type(spec.type)
    values = tuple(meta["search"])
    # Two values are a range; a choice between exactly two values would read the same, so the
    # metadata lists three or more for a choice (batch size: 8, 16, 32).
    if len(values) != 2 or kind not in (int, float):
        return Dimension(spec.name, "choice", choices=values)
    low, high = values
    if kind is int:
        return Dimension(spec.name, "int", low=int(low), high=int(high), log=bool(meta.get("log")))
    step = meta.get("step")
    # A step only where it divides the range, as optuna requires (and only off the log scale).
    if step is not None and abs(round((high - low) / step) * step - (high - low)) > 1e-9:
        step = None
    return Dimension(spec.name, "float", low=float(low), high=float(high), log=bool(meta.get("log")),
                     step=None if meta.get("log") else step)


def apply_params(config: TrainConfig, params: dict[str, Any]) -> TrainConfig:
    """The trial's config: `config` with the sampled settings, validated like any other config.
    Floats drawn in steps are rounded so 0.07 is recorded as 0.07, not 0.07000000000000001, and a
    log-scale float to two significant digits (8.6e-05, not 8.6256e-05): what the studio's log
    slider holds, so "use the best settings" puts in the form exactly what the best trial trained."""
    logs = {dim.name for dim in search_space(search_seed=True) if dim.log and dim.kind == "float"}
    clean = {name: (float(f"{value:.2g}") if name in logs else round(value, 10)) if isinstance(value, float)
             else value for name, value in params.items()}
    return TrainConfig.from_dict({**config.to_dict(), **clean})
