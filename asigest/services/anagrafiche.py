"""Master data kept by admins: machines, scrap reasons and phase types.

Users live in ``services/auth.py`` with their secrets. Every change here writes its
LogEventi row (before/after under the contract's column names) in the same transaction;
rows are deactivated, never deleted, because lotti point at them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Final, Literal, TypeAlias, TypedDict

from sqlalchemy import func, select, true
from sqlalchemy.exc import IntegrityError

from asigest.domain import anagrafiche
from asigest.domain import licenza as regole_licenza
from asigest.domain.actor import Actor
from asigest.domain.anagrafiche import CampiErrati
from asigest.errors import N_, Conflict, NotFound, RuleViolation
from asigest.models import CausaleFermo, CausaleScarto, FaseTipo, Lotto, Macchina
from asigest.models.documenti import TIPI_DOCUMENTO
from asigest.services import audit
from asigest.services.uow import DbSession, ripete_se_occupato, transaction

# A model whose rows have a unique Codice.
_ConCodice: TypeAlias = type[FaseTipo] | type[Macchina] | type[CausaleScarto] | type[CausaleFermo]


def tipi_documento(settings: Mapping[str, object]) -> tuple[str, ...]:
    """The plant's document types: the ``DOCUMENT_TYPES`` setting, or the default list."""
    tipi = settings.get("DOCUMENT_TYPES") or TIPI_DOCUMENTO
    if isinstance(tipi, str) or not isinstance(tipi, Iterable):
        raise TypeError(f"DOCUMENT_TYPES deve essere un elenco di codici, non {tipi!r}")
    return tuple(str(tipo) for tipo in tipi)


# -- codes ---------------------------------------------------------------------------------


def codice_libero(session: DbSession, model: _ConCodice, codice: str, escluso_id: int | None = None) -> None:
    """Raises Conflict (CODICE_IN_USO) when another row of ``model`` has ``codice``."""
    query = select(model.id).where(model.codice == codice)
    if escluso_id is not None:
        query = query.where(model.id != escluso_id)
    if session.scalar(query) is not None:
        raise Conflict(
            N_("Il codice %(codice)s è già usato: sceglierne un altro."), code="CODICE_IN_USO", codice=codice
        )


@contextmanager
def transazione_con_codice(
    session: DbSession, model: _ConCodice, codice: str, escluso_id: int | None = None
) -> Iterator[None]:
    """The unit of work; when two admins save the same code at the same instant, the
    UNIQUE constraint refuses the second and it gets the same Conflict as a sequential one."""
    try:
        with transaction(session):
            yield
    except IntegrityError:
        codice_libero(session, model, codice, escluso_id)
        raise


# -- phase types ------------------------------------------------------------------------


def list_fasi_tipo(session: DbSession, *, solo_attivi: bool = False) -> list[FaseTipo]:
    """Phase types in flow order (Ordine)."""
    query = select(FaseTipo).order_by(FaseTipo.ordine, FaseTipo.id)
    if solo_attivi:
        query = query.where(FaseTipo.attivo == true())  # not .is_(True): ``IS 1`` is not T-SQL
    return list(session.scalars(query))


def get_fase_tipo(session: DbSession, fase_tipo_id: int) -> FaseTipo:
    """One phase type by id. Raises NotFound."""
    tipo = session.get(FaseTipo, fase_tipo_id)
    if tipo is None:
        raise NotFound(N_("Tipo di fase %(id)s inesistente."), id=fase_tipo_id)
    return tipo


def _fase_tipo_attivo(session: DbSession, errori: CampiErrati, codice: str | None) -> FaseTipo | None:
    """The active phase type with ``codice``; records an error on ``fase_tipo`` otherwise."""
    codice = (codice or "").strip().upper()
    tipo = session.scalar(select(FaseTipo).where(FaseTipo.codice == codice)) if codice else None
    if tipo is None:
        errori.add("fase_tipo", N_("Tipo di fase inesistente: sceglierne uno dall'elenco."))
    elif not tipo.attivo:
        errori.add("fase_tipo", N_("Questo tipo di fase è disattivato: sceglierne uno attivo."))
    return tipo


