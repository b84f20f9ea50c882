"""The devices a run can train on: the GPUs (name, memory in use and free) and the CPU (cores, RAM).

The server never creates a CUDA context of its own: the children it launches train, and a context
in the server would hold half a gigabyte of every GPU for as long as the studio runs. So GPUs are
read from `nvidia-smi`, and only where that is missing from a short-lived `python` child that asks
torch. Indices are the physical ones nvidia-smi prints, which is what the process launcher puts in
a child's CUDA_VISIBLE_DEVICES; a server started with CUDA_VISIBLE_DEVICES set lists only those.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

NVIDIA_SMI_QUERY = ["--query-gpu=index,uuid,name,memory.total,memory.used,memory.free",
                    "--format=csv,noheader,nounits"]
NVIDIA_SMI_TIMEOUT_S = 5.0  # a healthy nvidia-smi answers in well under a second; a wedged driver never does
TORCH_PROBE_TIMEOUT_S = 30.0  # the fallback imports torch in a child: seconds on a busy machine
MIB = 1024 * 1024

# Run in a child where nvidia-smi is missing: the same CSV, from torch (mem_get_info creates a
# context, which dies with the child).
_TORCH_PROBE = """
import torch
if torch.cuda.is_available():
    for i in range(torch.cuda.device_count()):
        free, total = torch.cuda.mem_get_info(i)
        p = torch.cuda.get_device_properties(i)
        uuid = "GPU-" + str(getattr(p, "uuid", "")) if getattr(p, "uuid", None) else ""
        print(f"{i}, {uuid}, {p.name}, {total // 2**20}, {(total - free) // 2**20}, {free // 2**20}")
"""


@dataclass(frozen=True)
class Gpu:
    index: int  # physical index, as nvidia-smi numbers it and CUDA_VISIBLE_DEVICES takes it
    name: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    uuid: str = ""


@dataclass(frozen=True)
class Cpu:
    name: str
    cores: int  # the cores this process may run on (its affinity), not the machine's
    total_bytes: int
    free_bytes: int  # what can be allocated without swapping: MemAvailable, or the cgroup's headroom


# --- GPUs ---------------------------------------------------------------------------------------------

def parse_nvidia_smi(text: str) -> list[Gpu]:
    """GPUs from `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,memory.free
    --format=csv,noheader,nounits` (MiB). Lines that do not parse (a driver message, "[N/A]"
    memory on some MIG setups) are left out rather than guessed at."""
    gpus = []
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.split(",")]
        if len(cells) < 6:
            continue
        # A GPU's name may itself hold a comma: the memory columns are the last three.
        index, uuid, name, (total, used, free) = cells[0], cells[1], ", ".join(cells[2:-3]), cells[-3:]
        try:
            gpus.append(Gpu(index=int(index), name=name, uuid=uuid, total_bytes=int(float(total) * MIB),
                            used_bytes=int(float(used) * MIB), free_bytes=int(float(free) * MIB)))
        except ValueError:
            continue
    return gpus


def visible_gpus(gpus: Sequence[Gpu], visible: str | None) -> list[Gpu]:
    """The GPUs a CUDA_VISIBLE_DEVICES value lets CUDA see, in its order. Unset: all. As CUDA reads
    it, entries are indices or (prefixes of) UUIDs, and the list ends at the first entry that names
    no GPU: "" and "-1" hide every GPU."""
    if visible is None:
        return list(gpus)
    chosen: list[Gpu] = []
    for entry in (part.strip() for part in visible.split(",")):
        match = _named_gpu(gpus, entry)
        if match is None:
            break
        if match not in chosen:
            chosen.append(match)
    return chosen


def _named_gpu(gpus: Sequence[Gpu], entry: str) -> Gpu | None:
    if entry.isdigit():
        return next((gpu for gpu in gpus if gpu.index == int(entry)), None)
    if entry.startswith("GPU-"):
        matches = [gpu for gpu in gpus if gpu.uuid and gpu.uuid.startswith(entry)]
        return matches[0] if len(matches) == 1 else None
    return None  # MIG-… and anything else: not a whole GPU this can map


def list_devices(env: Mapping[str, str] | None = None, *, nvidia_smi: str | None = None) -> list[Gpu]:
    """The GPUs this studio may train on, with their memory now. Empty on a machine without any
    (or where the driver does not answer in time): the CPU is then the only device."""
    env = os.environ if env is None else env
    binary = nvidia_smi or shutil.which("nvidia-smi", path=env.get("PATH"))
    if binary:
        text = _run([binary, *NVIDIA_SMI_QUERY], NVIDIA_SMI_TIMEOUT_S, env)
        return visible_gpus(parse_nvidia_smi(text), env.get("CUDA_VISIBLE_DEVICES"))
    return _torch_gpus(env)


def _torch_gpus(env: Mapping[str, str]) -> list[Gpu]:
    """Where nvidia-smi is missing: ask torch in a child, and only if this torch was built for CUDA.
    The child sees the GPUs through CUDA_VISIBLE_DEVICES, so its index i is the i-th entry there."""
    try:
        import torch
    except ImportError:
        return []
    if getattr(torch.version, "cuda", None) is None:
        return []
    text = _run([sys.executable, "-c", _TORCH_PROBE], TORCH_PROBE_TIMEOUT_S, env)
    gpus = parse_nvidia_smi(text)
    entries = [part.strip() for part in (env.get("CUDA_VISIBLE_DEVICES") or "").split(",")]
    if entries and all(entry.isdigit() for entry in entries) and len(entries) >= len(gpus):
        gpus = [_reindexed(gpu, int(entries[gpu.index])) for gpu in gpus]
    return gpus


def _reindexed(gpu: Gpu, index: int) -> Gpu:
    return Gpu(index=index, name=gpu.name, total_bytes=gpu.total_bytes, used_bytes=gpu.used_bytes,
               free_bytes=gpu.free_bytes, uuid=gpu.uuid)


def _run(argv: list[str], timeout: float, env: Mapping[str, str]) -> str:
    """A probe's stdout; empty when it is missing, fails or hangs (no GPU is then listed)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=dict(env), check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


