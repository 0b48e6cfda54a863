"""Alembic environment: migrations run against the URL set by cirn.db.alembic_config."""

from alembic import context
from sqlalchemy import pool, engine_from_config

from cirn import models  # noqa: F401  (registers the tables on Base.metadata)
from cirn.datasets import models as _datasets_models  # noqa: F401
from cirn.egress.review import models as _egress_review_models  # noqa: F401
from cirn.hub.applications import models as _application_models  # noqa: F401  (and cirn.hub.identity)
from cirn.db import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}),
                                     prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


run()
