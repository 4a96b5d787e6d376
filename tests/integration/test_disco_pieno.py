"""A database that fills up while terminals work (issue 12, item 5), on SQLite.

A small SQLite database limited by ``PRAGMA max_page_count`` — SQLite's own "disk full"
(SQLITE_FULL), set on each connection by a pool listener that this test adds to the
app's engine; production code paths are untouched. The app is served over real HTTP by a
threaded WSGI server and four terminals, each an operator with its token and SMD
machine, loop open → close through the JSON API until the database is full and every
terminal has been refused; then space comes back (the limit is raised) and they go on.

Checked: no 500 and no 409 at any time — every refusal is 503 DATABASE_NON_DISPONIBILE;
``/health`` says ``degraded`` while the database is full and ``ok`` once space is back;
after space is back every terminal opens and closes again; and on the database, every
answer 2xx is there exactly as answered and nothing else is (refused operations left no
row, no audit row, no half-closed lotto).
"""

from __future__ import annotations

import http.client
import json
import threading
import time

import pytest
from sqlalchemy import create_engine, event, func, select, text
from werkzeug.serving import make_server

from asigest.models import LogEvento, Lotto
from tests.server_fixture import SECRET, prepara_impianto

TERMINALI = 4
MARGINE_PAGINE = 40  # room left when the test starts: a few dozen operations
LIMITE_S = 60


class Terminale(threading.Thread):
    """Line software: open a lotto on its machine, close it, again; a refused operation is
    tried again after a pause (what a client that reads 503 does)."""

    def __init__(self, n: int, porta: int, impianto, fermo: threading.Event):
        super().__init__(name=f"terminale-{n}", daemon=True)
        self.porta = porta
        self.macchina_id = impianto.macchine[n][0]
        self.fase_id = impianto.fasi[n % len(impianto.fasi)]
        self.headers = {"Authorization": f"Bearer {impianto.operatori[n][2]}", "Content-Type": "application/json"}
        self.fermo = fermo
        self.aperture: dict[int, dict] = {}  # LottoID → the 201 body
        self.chiusure: dict[int, dict] = {}  # LottoID → the 200 body
        self.rifiuti: list[tuple[str, int, str]] = []  # (operation, status, code)
        self.errori: list[str] = []
        self.aperto: int | None = None
        self._segno = 0  # closes before ``segna()``

    def segna(self) -> None:
        self._segno = len(self.chiusure)

    @property
    def coppie_dopo_segno(self) -> int:
        return len(self.chiusure) - self._segno

    def _invia(self, metodo, percorso, corpo):
        conn = http.client.HTTPConnection("127.0.0.1", self.porta, timeout=30)
        try:
            conn.request(metodo, percorso, body=json.dumps(corpo), headers=self.headers)
            r = conn.getresponse()
            return r.status, json.loads(r.read() or b"null")
        finally:
            conn.close()

    def run(self):
        qta = 0
        while not self.fermo.is_set():
            qta = qta % 50 + 1
            if self.aperto is None:
                operazione = "apri"
                status, corpo = self._invia(
                    "POST",
                    "/api/lotti/smd/",
                    {"FaseID": self.fase_id, "QtaInput": qta + 10, "MacchinaID": self.macchina_id},
                )
                if status == 201:
                    self.aperture[corpo["LottoID"]] = corpo
                    self.aperto = corpo["LottoID"]
                    continue
            else:
                operazione = "chiudi"
                entrati = self.aperture[self.aperto]["QtaInput"]
                status, corpo = self._invia("PUT", f"/api/lotti/smd/{self.aperto}/close", {"QtaOutput": entrati - 1})
                if status == 200:
                    self.chiusure[self.aperto] = corpo
                    self.aperto = None
                    continue
            codice = (corpo or {}).get("code", "")
            self.rifiuti.append((operazione, status, codice))
            if status != 503 or codice != "DATABASE_NON_DISPONIBILE":
                self.errori.append(f"{operazione}: {status} {corpo}")
                return
            time.sleep(0.02)


def _salute(porta):
    conn = http.client.HTTPConnection("127.0.0.1", porta, timeout=10)
    try:
        conn.request("GET", "/health")
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def _attendi(condizione, limite_s=LIMITE_S):
    fine = time.monotonic() + limite_s
    while time.monotonic() < fine:
        if condizione():
            return True
        time.sleep(0.05)
    return False


