"""The Train tab's "Train on": the choices it offers, what Start hands the launcher for each, the
memory estimate against what is free, and where the choice is hidden (hosted, a thread launcher)."""

import csv
import time

import gradio as gr
import pytest

from bertstudio.config import TrainConfig
from bertstudio.data.tabular import read_table
from bertstudio.devices import Cpu, Gpu
from bertstudio.errors import StudioError
from bertstudio.launch.base import Launch, Outcome
from bertstudio.launch.process import child_environment
from bertstudio.ui import data_tab, device_picker, train_tab
from bertstudio.ui.device_picker import ALL_GPUS, CPU, DeviceListing
from bertstudio.worker import JobManager

from ui_support import page_form, values

GB = 10 ** 9
CPU_ONLY = DeviceListing(gpus=[], cpu=Cpu(name="Xeon", cores=16, total_bytes=128 * GB, free_bytes=100 * GB))
TWO_GPUS = DeviceListing(gpus=[Gpu(index=0, name="NVIDIA H200", total_bytes=140 * GB, used_bytes=9 * GB,
                                   free_bytes=131 * GB),
                               Gpu(index=1, name="NVIDIA H200", total_bytes=140 * GB, used_bytes=132 * GB,
                                   free_bytes=8 * GB)],
                         cpu=CPU_ONLY.cpu)


def test_each_gpu_all_of_them_and_the_cpu_are_offered_with_their_free_memory():
    labels, offered = zip(*device_picker.choices(TWO_GPUS))
    assert offered == ("gpu:0", "gpu:1", ALL_GPUS, CPU)
    assert labels[0] == "GPU 0 · NVIDIA H200 · 131.0 GB free of 140.0 GB"
    assert "All 2 GPUs" in labels[2] and "8.0 GB free on the fullest" in labels[2]
    assert labels[3] == "CPU · 16 cores · 100.0 GB of 128.0 GB RAM free"
    assert device_picker.choices(CPU_ONLY) == [("CPU · 16 cores · 100.0 GB of 128.0 GB RAM free", CPU)]


def test_what_start_hands_the_launcher_for_each_choice():
    assert device_picker.launch_arguments("gpu:1", TWO_GPUS) == {"gpus": (1,)}
    assert device_picker.launch_arguments(ALL_GPUS, TWO_GPUS) == {"gpus": (0, 1)}
    assert device_picker.launch_arguments(CPU, TWO_GPUS) == {"cpu_only": True}  # hides the GPUs from the run
    assert device_picker.launch_arguments(CPU, CPU_ONLY) == {}  # the CPU is the default there already
    with pytest.raises(StudioError, match="press Refresh"):
        device_picker.launch_arguments("gpu:5", TWO_GPUS)


def test_refresh_keeps_the_choice_while_it_is_still_there_else_takes_the_first(monkeypatch):
    monkeypatch.setattr(device_picker, "list_now", lambda: TWO_GPUS)
    listing, radio = device_picker.refreshed("gpu:1")
    assert listing is TWO_GPUS and radio["value"] == "gpu:1"
    assert device_picker.refreshed("gpu:7")[1]["value"] == "gpu:0"
    monkeypatch.setattr(device_picker, "list_now", lambda: CPU_ONLY)
    assert device_picker.refreshed("gpu:1")[1]["value"] == CPU


def test_the_estimate_says_what_the_run_needs_and_whether_it_fits():
    config = TrainConfig(model="bert-base-uncased", batch_size=32, max_length=512)
    roomy = device_picker.need_html(config, "gpu:0", TWO_GPUS)
    assert "memory-fits" in roomy and "on GPU 0" in roomy and "131.0 GB is free there" in roomy
    assert "activations" in roomy and "32 rows × 512 tokens" in roomy
    short = device_picker.need_html(config, "gpu:1", TWO_GPUS)
    assert "memory-short" in short and "does not fit" in short and "Lower the batch size" in short
    together = device_picker.need_html(config, ALL_GPUS, TWO_GPUS)
    assert "on each of the 2 GPUs" in together and "8.0 GB is free there" in together  # the fullest counts
    assert "in the CPU's RAM" in device_picker.need_html(config, CPU, CPU_ONLY)
    assert "BERT-base's is assumed" in device_picker.need_html(config.replace(model="someone/x"), CPU, CPU_ONLY)


