"""Synthesizer settings travel whole: get_params reads the __init__ signature, and the
shell that worker processes fit with carries every parameter."""

from __future__ import annotations

import inspect

from relsynth import Column, Metadata, Synthesizer, Table
from relsynth.metadata.graph import plan


def _meta() -> Metadata:
    return Metadata((Table("t", (Column("id", "id"), Column("x", "numerical")), ("id",)),))


def _init_names() -> list[str]:
    params = inspect.signature(Synthesizer.__init__).parameters
    return [name for name in params if name != "self"]


def test_get_params_lists_every_init_parameter():
    synth = Synthesizer(_meta(), seed=4, steps=7, locale="de_DE")
    params = synth.get_params()
    assert list(params) == _init_names()
    assert params["seed"] == 4 and params["steps"] == 7 and params["locale"] == "de_DE"
    copy = Synthesizer(**params)
    assert copy.get_params() == params


def test_every_init_parameter_survives_the_shell_copy():
    meta = _meta()
    # a distinct marker per parameter: a parameter the shell dropped would hold its default
    markers = {name: object() for name in _init_names() if name != "metadata"}
    synth = Synthesizer(meta, **markers)
    synth.plan_ = plan(meta)
    synth.lookups_ = {}
    shell = synth._shell()
    assert shell is not synth
    assert shell.metadata is meta
    for name, marker in markers.items():
        assert getattr(shell, name) is marker, name
    assert shell.plan_ is synth.plan_ and shell.lookups_ is synth.lookups_
