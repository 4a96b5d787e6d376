"""The license in the running app (SPEC §10): ``/health``, the banner, the CLI, and what is
refused past the grace period (opening lotti, machines beyond the terminals) while closing
and reading keep working.

Licenses are signed here with a throwaway key that ``LICENSE_PUBLIC_KEY`` points at; their
dates are set relative to the plant's today with days of margin, so the clock never decides.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from asigest.domain import licenza as regole
from asigest.domain.periodo import oggi
from asigest.models import Fase, FaseTipo, Lotto, Macchina
from asigest.services import auth
from asigest.services import licenza as servizio
from tests.conftest import csrf_from

HX = {"HX-Request": "true"}
_BANNER = re.compile(r'<div class="licenza-avviso licenza-(\w+)" role="status" data-licenza="(\w+)">(.*?)</div>', re.S)

# days from today to expiry → the state /health reports
STATI = {"VALID": 200, "EXPIRING": 10, "EXPIRED_IN_GRACE": -5, "EXPIRED_OLTRE": -40}


@pytest.fixture
def licenze(app, tmp_path, monkeypatch):
    """``installa(giorni_alla_scadenza, **campi)`` signs and installs a license; ``installa_testo(testo)``
    installs any file. The app verifies with this test's own public key."""
    privata_pem, pubblica_pem = regole.nuova_coppia()
    (tmp_path / "public.pem").write_bytes(pubblica_pem)
    (tmp_path / "private.pem").write_bytes(privata_pem)
    monkeypatch.setitem(app.config, "LICENSE_PUBLIC_KEY", str(tmp_path / "public.pem"))
    monkeypatch.setitem(app.config, "LICENSE_FILE", None)
    percorso = tmp_path / "licenza.json"
    oggi_impianto = oggi(app.config["TIMEZONE"])

    class Licenze:
        dir = tmp_path
        privata = regole.chiave_privata(privata_pem)
        file = percorso

        def installa(self, giorni: int, **campi) -> regole.Licenza:
            valori = {
                "licenziatario": "Elettronica Rossi S.r.l.",
                "scadenza": oggi_impianto + timedelta(days=giorni),
                "max_terminali": 10,
                "emessa": oggi_impianto - timedelta(days=300),
            }
            licenza = regole.Licenza(**{**valori, **campi})
            self.installa_testo(regole.firma(licenza, self.privata))
            return licenza

        def installa_testo(self, testo: str) -> None:
            percorso.write_text(testo, encoding="utf-8")
            app.config["LICENSE_FILE"] = str(percorso)

    return Licenze()


def banner(html: str):
    trovati = _BANNER.findall(html)
    assert len(trovati) <= 1
    return trovati[0] if trovati else None


# -- /health -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caso", "atteso"),
    [("VALID", "VALID"), ("EXPIRING", "EXPIRING"), ("EXPIRED_IN_GRACE", "EXPIRED"), ("EXPIRED_OLTRE", "EXPIRED")],
)
def test_health_reports_a_signed_license(client, licenze, caso, atteso):
    licenza = licenze.installa(STATI[caso])
    body = client.get("/health").json
    assert body["license"] == {
        "status": atteso,
        "licensee": "Elettronica Rossi S.r.l.",
        "expiry": licenza.scadenza.isoformat(),
    }
    assert body["status"] == "ok"  # the license is reported, it never degrades the databases' status


def test_health_reports_missing_and_invalid(client, licenze):
    assert client.get("/health").json["license"] == {"status": "MISSING", "licensee": None, "expiry": None}
    licenze.installa(200)
    documento = json.loads(licenze.file.read_text())
    documento["license"]["licensee"] = "Qualcun Altro S.r.l."
    licenze.installa_testo(json.dumps(documento))
    assert client.get("/health").json["license"] == {"status": "INVALID", "licensee": None, "expiry": None}
    licenze.installa_testo("{ rotto")
    assert client.get("/health").json["license"]["status"] == "INVALID"


def test_health_sees_a_renewed_license_at_once(client, licenze):
    licenze.installa(-40)
    assert client.get("/health").json["license"]["status"] == "EXPIRED"
    licenze.installa(365)
    assert client.get("/health").json["license"]["status"] == "VALID"


