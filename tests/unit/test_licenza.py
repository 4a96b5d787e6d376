"""The license (SPEC §10): signature, tampering, states on an injected date, and the vendor
tools of ``services/licenza.py`` on files — no database, no clock."""

from __future__ import annotations

import json
import os
import re
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from asigest.domain import licenza as regole
from asigest.errors import Conflict, InvalidInput, RuleViolation
from asigest.services import licenza as servizio

OGGI = date(2026, 11, 26)


@pytest.fixture
def chiavi(tmp_path):
    """A vendor key pair on disk: ``(private key object, public PEM path, private PEM path)``."""
    privata_pem, pubblica_pem = regole.nuova_coppia()
    (tmp_path / "public.pem").write_bytes(pubblica_pem)
    (tmp_path / "private.pem").write_bytes(privata_pem)
    return regole.chiave_privata(privata_pem), tmp_path / "public.pem", tmp_path / "private.pem"


def licenza(scadenza=OGGI + timedelta(days=200), **campi) -> regole.Licenza:
    valori = {
        "licenziatario": "Elettronica Rossi S.r.l.",
        "scadenza": scadenza,
        "max_terminali": 12,
        "emessa": date(2026, 1, 1),
        "funzioni": ("kiosk", "api"),
        "id_licenza": "L-1",
    }
    return regole.Licenza(**{**valori, **campi})


def scrivi(tmp_path, privata, **campi) -> Path:
    percorso = tmp_path / "licenza.json"
    percorso.write_text(regole.firma(licenza(**campi), privata), encoding="utf-8")
    return percorso


def leggi(percorso, chiave, oggi=OGGI) -> regole.StatoLicenza:
    return servizio.leggi_stato(percorso, chiave=chiave, oggi=oggi)


# -- states ----------------------------------------------------------------------------


def test_valid_license_reads_back_every_field(tmp_path, chiavi):
    privata, pubblica, _ = chiavi
    stato = leggi(scrivi(tmp_path, privata), pubblica)
    assert stato.stato == regole.VALID
    assert stato.licenza == licenza()
    assert (stato.licenziatario, stato.giorni_rimasti, stato.max_terminali) == ("Elettronica Rossi S.r.l.", 200, 12)
    assert stato.funzioni == ("kiosk", "api") and stato.apertura_consentita
    assert stato.riassunto() == {
        "status": "VALID",
        "licensee": "Elettronica Rossi S.r.l.",
        "expiry": (OGGI + timedelta(days=200)).isoformat(),
    }


@pytest.mark.parametrize(
    ("giorni", "atteso", "apre"),
    [
        (31, regole.VALID, True),
        (30, regole.EXPIRING, True),  # ≤ 30 days: expiring
        (0, regole.EXPIRING, True),  # the expiry day is still in force
        (-1, regole.EXPIRED, True),  # first day of grace
        (-14, regole.EXPIRED, True),  # last day of the default 14-day grace
        (-15, regole.EXPIRED, False),  # grace over: new lotti refused
    ],
)
def test_state_by_days_to_expiry(giorni, atteso, apre):
    stato = regole.stato(licenza(scadenza=OGGI + timedelta(days=giorni)), OGGI)
    assert (stato.stato, stato.apertura_consentita, stato.giorni_rimasti) == (atteso, apre, giorni)


def test_grace_period_is_carried_by_the_signed_license():
    scaduta = licenza(scadenza=OGGI - timedelta(days=20), giorni_tolleranza=30)
    stato = regole.stato(scaduta, OGGI)
    assert stato.stato == regole.EXPIRED and stato.apertura_consentita
    assert stato.fine_tolleranza == OGGI + timedelta(days=10)
    assert stato.blocco_dal == OGGI + timedelta(days=11)
    assert not regole.stato(licenza(scadenza=OGGI - timedelta(days=1), giorni_tolleranza=0), OGGI).apertura_consentita


def test_missing_when_not_configured_or_absent(tmp_path, chiavi):
    _, pubblica, _ = chiavi
    for percorso in (None, "", tmp_path / "non-esiste.json"):
        stato = leggi(percorso, pubblica)
        assert stato.stato == regole.MISSING
        assert stato.apertura_consentita and stato.max_terminali is None
        assert "modalità dimostrativa" in stato.testo()


# -- invalid ---------------------------------------------------------------------------


def test_tampered_field_after_signing_is_invalid(tmp_path, chiavi):
    privata, pubblica, _ = chiavi
    percorso = scrivi(tmp_path, privata)
    contenuto = json.loads(percorso.read_text())
    contenuto["license"]["max_terminals"] = 500
    percorso.write_text(json.dumps(contenuto))
    stato = leggi(percorso, pubblica)
    assert stato.stato == regole.INVALID
    assert stato.licenza is None and stato.max_terminali is None  # nothing of a forged file is trusted
    assert "la firma non corrisponde" in stato.testo()


