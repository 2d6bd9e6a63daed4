"""Alembic migrations of the gateway's schema (``hallmark db upgrade``); configured in code by
``gateway.store.schema``, so no alembic.ini is needed."""
