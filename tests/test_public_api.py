"""The package's public face: every advertised name resolves, and importing it loads nothing heavy."""

from __future__ import annotations

import subprocess
import sys

import pytest

import bertstudio


@pytest.mark.parametrize("name", sorted(bertstudio._PUBLIC))
def test_every_public_name_resolves_to_the_object_its_module_defines(name):
    import importlib

    assert getattr(bertstudio, name) is getattr(importlib.import_module(bertstudio._PUBLIC[name]), name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bertstudio.nope  # noqa: B018


def test_importing_the_package_loads_neither_torch_nor_gradio():
    code = "import sys, bertstudio; print(sorted(m for m in ('torch', 'gradio', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
