"""Fixtures and helpers for the web tests: order set-ups, extra app instances, HTML reading.

Extra app instances share the session app's databases but have their own ``url_map``,
so a test can add a throwaway route (or point the ERP somewhere unreachable) without
touching the app that the access sweep reads.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timezone

import pytest
from sqlalchemy import func, select

from asigest.extensions import db
from tests.conftest import IsolatedClient, csrf_from

FASE_CODES = ("SMD", "PTH", "CONTROLLI")
_ROW = re.compile(r"<tr>(.*?)</tr>", re.S)
_ID_LINK = re.compile(r'href="/commesse/(\d+)"')


@pytest.fixture
def make_config(db_session):
    """``make_config(commessa_id=101, fasi=("SMD", "CONTROLLI"), **columns)`` → ConfigCommessa.

    Writes the rows directly through the models (the configuration service arrives
    later), one Fase per enabled phase, and commits.
    """
    from asigest.models import ConfigCommessa, Fase, FaseTipo

    def factory(commessa_id=101, fasi=("SMD", "CONTROLLI"), qta=500, **columns):
        config = ConfigCommessa(
            commessa_erp_id=commessa_id,
            flag_smd="SMD" in fasi,
            flag_pth="PTH" in fasi,
            flag_controlli="CONTROLLI" in fasi,
            diba=columns.pop("diba", "DB-0001"),
            revisione=columns.pop("revisione", "B"),
            note=columns.pop("note", None),
            qta_erp=qta,
            **columns,
        )
        db_session.add(config)
        tipi = {ft.codice: ft for ft in db_session.scalars(select(FaseTipo))}
        for codice in fasi:
            db_session.add(
                Fase(commessa_erp_id=commessa_id, fase_tipo_id=tipi[codice].id, stato="APERTA", qta_prevista=qta)
            )
        db_session.commit()
        return config

    return factory


@pytest.fixture
def fase_aperta(db_session):
    """``fase_aperta(commessa_id, codice, prodotta=..., scarti=...)``: move a fase to IN_CORSO with
    a known opening instant (as the first lotto would) and return it."""
    from asigest.models import Fase, FaseTipo

    def update(commessa_id, codice, *, prodotta=0, scarti=0, apertura=datetime(2026, 3, 2, 7, 30, tzinfo=UTC)):
        fase = db_session.scalar(
            select(Fase).join(FaseTipo).where(Fase.commessa_erp_id == commessa_id, FaseTipo.codice == codice)
        )
        fase.stato = "IN_CORSO"
        fase.qta_prodotta = prodotta
        fase.qta_scarti = scarti
        fase.data_apertura = apertura
        db_session.commit()
        return fase

    return update


@pytest.fixture
def macchina_smd(db_session) -> str:
    """An active SMD machine for kiosk tests; returns its code."""
    from asigest.models import FaseTipo, Macchina

    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    db_session.add(Macchina(codice="SMD-9", descrizione="Linea 9", fase_tipo_id=tipo.id, attiva=True))
    db_session.commit()
    return "SMD-9"


@pytest.fixture
def row_count(db_session):
    """``row_count()`` → total rows over every ASI_GEST table (to prove nothing changed)."""

    def count() -> int:
        db_session.rollback()  # read what is committed now, not a stale snapshot
        return sum(db_session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables)

    return count


@pytest.fixture
def make_app(app, database_url, erp_file, tmp_path_factory):
    """``make_app(**overrides)`` → a new app instance on the same databases (engines
    disposed at the end of the test)."""
    from asigest import create_app
    from asigest.dialects import sqlite_readonly_url

    made = []

    def factory(**overrides):
        settings = {
            "TESTING": True,
            "INSTANCE_PATH": tmp_path_factory.mktemp("instance-extra"),
            "DATABASE_URL": database_url,
            "ERP_URL": sqlite_readonly_url(erp_file),
            "ERP_TIMEOUT": 1.0,
            "SECRET_KEY": "test-secret",
        }
        settings.update(overrides)
        extra = create_app(settings)
        extra.test_client_class = IsolatedClient
        made.append(extra)
        return extra

    yield factory
    for extra in made:
        with extra.app_context():
            for engine in db.engines.values():
                engine.dispose()


def login_on(client, matricola: str, password: str = "password123"):
    """Log ``client`` in through the real form; returns the POST response."""
    page = client.get("/login")
    return client.post(
        "/login", data={"matricola": matricola, "password": password, "csrf_token": csrf_from(page.text)}
    )


def rows_by_id(html: str) -> dict[int, str]:
    """``{commessa ID: that table row's HTML}`` for the orders list."""
    found = {}
    for row in _ROW.findall(html):
        match = _ID_LINK.search(row)
        if match:
            found[int(match.group(1))] = row
    return found


def listed_ids(html: str) -> list[int]:
    """Commessa IDs in the order they are listed."""
    return [int(i) for row in _ROW.findall(html) for i in _ID_LINK.findall(row)]
