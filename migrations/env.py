"""Alembic environment for ASI_GEST (Flask-Migrate). Only the ASI_GEST metadata is
migrated; the ERP is never touched."""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    # Keep the application's own loggers working after a migration run in-process.
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db

# SQL Server 2016 (13.x), for scripts rendered offline (``flask db upgrade --sql``).
MSSQL_OFFLINE_VERSION = (13, 0)


def get_engine():
    return target_db.engines[None]


def get_metadata():
    import asigest.models  # noqa: F401  (registers every table on the metadata)

    return target_db.metadata


def run_migrations_offline():
    """Emit SQL for a database given by URL (``flask db upgrade --sql``)."""
    url = config.get_main_option("sqlalchemy.url") or get_engine().url.render_as_string(hide_password=False)
    context.configure(url=url, target_metadata=get_metadata(), literal_binds=True)
    dialect = context.get_context().dialect
    if dialect.name == "mssql" and not dialect.server_version_info:
        # No server to ask its version: without one SQLAlchemy renders for SQL Server
        # 2005 (a Date column becomes DATETIME). Render what an online upgrade on SQL
        # Server 2016 or later creates (the oldest version supported, docs/deploy.md).
        dialect.server_version_info = MSSQL_OFFLINE_VERSION
        dialect.deprecate_large_types = True
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Migrate the configured ASI_GEST database."""

    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)

    with get_engine().connect() as connection:
        context.configure(connection=connection, target_metadata=get_metadata(), **conf_args)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
