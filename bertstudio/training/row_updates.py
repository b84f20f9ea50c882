"""Word embeddings updated when a batch reads them: AdamW for the one big sparse matrix, caught up lazily.

MiniLM's word embeddings are 11.7 M of its 22.7 M parameters, and a batch of 32 short rows reads a
few hundred of their 30,522 rows. Trained densely, every step still fills a 30,522-row gradient
with zeros and adds the few rows in, takes its norm for clipping, scales it, and runs AdamW over
all of it: on the CPU that was about a sixth of a step (bench/step_profile.py). Here the embedding
hands back a sparse gradient (its rows and their values only), clipping counts it with the rest,
and AdamW updates the rows it names. Every other parameter gets torch's fused AdamW, unchanged.

A row no batch reads still moves under dense AdamW: its momentum carries it on and its moments
and weight decay shrink, step after step. Plain "lazy Adam" (TensorFlow's LazyAdam, torch's
SparseAdam) skips that, so a word read once moves about ten times less; on SST-2 that cost 0.28
accuracy points over five seeds. Here those missed steps are applied in one go (`_catch_up`) just
before a batch looks the row up again (a forward pre-hook, `watching`), and for every row before
the weights are evaluated or saved (`bring_rows_up_to_date`), from a per-step record of the
learning rate and bias corrections. The result follows dense AdamW (to ~1 % of the distance a row
moved, in a test built to stress it); bench/embedding_updates.py measures held-out quality.

Only where it pays and is safe: one process (sparse gradients and DDP's bucketed all-reduce do not
mix) and an embedding that is not tied to an output layer (a masked-LM head reads every row).
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import torch
from torch import nn


def rows_used_applies(choice: str, *, device_type: str, num_processes: int) -> bool:
    """Whether a run updates only the embedding rows it uses: "auto" on the CPU in one process
    (on a GPU the dense update is a small share of a step), "rows_used" in any single process."""
    if choice == "all_rows" or num_processes > 1:
        return False
    return choice == "rows_used" or device_type == "cpu"


def sparse_embedding(model: nn.Module) -> nn.Embedding | None:
    """The model's word-embedding table when it can take sparse gradients: an `nn.Embedding` whose
    weight no output layer shares (tied weights get a dense gradient from that layer anyway)."""
    embedding = model.get_input_embeddings() if hasattr(model, "get_input_embeddings") else None
    if not isinstance(embedding, nn.Embedding) or not embedding.weight.requires_grad:
        return None
    output = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    if output is not None and getattr(output, "weight", None) is embedding.weight:
        return None
    return embedding


@contextlib.contextmanager
def rows_used_gradients(embedding: nn.Embedding) -> Iterator[nn.Embedding]:
    """While training, the embedding's backward hands back only the rows its batch read; the
    setting is put back on exit, so nothing saved differs (`sparse` is not part of a checkpoint)."""
    before = embedding.sparse
    embedding.sparse = True
    try:
        yield embedding
    finally:
        embedding.sparse = before


class RowSparseAdamW(torch.optim.AdamW):
    """torch's AdamW for every dense gradient (fused where asked) plus AdamW row by row for sparse
    ones: the same hyperparameters, param groups and scheduler; a sparse parameter's state adds
    what catching up needs (each row's last step, the per-step record), so checkpoints and resume
    carry it.

    It also clips (`clip_grad_norm_`), as part of its step: the norm is taken over every gradient,
    dense and sparse, and the scale is handed to the fused kernel, which applies it as it reads
    each gradient, instead of one more pass that multiplies 11 M gradients before the update."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clip_scale: float | None = None  # set by clip_grad_norm_, used by the next step

    def load_state_dict(self, state_dict: dict) -> None:  # noqa: D102
        # torch casts every floating state tensor to its parameter's dtype: keep the row steps
        # integers and the record in float64, as they were saved.
        exact = {index: {key: value for key, value in entry.items() if key in _ROW_KEYS}
                 for index, entry in state_dict["state"].items()}
        super().load_state_dict(state_dict)
        params = [p for group in self.param_groups for p in group["params"]]
        for index, values in exact.items():
            param = params[index]
            self.state[param].update({key: value.to(param.device) for key, value in values.items()})

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """torch.nn.utils.clip_grad_norm_ over this optimizer's parameters: the 2-norm of every
        gradient, and gradients scaled by max_norm / (norm + 1e-6) where that is below 1, by the
        next `step`. Returns the norm before clipping."""
        grads = []
        for p in self._parameters_with_grad():
            if p.grad.is_sparse and not p.grad.is_coalesced():
                p.grad = p.grad.coalesce()  # duplicates summed first, or the norm would be wrong
            grads.append(p.grad.values() if p.grad.is_sparse else p.grad)
        if not grads:
            return torch.zeros(())
        total = torch.nn.utils.get_total_norm(grads, 2.0)
        # Read back here: free on the CPU (where "auto" uses this), a sync on a GPU.
        scale = float(max_norm / (total + 1e-6))
        self._clip_scale = scale if scale < 1 else None
        return total

    def step(self, closure=None):  # noqa: D102 - torch's signature
        sparse = [p for p in self._parameters_with_grad() if p.grad.is_sparse]
        held = {p: p.grad for p in sparse}
        scale, self._clip_scale = self._clip_scale, None
        for p in sparse:  # torch's AdamW refuses sparse gradients: hide them from it
            p.grad = None
        try:
            with self._dense_gradients_scaled(scale):
                loss = super().step(closure)
        finally:
            for p, grad in held.items():
                p.grad = grad
        with torch.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p in held:
                        self._lazy_step(p, group, scale or 1.0)
        return loss

    def _parameters_with_grad(self) -> Iterator[torch.Tensor]:
        return (p for group in self.param_groups for p in group["params"] if p.grad is not None)

    @contextlib.contextmanager
    def _dense_gradients_scaled(self, scale: float | None) -> Iterator[None]:
        """The fused kernel divides each gradient by `grad_scale` as it reads it (the hook
        torch.amp.GradScaler uses); the other kernels get their gradients multiplied first."""
        if scale is None:
            yield
            return
        fused = all(group["fused"] for group in self.param_groups)
        if not fused:
            with torch.no_grad():
                for p in self._parameters_with_grad():
                    if not p.grad.is_sparse:
                        p.grad.mul_(scale)
            yield
            return
        self.grad_scale = torch.tensor(1.0 / scale, dtype=torch.float32)
        try:
            yield
        finally:
            del self.grad_scale

    def _lazy_step(self, param: torch.Tensor, group: dict, scale: float) -> None:
        """One AdamW step (decoupled weight decay, bias correction by the step count) on the rows the
        gradient names, after bringing those rows up to date (`_catch_up`); the others wait."""
        if group["amsgrad"]:
            raise ValueError("RowSparseAdamW does not support amsgrad")
        state = self._row_state(param)
        grad = param.grad.coalesce()  # a row read twice in the batch: its gradients summed
        rows, values = grad.indices()[0], grad.values()
        if scale != 1.0 or group["maximize"]:
            values = values * (-scale if group["maximize"] else scale)
        self._catch_up(param, group, rows)
        beta1, beta2 = group["betas"]
        lr, eps, decay = group["lr"], group["eps"], group["weight_decay"]
        state["step"] += 1
        step = int(state["step"])
        exp_avg = state["exp_avg"].index_select(0, rows).lerp_(values, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(values, values,
                                                                                      value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, exp_avg)
        state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
        weights = param.index_select(0, rows)
        if decay:
            weights.mul_(1 - lr * decay)
        denominator = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2 ** step)).add_(eps)
        weights.addcdiv_(exp_avg, denominator, value=-lr / (1 - beta1 ** step))
        param.index_copy_(0, rows, weights)
        # What this step would have done to a row no batch used, kept for when it is next read.
        _record(state, step, lr * math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step),
                math.log1p(-lr * decay) if decay else 0.0)
        state["row_step"][rows] = step
        state["row_log_decay"][rows] = state["log_decay"]

    def _row_state(self, param: torch.Tensor) -> dict:
        state = self.state[param]
        if not state:
            rows = param.shape[0]
            state["step"] = torch.zeros((), dtype=torch.float32, device=param.device)
            state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["exp_avg_sq"] = torch.zeros_like(param, memory_format=torch.preserve_format)
            state["row_step"] = torch.zeros(rows, dtype=torch.int64, device=param.device)
            state["row_log_decay"] = torch.zeros(rows, dtype=torch.float64, device=param.device)
            state["log_decay"] = torch.zeros((), dtype=torch.float64, device=param.device)
            state["history"] = torch.zeros(1024, dtype=torch.float64, device=param.device)
        return state

    @contextlib.contextmanager
    def watching(self, embedding: nn.Embedding) -> Iterator[None]:
        """Bring the rows a batch reads up to date just before the embedding looks them up, so the
        forward pass sees the weights dense AdamW would have there (and the gradient is taken at
        the same point); the hook is removed on exit."""
        group = next(g for g in self.param_groups if any(p is embedding.weight for p in g["params"]))

        def before_lookup(module: nn.Module, args: tuple) -> None:
            if self.state.get(module.weight):
                with torch.no_grad():
                    self._catch_up(module.weight, group, torch.unique(args[0]))

        handle = embedding.register_forward_pre_hook(before_lookup)
        try:
            yield
        finally:
            handle.remove()

    @torch.no_grad()
    def bring_rows_up_to_date(self) -> None:
        """Apply every waiting row's missed steps (`_catch_up`), so the weights are what dense
        AdamW would hold now: the trainer calls it before it evaluates or saves."""
        for group in self.param_groups:
            for param in group["params"]:
                state = self.state.get(param)
                if state and "row_step" in state:
                    behind = torch.nonzero(state["row_step"] < int(state["step"])).flatten()
                    for chunk in behind.split(CATCH_UP_CHUNK):
                        self._catch_up(param, group, chunk)

    def _catch_up(self, param: torch.Tensor, group: dict, rows: torch.Tensor) -> None:
        """What dense AdamW does to a row between two uses, in one go: with no gradient its moments
        decay (m by beta1, v by beta2 per step), its weight decays, and it keeps moving by
        lr_s * (m_s / bc1_s) / sqrt(v_s / bc2_s) = A_s * r^j * m / sqrt(v) at the j-th step s missed,
        r = beta1 / sqrt(beta2) (eps, added to sqrt(v_s / bc2_s), is taken at the first missed step:
        the one approximation).
        Without this, a word read once moves ~1 / (1 - r) = 10x less than under dense AdamW, and
        rows_used trained SST-2 to 0.28 points less over five seeds (bench/embedding_updates.py)."""
        state = self.state[param]
        step = int(state["step"])
        last = state["row_step"][rows]
        gaps = step - last
        waiting = gaps > 0
        if not bool(waiting.any()):
            return
        rows, last, gaps = rows[waiting], last[waiting], gaps[waiting]
        beta1, beta2 = group["betas"]
        ratio = beta1 / math.sqrt(beta2)
        # A_s for the (at most CATCH_UP_STEPS) steps after each row's last use; r^j beyond is ~0.
        offsets = torch.arange(1, CATCH_UP_STEPS + 1, device=param.device)
        missed = last[:, None] + offsets[None, :]  # the steps s = last + j
        inside = missed <= step
        factors = state["history"][missed.clamp(max=step) - 1] * inside
        pull = (factors * ratio ** offsets.to(torch.float64)[None, :]).sum(dim=1)  # sum_j A_s r^j
        exp_avg = state["exp_avg"].index_select(0, rows)
        exp_avg_sq = state["exp_avg_sq"].index_select(0, rows)
        weights = param.index_select(0, rows)
        weights.mul_(torch.exp(state["log_decay"] - state["row_log_decay"][rows]).to(weights.dtype)[:, None])
        # eps sits beside sqrt(v_s / bc2_s) there: as seen from sqrt(v) it is eps * sqrt(bc2_s) /
        # beta2^(j/2), taken at the first missed step, where r^j puts most of the weight.
        first = (last + 1).to(torch.float64)
        eps = group["eps"] * torch.sqrt(1 - beta2 ** first) / math.sqrt(beta2)
        weights.sub_(exp_avg / (exp_avg_sq.sqrt() + eps.to(exp_avg.dtype)[:, None]) * pull.to(weights.dtype)[:, None])
        exp_avg.mul_((beta1 ** gaps.to(torch.float64)).to(exp_avg.dtype)[:, None])
        exp_avg_sq.mul_((beta2 ** gaps.to(torch.float64)).to(exp_avg_sq.dtype)[:, None])
        param.index_copy_(0, rows, weights)
        state["exp_avg"].index_copy_(0, rows, exp_avg)
        state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
        state["row_step"][rows] = step
        state["row_log_decay"][rows] = state["log_decay"]


# r^j after this many missed steps is below 1e-23 (r = 0.9 / sqrt(0.999)): later steps add nothing.
CATCH_UP_STEPS = 512
CATCH_UP_CHUNK = 4096
_ROW_KEYS = ("row_step", "row_log_decay", "log_decay", "history")  # kept in their own dtypes  # rows caught up at once when all are (a [4096, 512] float64 block)


def _record(state: dict, step: int, factor: float, log_decay: float) -> None:
    """Keep step `step`'s A_s (history, grown by doubling) and the running log of weight decay."""
    history = state["history"]
    if step > history.numel():
        grown = torch.zeros(2 * history.numel(), dtype=history.dtype, device=history.device)
        grown[:history.numel()] = history
        state["history"] = history = grown
    history[step - 1] = factor
    state["log_decay"] += log_decay