def _documenti(errori: CampiErrati, valori: Iterable[str], ammessi: Sequence[str], attuali: Sequence[str]) -> list[str]:
    """Required document types, without repeats, in the order of the plant's list. A type
    dropped from the setting may stay where it already was, but cannot be added."""
    validi = list(ammessi) + [t for t in attuali if t not in ammessi]
    scelti = {(v or "").strip().upper() for v in valori}
    if scelti - set(validi):
        errori.add("documenti_richiesti", N_("Tipo di documento sconosciuto: usare solo quelli dell'elenco."))
    return [t for t in validi if t in scelti]


def _fase_tipo_foto(tipo: FaseTipo) -> dict[str, object]:
    return {
        "Codice": tipo.codice,
        "Descrizione": tipo.descrizione,
        "Ordine": tipo.ordine,
        "DocumentiRichiesti": list(tipo.documenti_richiesti or []),
        "Attivo": tipo.attivo,
    }


def _ordine_libero(session: DbSession, ordine: int, escluso_id: int | None = None) -> None:
    """Two phase types in the same position would make "the previous phase" (R5) ambiguous."""
    query = select(FaseTipo.codice).where(FaseTipo.ordine == ordine)
    if escluso_id is not None:
        query = query.where(FaseTipo.id != escluso_id)
    altro = session.scalar(query)
    if altro is not None:
        raise Conflict(
            N_("La posizione %(ordine)s è già del tipo di fase %(codice)s: sceglierne un'altra."),
            code="ORDINE_IN_USO",
            ordine=ordine,
            codice=altro,
        )


def _controlla_ordine(errori: CampiErrati, ordine: object) -> int | None:
    if ordine is None or isinstance(ordine, bool) or not isinstance(ordine, int):
        errori.add("ordine", N_("Indicare la posizione nel flusso (un numero intero)."))
        return None
    if not 0 <= ordine <= 10_000:
        errori.add("ordine", N_("La posizione deve essere tra 0 e 10000."))
    return ordine


def create_fase_tipo(
    session: DbSession,
    *,
    actor: Actor | None,
    codice: str,
    descrizione: str,
    ordine: int,
    documenti_richiesti: Iterable[str] = (),
    attivo: bool = True,
    tipi_ammessi: Sequence[str] = TIPI_DOCUMENTO,
) -> FaseTipo:
    """Add a phase type (FASETIPO_CREATA). ``codice`` is uppercased.

    Raises InvalidInput, Conflict (CODICE_IN_USO, ORDINE_IN_USO).
    """
    errori = CampiErrati()
    codice_letto = anagrafiche.codice(errori, "codice", codice, massimo=20, fase=True)
    descrizione_letta = anagrafiche.testo(
        errori, "descrizione", descrizione, massimo=100, vuoto=N_("Indicare la descrizione.")
    )
    ordine_letto = _controlla_ordine(errori, ordine)
    documenti = _documenti(errori, documenti_richiesti, tipi_ammessi, ())
    errori.raise_if_any()
    codice, descrizione = errori.valido(codice_letto), errori.valido(descrizione_letta)
    ordine = errori.valido(ordine_letto)
    codice_libero(session, FaseTipo, codice)
    _ordine_libero(session, ordine)
    with transazione_con_codice(session, FaseTipo, codice):
        tipo = FaseTipo(
            codice=codice, descrizione=descrizione, ordine=ordine, documenti_richiesti=documenti, attivo=bool(attivo)
        )
        session.add(tipo)
        session.flush()
        audit.record(session, actor, "FASETIPO_CREATA", "FaseTipo", tipo.id, dopo=_fase_tipo_foto(tipo))
    return tipo


class _CambiFaseTipo(TypedDict, total=False):
    """The fields an update sets (None: failed its check, reported by raise_if_any)."""

    descrizione: str | None
    ordine: int | None
    documenti_richiesti: list[str]
    attivo: bool


