"""Alembic environment: the URL comes from the caller (kycguard.store.database.upgrade)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from kycguard.alerts import models as alert_models  # noqa: F401  (alerts)
from kycguard.delivery import models as delivery_models  # noqa: F401  (outbox, attempts)
from kycguard.policies import models as policy_models  # noqa: F401  (policies, experiments)
from kycguard.policies import tuning_models  # noqa: F401  (tuning reports)
from kycguard.reviews import models as review_models  # noqa: F401  (review tables)
from kycguard.scale import models as scale_models  # noqa: F401  (job leases, idempotency)
from kycguard.store import (
    security_models,  # noqa: F401  (registers the security tables)
    session_models,  # noqa: F401  (registers the session tables)
)
from kycguard.store.models import Base
from kycguard.webhooks import models as webhook_models  # noqa: F401  (webhook endpoints)

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
