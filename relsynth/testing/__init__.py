"""Testing helpers: seeded test databases, and the table-model contract kit.

Seeding a test database from a saved model (``relsynth fit`` or
``Synthesizer.save``), once per test session::

    # conftest.py
    from relsynth.testing import database_fixture

    shop_db = database_fixture("tests/shop.relsynth", seed=0, scale=0.2)

    # test_orders.py
    def test_order_totals(shop_db):          # shop_db is a database URL
        engine = sqlalchemy.create_engine(shop_db)
        ...

The first use samples the model into a template (a cached SQLite file, or a
PostgreSQL template database) and each use copies it, so the same model, seed and
scale always give the same database, in seconds. See :mod:`relsynth.testing.seeding`.

The table-model contract kit (:mod:`relsynth.testing.contract`): third-party
models can run the same checks as the built-in ones::

    import pytest
    from relsynth.testing import check_table_model

    @pytest.mark.parametrize("name, check", check_table_model(lambda: MyModel(epochs=1)))
    def test_contract(name, check):
        check()
"""

from __future__ import annotations

from relsynth.testing.contract import check_table_model, toy_data
from relsynth.testing.seeding import database_fixture, seeded_database

__all__ = ["check_table_model", "database_fixture", "seeded_database", "toy_data"]
