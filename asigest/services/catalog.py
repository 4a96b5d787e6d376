"""The base catalog every plant starts with: phase types, standard scrap reasons and
standard stop reasons (SPEC §8)."""

from __future__ import annotations

from sqlalchemy import select

from asigest.models import CausaleFermo, CausaleScarto, FaseTipo
from asigest.services import audit
from asigest.services.uow import DbSession, transaction

BASE_FASI = (
    ("SMD", "Montaggio SMD", 10),
    ("PTH", "Montaggio PTH (tradizionale)", 20),
    ("CONTROLLI", "Controlli e collaudo", 30),
)

# (code, description, phase type code or None for any phase)
BASE_CAUSALI = (
    ("SMD-PASTA", "Serigrafia pasta saldante difettosa", "SMD"),
    ("SMD-PICK", "Componente mancante o disallineato (pick & place)", "SMD"),
    ("SMD-REFLOW", "Difetto di rifusione (ponti, tombstone)", "SMD"),
    ("PTH-SALD", "Saldatura a onda difettosa", "PTH"),
    ("PTH-INS", "Componente inserito errato o invertito", "PTH"),
    ("CTRL-AOI", "Scarto rilevato da AOI", "CONTROLLI"),
    ("CTRL-ICT", "Collaudo elettrico (ICT/funzionale) fallito", "CONTROLLI"),
    ("COMP-DIF", "Componente difettoso da fornitore", None),
    ("PCB-DIF", "Circuito stampato difettoso", None),
    ("MANIP", "Danno da manipolazione", None),
)

# (code, description, phase type code or None, category, planned): the usual reasons a
# line stops (SPEC §13). A planned stop is left out of the planned time, not a loss.
BASE_CAUSALI_FERMO = (
    ("GUASTO", "Guasto macchina", None, "GUASTO", False),
    ("GUASTO-ALIM", "Guasto alimentatore / caricatore", "SMD", "GUASTO", False),
    ("ATTREZZAGGIO", "Cambio prodotto / attrezzaggio", None, "ATTREZZAGGIO", False),
    ("CAMBIO-BOBINE", "Cambio bobine componenti", "SMD", "ATTREZZAGGIO", False),
    ("MANCA-MAT", "Mancanza materiale", None, "MATERIALE", False),
    ("ATTESA-OP", "Attesa operatore", None, "ATTESA", False),
    ("ATTESA-QUAL", "Attesa benestare qualità", None, "QUALITA", False),
    ("PULIZIA", "Pulizia macchina", None, "ALTRO", False),
    ("RIUNIONE", "Riunione / formazione pianificata", None, "ALTRO", True),
    ("MANUT-PREV", "Manutenzione preventiva pianificata", None, "GUASTO", True),
)


def ensure_base_catalog(session: DbSession) -> int:
    """Insert the base phase types, scrap reasons and stop reasons that are missing; returns how many.

    Existing rows are left as the plant changed them, so running it again is safe.
    """
    added = 0
    with transaction(session):
        tipi = {ft.codice: ft for ft in session.scalars(select(FaseTipo))}
        for codice, descrizione, ordine in BASE_FASI:
            if codice not in tipi:
                tipi[codice] = FaseTipo(
                    codice=codice, descrizione=descrizione, ordine=ordine, documenti_richiesti=[], attivo=True
                )
                session.add(tipi[codice])
                added += 1
        session.flush()
        esistenti = set(session.scalars(select(CausaleScarto.codice)))
        for codice, descrizione, fase in BASE_CAUSALI:
            if codice not in esistenti:
                session.add(
                    CausaleScarto(
                        codice=codice,
                        descrizione=descrizione,
                        fase_tipo_id=tipi[fase].id if fase else None,
                        attiva=True,
                    )
                )
                added += 1
        esistenti_fermo = set(session.scalars(select(CausaleFermo.codice)))
        for codice, descrizione, fase, categoria, pianificato in BASE_CAUSALI_FERMO:
            if codice not in esistenti_fermo:
                session.add(
                    CausaleFermo(
                        codice=codice,
                        descrizione=descrizione,
                        fase_tipo_id=tipi[fase].id if fase else None,
                        categoria=categoria,
                        pianificato=pianificato,
                        attiva=True,
                    )
                )
                added += 1
        if added:
            audit.record(session, None, "CATALOGO_INIZIALIZZATO", "FaseTipo", None, dopo={"righe_aggiunte": added})
    return added
