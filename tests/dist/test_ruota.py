"""The release wheel installed in a fresh virtualenv (``installazione``, conftest.py):

- its content: the rules and license core compiled, no source for them, the resources in;
- the domain and license unit tests, run by that venv's interpreter against the installed
  (compiled) package, so a difference between compiled and pure Python cannot hide;
- a smoke test: ``init``, ``demo``, gunicorn, ``/health``, a lotto opened and closed
  through the API;
- tampering: editing the installed files does not make a license signed by someone
  else's key valid.
"""

from __future__ import annotations

import base64
import json
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from asigest import __version__
from asigest.domain import licenza as regole
from tests.dist.conftest import RADICE, Installazione

EXT = ".cpython-311-x86_64-linux-gnu.so"
COMPILATI = sorted(p.stem for p in (RADICE / "asigest" / "domain").glob("*.py") if p.name != "__init__.py")
# The unit tests of the compiled modules (rules, license, KPI and period helpers).
TEST_UNITARI = (
    "test_accessi.py",
    "test_avanzamento.py",
    "test_documenti_regole.py",
    "test_drift.py",
    "test_kpi.py",
    "test_licenza.py",
    "test_origini_regole.py",
    "test_quantita.py",
    "test_gateway_helpers.py",
)


def test_compiled_core_has_no_source_and_resources_are_in(installazione: Installazione):
    pacchetto = installazione.pacchetto
    for nome in COMPILATI:
        assert (pacchetto / "domain" / f"{nome}{EXT}").is_file(), nome
        assert not (pacchetto / "domain" / f"{nome}.py").exists(), nome
    assert (pacchetto / "services" / f"licenza{EXT}").is_file()
    assert not (pacchetto / "services" / "licenza.py").exists()
    assert not list(pacchetto.rglob("*.pem")), "la chiave del fornitore è nel codice compilato"
    for risorsa in ("templates/base.html", "static/css/app.css", "static/vendor/swagger-ui/swagger-ui-bundle.js"):
        assert (pacchetto / risorsa).is_file(), risorsa
    assert (pacchetto / "migrations" / "env.py").is_file()
    assert len(list((pacchetto / "migrations" / "versions").glob("0*.py"))) == len(
        list((RADICE / "migrations" / "versions").glob("0*.py"))
    )
    for lingua in ("it", "en"):
        assert (pacchetto / "translations" / lingua / "LC_MESSAGES" / "messages.mo").is_file()


def test_domain_and_license_unit_tests_pass_on_the_installed_wheel(installazione: Installazione, tmp_path):
    # A copy of the tests away from the checkout: `import asigest` finds only the installed one.
    copia = tmp_path / "prove"
    (copia / "tests" / "unit").mkdir(parents=True)
    for file in ("__init__.py", "conftest.py", "erp_fixture.py", "server_fixture.py"):
        shutil.copy(RADICE / "tests" / file, copia / "tests" / file)
    shutil.copy(RADICE / "tests" / "unit" / "__init__.py", copia / "tests" / "unit")
    for file in TEST_UNITARI:
        shutil.copy(RADICE / "tests" / "unit" / file, copia / "tests" / "unit")
    shutil.copy(RADICE / "pyproject.toml", copia)

    dove = installazione.esegui(
        installazione.bin("python"),
        "-c",
        "import asigest.domain.licenza as l, asigest.domain.lotti as r; print(l.__file__); print(r.__file__)",
        cwd=copia,
    )
    assert dove.returncode == 0, dove.stderr
    for riga in dove.stdout.split():
        assert riga.startswith(str(installazione.site_packages)) and riga.endswith(EXT), riga

    esito = installazione.esegui(installazione.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=copia)
    print(esito.stdout[-2000:])
    assert esito.returncode == 0, esito.stdout[-6000:] + esito.stderr[-3000:]
    assert " passed" in esito.stdout and " failed" not in esito.stdout


# -- smoke -----------------------------------------------------------------------------------


def _porta_libera() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chiama(url: str, metodo: str = "GET", token: str | None = None, corpo: dict | None = None):
    richiesta = urllib.request.Request(url, method=metodo)
    if token:
        richiesta.add_header("Authorization", f"Bearer {token}")
    dati = None
    if corpo is not None:
        dati = json.dumps(corpo).encode()
        richiesta.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(richiesta, data=dati, timeout=30) as risposta:
            return risposta.status, json.loads(risposta.read() or b"null")
    except urllib.error.HTTPError as errore:
        return errore.code, json.loads(errore.read() or b"null")


