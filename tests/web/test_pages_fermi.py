"""The stops and OEE pages (SPEC §13): OEE per machine with its losses, the dashboard's
panel, the stops register (filter, add with a note, correct, split, Excel), the shift
calendar, the cycle times and the stop reasons admin, through the Flask client."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from asigest.models import CalendarioTurni, CausaleFermo, FaseTipo, LogEvento, Macchina, TempoCiclo
from asigest.models.fermi import Fermo
from asigest.models.types import utcnow
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}


@pytest.fixture
def macchina(db_session):
    tipo = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    m = Macchina(codice="SMD-P1", descrizione="Linea SMD 1", fase_tipo_id=tipo.id, reparto="SMD", attiva=True)
    db_session.add(m)
    db_session.commit()
    return m


@pytest.fixture
def supervisore(login):
    return login("SUPERVISORE")


def _post(client, url, data):
    pagina = client.get(url)
    return client.post(url, data={**data, "csrf_token": csrf_from(pagina.text)})


def test_oee_page_and_dashboard_panel(client, supervisore, macchina, db_session):
    pagina = client.get("/oee?da=2026-10-19&a=2026-10-25")
    assert pagina.status_code == 200
    testo = unescape(pagina.text)
    assert 'data-macchina="SMD-P1"' in testo and "manca: calendario turni" in testo
    pannello = client.get("/oee?pannello=1", headers=HX)
    assert pannello.status_code == 200 and 'id="pannello-oee"' in pannello.text and "<html" not in pannello.text
    cruscotto = client.get("/dashboard")
    assert "/oee?pannello=1" in unescape(cruscotto.text)
    assert client.get("/oee?da=2026-10-25&a=2026-10-19").status_code == 400


def test_oee_page_with_a_calendar_shows_the_figures(client, supervisore, macchina, db_session):
    """Every day 06–14 (7 × 480 min), one hour of breakdown: availability 3300 / 3360 = 98,2 %."""
    for giorno in range(1, 8):
        db_session.add(
            CalendarioTurni(macchina_id=macchina.id, giorno_settimana=giorno, ora_inizio=_ora(6), ora_fine=_ora(14))
        )
    causale = db_session.scalar(select(CausaleFermo).where(CausaleFermo.codice == "GUASTO"))
    roma = ZoneInfo("Europe/Rome")
    db_session.add(
        Fermo(
            macchina_id=macchina.id,
            causale_id=causale.id,
            operatore_id=supervisore.id,
            inizio=datetime(2026, 10, 20, 8, tzinfo=roma),
            fine=datetime(2026, 10, 20, 9, tzinfo=roma),
        )
    )
    db_session.commit()
    testo = unescape(client.get("/oee?da=2026-10-19&a=2026-10-25").text)
    riga = re.search(r'<tr data-macchina="SMD-P1">(.*?)</tr>', testo, re.S).group(1)
    assert "98,2 %" in riga and "Guasto macchina 1 h 00 min" in riga


def _ora(h):
    from datetime import time

    return time(h)


def test_register_add_correct_split_and_export(client, supervisore, macchina, db_session):
    adesso = utcnow().astimezone(__import__("zoneinfo").ZoneInfo("Europe/Rome")).replace(tzinfo=None)
    inizio = (adesso - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    fine = (adesso - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    senza_motivo = _post(
        client,
        "/fermi",
        {"macchina": str(macchina.id), "causale": "GUASTO", "inizio": inizio, "fine": fine, "motivo": ""},
    )
    assert senza_motivo.status_code == 422 and "Indicare il motivo" in unescape(senza_motivo.text)
    aggiunto = _post(
        client,
        "/fermi",
        {"macchina": str(macchina.id), "causale": "GUASTO", "inizio": inizio, "fine": fine, "motivo": "Dimenticato"},
    )
    assert aggiunto.status_code == 303
    (fermo,) = db_session.scalars(select(Fermo)).all()
    elenco = client.get(f"/fermi?macchina={macchina.id}&causale=GUASTO")
    assert f'data-fermo="{fermo.id}"' in elenco.text
    assert f'data-fermo="{fermo.id}"' not in client.get("/fermi?causale=PULIZIA").text

    pagina = client.get(f"/fermi/{fermo.id}")
    assert pagina.status_code == 200
    token = csrf_from(pagina.text)
    nuovo_inizio = (adesso - timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M")
    corretto = client.post(
        f"/fermi/{fermo.id}",
        data={
            "csrf_token": token,
            "azione": "correggi",
            "c-causale": "GUASTO",
            "c-inizio": nuovo_inizio,
            "c-fine": fine,
            "c-note": "",
            "c-motivo": "Iniziato prima",
        },
    )
    assert corretto.status_code == 303
    alle = (adesso - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    diviso = client.post(
        f"/fermi/{fermo.id}",
        data={
            "csrf_token": token,
            "azione": "dividi",
            "d-alle": alle,
            "d-causale": "MANCA-MAT",
            "d-motivo": "Ricambio",
        },
    )
    assert diviso.status_code == 303
    db_session.rollback()
    assert [f.causale.codice for f in db_session.scalars(select(Fermo).order_by(Fermo.inizio))] == [
        "GUASTO",
        "MANCA-MAT",
    ]
    azioni = set(db_session.scalars(select(LogEvento.azione).where(LogEvento.entita == "Fermi")))
    assert azioni == {"FERMO_REGISTRATO", "FERMO_RETTIFICATO", "FERMO_DIVISO"}

    excel = client.get(f"/fermi/esporta.xlsx?macchina={macchina.id}")
    assert excel.status_code == 200
    foglio = load_workbook(io.BytesIO(excel.data)).active
    righe = list(foglio.iter_rows(values_only=True))
    assert righe[0][0] == "Fermo" and len(righe) == 3


def test_calendar_and_cycle_times(client, supervisore, macchina, db_session):
    assert (
        _post(
            client, "/fermi/calendario", {"reparto": "SMD", "giorno": "1", "ora_inizio": "06:00", "ora_fine": "14:00"}
        ).status_code
        == 303
    )
    festa = _post(client, "/fermi/calendario", {"reparto": "SMD", "data": "2026-12-25", "note": "Natale"})
    assert festa.status_code == 303
    rifiuto = _post(client, "/fermi/calendario", {"giorno": "1", "ora_inizio": "06:00", "ora_fine": "14:00"})
    assert rifiuto.status_code == 422 and "macchina oppure il reparto" in unescape(rifiuto.text)
    righe = db_session.scalars(select(CalendarioTurni)).all()
    assert {(r.giorno_settimana, r.data is not None, r.ora_inizio is None) for r in righe} == {
        (1, False, False),
        (None, True, True),
    }
    pagina = client.get("/fermi/calendario")
    assert "Natale" in pagina.text and "chiuso" in pagina.text
    elimina = client.post(f"/fermi/calendario/{righe[0].id}/elimina", data={"csrf_token": csrf_from(pagina.text)})
    assert elimina.status_code == 303

    assert (
        _post(
            client, "/fermi/tempi-ciclo", {"fase_tipo": "SMD", "codart": "ART-1", "macchina": "", "secondi": "12,5"}
        ).status_code
        == 303
    )
    assert (
        _post(
            client, "/fermi/tempi-ciclo", {"fase_tipo": "SMD", "codart": "ART-1", "macchina": "", "secondi": "10"}
        ).status_code
        == 303
    )
    (tempo,) = db_session.scalars(select(TempoCiclo)).all()
    assert float(tempo.secondi_per_pezzo) == 10
    cattivo = _post(client, "/fermi/tempi-ciclo", {"fase_tipo": "SMD", "codart": "", "macchina": "", "secondi": "zero"})
    assert cattivo.status_code == 422


def test_operators_do_not_reach_the_supervisor_pages(client, login):
    login("OPERATORE")
    assert client.get("/oee").status_code == 200
    for url in ("/fermi", "/fermi/calendario", "/fermi/tempi-ciclo"):
        assert client.get(url).status_code == 403


def test_stop_reasons_admin(client, login, db_session):
    login("ADMIN")
    pagina = client.get("/admin/causali-fermo")
    assert pagina.status_code == 200 and "RIUNIONE" in pagina.text
    nuova = client.post(
        "/admin/causali-fermo",
        data={
            "csrf_token": csrf_from(pagina.text),
            "codice": "forno",
            "descrizione": "Forno freddo",
            "fase_tipo": "SMD",
            "categoria": "ATTESA",
            "pianificato": "",
            "attiva": "y",
        },
    )
    assert nuova.status_code == 303
    causale = db_session.scalar(select(CausaleFermo).where(CausaleFermo.codice == "FORNO"))
    assert causale.categoria == "ATTESA" and causale.fase_tipo.codice == "SMD" and not causale.pianificato


def test_register_and_export_name_who_declared_each_stop(client, supervisore, macchina, db_session, make_user):
    """The operator who declared a stop at the kiosk (R15), and the supervisor who added
    a forgotten one, by name and badge number, on the page and in the Excel file."""
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234", nome="Giulia", cognome="Ferri")
    guasto = db_session.scalar(select(CausaleFermo.id).where(CausaleFermo.codice == "GUASTO"))
    adesso = utcnow()
    for chi, ore in ((operatore, 5), (supervisore, 3)):
        db_session.add(
            Fermo(
                macchina_id=macchina.id,
                causale_id=guasto,
                operatore_id=chi.id,
                inizio=adesso - timedelta(hours=ore),
                fine=adesso - timedelta(hours=ore - 1),
            )
        )
    db_session.commit()
    fermi = {f.operatore_id: f.id for f in db_session.scalars(select(Fermo))}

    pagina = client.get(f"/fermi?macchina={macchina.id}")
    assert "Dichiarato da" in pagina.text
    for chi in (operatore, supervisore):
        riga = pagina.text.split(f'data-fermo="{fermi[chi.id]}"', 1)[1].split("</tr>", 1)[0]
        assert chi.nome_completo in riga and chi.matricola in riga

    foglio = load_workbook(io.BytesIO(client.get(f"/fermi/esporta.xlsx?macchina={macchina.id}").data)).active
    titoli, *righe = list(foglio.iter_rows(values_only=True))
    colonna, matricola = titoli.index("Dichiarato da"), titoli.index("Matricola")
    assert {(r[0], r[colonna], r[matricola]) for r in righe} == {
        (fermi[chi.id], chi.nome_completo, chi.matricola) for chi in (operatore, supervisore)
    }
