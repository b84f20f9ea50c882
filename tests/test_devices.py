"""The devices a run can train on: nvidia-smi's listing read as it prints it, CUDA_VISIBLE_DEVICES
applied as CUDA applies it, a missing or wedged driver meaning no GPU, and the CPU's RAM within a
container's limit."""

import os
import stat
import sys
from pathlib import Path

from bertstudio.devices import (cgroup_memory, describe_cpu, list_devices, parse_meminfo, parse_nvidia_smi,
                                visible_gpus)

MIB = 1024 * 1024
# What `nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.used,memory.free
# --format=csv,noheader,nounits` prints on a two-GPU machine (one busy), and a MIG line without memory.
SMI = """0, GPU-1f2e3d4c-0000-1111-2222-333344445555, NVIDIA H200, 143771, 4521, 139250
1, GPU-9a8b7c6d-0000-1111-2222-333344445555, NVIDIA H200, 143771, 120000, 23771
2, GPU-77777777-0000-1111-2222-333344445555, NVIDIA A100-SXM4-80GB, [N/A], [N/A], [N/A]
"""


def test_nvidia_smi_lines_become_gpus_and_lines_without_memory_are_left_out():
    gpus = parse_nvidia_smi(SMI)
    assert [gpu.index for gpu in gpus] == [0, 1]
    assert gpus[0].name == "NVIDIA H200" and gpus[0].free_bytes == 139250 * MIB and gpus[1].used_bytes == 120000 * MIB
    assert gpus[1].uuid.startswith("GPU-9a8b")


def test_a_name_holding_a_comma_keeps_it():
    (gpu,) = parse_nvidia_smi("3, GPU-abc, Tesla V100, PCIe, 16384, 0, 16384\n")
    assert gpu.name == "Tesla V100, PCIe" and gpu.index == 3 and gpu.total_bytes == 16384 * MIB


def test_cuda_visible_devices_lists_what_cuda_would_see_in_its_order():
    gpus = parse_nvidia_smi(SMI)
    assert visible_gpus(gpus, None) == gpus
    assert [gpu.index for gpu in visible_gpus(gpus, "1,0")] == [1, 0]
    assert [gpu.index for gpu in visible_gpus(gpus, "GPU-9a8b")] == [1]  # a UUID prefix
    assert visible_gpus(gpus, "") == [] and visible_gpus(gpus, "-1") == []
    assert [gpu.index for gpu in visible_gpus(gpus, "0,7,1")] == [0]  # CUDA stops at the first unknown entry


def _script(folder: Path, body: str) -> str:
    path = folder / "nvidia-smi"
    path.write_text(f"#!{sys.executable}\n{body}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_list_devices_runs_the_driver_tool_and_honours_the_servers_cuda_visible_devices(tmp_path):
    smi = _script(tmp_path, f"import sys; sys.stdout.write({SMI!r})")
    assert [gpu.index for gpu in list_devices({"PATH": os.environ["PATH"]}, nvidia_smi=smi)] == [0, 1]
    assert [gpu.index for gpu in list_devices({"CUDA_VISIBLE_DEVICES": "1"}, nvidia_smi=smi)] == [1]


def test_a_failing_or_hanging_driver_tool_means_no_gpu(tmp_path, monkeypatch):
    import bertstudio.devices as devices

    failing = _script(tmp_path, "import sys; print('NVIDIA-SMI has failed'); sys.exit(9)")
    assert list_devices({}, nvidia_smi=failing) == []
    monkeypatch.setattr(devices, "NVIDIA_SMI_TIMEOUT_S", 0.5)
    (tmp_path / "wedged").mkdir()
    hanging = _script(tmp_path / "wedged", "import time; time.sleep(30)")
    assert list_devices({}, nvidia_smi=hanging) == []


def test_without_nvidia_smi_a_cpu_build_of_torch_lists_no_gpu():
    import torch

    if torch.version.cuda is not None:
        return  # a CUDA build asks torch in a child instead; this checks the CPU build this CI has
    assert list_devices({"PATH": "/nonexistent"}) == []


def test_meminfo_gives_total_and_available_in_bytes():
    text = "MemTotal:       24683664 kB\nMemFree:         1000000 kB\nMemAvailable:   20000000 kB\n"
    assert parse_meminfo(text) == (24683664 * 1024, 20000000 * 1024)
    assert parse_meminfo("MemTotal: 2048 kB\nMemFree: 1024 kB\n") == (2048 * 1024, 1024 * 1024)


def test_a_containers_limit_is_the_ram_there_is():
    assert cgroup_memory("max\n", "123") is None
    assert cgroup_memory("8589934592\n", "2147483648\n") == (8 * 2**30, 6 * 2**30)
    proc, cgroup = Path("/nonexistent"), Path("/nonexistent")
    assert describe_cpu(proc, cgroup).cores >= 1


def test_describe_cpu_takes_the_smaller_of_the_machine_and_its_container(tmp_path):
    proc, cgroup = tmp_path / "proc", tmp_path / "cgroup"
    proc.mkdir(), cgroup.mkdir()
    (proc / "meminfo").write_text("MemTotal: 67108864 kB\nMemAvailable: 60000000 kB\n")
    (proc / "cpuinfo").write_text("processor : 0\nmodel name : Example CPU @ 3GHz\n")
    (cgroup / "memory.max").write_text(str(16 * 2**30))
    (cgroup / "memory.current").write_text(str(4 * 2**30))
    cpu = describe_cpu(proc, cgroup)
    assert cpu.name == "Example CPU @ 3GHz" and cpu.total_bytes == 16 * 2**30 and cpu.free_bytes == 12 * 2**30


def test_this_machine_describes_itself():
    cpu = describe_cpu()
    assert cpu.total_bytes > cpu.free_bytes > 0 and cpu.cores >= 1

