"""The register's pickers (web/registro/elenco.py): options reused while the rows read are
the same are exactly those written afresh, the chosen one marked."""

from __future__ import annotations

from asigest.services.registro import UtenteScelta
from asigest.web.registro import elenco


def _testo(u: UtenteScelta) -> str:
    return f"{u.cognome} {u.nome} · {u.matricola}"


def _attese(righe: list[UtenteScelta], scelto: str | None) -> str:
    return str(elenco._options([(u.id, _testo(u)) for u in righe], scelto))


def test_reused_options_are_those_written_afresh():
    elenco._opzioni_scritte.clear()
    righe = [UtenteScelta(i, f"N{i}", "<C>", str(1000 + i), True) for i in (3, 4, 33, 34)]
    for scelto in (None, "", "3", "33", "4", "5", "03", "x", '3" ><option value="4', "３"):
        assert str(elenco._options_di("operatori", righe, _testo, "it", scelto)) == _attese(righe, scelto), scelto
    assert len(elenco._opzioni_scritte) == 1


def test_other_rows_are_written_again():
    elenco._opzioni_scritte.clear()
    righe = [UtenteScelta(1, "Anna", "Rossi", "1001", True)]
    elenco._options_di("operatori", righe, _testo, "it", "1")
    cambiate = [UtenteScelta(1, "Anna", "Bianchi", "1001", True), UtenteScelta(2, "Bruno", "Verdi", "1002", True)]
    assert str(elenco._options_di("operatori", cambiate, _testo, "it", "2")) == _attese(cambiate, "2")
    assert "Rossi" not in str(elenco._options_di("operatori", cambiate, _testo, "it", None))