# -- banner ------------------------------------------------------------------------------


def test_banner_on_the_login_page_by_state(client, licenze):
    livello, stato, testo = banner(client.get("/login").text)
    assert (livello, stato) == ("info", "MISSING") and "modalità dimostrativa" in testo
    licenze.installa(200)
    assert banner(client.get("/login").text) is None
    licenze.installa(10)
    livello, stato, testo = banner(client.get("/login").text)
    assert (livello, stato) == ("warn", "EXPIRING") and "giorni rimasti: 10" in testo
    licenza = licenze.installa(-5)
    livello, stato, testo = banner(client.get("/login").text)
    blocco = licenza.fine_tolleranza + timedelta(days=1)
    assert (livello, stato) == ("warn", "EXPIRED") and f"dal {blocco:%d/%m/%Y} non sarà più possibile" in testo
    licenze.installa(-40)
    livello, stato, testo = banner(client.get("/login").text)
    assert (livello, stato) == ("err", "EXPIRED") and "non è possibile aprire nuovi lotti" in testo
    licenze.installa_testo("[]")
    livello, stato, testo = banner(client.get("/login").text)
    assert (livello, stato) == ("err", "INVALID") and "Licenza non valida" in testo


def test_banner_on_a_logged_in_page(client, licenze, login):
    login("SUPERVISORE")
    licenze.installa(-40)
    page = client.get("/commesse")
    assert page.status_code == 200 and banner(page.text)[1] == "EXPIRED"


def test_banner_on_the_kiosk_but_not_in_its_fragments(client, licenze, linea):
    licenze.installa(-40)
    pagina = client.get("/kiosk/SMD-L1")
    assert banner(pagina.text)[1] == "EXPIRED"
    entra(client, linea)
    frammento = client.get("/kiosk/SMD-L1/commessa", query_string={"q": "2026/1234"}, headers=HX)
    assert frammento.status_code == 200 and banner(frammento.text) is None


# -- opening refused past grace, closing and reading still work ---------------------------


@pytest.fixture
def linea(db_session, make_config, make_user):
    """Commessa 101 (2026/1234) configured SMD; machines SMD-L1, SMD-L2; an operator (PIN 1234) with a token."""
    make_config(101, fasi=("SMD",), qta=500)
    smd = db_session.scalar(select(FaseTipo).where(FaseTipo.codice == "SMD"))
    macchine = [Macchina(codice=c, descrizione="Linea", fase_tipo_id=smd.id, attiva=True) for c in ("SMD-L1", "SMD-L2")]
    db_session.add_all(macchine)
    db_session.commit()
    operatore = make_user(ruolo="OPERATORE", password=None, pin="1234")
    token = auth.create_token(db_session, actor=None, matricola=operatore.matricola)
    fase_id = db_session.scalar(select(Fase.id).where(Fase.commessa_erp_id == 101))
    return {
        "fase": fase_id,
        "macchine": [m.id for m in macchine],
        "operatore": operatore,
        "headers": {"Authorization": f"Bearer {token}"},
    }


def apri_api(client, linea, macchina=0):
    return client.post(
        "/api/lotti/smd/",
        headers=linea["headers"],
        json={"FaseID": linea["fase"], "QtaInput": 50, "MacchinaID": linea["macchine"][macchina]},
    )


def entra(client, linea, macchina="SMD-L1"):
    pagina = client.get(f"/kiosk/{macchina}")
    risposta = client.post(
        f"/kiosk/{macchina}",
        data={"matricola": linea["operatore"].matricola, "pin": "1234", "csrf_token": csrf_from(pagina.text)},
    )
    assert risposta.status_code == 302


def conta_lotti(db_session) -> int:
    db_session.rollback()
    return db_session.scalar(select(func.count()).select_from(Lotto))