@ripete_se_occupato
def update_fase_tipo(
    session: DbSession,
    *,
    actor: Actor | None,
    fase_tipo_id: int,
    descrizione: str | None = None,
    ordine: int | None = None,
    documenti_richiesti: Iterable[str] | None = None,
    attivo: bool | None = None,
    tipi_ammessi: Sequence[str] = TIPI_DOCUMENTO,
) -> FaseTipo:
    """Change a phase type (FASETIPO_MODIFICATA); None leaves a field as it is. The code
    does not change: lotti codes and API paths are built from it.

    Raises NotFound, InvalidInput, Conflict (ORDINE_IN_USO), RuleViolation
    (FASETIPO_IN_USO: deactivating a type that active machines still use).
    """
    tipo = get_fase_tipo(session, fase_tipo_id)
    errori = CampiErrati()
    cambi: _CambiFaseTipo = {}
    if descrizione is not None:
        cambi["descrizione"] = anagrafiche.testo(
            errori, "descrizione", descrizione, massimo=100, vuoto=N_("Indicare la descrizione.")
        )
    if ordine is not None:
        cambi["ordine"] = _controlla_ordine(errori, ordine)
    if documenti_richiesti is not None:
        cambi["documenti_richiesti"] = _documenti(
            errori, documenti_richiesti, tipi_ammessi, tipo.documenti_richiesti or ()
        )
    if attivo is not None:
        cambi["attivo"] = bool(attivo)
    errori.raise_if_any()
    nuovo_ordine = cambi.get("ordine")
    if nuovo_ordine is not None and nuovo_ordine != tipo.ordine:
        _ordine_libero(session, nuovo_ordine, escluso_id=tipo.id)
    if tipo.attivo and cambi.get("attivo") is False:
        macchine = session.scalars(
            select(Macchina.codice)
            .where(Macchina.fase_tipo_id == tipo.id, Macchina.attiva == true())
            .order_by(Macchina.codice)
        ).all()
        if macchine:
            raise RuleViolation(
                N_(
                    "Il tipo di fase %(codice)s è usato dalle macchine attive %(macchine)s: disattivarle o "
                    "spostarle su un altro tipo prima."
                ),
                code="FASETIPO_IN_USO",
                codice=tipo.codice,
                macchine=", ".join(macchine),
            )
    prima = _fase_tipo_foto(tipo)
    with transaction(session):
        for campo, valore in cambi.items():
            setattr(tipo, campo, valore)
        vecchi, nuovi = anagrafiche.differenze(prima, _fase_tipo_foto(tipo))
        if nuovi:
            audit.record(session, actor, "FASETIPO_MODIFICATA", "FaseTipo", tipo.id, prima=vecchi, dopo=nuovi)
    return tipo


# -- machines ----------------------------------------------------------------------------


def _macchina_foto(macchina: Macchina) -> dict[str, object]:
    return {
        "Codice": macchina.codice,
        "Descrizione": macchina.descrizione,
        "FaseTipo": macchina.fase_tipo.codice if macchina.fase_tipo else None,
        "Reparto": macchina.reparto,
        "Attiva": macchina.attiva,
    }


def list_macchine(
    session: DbSession, *, fase_tipo: str | None = None, attiva: bool | None = None, limit: int = 100, offset: int = 0
) -> list[Macchina]:
    """Machines by code, optionally only those of one phase type (code) or state."""
    query = select(Macchina)
    if fase_tipo:
        query = query.join(Macchina.fase_tipo).where(FaseTipo.codice == fase_tipo.strip().upper())
    if attiva is not None:
        query = query.where(Macchina.attiva == attiva)
    return list(session.scalars(query.order_by(Macchina.codice).limit(limit).offset(offset)))


def get_macchina(session: DbSession, macchina_id: int) -> Macchina:
    """One machine by id. Raises NotFound."""
    macchina = session.get(Macchina, macchina_id)
    if macchina is None:
        raise NotFound(N_("Macchina %(id)s inesistente."), id=macchina_id)
    return macchina


def _lotto_aperto(session: DbSession, macchina: Macchina) -> str | None:
    """The CodiceLotto open on ``macchina``, if any."""
    return session.scalar(select(Lotto.codice_lotto).where(Lotto.macchina_id == macchina.id, Lotto.data_fine.is_(None)))


class _CambiMacchina(TypedDict, total=False):
    """A machine's checked fields (codice None: failed its check, reported by raise_if_any)."""

    codice: str | None
    descrizione: str
    reparto: str | None
    fase_tipo: FaseTipo