def test_extended_expiry_is_invalid_and_does_not_block(tmp_path, chiavi):
    privata, pubblica, _ = chiavi
    percorso = scrivi(tmp_path, privata, scadenza=OGGI - timedelta(days=100))
    assert not leggi(percorso, pubblica).apertura_consentita
    contenuto = json.loads(percorso.read_text())
    contenuto["license"]["expiry"] = "2099-12-31"
    percorso.write_text(json.dumps(contenuto))
    stato = leggi(percorso, pubblica)
    # INVALID behaves as demo mode (see domain/licenza.py), with its own banner.
    assert stato.stato == regole.INVALID and stato.apertura_consentita


def test_signed_with_another_key_is_invalid(tmp_path, chiavi):
    _, pubblica, _ = chiavi
    percorso = scrivi(tmp_path, Ed25519PrivateKey.generate())
    stato = leggi(percorso, pubblica)
    assert stato.stato == regole.INVALID and "firmato da un altro fornitore" in stato.testo()


def test_reindented_file_stays_valid(tmp_path, chiavi):
    privata, pubblica, _ = chiavi
    percorso = scrivi(tmp_path, privata)
    contenuto = json.loads(percorso.read_text())
    percorso.write_text(
        json.dumps({"signature": contenuto["signature"], "license": dict(reversed(contenuto["license"].items()))})
    )
    assert leggi(percorso, pubblica).stato == regole.VALID


@pytest.mark.parametrize(
    ("testo", "motivo"),
    [
        ("{non json", "non è JSON leggibile"),
        ("[1, 2]", "non contiene l'oggetto license"),
        ('{"license": {"licensee": "X"}}', "la firma non corrisponde"),
        ('{"license": {"licensee": "X"}, "signature": "%%%"}', "non è base64 valido"),
        (b"\xff\xfe\x00", "non è JSON leggibile"),
        ("", "non è JSON leggibile"),
    ],
)
def test_malformed_file_is_invalid_with_a_reason(tmp_path, chiavi, testo, motivo):
    _, pubblica, _ = chiavi
    percorso = tmp_path / "licenza.json"
    percorso.write_bytes(testo if isinstance(testo, bytes) else testo.encode())
    stato = leggi(percorso, pubblica)
    assert stato.stato == regole.INVALID
    assert motivo in stato.testo()
    assert stato.riassunto() == {"status": "INVALID", "licensee": None, "expiry": None}


@pytest.mark.parametrize(
    ("campo", "valore", "motivo"),
    [
        ("expiry", "31/12/2027", "il campo expiry deve essere una data"),
        ("max_terminals", True, "il campo max_terminals deve essere un numero intero"),
        ("max_terminals", 0, "il campo max_terminals deve essere un numero intero"),
        ("licensee", "  ", "manca l'intestatario"),
        ("features", "kiosk", "features deve essere un elenco"),
        ("format", 2, "formato di licenza 2 sconosciuto"),
    ],
)
def test_signed_but_malformed_content_is_invalid(tmp_path, chiavi, campo, valore, motivo):
    privata, pubblica, _ = chiavi
    documento = {**licenza().documento(), campo: valore}
    firmata = regole.base64.b64encode(privata.sign(regole.canonico(documento))).decode()
    percorso = tmp_path / "licenza.json"
    percorso.write_text(json.dumps({"license": documento, "signature": firmata}))
    stato = leggi(percorso, pubblica)
    assert stato.stato == regole.INVALID and motivo in stato.testo()


def test_unreadable_public_key_makes_the_license_invalid(tmp_path, chiavi):
    privata, _, _ = chiavi
    percorso = scrivi(tmp_path, privata)
    rotta = tmp_path / "rotta.pem"
    rotta.write_text("non una chiave")
    assert "non è un PEM leggibile" in leggi(percorso, rotta).testo()
    assert "non leggibile" in leggi(percorso, tmp_path / "assente.pem").testo()


# -- messages and guards -----------------------------------------------------------------


def test_messages_say_what_to_do():
    def testo(giorni):
        return regole.stato(licenza(scadenza=OGGI + timedelta(days=giorni)), OGGI).testo()

    assert "fino al 14/06/2027" in testo(200)
    assert "scade il 06/12/2026 (giorni rimasti: 10)" in testo(10)
    assert "scaduta il 21/11/2026: dal 06/12/2026 non sarà più possibile aprire nuovi lotti" in testo(-5)
    bloccata = testo(-20)
    assert "Licenza scaduta il 06/11/2026: non è possibile aprire nuovi lotti" in bloccata
    assert "Chiudere i lotti aperti" in bloccata and "Contattare l'amministratore" in bloccata


