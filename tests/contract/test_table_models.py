"""Every built-in TableModel passes relsynth.testing.check_table_model (tiny budgets)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from relsynth.models import ConditionalWGAN, SequenceModel  # noqa: E402
from relsynth.testing import check_table_model  # noqa: E402

TINY = {"epochs": 1, "n_threads": 1, "seed": 0, "device": "cpu"}


def wgan() -> ConditionalWGAN:
    return ConditionalWGAN(
        batch_size=20, embedding_dim=8, generator_dims=(16,), critic_dims=(16,), **TINY
    )


def wgan_clip() -> ConditionalWGAN:
    return ConditionalWGAN(
        loss="wgan",
        encoding="gmm",
        batch_size=20,
        embedding_dim=8,
        generator_dims=(16,),
        critic_dims=(16,),
        **TINY,
    )


def sequence() -> SequenceModel:
    return SequenceModel(
        order_column="step",
        monotone_columns=["elapsed"],
        batch_size=4,
        hidden_dim=8,
        noise_dim=4,
        **TINY,
    )


CASES = [
    pytest.param(check, id=f"{label}-{name}")
    for label, factory in (("wgan", wgan), ("wgan-clip-gmm", wgan_clip), ("sequence", sequence))
    for name, check in check_table_model(factory)
]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("check", CASES)
def test_contract(check) -> None:
    check()