def test_terminals_fill_the_database_and_go_on_once_space_is_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'asigest.db'}"
    impianto = prepara_impianto(url, tmp_path, macchine=TERMINALI, commesse=2)
    from asigest import create_app
    from asigest.extensions import db

    app = create_app(
        {"INSTANCE_PATH": tmp_path / "istanza", "DATABASE_URL": url, "ERP_URL": impianto.erp_url, "SECRET_KEY": SECRET}
    )
    with app.app_context():
        engine = db.engines[None]
    with engine.connect() as conn:
        pagine_iniziali = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
    limite = {"pagine": pagine_iniziali + MARGINE_PAGINE}

    @event.listens_for(engine, "checkout")
    def _max_page_count(dbapi_connection, _record, _proxy):
        # Set on every checkout, so raising it reaches the pooled connections too.
        dbapi_connection.execute("PRAGMA max_page_count=%d" % limite["pagine"])

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    porta = server.server_port
    fermo = threading.Event()
    terminali = [Terminale(n, porta, impianto, fermo) for n in range(TERMINALI)]
    try:
        assert _salute(porta)[1]["databases"]["asigest"] == "ok"
        for t in terminali:
            t.start()

        # 1. The database fills: every terminal is refused (503), /health says degraded.
        assert _attendi(lambda: all(t.rifiuti for t in terminali) or any(t.errori for t in terminali))
        assert [e for t in terminali for e in t.errori] == []
        status, salute = _salute(porta)
        assert status == 503 and salute["status"] == "degraded" and salute["databases"]["asigest"] == "error"
        rifiuti_pieno = sum(len(t.rifiuti) for t in terminali)
        time.sleep(0.5)  # the terminals keep trying against the full database
        assert sum(len(t.rifiuti) for t in terminali) > rifiuti_pieno

        # 2. Space is back: everyone opens and closes again, /health is ok.
        for t in terminali:
            t.segna()
        limite["pagine"] = pagine_iniziali + 100_000
        assert _attendi(lambda: all(t.coppie_dopo_segno >= 2 for t in terminali) or any(t.errori for t in terminali))
        status, salute = _salute(porta)
        assert status == 200 and salute["databases"]["asigest"] == "ok"
    finally:
        fermo.set()
        for t in terminali:
            t.join(30)
        server.shutdown()
        with app.app_context():
            db.session.remove()
        engine.dispose()

    assert [e for t in terminali for e in t.errori] == []
    rifiuti = [r for t in terminali for r in t.rifiuti]
    assert rifiuti and {(s, c) for _, s, c in rifiuti} == {(503, "DATABASE_NON_DISPONIBILE")}
    assert {op for op, _, _ in rifiuti} <= {"apri", "chiudi"}

    # 3. On the database: exactly what was answered 2xx, nothing more.
    aperture = {i: b for t in terminali for i, b in t.aperture.items()}
    chiusure = {i: b for t in terminali for i, b in t.chiusure.items()}
    verifica = create_engine(url)
    try:
        with verifica.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            lotti = {r["LottoID"]: r for r in conn.execute(select(Lotto.__table__)).mappings().all()}
            assert set(lotti) == set(aperture), "un lotto nel database non è stato confermato, o viceversa"
            for lotto_id, corpo in aperture.items():
                assert (lotti[lotto_id]["CodiceLotto"], lotti[lotto_id]["QtaInput"]) == (
                    corpo["CodiceLotto"],
                    corpo["QtaInput"],
                )
            chiusi = {i for i, r in lotti.items() if r["DataFine"] is not None}
            assert chiusi == set(chiusure), "una chiusura nel database non è stata confermata, o viceversa"
            for lotto_id, corpo in chiusure.items():
                assert lotti[lotto_id]["QtaOutput"] == corpo["QtaOutput"]
            conteggi = dict(conn.execute(select(LogEvento.azione, func.count()).group_by(LogEvento.azione)).all())
            assert conteggi.get("LOTTO_APERTO", 0) == len(aperture)
            assert conteggi.get("LOTTO_CHIUSO", 0) == len(chiusure)
    finally:
        verifica.dispose()
    print(f"\naperture {len(aperture)}, chiusure {len(chiusure)}, rifiuti 503 {len(rifiuti)}")
