"""Machine stops at the kiosk (R15, SPEC §9/§13): *Fermo macchina* → a reason tile starts
the stop (two touches), the running stop's screen with its duration and *Riprendi* (one
touch), the lotto left open across it, the idle lock that does not end it, R11 tokens."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from asigest.models import LogEvento, Lotto
from asigest.models.fermi import Fermo
from tests.web.test_kiosk import _CHIAVE, HX, apri, badge, impianto, kiosk, token

_FERMO_ID = re.compile(r'name="fermo_id" value="(\d+)"')


def fermi(db_session):
    db_session.rollback()
    return db_session.scalars(select(Fermo).order_by(Fermo.id)).all()


def scegli(client, macchina="SMD-1"):
    return client.get(f"/kiosk/{macchina}/fermo", headers=HX)


def tocca(client, causale, chiave=None, macchina="SMD-1"):
    pagina = scegli(client, macchina)
    chiave = chiave or _CHIAVE.search(pagina.text).group(1)
    return client.post(
        f"/kiosk/{macchina}/fermo",
        headers={**HX, "X-CSRFToken": token(client, macchina)},
        data={"causale": causale, "chiave": chiave},
    )


def riprendi(client, html, macchina="SMD-1", chiave=None):
    return client.post(
        f"/kiosk/{macchina}/riprendi",
        headers={**HX, "X-CSRFToken": token(client, macchina)},
        data={"fermo_id": _FERMO_ID.search(html).group(1), "chiave": chiave or _CHIAVE.search(html).group(1)},
    )


def test_the_bar_offers_fermo_macchina_and_the_tiles_are_the_phases_reasons(kiosk):
    pagina = kiosk.get("/kiosk/SMD-1").text
    assert 'id="fermo-macchina"' in pagina
    tiles = scegli(kiosk)
    assert tiles.status_code == 200
    valori = re.findall(r'<button type="submit" name="causale" value="([^"]+)"', tiles.text)
    assert {"GUASTO", "CAMBIO-BOBINE", "MANCA-MAT", "RIUNIONE"} <= set(valori)
    assert "GUASTO-ALIM" in valori  # SMD's own
    assert re.search(r"hx-get=\"/kiosk/SMD-1\"", tiles.text)  # Annulla


def test_a_tile_starts_the_stop_and_riprendi_ends_it(kiosk, db_session):
    avviato = tocca(kiosk, "MANCA-MAT")
    assert avviato.status_code == 200
    assert "Macchina ferma" in avviato.text and 'id="riprendi"' in avviato.text
    assert re.search(r'id="durata-fermo" data-fermo-inizio="[^"]+">0 min<', avviato.text)
    (fermo,) = fermi(db_session)
    assert fermo.fine is None and fermo.causale.codice == "MANCA-MAT"
    # The screen stays on the stop, even after a reload or a new login.
    assert "Macchina ferma" in kiosk.get("/kiosk/SMD-1").text
    ripreso = riprendi(kiosk, avviato.text)
    assert ripreso.status_code == 200 and 'id="fermo-ripreso"' in ripreso.text and 'name="q"' in ripreso.text
    (fermo,) = fermi(db_session)
    assert fermo.fine is not None
    azioni = db_session.scalars(
        select(LogEvento.azione).where(LogEvento.entita == "Fermi").order_by(LogEvento.id)
    ).all()
    assert azioni == ["FERMO_INIZIATO", "FERMO_TERMINATO"]


def test_a_double_tap_starts_one_stop_and_resumes_once(kiosk, db_session):
    pagina = scegli(kiosk)
    chiave = _CHIAVE.search(pagina.text).group(1)
    primo = tocca(kiosk, "GUASTO", chiave=chiave)
    secondo = tocca(kiosk, "GUASTO", chiave=chiave)
    assert primo.status_code == secondo.status_code == 200
    assert len(fermi(db_session)) == 1
    riprendi_chiave = _CHIAVE.search(primo.text).group(1)
    assert riprendi(kiosk, primo.text, chiave=riprendi_chiave).status_code == 200
    di_nuovo = riprendi(kiosk, primo.text, chiave=riprendi_chiave)
    assert di_nuovo.status_code == 200 and 'id="fermo-ripreso"' in di_nuovo.text
    assert all(f.fine is not None for f in fermi(db_session))


def test_the_lotto_stays_open_across_a_stop(kiosk, db_session):
    assert apri(kiosk).status_code == 200
    avviato = tocca(kiosk, "ATTREZZAGGIO")
    db_session.rollback()
    (lotto,) = db_session.scalars(select(Lotto)).all()
    assert lotto.data_fine is None
    assert lotto.codice_lotto in avviato.text and "(resta aperto)" in avviato.text
    ripreso = riprendi(kiosk, avviato.text)
    assert 'id="chiudi-lotto"' in ripreso.text  # back to the open lotto


def test_the_idle_lock_does_not_end_the_stop(client, impianto, db_session):
    assert badge(client, user=impianto).status_code == 302
    tocca(client, "GUASTO")
    client.post("/kiosk/SMD-1/esci", headers={"X-CSRFToken": token(client)})
    assert 'name="pin"' in client.get("/kiosk/SMD-1").text  # locked
    (fermo,) = fermi(db_session)
    assert fermo.fine is None
    assert badge(client, user=impianto).status_code == 302
    assert "Macchina ferma" in client.get("/kiosk/SMD-1").text


def test_a_reason_of_another_phase_is_refused_inline(kiosk, db_session):
    rifiuto = tocca(kiosk, "NON-ESISTE")
    assert rifiuto.status_code == 200  # htmx fragments answer 200 with the message inline
    assert 'id="errore-causale"' in rifiuto.text and fermi(db_session) == []


def test_a_stop_started_elsewhere_shows_its_duration(kiosk, db_session, impianto):
    from asigest.models import CausaleFermo, Macchina
    from asigest.models.types import utcnow

    macchina = db_session.scalar(select(Macchina).where(Macchina.codice == "SMD-1"))
    causale = db_session.scalar(select(CausaleFermo).where(CausaleFermo.codice == "GUASTO"))
    db_session.add(
        Fermo(
            macchina_id=macchina.id,
            causale_id=causale.id,
            operatore_id=impianto.id,
            inizio=utcnow() - timedelta(minutes=75, seconds=5),
        )
    )
    db_session.commit()
    assert ">1 h 15 min<" in kiosk.get("/kiosk/SMD-1").text