def _controlla_macchina(
    errori: CampiErrati, *, codice: str | None, descrizione: str | None, reparto: str | None, parziale: bool
) -> _CambiMacchina:
    """Check a machine's own fields (the phase type is checked against the database apart)."""
    puliti: _CambiMacchina = {}
    if not parziale or codice is not None:
        puliti["codice"] = anagrafiche.codice(errori, "codice", codice, massimo=30)
    if not parziale or descrizione is not None:
        puliti["descrizione"] = anagrafiche.testo(errori, "descrizione", descrizione, massimo=100, vuoto=None) or ""
    if not parziale or reparto is not None:
        puliti["reparto"] = anagrafiche.testo(errori, "reparto", reparto, massimo=50, vuoto=None)
    return puliti


def create_macchina(
    session: DbSession,
    *,
    actor: Actor | None,
    codice: str,
    fase_tipo: str,
    descrizione: str | None = None,
    reparto: str | None = None,
    attiva: bool = True,
    licenza: regole_licenza.StatoLicenza | None = None,
) -> Macchina:
    """Add a machine (MACCHINA_CREATA). ``codice`` is uppercased; ``fase_tipo`` is the code of
    an active phase type. An active one must fit in the license's terminals (``licenza``).

    Raises InvalidInput, Conflict (CODICE_IN_USO), RuleViolation (TERMINALI_ESAURITI).
    """
    errori = CampiErrati()
    puliti = _controlla_macchina(errori, codice=codice, descrizione=descrizione, reparto=reparto, parziale=False)
    tipo = _fase_tipo_attivo(session, errori, fase_tipo)
    errori.raise_if_any()
    codice_macchina = errori.valido(puliti.get("codice"))
    codice_libero(session, Macchina, codice_macchina)
    if attiva:
        _terminale_libero(session, licenza)
    with transazione_con_codice(session, Macchina, codice_macchina):
        macchina = Macchina(fase_tipo=tipo, attiva=bool(attiva), **puliti)
        session.add(macchina)
        session.flush()
        audit.record(session, actor, "MACCHINA_CREATA", "Macchine", macchina.id, dopo=_macchina_foto(macchina))
    return macchina


def update_macchina(
    session: DbSession,
    *,
    actor: Actor | None,
    macchina_id: int,
    codice: str | None = None,
    fase_tipo: str | None = None,
    descrizione: str | None = None,
    reparto: str | None = None,
    attiva: bool | None = None,
    licenza: regole_licenza.StatoLicenza | None = None,
) -> Macchina:
    """Change a machine; None leaves a field as it is (an empty ``reparto`` clears it).
    Putting it back in service must fit in the license's terminals (``licenza``:
    RuleViolation TERMINALI_ESAURITI).
    Writes MACCHINA_MODIFICATA, or MACCHINA_DISATTIVATA when it deactivates. An active
    machine always has an active phase type.

    Raises NotFound, InvalidInput, Conflict (CODICE_IN_USO), RuleViolation
    (MACCHINA_CON_LOTTO_APERTO: a lotto is open on it and the change would strand it).
    """
    macchina = get_macchina(session, macchina_id)
    errori = CampiErrati()
    cambi = _controlla_macchina(errori, codice=codice, descrizione=descrizione, reparto=reparto, parziale=True)
    codice_tipo = (fase_tipo or "").strip().upper() if fase_tipo is not None else macchina.fase_tipo.codice
    nuova_attiva = macchina.attiva if attiva is None else bool(attiva)
    if codice_tipo != macchina.fase_tipo.codice or (nuova_attiva and not macchina.attiva):
        # A new type, or a machine back in service: its type must exist and be active.
        tipo = _fase_tipo_attivo(session, errori, codice_tipo)
        if tipo is not None and tipo.id != macchina.fase_tipo_id:
            cambi["fase_tipo"] = tipo
    errori.raise_if_any()
    if nuova_attiva and not macchina.attiva:
        _terminale_libero(session, licenza)
    nuovo_codice = cambi.get("codice") or macchina.codice
    codice_libero(session, Macchina, nuovo_codice, escluso_id=macchina.id)
    if (macchina.attiva and not nuova_attiva) or "fase_tipo" in cambi:
        # An open lotto must be closed on the machine, in the phase, it was opened in.
        aperto = _lotto_aperto(session, macchina)
        if aperto:
            raise RuleViolation(
                N_(
                    "Sulla macchina %(macchina)s è aperto il lotto %(lotto)s: chiuderlo prima di disattivarla "
                    "o di cambiarne il tipo di fase."
                ),
                code="MACCHINA_CON_LOTTO_APERTO",
                macchina=macchina.codice,
                lotto=aperto,
            )
    prima = _macchina_foto(macchina)
    with transazione_con_codice(session, Macchina, nuovo_codice, escluso_id=macchina.id):
        for campo, valore in cambi.items():
            setattr(macchina, campo, valore)
        macchina.attiva = nuova_attiva
        session.flush()
        vecchi, nuovi = anagrafiche.differenze(prima, _macchina_foto(macchina))
        if nuovi:
            azione = "MACCHINA_DISATTIVATA" if nuovi.get("Attiva") is False else "MACCHINA_MODIFICATA"
            audit.record(session, actor, azione, "Macchine", macchina.id, prima=vecchi, dopo=nuovi)
    return macchina