def test_api_refuses_opening_past_grace_but_closes_and_reads(client, licenze, linea, db_session):
    licenze.installa(-5)  # in grace: everything works
    aperto = apri_api(client, linea)
    assert aperto.status_code == 201, aperto.json

    licenza = licenze.installa(-40)
    rifiutato = apri_api(client, linea, macchina=1)
    assert rifiutato.status_code == 400
    assert rifiutato.json["code"] == "LICENZA_SCADUTA"
    assert rifiutato.json["detail"].startswith(
        f"Licenza scaduta il {licenza.scadenza:%d/%m/%Y}: non è possibile aprire nuovi lotti."
    )
    assert "Contattare l'amministratore" in rifiutato.json["detail"]
    assert conta_lotti(db_session) == 1

    chiuso = client.put(
        f"/api/lotti/smd/{aperto.json['LottoID']}/close", json={"QtaOutput": 50}, headers=linea["headers"]
    )
    assert chiuso.status_code == 200 and chiuso.json["Stato"] == "CHIUSO"
    elenco = client.get("/api/lotti/smd/", headers=linea["headers"])
    assert elenco.status_code == 200 and [x["LottoID"] for x in elenco.json] == [aperto.json["LottoID"]]

    licenze.installa(365)  # renewed: opening works again, no restart needed
    assert apri_api(client, linea, macchina=1).status_code == 201


@pytest.mark.parametrize("stato", ["MISSING", "INVALID"])
def test_demo_and_invalid_license_keep_opening(client, licenze, linea, stato):
    if stato == "INVALID":
        licenze.installa_testo('{"license": {}, "signature": ""}')
    assert apri_api(client, linea).status_code == 201


def test_kiosk_refuses_opening_past_grace_inline_and_closes(client, licenze, linea, db_session):
    aperto = apri_api(client, linea)  # MISSING: demo mode opens
    assert aperto.status_code == 201
    licenza = licenze.installa(-40)

    entra(client, linea, "SMD-L2")
    scheda = client.get("/kiosk/SMD-L2/commessa", query_string={"q": "2026/1234"}, headers=HX)
    # The card says so (and who to call) instead of offering "Apri lotto".
    assert f"Licenza scaduta il {licenza.scadenza:%d/%m/%Y}: non è possibile aprire nuovi lotti." in scheda.text
    assert 'data-motivo="LICENZA_SCADUTA"' in scheda.text and 'id="apri-lotto"' not in scheda.text
    token = csrf_from(client.get("/kiosk/SMD-L2").text)
    # A form shown before the license expired is still refused by the open itself.
    rifiutato = client.post(
        "/kiosk/SMD-L2/apri",
        headers={**HX, "X-CSRFToken": token},
        data={"commessa_id": "101", "qta_input": "20", "chiave": "modulo-di-ieri"},
    )
    # htmx swaps only 2xx answers: the kiosk shows the refusal inline in the panel.
    assert 'role="alert"' in rifiutato.text
    assert f"Licenza scaduta il {licenza.scadenza:%d/%m/%Y}: non è possibile aprire nuovi lotti." in rifiutato.text
    assert conta_lotti(db_session) == 1

    entra(client, linea, "SMD-L1")
    token = csrf_from(client.get("/kiosk/SMD-L1").text)
    chiuso = client.post(
        "/kiosk/SMD-L1/chiudi",
        headers={**HX, "X-CSRFToken": token},
        data={"lotto_id": aperto.json["LottoID"], "qta_output": "50", "qta_scarti": "0", "chiave": "chiudi-1"},
    )
    assert chiuso.status_code == 200, chiuso.text
    db_session.rollback()
    assert db_session.get(Lotto, aperto.json["LottoID"]).data_fine is not None


# -- terminals -----------------------------------------------------------------------------


