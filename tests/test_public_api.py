"""The public namespace: sorted __all__, every name importable, nothing private exported."""

from __future__ import annotations

import relsynth


def test_all_is_sorted_and_complete():
    assert relsynth.__all__ == sorted(relsynth.__all__)
    for name in relsynth.__all__:
        assert getattr(relsynth, name) is not None, name


def test_public_names_are_exported():
    import types

    public = {
        n
        for n, v in vars(relsynth).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public <= set(relsynth.__all__)
    assert dir(relsynth) == relsynth.__all__


def test_errors_share_one_root():
    for name in relsynth.__all__:
        obj = getattr(relsynth, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert issubclass(obj, relsynth.RelsynthWarning), name
        elif isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, relsynth.RelsynthError), name