@pytest.fixture
def istanza(installazione: Installazione, tmp_path):
    """Run the installed ``flask --app asigest.wsgi`` commands on an instance folder of this test."""
    ambiente = {"ASIGEST_INSTANCE_PATH": str(tmp_path / "istanza")}

    def flask(*argomenti: str, env: dict[str, str] | None = None):
        return installazione.esegui(
            installazione.bin("flask"),
            "--app",
            "asigest.wsgi",
            *argomenti,
            cwd=tmp_path,
            env={**ambiente, **(env or {})},
        )

    flask.ambiente = ambiente
    return flask


def test_smoke_init_demo_health_and_a_lotto_through_the_api(installazione: Installazione, istanza, tmp_path):
    init = istanza("init")
    assert init.returncode == 0, init.stderr[-3000:]
    assert "Database ASI_GEST pronto" in init.stdout
    demo = istanza("demo")
    assert demo.returncode == 0, demo.stderr[-3000:]
    token = istanza("token", "create", "--matricola", "admin")
    assert token.returncode == 0, token.stderr[-2000:]
    token = token.stdout.strip().splitlines()[-1]

    porta = _porta_libera()
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as uscita:
        server = subprocess.Popen(
            [installazione.bin("gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{porta}", "asigest.wsgi:app"],
            cwd=tmp_path,
            env=installazione.ambiente(istanza.ambiente),
            stdout=uscita,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        base = f"http://127.0.0.1:{porta}"
        for _ in range(120):
            try:
                stato, salute = _chiama(f"{base}/health")
                break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("gunicorn non risponde: " + log.read_text()[-3000:])
        assert stato == 200, salute
        assert salute["status"] == "ok" and salute["version"] == __version__
        assert salute["license"]["status"] == "MISSING"

        # The demo keeps every SMD machine busy: a new one, through the admin API.
        stato, macchina = _chiama(
            f"{base}/api/macchine/", "POST", token, {"Codice": "SMD-PROVA", "Descrizione": "Prova", "FaseTipo": "SMD"}
        )
        assert stato == 201, macchina
        libere = [macchina["MacchinaID"]]
        _, utenti = _chiama(f"{base}/api/utenti/?limit=500", token=token)
        operatore = next(u["UtenteID"] for u in utenti if u["Ruolo"] == "OPERATORE" and u["Attivo"])
        _, commesse = _chiama(f"{base}/api/avanzamento/?limit=500", token=token)
        fasi = [
            f["FaseID"]
            for c in commesse
            for f in c["Fasi"]
            if f["FaseTipo"] == "SMD" and f["QtaDisponibile"] > 0 and f["Stato"] != "COMPLETATA"
        ]
        assert libere and fasi, (libere, fasi)

        rifiuti = []
        for fase in fasi[:10]:
            stato, lotto = _chiama(
                f"{base}/api/lotti/smd/",
                "POST",
                token,
                {"FaseID": fase, "QtaInput": 1, "MacchinaID": libere[0], "OperatoreID": operatore},
            )
            if stato == 201:
                break
            rifiuti.append(lotto)
        else:
            pytest.fail(f"nessun lotto aperto: {rifiuti}")
        assert lotto["Stato"] == "APERTO"
        stato, chiuso = _chiama(
            f"{base}/api/lotti/smd/{lotto['LottoID']}/close", "PUT", token, {"QtaOutput": 1, "QtaScarti": 0}
        )
        assert stato == 200, chiuso
        assert chiuso["Stato"] == "CHIUSO" and chiuso["QtaOutput"] == 1
        stato, letto = _chiama(f"{base}/api/lotti/smd/{lotto['LottoID']}", token=token)
        assert stato == 200 and letto["Stato"] == "CHIUSO"
        stato, documento = _chiama(f"{base}/api/openapi.json")
        assert stato == 200 and documento["info"]["version"] == __version__
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    avvio = [riga for riga in log.read_text().splitlines() if f"ASI-GEST {__version__}:" in riga]
    assert avvio and "licenza MISSING" in avvio[0], log.read_text()[-3000:]


# -- tampering -------------------------------------------------------------------------------


@pytest.fixture
def licenza_estranea(istanza, tmp_path):
    """A license signed with a key pair that is not the vendor's (made by the installed CLI)."""
    chiavi = tmp_path / "chiavi-estranee"
    assert istanza("license", "keygen", "--out", str(chiavi)).returncode == 0
    file = tmp_path / "licenza-estranea.json"
    emessa = istanza(
        "license",
        "issue",
        "--private-key",
        str(chiavi / "private.pem"),
        "--licensee",
        "Chi si è firmato la licenza",
        "--expiry",
        "2099-12-31",
        "--max-terminals",
        "999",
        "--out",
        str(file),
    )
    assert emessa.returncode == 0, emessa.stderr
    return file, chiavi / "public.pem"


def _stato(istanza, file: Path, **env: str) -> str:
    mostrata = istanza("license", "show", env={"ASIGEST_LICENSE_FILE": str(file), **env})
    righe = [r for r in mostrata.stdout.splitlines() if r.startswith("Stato: ")]
    assert righe, mostrata.stdout + mostrata.stderr
    return righe[0].removeprefix("Stato: ")


def _forme_della_chiave(chiave) -> list[bytes]:
    grezza = chiave.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = chiave.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    der = chiave.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return [grezza, grezza.hex().encode(), base64.b64encode(grezza), base64.b64encode(der), pem]


def test_tampering_with_installed_files_does_not_validate_a_foreign_license(
    installazione: Installazione, istanza, licenza_estranea, tmp_path
):
    file, pubblica_estranea = licenza_estranea
    assert _stato(istanza, file) == "INVALID"
    # The file itself is well formed: only the key says no (VALID with its own key).
    propria = istanza("license", "show", "--file", str(file), "--public-key", str(pubblica_estranea))
    assert "Stato: VALID" in propria.stdout, propria.stdout

    pacchetto = installazione.pacchetto
    # 1. The setting that used to name another key, and an instance file setting it.
    assert _stato(istanza, file, ASIGEST_LICENSE_PUBLIC_KEY=str(pubblica_estranea)) == "INVALID"
    cfg = Path(istanza.ambiente["ASIGEST_INSTANCE_PATH"]) / "asigest.cfg"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text(f"LICENSE_PUBLIC_KEY = {str(pubblica_estranea)!r}\n")
    assert _stato(istanza, file) == "INVALID"
    cfg.unlink()

    # 2. A key file where the old releases kept it, and beside the license module.
    for posto in (pacchetto / "licenza_pubblica.pem", pacchetto / "domain" / "licenza_pubblica.pem"):
        shutil.copy(pubblica_estranea, posto)
    assert _stato(istanza, file) == "INVALID"

    # 3. Patched sources beside the compiled modules: the extension module is what imports.
    sorgente = (RADICE / "asigest" / "domain" / "licenza.py").read_text()
    truccata = sorgente.replace(
        '        chiave_pubblica.verify(firmata, canonico(contenuto["license"]))\n', "        pass\n"
    )
    assert truccata != sorgente
    (pacchetto / "domain" / "licenza.py").write_text(truccata)
    servizio = (RADICE / "asigest" / "services" / "licenza.py").read_text()
    truccato = servizio.replace(
        "regole.chiave_fornitore()", f"regole.chiave_pubblica(_leggi({str(pubblica_estranea)!r}))"
    )
    assert truccato != servizio
    (pacchetto / "services" / "licenza.py").write_text(truccato)
    assert _stato(istanza, file) == "INVALID"
    dove = installazione.esegui(
        installazione.bin("python"), "-c", "import asigest.domain.licenza as l; print(l.__file__)", cwd=tmp_path
    )
    assert dove.stdout.strip().endswith(EXT)

    # 4. Replacing the vendor key's bytes in the installed files: they are in none of them
    #    (the key is built at run time from two halves), so there is nothing to replace.
    forme = _forme_della_chiave(regole.chiave_fornitore())
    installati = [*pacchetto.rglob("*"), *installazione.site_packages.glob("*__mypyc*")]
    assert any(p.name.endswith(EXT) for p in installati)
    for percorso in installati:
        if percorso.is_file():
            contenuto = percorso.read_bytes()
            for forma in forme:
                assert forma not in contenuto, (percorso, forma[:20])
    assert _stato(istanza, file) == "INVALID"