def test_the_estimate_follows_the_form(tmp_path):
    form = page_form(tmp_path / "runs")
    small = device_picker.need_for_form(form, None, CPU, CPU_ONLY, values(form, batch_size=8))
    large = device_picker.need_for_form(form, None, CPU, CPU_ONLY, values(form, batch_size=64))
    assert "8 rows ×" in small and "64 rows ×" in large


class Recording:
    """A launcher that may give runs their devices (as the process launcher may) and records what
    it was handed, training nothing."""

    multi_process = True

    def __init__(self):
        self.launches: list[Launch] = []

    def run(self, launch, sink, stop) -> Outcome:
        self.launches.append(launch)
        return Outcome("stopped")

    def force_stop(self, run_id):
        return False

    def keeps_running_after_exit(self):
        return False


@pytest.fixture
def loaded(tmp_path):
    path = tmp_path / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "label"])
        for i in range(20):
            writer.writerow([f"{'good' if i % 2 else 'bad'} {i}", "pos" if i % 2 else "neg"])
    return data_tab.LoadedData(path=str(path), table=read_table(path))


def _launched(launcher, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not launcher.launches and time.monotonic() < deadline:
        time.sleep(0.02)
    return launcher.launches[-1]


@pytest.mark.parametrize("choice, gpus, cpu_only", [("gpu:1", (1,), False), (ALL_GPUS, (0, 1), False),
                                                     (CPU, (), True)])
def test_start_trains_on_the_chosen_device(tmp_path, loaded, choice, gpus, cpu_only):
    launcher = Recording()
    jobs = JobManager(launcher=launcher)
    form = page_form(tmp_path / "runs")
    try:
        sent = values(form, text_column="review", label_column="label", model="bundled")
        out = train_tab.start(form, jobs, loaded, {}, *sent, device=choice, listing=TWO_GPUS)
        assert out[2] == "", out[2]
        launch = _launched(launcher)
        assert (launch.gpus, launch.processes, launch.cpu_only) == (gpus, max(1, len(gpus)), cpu_only)
    finally:
        jobs.shutdown(timeout=30)


def test_hosted_the_hosts_device_is_used_whatever_the_page_sends(tmp_path, loaded):
    from bertstudio.hosting import HostingSettings

    launcher = Recording()
    jobs = JobManager(launcher=launcher)
    form = page_form(tmp_path / "runs")
    try:
        sent = values(form, text_column="review", label_column="label", model="bundled")
        train_tab.start(form, jobs, loaded, {}, *sent, device=ALL_GPUS, listing=TWO_GPUS,
                        hosting=HostingSettings(hosted=True, require_signin=False))
        launch = _launched(launcher)
        assert (launch.gpus, launch.cpu_only) == ((), False)
    finally:
        jobs.shutdown(timeout=30)


def test_a_thread_launcher_refuses_a_device_in_words(tmp_path):
    jobs = JobManager()
    try:
        with pytest.raises(StudioError, match="process of its own"):
            jobs.submit(TrainConfig(data=str(tmp_path / "x.csv")), owner="o", cpu_only=True)
        assert not jobs.chooses_devices
    finally:
        jobs.shutdown(timeout=30)


def test_the_child_of_a_cpu_run_sees_no_gpu():
    launch = Launch(run_id="r", config=TrainConfig(), cpu_only=True)
    assert child_environment(launch, {"CUDA_VISIBLE_DEVICES": "0,1"})["CUDA_VISIBLE_DEVICES"] == ""
    assert child_environment(Launch(run_id="r", config=TrainConfig(), gpus=(1,)), {})["CUDA_VISIBLE_DEVICES"] == "1"
    assert "CUDA_VISIBLE_DEVICES" not in child_environment(Launch(run_id="r", config=TrainConfig()), {})


@pytest.mark.parametrize("choosable", [True, False])
def test_the_choice_is_shown_only_where_the_studio_chooses_the_device(choosable):
    with gr.Blocks():
        tab = train_tab.build(choose_device=choosable)
    assert tab.devices.choice.visible is choosable and tab.devices.refresh.visible is choosable
    assert tab.devices.need.visible is not False  # the estimate shows everywhere