def test_opening_guard_refuses_only_past_grace():
    regole.richiedi_apertura(None)
    regole.richiedi_apertura(regole.stato(None, OGGI))
    regole.richiedi_apertura(regole.stato(licenza(scadenza=OGGI - timedelta(days=14)), OGGI))
    with pytest.raises(RuleViolation) as refused:
        regole.richiedi_apertura(regole.stato(licenza(scadenza=OGGI - timedelta(days=15)), OGGI))
    assert refused.value.code == "LICENZA_SCADUTA"
    assert refused.value.text().startswith("Licenza scaduta il 11/11/2026: non è possibile aprire nuovi lotti.")


def test_terminal_guard_counts_active_machines():
    stato = regole.stato(licenza(max_terminali=3), OGGI)
    regole.richiedi_terminale_libero(stato, 2)
    with pytest.raises(RuleViolation) as refused:
        regole.richiedi_terminale_libero(stato, 3)
    assert refused.value.code == "TERMINALI_ESAURITI"
    assert "permette 3 terminali" in refused.value.text()
    regole.richiedi_terminale_libero(regole.stato(None, OGGI), 1000)  # demo mode: no limit
    regole.richiedi_terminale_libero(None, 1000)


# -- vendor tools ------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_reads_and_never_overwrites(tmp_path):
    privata, pubblica = servizio.genera_chiavi(tmp_path / "fornitore")
    assert stat.S_IMODE(os.stat(privata).st_mode) == 0o600
    assert b"PUBLIC KEY" in pubblica.read_bytes()
    prima = privata.read_bytes()
    with pytest.raises(Conflict):
        servizio.genera_chiavi(tmp_path / "fornitore")
    assert privata.read_bytes() == prima


def test_issue_round_trip_and_refusals(tmp_path, chiavi):
    _, pubblica, privata_pem = chiavi
    uscita = tmp_path / "cliente.json"
    emessa = servizio.emetti(
        chiave_privata=privata_pem,
        licenziatario="Cliente S.p.A.",
        scadenza=date(2027, 12, 31),
        max_terminali=5,
        funzioni=("kiosk",),
        id_licenza="L-9",
        oggi=OGGI,
        uscita=uscita,
    )
    stato = leggi(uscita, pubblica)
    assert stato.stato == regole.VALID and stato.licenza == emessa
    assert (emessa.emessa, emessa.giorni_tolleranza) == (OGGI, regole.TOLLERANZA_PREDEFINITA)
    with pytest.raises(Conflict):
        servizio.emetti(
            chiave_privata=privata_pem, licenziatario="X", scadenza=OGGI, max_terminali=1, oggi=OGGI, uscita=uscita
        )
    with pytest.raises(InvalidInput) as vuoto:
        servizio.emetti(
            chiave_privata=privata_pem,
            licenziatario=" ",
            scadenza=OGGI,
            max_terminali=1,
            oggi=OGGI,
            uscita=tmp_path / "altra.json",
        )
    assert "manca l'intestatario" in vuoto.value.text()
    with pytest.raises(InvalidInput):
        servizio.emetti(
            chiave_privata=pubblica,
            licenziatario="X",
            scadenza=OGGI,
            max_terminali=1,
            oggi=OGGI,
            uscita=tmp_path / "altra.json",
        )
    assert not (tmp_path / "altra.json").exists()


def test_the_built_in_key_is_a_public_ed25519_key_and_no_private_key_ships():
    assert isinstance(regole.chiave_fornitore(), regole.Ed25519PublicKey)
    segno_privato = "PRIVATE" + " KEY-----"
    pacchetto = Path(regole.__file__).resolve().parent.parent
    assert not list(pacchetto.rglob("*.pem")), "la chiave pubblica è nel codice, non in un file"
    for percorso in pacchetto.rglob("*"):
        if percorso.is_file() and percorso.suffix in {".pem", ".py", ".json", ".key", ".txt"}:
            assert segno_privato not in percorso.read_text(errors="ignore"), percorso


def test_embedding_lines_rebuild_the_key(tmp_path):
    _, pubblica_pem = regole.nuova_coppia()
    righe = regole.righe_chiave(pubblica_pem, bytes(range(32)))
    spazio = dict(re.findall(r'^(_CHIAVE_[AB]) = "([0-9a-f]{64})"$', righe, re.M))
    grezza = bytes(
        a ^ b for a, b in zip(bytes.fromhex(spazio["_CHIAVE_A"]), bytes.fromhex(spazio["_CHIAVE_B"]), strict=True)
    )
    attesa = regole.chiave_pubblica(pubblica_pem).public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert grezza == attesa
    assert attesa.hex() not in righe
    with pytest.raises(ValueError):
        regole.righe_chiave(pubblica_pem, b"corta")


def test_only_a_test_app_takes_another_key(tmp_path):
    assert servizio.percorso_chiave({"LICENSE_PUBLIC_KEY": str(tmp_path / "k.pem")}) is None
    assert (
        servizio.percorso_chiave({"LICENSE_PUBLIC_KEY": str(tmp_path / "k.pem"), "TESTING": True}) == tmp_path / "k.pem"
    )