def deactivate_macchina(session: DbSession, *, actor: Actor | None, macchina_id: int) -> Macchina:
    """Take a machine out of service (MACCHINA_DISATTIVATA); its kiosk stops opening lotti.

    Raises NotFound, RuleViolation (MACCHINA_CON_LOTTO_APERTO).
    """
    return update_macchina(session, actor=actor, macchina_id=macchina_id, attiva=False)


def reactivate_macchina(
    session: DbSession, *, actor: Actor | None, macchina_id: int, licenza: regole_licenza.StatoLicenza | None = None
) -> Macchina:
    """Put a machine back in service (MACCHINA_MODIFICATA). Raises NotFound, RuleViolation
    (TERMINALI_ESAURITI: the license's terminals are all in use)."""
    return update_macchina(session, actor=actor, macchina_id=macchina_id, attiva=True, licenza=licenza)


def _terminale_libero(session: DbSession, licenza: regole_licenza.StatoLicenza | None) -> None:
    """Refuse one more machine in service beyond the license's terminals (each machine is a
    kiosk terminal); no limit, and no count, in demo mode. Raises RuleViolation TERMINALI_ESAURITI."""
    if licenza is None or licenza.max_terminali is None:
        return
    attive = session.scalar(select(func.count()).select_from(Macchina).where(Macchina.attiva == true())) or 0
    regole_licenza.richiedi_terminale_libero(licenza, attive)


# -- scrap reasons -------------------------------------------------------------------------


def _causale_foto(causale: CausaleScarto) -> dict[str, object]:
    return {
        "Codice": causale.codice,
        "Descrizione": causale.descrizione,
        "FaseTipo": causale.fase_tipo.codice if causale.fase_tipo else None,
        "Attiva": causale.attiva,
    }


def list_causali(
    session: DbSession, *, fase_tipo: str | None = None, attiva: bool | None = None, limit: int = 100, offset: int = 0
) -> list[CausaleScarto]:
    """Scrap reasons by code. With ``fase_tipo`` (a code): those usable in that phase,
    i.e. its own and those valid in any phase."""
    query = select(CausaleScarto)
    if fase_tipo:
        tipo_id = select(FaseTipo.id).where(FaseTipo.codice == fase_tipo.strip().upper()).scalar_subquery()
        query = query.where((CausaleScarto.fase_tipo_id == tipo_id) | CausaleScarto.fase_tipo_id.is_(None))
    if attiva is not None:
        query = query.where(CausaleScarto.attiva == attiva)
    return list(session.scalars(query.order_by(CausaleScarto.codice).limit(limit).offset(offset)))


def get_causale(session: DbSession, causale_id: int) -> CausaleScarto:
    """One scrap reason by id. Raises NotFound."""
    causale = session.get(CausaleScarto, causale_id)
    if causale is None:
        raise NotFound(N_("Causale di scarto %(id)s inesistente."), id=causale_id)
    return causale


