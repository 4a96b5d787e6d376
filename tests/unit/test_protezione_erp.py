"""The ERP's circuit breaker and bulkhead (``erp.gateway.ProtezioneErp``), with a clock the
test moves and calls that fail or wait as the test says (issue 12, item 7). The same
guard through a real server with a locked ERP: tests/e2e/test_erp_bloccato.py."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from asigest.erp.gateway import ProtezioneErp
from asigest.errors import ErpUnavailable


class Orologio:
    def __init__(self):
        self.adesso = 1000.0

    def __call__(self):
        return self.adesso


def _guasto():
    raise OperationalError("SELECT …", {}, Exception("database is locked"))


def _chiama(protezione, funzione=lambda: "ok"):
    with protezione.chiamata():
        return funzione()


@pytest.fixture
def orologio():
    return Orologio()


@pytest.fixture
def protezione(orologio):
    return ProtezioneErp(pausa=30, max_attese=2, attesa_posto=0.05, orologio=orologio)


def test_calls_go_through_while_the_erp_answers(protezione):
    assert [_chiama(protezione) for _ in range(5)] == ["ok"] * 5
    assert not protezione.aperto


def test_after_a_failure_calls_fail_fast_for_the_pause(protezione, orologio):
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)
    chiamate = []
    for secondi in (0, 10, 29.9):
        orologio.adesso = 1000 + secondi
        with pytest.raises(ErpUnavailable):
            _chiama(protezione, lambda: chiamate.append(1))
    assert chiamate == [] and protezione.aperto  # the ERP was not even asked


def test_after_the_pause_one_trial_call_closes_it(protezione, orologio):
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)
    orologio.adesso += 30
    assert _chiama(protezione) == "ok"
    assert not protezione.aperto and _chiama(protezione) == "ok"


def test_a_failed_trial_opens_it_for_another_pause(protezione, orologio):
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)
    orologio.adesso += 31
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)  # the trial
    orologio.adesso += 29
    with pytest.raises(ErpUnavailable):
        _chiama(protezione)
    orologio.adesso += 1
    assert _chiama(protezione) == "ok"


def test_while_the_trial_runs_the_others_fail_fast(protezione, orologio):
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)
    orologio.adesso += 30
    dentro, esci = threading.Event(), threading.Event()

    def prova():
        dentro.set()
        esci.wait(5)
        return "ok"

    risultato = []
    filo = threading.Thread(target=lambda: risultato.append(_chiama(protezione, prova)))
    filo.start()
    assert dentro.wait(5)
    with pytest.raises(ErpUnavailable):
        _chiama(protezione)
    esci.set()
    filo.join(5)
    assert risultato == ["ok"] and _chiama(protezione) == "ok"


def test_an_error_that_is_not_an_outage_does_not_open_it(protezione):
    def sbagliata():
        raise ProgrammingError("SELECT …", {}, Exception("no such table: COMMESSE"))

    with pytest.raises(ProgrammingError):
        _chiama(protezione, sbagliata)
    assert not protezione.aperto and _chiama(protezione) == "ok"


def test_at_most_max_attese_threads_wait_the_others_fail_fast(protezione):
    """The bulkhead: two calls hang on the ERP; a third waits ``attesa_posto`` for a place
    and fails, without asking the ERP; once a place frees up, calls go through."""
    entrate, rilascia = threading.Semaphore(0), threading.Event()

    def appesa():
        entrate.release()
        rilascia.wait(5)
        return "ok"

    fili = [threading.Thread(target=_chiama, args=(protezione, appesa)) for _ in range(2)]
    for filo in fili:
        filo.start()
    for _ in fili:
        assert entrate.acquire(timeout=5)
    chiamate = []
    import time

    inizio = time.monotonic()
    with pytest.raises(ErpUnavailable):
        _chiama(protezione, lambda: chiamate.append(1))
    assert chiamate == [] and time.monotonic() - inizio < 1
    rilascia.set()
    for filo in fili:
        filo.join(5)
    assert _chiama(protezione) == "ok" and not protezione.aperto


def test_a_bad_setting_is_refused():
    with pytest.raises(ValueError):
        ProtezioneErp(pausa=30, max_attese=0)
    with pytest.raises(ValueError):
        ProtezioneErp(pausa=-1, max_attese=2)


def test_the_background_trial_never_makes_its_caller_wait(protezione, orologio):
    """``/health``'s ping: once the pause is over the trial runs in a thread of its own."""
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)
    assert protezione.prova_in_sottofondo(lambda: None) is False  # still in the pause
    orologio.adesso += 30
    esci, finita = threading.Event(), threading.Event()

    def prova():
        esci.wait(5)
        finita.set()

    assert protezione.prova_in_sottofondo(prova) is True  # returns while the trial waits
    assert protezione.prova_in_sottofondo(prova) is False  # one trial at a time
    with pytest.raises(ErpUnavailable):
        _chiama(protezione)
    esci.set()
    assert finita.wait(5)
    for _ in range(100):
        if protezione.chiuso:
            break
        threading.Event().wait(0.01)
    assert protezione.chiuso and _chiama(protezione) == "ok"


def test_a_failed_background_trial_keeps_it_open(protezione, orologio):
    with pytest.raises(OperationalError):
        _chiama(protezione, _guasto)
    orologio.adesso += 30
    finita = threading.Event()

    def prova():
        try:
            _guasto()
        finally:
            finita.set()

    assert protezione.prova_in_sottofondo(prova)
    assert finita.wait(5)
    for _ in range(100):
        if not protezione._prova_in_corso:
            break
        threading.Event().wait(0.01)
    with pytest.raises(ErpUnavailable):
        _chiama(protezione)  # a new pause started with the failed trial


def test_behind_calls_that_hang_the_others_do_not_even_wait(orologio):
    """Places held longer than ``soglia_lenta``: a call fails at once instead of waiting
    ``attesa_posto`` (a queue of requests behind a locked ERP drains in milliseconds)."""
    import time

    protezione = ProtezioneErp(pausa=30, max_attese=1, attesa_posto=2.0, soglia_lenta=0.5, orologio=orologio)
    entrata, rilascia = threading.Event(), threading.Event()

    def appesa():
        entrata.set()
        rilascia.wait(5)

    filo = threading.Thread(target=_chiama, args=(protezione, appesa))
    filo.start()
    assert entrata.wait(5)
    orologio.adesso += 0.6  # the holder has waited longer than a healthy ERP ever takes
    inizio = time.monotonic()
    with pytest.raises(ErpUnavailable):
        _chiama(protezione)
    assert time.monotonic() - inizio < 0.1
    rilascia.set()
    filo.join(5)


def test_behind_a_call_that_is_just_slow_another_waits_and_goes_through(orologio):
    protezione = ProtezioneErp(pausa=30, max_attese=1, attesa_posto=2.0, soglia_lenta=0.5, orologio=orologio)
    entrata, rilascia = threading.Event(), threading.Event()

    def lenta():
        entrata.set()
        rilascia.wait(5)
        return "prima"

    filo = threading.Thread(target=_chiama, args=(protezione, lenta))
    filo.start()
    assert entrata.wait(5)
    threading.Timer(0.2, rilascia.set).start()
    assert _chiama(protezione) == "ok"  # waited 0.2 s for the place
    filo.join(5)