def test_machines_in_service_are_limited_by_the_license(client, licenze, linea, api_token, db_session):
    admin = api_token("ADMIN")
    nuova = {"Codice": "SMD-L3", "FaseTipo": "SMD"}
    licenze.installa(200, max_terminali=2)  # SMD-L1 and SMD-L2 are already in service
    rifiutata = client.post("/api/macchine/", json=nuova, headers=admin)
    assert rifiutata.status_code == 400 and rifiutata.json["code"] == "TERMINALI_ESAURITI"
    assert "permette 2 terminali" in rifiutata.json["detail"]
    # Kept out of service it can be created; putting it in service is refused until another stops.
    spenta = client.post("/api/macchine/", json={**nuova, "Attiva": False}, headers=admin)
    assert spenta.status_code == 201, spenta.json
    riattiva = client.put(f"/api/macchine/{spenta.json['MacchinaID']}", json={"Attiva": True}, headers=admin)
    assert riattiva.status_code == 400 and riattiva.json["code"] == "TERMINALI_ESAURITI"
    assert client.delete(f"/api/macchine/{linea['macchine'][1]}", headers=admin).status_code == 204
    assert (
        client.put(f"/api/macchine/{spenta.json['MacchinaID']}", json={"Attiva": True}, headers=admin).status_code
        == 200
    )

    licenze.installa_testo("rotta")  # INVALID: like demo mode, no limit
    assert client.post("/api/macchine/", json={"Codice": "SMD-L4", "FaseTipo": "SMD"}, headers=admin).status_code == 201


def test_admin_page_shows_the_terminal_limit(client, licenze, linea, login, db_session):
    login("ADMIN")
    licenze.installa(200, max_terminali=2)
    pagina = client.get("/admin/macchine/nuova")
    risposta = client.post(
        "/admin/macchine/nuova",
        headers=HX,
        data={
            "codice": "SMD-L3",
            "fase_tipo": "SMD",
            "descrizione": "",
            "reparto": "",
            "csrf_token": csrf_from(pagina.text),
        },
    )
    assert 'role="alert"' in risposta.text and "La licenza permette 2 terminali" in risposta.text
    assert 'value="SMD-L3"' in risposta.text  # what was typed is kept

    spenta = Macchina(
        codice="SMD-OLD",
        descrizione="",
        fase_tipo_id=db_session.get(Macchina, linea["macchine"][0]).fase_tipo_id,
        attiva=False,
    )
    db_session.add(spenta)
    db_session.commit()
    riattiva = client.post(
        f"/admin/macchine/{spenta.id}/riattiva", headers={**HX, "X-CSRFToken": csrf_from(pagina.text)}
    )
    assert "La licenza permette 2 terminali" in riattiva.text
    db_session.rollback()
    assert db_session.get(Macchina, spenta.id).attiva is False


# -- command line --------------------------------------------------------------------------


def test_cli_keygen_issue_show_round_trip(app, tmp_path, monkeypatch):
    runner = app.test_cli_runner()
    monkeypatch.setitem(app.config, "LICENSE_FILE", None)
    monkeypatch.setitem(app.config, "LICENSE_PUBLIC_KEY", None)
    cartella = tmp_path / "fornitore"
    creata = runner.invoke(args=["license", "keygen", "--out", str(cartella)])
    assert creata.exit_code == 0, creata.output
    assert (cartella / "private.pem").stat().st_mode & 0o777 == 0o600
    # The lines that embed the new public key in asigest/domain/licenza.py.
    meta = dict(re.findall(r'^(_CHIAVE_[AB]) = "([0-9a-f]{64})"$', creata.output, re.M))
    grezza = bytes(
        a ^ b for a, b in zip(bytes.fromhex(meta["_CHIAVE_A"]), bytes.fromhex(meta["_CHIAVE_B"]), strict=True)
    )
    pubblica = regole.chiave_pubblica((cartella / "public.pem").read_bytes())
    assert grezza == pubblica.public_bytes(Encoding.Raw, PublicFormat.Raw)
    ancora = runner.invoke(args=["license", "keygen", "--out", str(cartella)])
    assert ancora.exit_code == 1 and "esiste già" in ancora.output

    scadenza = oggi(app.config["TIMEZONE"]) + timedelta(days=100)
    file = tmp_path / "cliente.json"
    emessa = runner.invoke(
        args=[
            "license",
            "issue",
            "--private-key",
            str(cartella / "private.pem"),
            "--licensee",
            "Cliente S.p.A.",
            "--expiry",
            scadenza.isoformat(),
            "--max-terminals",
            "8",
            "--feature",
            "kiosk",
            "--feature",
            "api",
            "--license-id",
            "L-42",
            "--out",
            str(file),
        ]
    )
    assert emessa.exit_code == 0, emessa.output
    assert "Licenza L-42 per Cliente S.p.A." in emessa.output

    # The shipped vendor key did not sign it: INVALID, exit 1.
    estranea = runner.invoke(args=["license", "show", "--file", str(file)])
    assert estranea.exit_code == 1 and "Stato: INVALID" in estranea.output

    monkeypatch.setitem(app.config, "LICENSE_PUBLIC_KEY", str(cartella / "public.pem"))
    mostrata = runner.invoke(args=["license", "show", "--file", str(file)])
    assert mostrata.exit_code == 0, mostrata.output
    for riga in (
        "Stato: VALID",
        "Intestatario: Cliente S.p.A.",
        f"Scadenza: {scadenza.isoformat()} (giorni rimasti: 100)",
        "Terminali (macchine attive): 8",
        "Funzioni: kiosk, api",
        "non quella del fornitore",
    ):
        assert riga in mostrata.output

    monkeypatch.setitem(app.config, "LICENSE_FILE", str(file))
    assert runner.invoke(args=["license", "show"]).exit_code == 0
    documento = json.loads(file.read_text())
    documento["license"]["max_terminals"] = 80
    file.write_text(json.dumps(documento))
    manomessa = runner.invoke(args=["license", "show"])
    assert manomessa.exit_code == 1 and "la firma non corrisponde" in manomessa.output