class _Qualsiasi(enum.Enum):
    """ "No change" for a field where None means "any phase"."""

    VALORE = enum.auto()


_QUALSIASI: Final = _Qualsiasi.VALORE


def create_causale(
    session: DbSession,
    *,
    actor: Actor | None,
    codice: str,
    descrizione: str,
    fase_tipo: str | None = None,
    attiva: bool = True,
) -> CausaleScarto:
    """Add a scrap reason (CAUSALE_CREATA); ``fase_tipo`` None (or empty) = valid in any phase.

    Raises InvalidInput, Conflict (CODICE_IN_USO).
    """
    errori = CampiErrati()
    codice_letto = anagrafiche.codice(errori, "codice", codice, massimo=30)
    descrizione_letta = anagrafiche.testo(
        errori, "descrizione", descrizione, massimo=200, vuoto=N_("Indicare la descrizione.")
    )
    tipo = _fase_tipo_attivo(session, errori, fase_tipo) if (fase_tipo or "").strip() else None
    errori.raise_if_any()
    codice, descrizione = errori.valido(codice_letto), errori.valido(descrizione_letta)
    codice_libero(session, CausaleScarto, codice)
    with transazione_con_codice(session, CausaleScarto, codice):
        causale = CausaleScarto(codice=codice, descrizione=descrizione, fase_tipo=tipo, attiva=bool(attiva))
        session.add(causale)
        session.flush()
        audit.record(session, actor, "CAUSALE_CREATA", "CausaliScarto", causale.id, dopo=_causale_foto(causale))
    return causale


class _CambiCausale(TypedDict, total=False):
    """The fields an update sets (None for codice or descrizione: failed its check)."""

    codice: str | None
    descrizione: str | None
    fase_tipo: FaseTipo | None
    attiva: bool


def update_causale(
    session: DbSession,
    *,
    actor: Actor | None,
    causale_id: int,
    codice: str | None = None,
    descrizione: str | None = None,
    fase_tipo: str | None | Literal[_Qualsiasi.VALORE] = _QUALSIASI,
    attiva: bool | None = None,
) -> CausaleScarto:
    """Change a scrap reason (CAUSALE_MODIFICATA). None leaves a field as it is, except
    ``fase_tipo``, where None (or "") means any phase; leave it out to keep it.
    A deactivated reason stays on the lotti that used it but cannot be chosen again.

    Raises NotFound, InvalidInput, Conflict (CODICE_IN_USO).
    """
    causale = get_causale(session, causale_id)
    errori = CampiErrati()
    cambi: _CambiCausale = {}
    if codice is not None:
        cambi["codice"] = anagrafiche.codice(errori, "codice", codice, massimo=30)
    if descrizione is not None:
        cambi["descrizione"] = anagrafiche.testo(
            errori, "descrizione", descrizione, massimo=200, vuoto=N_("Indicare la descrizione.")
        )
    if fase_tipo is not _QUALSIASI:
        codice_tipo = (fase_tipo or "").strip().upper()
        if not codice_tipo:
            cambi["fase_tipo"] = None
        elif causale.fase_tipo is not None and codice_tipo == causale.fase_tipo.codice:
            pass  # unchanged, even if that type was deactivated since
        else:
            cambi["fase_tipo"] = _fase_tipo_attivo(session, errori, codice_tipo)
    if attiva is not None:
        cambi["attiva"] = bool(attiva)
    errori.raise_if_any()
    nuovo_codice = cambi.get("codice") or causale.codice
    codice_libero(session, CausaleScarto, nuovo_codice, escluso_id=causale.id)
    prima = _causale_foto(causale)
    with transazione_con_codice(session, CausaleScarto, nuovo_codice, escluso_id=causale.id):
        for campo, valore in cambi.items():
            setattr(causale, campo, valore)
        session.flush()
        vecchi, nuovi = anagrafiche.differenze(prima, _causale_foto(causale))
        if nuovi:
            audit.record(session, actor, "CAUSALE_MODIFICATA", "CausaliScarto", causale.id, prima=vecchi, dopo=nuovi)
    return causale
