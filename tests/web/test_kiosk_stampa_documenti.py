"""The kiosk's label and documents without leaving the kiosk (issue 14): the label is
served for the screen's hidden print frame (framed by this site only, no commands), and
opened as a page of its own it carries the idle lock; a technical document opens in a
kiosk page (bar, Esci, idle lock) that frames the file."""

from __future__ import annotations

import hashlib
import io
import re

import pytest

from asigest.models import DocumentoTecnico
from asigest.services.archivio import Archivio
from tests.web.conftest import login_on
from tests.web.test_kiosk import apri, impianto, kiosk, lotti

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def _csp(response) -> str:
    return response.headers["Content-Security-Policy"]


def test_the_screen_prints_the_label_from_a_frame(kiosk, db_session):
    apri(kiosk, qta="25")
    lotto = lotti(db_session)[0]
    schermata = kiosk.get("/kiosk/SMD-1").text
    indirizzo = f"/kiosk/SMD-1/etichetta/{lotto.id}?stampa=1"
    assert f'data-stampa="{indirizzo}"' in schermata
    assert re.search(r'<script src="/static/js/kiosk-stampa\.js\?v=\w+" defer></script>', schermata)
    cornice = kiosk.get(indirizzo)
    assert cornice.status_code == 200 and lotto.codice_lotto in cornice.text
    assert "frame-ancestors 'self'" in _csp(cornice) and cornice.headers["X-Frame-Options"] == "SAMEORIGIN"
    # In the frame: the label alone — no commands, no script, no idle lock of its own.
    assert "etichetta-comandi" not in cornice.text and "<script" not in cornice.text and "data-idle" not in cornice.text


def test_the_label_opened_as_a_page_has_the_idle_lock(kiosk, db_session, app):
    apri(kiosk, qta="25")
    lotto = lotti(db_session)[0]
    pagina = kiosk.get(f"/kiosk/SMD-1/etichetta/{lotto.id}").text
    assert f'data-idle="{app.config["KIOSK_IDLE_SECONDS"]}"' in pagina and 'data-badge-url="/kiosk/SMD-1"' in pagina
    assert re.search(r'<script src="/static/js/kiosk\.js\?v=\w+" defer></script>', pagina)
    assert 'id="stampa"' in pagina


def test_the_office_label_is_neither_framed_nor_locked(kiosk, db_session, make_app, make_user):
    apri(kiosk)
    lotto = lotti(db_session)[0]
    office = make_app().test_client()
    login_on(office, make_user(ruolo="SUPERVISORE").matricola)
    risposta = office.get(f"/lotti/{lotto.id}/etichetta")
    assert "frame-ancestors 'none'" in _csp(risposta) and risposta.headers["X-Frame-Options"] == "DENY"
    assert "data-idle" not in risposta.text


@pytest.fixture
def documento(app, db_session, tmp_path, monkeypatch):
    """A PDF assembly drawing of order 1 (2026/1001) in the archive."""
    monkeypatch.setitem(app.config, "DOCUMENTS_DIR", str(tmp_path / "documenti"))
    salvato = Archivio(str(tmp_path / "documenti")).salva(io.BytesIO(PDF))
    record = DocumentoTecnico(
        commessa_erp_id=1,
        tipo="SCHEMA_MONTAGGIO",
        titolo="Schema lato TOP",
        nome_file="schema.pdf",
        content_type="application/pdf",
        dimensione=len(PDF),
        sha256=hashlib.sha256(PDF).hexdigest(),
    )
    assert salvato.sha256 == record.sha256
    db_session.add(record)
    db_session.commit()
    return record


def test_a_document_opens_in_a_kiosk_page_with_the_idle_lock(kiosk, documento, app):
    card = kiosk.get("/kiosk/SMD-1/commessa", query_string={"q": "2026/1001"}, headers={"HX-Request": "true"}).text
    vista = f"/kiosk/SMD-1/documenti/{documento.id}/vista"
    assert f'href="{vista}"' in card and 'target="_blank"' not in card
    pagina = kiosk.get(vista)
    assert pagina.status_code == 200
    assert f'data-idle="{app.config["KIOSK_IDLE_SECONDS"]}"' in pagina.text and "/kiosk/SMD-1/esci" in pagina.text
    assert (
        f'<iframe class="kiosk-documento" title="Schema lato TOP"\n          src="/kiosk/SMD-1/documenti/{documento.id}"'
        in pagina.text
    )
    file = kiosk.get(f"/kiosk/SMD-1/documenti/{documento.id}")
    assert file.data == PDF and "frame-ancestors 'self'" in _csp(file)


def test_a_document_the_browser_cannot_show_says_so(kiosk, documento, db_session):
    documento.content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    db_session.commit()
    pagina = kiosk.get(f"/kiosk/SMD-1/documenti/{documento.id}/vista").text
    assert "<iframe" not in pagina and "non si può mostrare sul terminale" in pagina


def test_the_document_view_needs_the_kiosk_session(client, impianto, documento):
    risposta = client.get(f"/kiosk/SMD-1/documenti/{documento.id}/vista")
    assert risposta.status_code == 302 and risposta.headers["Location"].endswith("/kiosk/SMD-1")