def test_cli_show_exit_codes(app, licenze):
    runner = app.test_cli_runner()
    attese = {None: 1, 200: 0, 10: 0, -5: 1, -40: 3}
    for giorni, codice in attese.items():
        if giorni is None:
            app.config["LICENSE_FILE"] = None
        else:
            licenze.installa(giorni)
        risultato = runner.invoke(args=["license", "show"])
        assert risultato.exit_code == codice, (giorni, risultato.output)
    assert "non è possibile aprire nuovi lotti" in risultato.output


def test_cli_issue_refuses_bad_input(app, tmp_path):
    runner = app.test_cli_runner()
    servizio.genera_chiavi(tmp_path)
    base = [
        "license",
        "issue",
        "--private-key",
        str(tmp_path / "private.pem"),
        "--expiry",
        "2027-01-31",
        "--max-terminals",
        "3",
        "--out",
        str(tmp_path / "x.json"),
    ]
    vuoto = runner.invoke(args=[*base, "--licensee", "  "])
    assert vuoto.exit_code == 1 and "manca l'intestatario" in vuoto.output
    chiave = runner.invoke(args=[*base[:3], str(tmp_path / "public.pem"), *base[4:], "--licensee", "X"])
    assert chiave.exit_code == 1 and "chiave privata non è un PEM leggibile" in chiave.output
    assert runner.invoke(args=[*base[:7], "0", *base[8:], "--licensee", "X"]).exit_code == 2
    assert not (tmp_path / "x.json").exists()


# -- the start-up line -----------------------------------------------------------------------


def test_startup_line_names_version_databases_and_license_without_passwords(make_app, licenze, caplog):
    from asigest import __version__

    licenza = licenze.installa(200)
    erp = "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BODBC+Driver+18%7D%3BSERVER%3Derp%3BUID%3Dlettore%3BPWD%3Dsegreto-erp%3B"
    with caplog.at_level("INFO", logger="asigest"):
        make_app(
            DATABASE_URL="postgresql+psycopg://asigest:segreto-db@db.fabbrica.lan:5432/asigest",
            ERP_URL=erp,
            LICENSE_FILE=str(licenze.file),
            LICENSE_PUBLIC_KEY=str(licenze.dir / "public.pem"),
        )
    righe = [r.getMessage() for r in caplog.records if r.name == "asigest" and r.getMessage().startswith("ASI-GEST")]
    assert len(righe) == 1, righe
    riga = righe[0]
    assert riga.startswith(f"ASI-GEST {__version__}: ")
    assert "postgresql+psycopg://asigest:***@db.fabbrica.lan:5432/asigest" in riga
    assert "mssql+pyodbc" in riga and "PWD%3D***" in riga
    assert "segreto" not in riga
    assert f"licenza VALID, scadenza {licenza.scadenza.isoformat()} (Elettronica Rossi S.r.l.)" in riga