# --- the CPU -------------------------------------------------------------------------------------

def parse_meminfo(text: str) -> tuple[int, int]:
    """(total, available) bytes from /proc/meminfo; MemFree where the kernel predates MemAvailable."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * 1024  # the file says kB and means KiB
    total = values.get("MemTotal", 0)
    return total, values.get("MemAvailable", values.get("MemFree", 0))


def cgroup_memory(limit_text: str | None, usage_text: str | None) -> tuple[int, int] | None:
    """(limit, headroom) from cgroup v2's memory.max and memory.current; None without a limit ("max")."""
    try:
        limit = int((limit_text or "").strip())
        usage = int((usage_text or "0").strip() or 0)
    except ValueError:
        return None
    return limit, max(0, limit - usage)


def describe_cpu(proc: Path = Path("/proc"), cgroup: Path = Path("/sys/fs/cgroup")) -> Cpu:
    """This machine's CPU as a run would get it: its cores, and RAM within any container limit."""
    total, free = parse_meminfo(_read(proc / "meminfo"))
    if not total:  # not Linux: the page count, with nothing known of what is free
        total = _sysconf_bytes("SC_PHYS_PAGES")
        free = _sysconf_bytes("SC_AVPHYS_PAGES") or total
    limited = cgroup_memory(_read(cgroup / "memory.max") or None, _read(cgroup / "memory.current") or None)
    if limited is not None and 0 < limited[0] < total:  # a container smaller than the machine
        total, free = limited[0], min(free, limited[1])
    name = next((line.partition(":")[2].strip() for line in _read(proc / "cpuinfo").splitlines()
                 if line.startswith("model name")), "") or "CPU"
    return Cpu(name=name, cores=_cores(), total_bytes=total, free_bytes=free)


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity else (os.cpu_count() or 1)


def _sysconf_bytes(name: str) -> int:
    try:
        return int(os.sysconf(name)) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 0


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
