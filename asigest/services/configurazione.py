"""How an ERP order is set up for production: its ConfigCommessa and its Fasi (R1–R3),
and the phases' available quantities (R5).

Rules, each enforced here and nowhere else:

- **R1** a commessa is configured only if the ERP has it and it is open ('O'); one
  ConfigCommessa per commessa (409 — also when two requests race past the check, the
  UNIQUE constraint answers); at least one phase flag.
- **R2** saving creates the Fasi of the enabled flags with QtaPrevista = the ERP's QTA
  (stored as QtaERP for drift detection, R12); turning a flag off removes its fase only
  while that fase has no lotti. A fase is never added (flag turned on or ``add_fase``)
  ahead of a fase that already has lotti, in flow order (FaseTipo.Ordine, then
  FaseTipoID, as R5 reads it): the worked fase would then count pieces that were never
  produced upstream (FASE_PRIMA_DI_FASE_CON_LOTTI). The check runs with the order's
  fasi locked, so a first lotto opened at the same instant is seen.
- **R3** a config is deleted, with its fasi, only while none of them has lotti.

Decisions where SPEC is silent:

- An ERP order without QTA (NULL) or with QTA ≤ 0 is not configured: phases planned for
  no quantity would hide the problem; the message says to fix the order in ASITRON.
- Fasi created after the first save (a flag turned on later, or ``add_fase``) take the
  QtaERP stamped at configuration, so all phases of an order plan the same quantity; an
  ERP QTA changed since then is drift (R12), flagged, not silently applied to one phase.
  Creating a fase needs the commessa still open in the ERP; editing texts, the
  documentation block or turning flags off does not need the ERP at all.
- A save that changes nothing writes no audit row and leaves DataModifica alone.
- Audit rows: ``CONFIG_CREATA`` (dopo), ``CONFIG_MODIFICATA`` (prima/dopo of the changed
  columns only), ``CONFIG_ELIMINATA`` (prima), ``FASE_CREATA`` (dopo), ``FASE_ELIMINATA``
  (prima), all with the contract's column names, in the change's own transaction.
- ``add_fase`` for a type that has a flag (SMD, PTH, CONTROLLI) also turns the flag on,
  so the config and its fasi never disagree; other (plant-defined) types have no flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from asigest.domain.actor import Actor
from asigest.domain.quantita import ConsumiFase, qta_disponibili
from asigest.domain.stati import APERTA
from asigest.erp import Commessa, ErpGateway
from asigest.errors import N_, Conflict, InvalidInput, NotFound, RuleViolation
from asigest.models import ConfigCommessa, Fase, FaseTipo, Lotto
from asigest.services import audit
from asigest.services.chunks import chunked
from asigest.services.uow import DbSession, ripete_se_occupato, transaction

# Each phase flag of ConfigCommessa and the FaseTipo code it enables, in flow order.
FLAG_FASI = {"flag_smd": "SMD", "flag_pth": "PTH", "flag_controlli": "CONTROLLI"}

# Column sizes (SPEC §4 / models), shared with the API schemas and the page forms.
MAX_DIBA = 50
MAX_REVISIONE = 20
MAX_NOTE = 2000

_INT32_MAX = 2**31 - 1

# Python attribute → contract column name, for audit rows.
_CONFIG_COLUMNS = {
    "commessa_erp_id": "CommessaERPId",
    "flag_smd": "FlagSMD",
    "flag_pth": "FlagPTH",
    "flag_controlli": "FlagControlli",
    "diba": "DIBA",
    "revisione": "Revisione",
    "note": "Note",
    "bloccata_documentazione": "BloccataDocumentazione",
    "qta_erp": "QtaERP",
}
# What ``update_config`` may change (CommessaERPId never: a config belongs to one order).
MODIFICABILI = ("flag_smd", "flag_pth", "flag_controlli", "diba", "revisione", "note", "bloccata_documentazione")
# text attribute → (contract column, size, message when longer)
_TESTI = {
    "diba": ("DIBA", MAX_DIBA, N_("Al massimo 50 caratteri.")),
    "revisione": ("Revisione", MAX_REVISIONE, N_("Al massimo 20 caratteri.")),
    "note": ("Note", MAX_NOTE, N_("Al massimo 2000 caratteri.")),
}


@dataclass(frozen=True)
class FaseConDisponibile:
    """A fase as pages and the API read it: its columns plus QtaDisponibile (R5)."""

    id: int
    commessa_erp_id: int
    fase_tipo: FaseTipo
    stato: str
    qta_prevista: int
    qta_prodotta: int
    qta_scarti: int
    data_apertura: datetime | None
    data_chiusura: datetime | None
    qta_disponibile: int
    lotti: int

    @property
    def percentuale(self) -> int:
        """Good pieces over planned, in whole percent (may exceed 100)."""
        return self.qta_prodotta * 100 // self.qta_prevista if self.qta_prevista else 0


@dataclass(frozen=True)
class TotaliLotti:
    lotti: int = 0
    output_chiusi: int = 0
    scarti_chiusi: int = 0
    input_aperti: int = 0


# -- reading -------------------------------------------------------------------------


def get_config(session: DbSession, config_id: int) -> ConfigCommessa:
    """One ConfigCommessa by ConfigID.

    Raises NotFound for an unknown id.
    """
    config = session.get(ConfigCommessa, config_id) if 0 < config_id <= _INT32_MAX else None
    if config is None:
        raise NotFound(N_("La configurazione %(id)s non esiste."), id=config_id)
    return config


def get_config_commessa(session: DbSession, commessa_erp_id: int) -> ConfigCommessa:
    """The config of an ERP order.

    Raises NotFound when the order is not configured.
    """
    config = _config_per_commessa(session, commessa_erp_id) if 0 < commessa_erp_id <= _INT32_MAX else None
    if config is None:
        raise NotFound(N_("La commessa %(id)s non è configurata."), id=commessa_erp_id)
    return config


def list_configs(
    session: DbSession, *, limit: int = 100, offset: int = 0, commessa_erp_id: int | None = None
) -> list[ConfigCommessa]:
    """Configs, newest first (ConfigID descending), optionally the one of ``commessa_erp_id``."""
    stmt = select(ConfigCommessa)
    if commessa_erp_id is not None:
        stmt = stmt.where(ConfigCommessa.commessa_erp_id == commessa_erp_id)
    stmt = stmt.order_by(ConfigCommessa.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def fasi_commessa(session: DbSession, erp: ErpGateway, commessa_erp_id: int) -> list[FaseConDisponibile]:
    """The fasi of a commessa in flow order, each with QtaDisponibile (R5).

    The ERP is asked only when the commessa has no fasi, to tell an unconfigured order
    (empty list) from an unknown one: phases stay readable while the ERP is down.
    Raises NotFound when the ERP has no such order, ErpUnavailable when it must be asked
    and does not answer.
    """
    fasi = _fasi_of(session, commessa_erp_id) if 0 < commessa_erp_id <= _INT32_MAX else []
    if not fasi and erp.get(commessa_erp_id) is None:
        raise NotFound(N_("La commessa %(id)s non esiste nel gestionale."), id=commessa_erp_id)
    return con_disponibile(session, fasi)


def con_disponibile(session: DbSession, fasi: Iterable[Fase]) -> list[FaseConDisponibile]:
    """``fasi`` (of one commessa) in flow order, each with its QtaDisponibile (R5).

    One aggregate query over Lotti for all of them, however many lotti they have.
    """
    fasi = list(fasi)
    return con_totali(fasi, totali_lotti(session, [f.id for f in fasi]))


def con_totali(fasi: Iterable[Fase], totali: Mapping[int, TotaliLotti]) -> list[FaseConDisponibile]:
    """``con_disponibile`` with the lotti's totals (``totali_lotti``) already read."""
    ordinate = sorted(fasi, key=lambda f: (f.fase_tipo.ordine, f.fase_tipo_id))
    per_fase = [totali.get(f.id, TotaliLotti()) for f in ordinate]
    disponibili = qta_disponibili(
        [
            ConsumiFase(
                f.qta_prevista,
                output_chiusi=t.output_chiusi,
                scarti_chiusi=t.scarti_chiusi,
                input_aperti=t.input_aperti,
            )
            for f, t in zip(ordinate, per_fase)
        ]
    )
    return [
        FaseConDisponibile(
            id=f.id,
            commessa_erp_id=f.commessa_erp_id,
            fase_tipo=f.fase_tipo,
            stato=f.stato,
            qta_prevista=f.qta_prevista,
            qta_prodotta=f.qta_prodotta,
            qta_scarti=f.qta_scarti,
            data_apertura=f.data_apertura,
            data_chiusura=f.data_chiusura,
            qta_disponibile=disponibile,
            lotti=t.lotti,
        )
        for f, t, disponibile in zip(ordinate, per_fase, disponibili)
    ]


# -- changing ------------------------------------------------------------------------


@ripete_se_occupato
def create_config(
    session: DbSession,
    erp: ErpGateway,
    *,
    actor: Actor | None,
    commessa_erp_id: int,
    flag_smd: bool = True,
    flag_pth: bool = False,
    flag_controlli: bool = True,
    diba: str | None = None,
    revisione: str | None = None,
    note: str | None = None,
) -> ConfigCommessa:
    """Configure an ERP order for production (R1) and create the fasi of its flags (R2).

    Raises RuleViolation (NESSUNA_FASE, COMMESSA_INESISTENTE, COMMESSA_NON_APERTA,
    QTA_ERP_ASSENTE, QTA_ERP_NON_VALIDA, FASE_TIPO_ASSENTE, FASE_TIPO_DISATTIVATO),
    Conflict (CONFIG_ESISTENTE) for an order already configured, InvalidInput for texts
    over their column size, ErpUnavailable when the ERP does not answer.
    """
    flags = {"flag_smd": bool(flag_smd), "flag_pth": bool(flag_pth), "flag_controlli": bool(flag_controlli)}
    testi = _testi({"diba": diba, "revisione": revisione, "note": note})
    _almeno_una_fase(flags)
    esistente = _config_per_commessa(session, commessa_erp_id)
    if esistente is not None:
        raise _gia_configurata(commessa_erp_id, esistente.id)
    commessa = _commessa_configurabile(erp, commessa_erp_id)
    qta = _qta_pianificata(commessa)
    tipo_ids = [t.id for t in _tipi_per_codice(session, [FLAG_FASI[f] for f, on in flags.items() if on])]

    _fine_lettura(session)
    try:
        with transaction(session):
            config = ConfigCommessa(
                commessa_erp_id=commessa_erp_id,
                **flags,
                **testi,
                bloccata_documentazione=False,
                qta_erp=commessa.qta,
                creato_da=actor.utente_id if actor else None,
            )
            session.add(config)
            session.flush()
            audit.record(session, actor, "CONFIG_CREATA", "ConfigCommessa", config.id, dopo=_config_dict(config))
            gia_presenti = {f.fase_tipo_id for f in _fasi_of(session, commessa_erp_id)}
            for tipo_id in tipo_ids:
                if tipo_id not in gia_presenti:
                    _crea_fase(session, actor, commessa_erp_id, tipo_id, qta)
    except IntegrityError:
        # Another request configured the same order between our check and our insert.
        esistente = _config_per_commessa(session, commessa_erp_id)
        if esistente is None:
            raise
        raise _gia_configurata(commessa_erp_id, esistente.id) from None
    return config


@ripete_se_occupato
def update_config(
    session: DbSession, erp: ErpGateway, *, actor: Actor | None, config_id: int, **modifiche: str | bool | None
) -> ConfigCommessa:
    """Change a config; only the keyword arguments given change (names as in ``MODIFICABILI``).

    A flag turned on creates its fase (R2: the commessa must still be open in the ERP);
    a flag turned off removes its fase, refused while that fase has lotti.
    Raises NotFound, RuleViolation (NESSUNA_FASE, FASE_CON_LOTTI,
    FASE_PRIMA_DI_FASE_CON_LOTTI and those of fase creation, see ``create_config``),
    Conflict (MODIFICA_CONCORRENTE), InvalidInput, ErpUnavailable.
    """
    sconosciute = set(modifiche) - set(MODIFICABILI)
    if sconosciute:
        raise TypeError(f"update_config: campi non modificabili {sorted(sconosciute)}")
    config = get_config(session, config_id)
    if any(k in modifiche for k in _TESTI):
        modifiche.update(_testi({k: modifiche[k] for k in _TESTI if k in modifiche}))
    if "bloccata_documentazione" in modifiche:
        modifiche["bloccata_documentazione"] = bool(modifiche["bloccata_documentazione"])
    for flag in FLAG_FASI:
        if flag in modifiche:
            modifiche[flag] = bool(modifiche[flag])

    cambiate = {k: v for k, v in modifiche.items() if getattr(config, k) != v}
    if not cambiate:
        return config
    _almeno_una_fase({f: bool(cambiate.get(f, getattr(config, f))) for f in FLAG_FASI})

    fasi = {f.fase_tipo.codice: f for f in _fasi_of(session, config.commessa_erp_id)}
    da_togliere = [
        fasi[FLAG_FASI[f]] for f, on in cambiate.items() if f in FLAG_FASI and not on and FLAG_FASI[f] in fasi
    ]
    da_creare = [FLAG_FASI[f] for f, on in cambiate.items() if f in FLAG_FASI and on and FLAG_FASI[f] not in fasi]
    _senza_lotti(session, da_togliere, codice="FASE_CON_LOTTI")
    tipi = _tipi_per_codice(session, da_creare)
    qta = _qta_nuove_fasi(erp, config) if tipi else 0  # (no new fase: unused)

    prima = {_CONFIG_COLUMNS[k]: getattr(config, k) for k in cambiate}
    try:
        with transaction(session):
            _non_prima_di_fasi_con_lotti(session, config.commessa_erp_id, tipi)
            for fase in da_togliere:
                _elimina_fase(session, actor, fase)
            for tipo in tipi:
                _crea_fase(session, actor, config.commessa_erp_id, tipo.id, qta)
            for k, v in cambiate.items():
                setattr(config, k, v)
            session.flush()
            audit.record(
                session,
                actor,
                "CONFIG_MODIFICATA",
                "ConfigCommessa",
                config.id,
                prima=prima,
                dopo={_CONFIG_COLUMNS[k]: v for k, v in cambiate.items()},
            )
    except IntegrityError:
        # A concurrent request won: a lotto opened in a fase being removed (the foreign
        # key refused the delete) or the same fase created (UNIQUE CommessaERPId, FaseTipoID).
        _senza_lotti(session, da_togliere, codice="FASE_CON_LOTTI")
        raise _modifica_concorrente() from None
    return config


@ripete_se_occupato
def delete_config(session: DbSession, *, actor: Actor | None, config_id: int) -> None:
    """Delete a config and its fasi (R3), refused while any of its fasi has lotti.

    Raises NotFound, RuleViolation (CONFIG_CON_LOTTI), Conflict (MODIFICA_CONCORRENTE).
    """
    config = get_config(session, config_id)
    fasi = _fasi_of(session, config.commessa_erp_id)
    _senza_lotti(session, fasi, codice="CONFIG_CON_LOTTI")
    prima = _config_dict(config)
    try:
        with transaction(session):
            for fase in fasi:
                _elimina_fase(session, actor, fase)
            session.delete(config)
            session.flush()
            audit.record(session, actor, "CONFIG_ELIMINATA", "ConfigCommessa", config_id, prima=prima)
    except IntegrityError:
        # A lotto opened in one of the fasi meanwhile: the foreign key refused the delete.
        _senza_lotti(session, fasi, codice="CONFIG_CON_LOTTI")
        raise _modifica_concorrente() from None


@ripete_se_occupato
def add_fase(
    session: DbSession, erp: ErpGateway, *, actor: Actor | None, commessa_erp_id: int, fase_tipo: str
) -> FaseConDisponibile:
    """Add one fase of type ``fase_tipo`` (a FaseTipo code) to a configured commessa.

    QtaPrevista is the config's QtaERP; the commessa must still be open in the ERP. For
    SMD/PTH/CONTROLLI the config's flag is turned on too.
    Raises InvalidInput (unknown FaseTipo), RuleViolation (CONFIG_ASSENTE,
    FASE_TIPO_DISATTIVATO, FASE_PRIMA_DI_FASE_CON_LOTTI, COMMESSA_NON_APERTA…),
    Conflict (FASE_ESISTENTE), ErpUnavailable.
    """
    tipo = session.scalar(select(FaseTipo).where(FaseTipo.codice == (fase_tipo or "").strip().upper()))
    if tipo is None:
        raise InvalidInput(
            {"FaseTipo": [N_("Tipo di fase sconosciuto: usare uno dei codici del catalogo (es. SMD, PTH, CONTROLLI).")]}
        )
    config = _config_per_commessa(session, commessa_erp_id)
    if config is None:
        raise RuleViolation(
            N_("La commessa %(id)s non è configurata: configurarla prima di aggiungere fasi."),
            code="CONFIG_ASSENTE",
            id=commessa_erp_id,
        )
    if any(f.fase_tipo_id == tipo.id for f in _fasi_of(session, commessa_erp_id)):
        raise _fase_esistente(tipo.codice, commessa_erp_id)
    _tipo_attivo(tipo)
    qta = _qta_nuove_fasi(erp, config)
    flag = next((f for f, codice in FLAG_FASI.items() if codice == tipo.codice), None)
    tipo_id, codice = tipo.id, tipo.codice

    _fine_lettura(session)
    try:
        with transaction(session):
            _non_prima_di_fasi_con_lotti(session, commessa_erp_id, [tipo])
            fase = _crea_fase(session, actor, commessa_erp_id, tipo_id, qta)
            if flag and not getattr(config, flag):
                setattr(config, flag, True)
                session.flush()
                audit.record(
                    session,
                    actor,
                    "CONFIG_MODIFICATA",
                    "ConfigCommessa",
                    config.id,
                    prima={_CONFIG_COLUMNS[flag]: False},
                    dopo={_CONFIG_COLUMNS[flag]: True},
                )
    except IntegrityError:
        # The same fase added by another request at the same instant (UNIQUE CommessaERPId, FaseTipoID).
        raise _fase_esistente(codice, commessa_erp_id) from None
    # Availability depends on the fase before it, so compute it over the whole commessa.
    return next(f for f in con_disponibile(session, _fasi_of(session, commessa_erp_id)) if f.id == fase.id)


# -- rules and helpers ---------------------------------------------------------------


def _fine_lettura(session: DbSession) -> None:
    """End the transaction the checks read in, so that the write starts a fresh one.

    On SQLite a transaction that has read cannot write once another connection has
    committed after its first read ("database is locked", whatever the busy timeout).
    Starting the write afresh with the INSERT turns a concurrent duplicate into the
    UNIQUE violation that the caller answers with 409. Nothing is pending: checks only read.
    """
    session.commit()


def _almeno_una_fase(flags: dict[str, bool]) -> None:
    if not any(flags.values()):
        raise RuleViolation(
            N_("Scegliere almeno una fase (SMD, PTH o CONTROLLI): una commessa senza fasi non si può produrre."),
            code="NESSUNA_FASE",
        )


def _testi(valori: Mapping[str, str | bool | None]) -> dict[str, str | None]:
    """Trimmed texts, empty → None; InvalidInput when one is longer than its column."""
    puliti: dict[str, str | None] = {}
    errori: dict[str, list[str]] = {}
    for nome, valore in valori.items():
        if isinstance(valore, bool):
            raise TypeError(f"{nome} è un testo, non {valore!r}")
        testo = (valore or "").strip() or None
        colonna, massimo, messaggio = _TESTI[nome]
        if testo is not None and len(testo) > massimo:
            errori[colonna] = [messaggio]
        puliti[nome] = testo
    if errori:
        raise InvalidInput(errori)
    return puliti


def _config_per_commessa(session: DbSession, commessa_erp_id: int) -> ConfigCommessa | None:
    return session.scalar(select(ConfigCommessa).where(ConfigCommessa.commessa_erp_id == commessa_erp_id))


def _fasi_of(session: DbSession, commessa_erp_id: int) -> list[Fase]:
    return list(
        session.scalars(
            select(Fase)
            .join(FaseTipo)
            .where(Fase.commessa_erp_id == commessa_erp_id)
            .order_by(FaseTipo.ordine, Fase.fase_tipo_id)
        )
    )


def _gia_configurata(commessa_erp_id: int, config_id: int) -> Conflict:
    return Conflict(
        N_("La commessa %(id)s è già configurata (configurazione %(config_id)s): modificare quella esistente."),
        code="CONFIG_ESISTENTE",
        id=commessa_erp_id,
        config_id=config_id,
    )


def _fase_esistente(codice: str, commessa_erp_id: int) -> Conflict:
    return Conflict(
        N_("La fase %(fase)s esiste già per la commessa %(id)s."),
        code="FASE_ESISTENTE",
        fase=codice,
        id=commessa_erp_id,
    )


def _commessa_configurabile(erp: ErpGateway, commessa_erp_id: int) -> Commessa:
    """R1: the ERP has the order and it is open."""
    commessa = erp.get(commessa_erp_id)
    if commessa is None:
        raise RuleViolation(
            N_("La commessa %(id)s non esiste nel gestionale: controllare il numero."),
            code="COMMESSA_INESISTENTE",
            id=commessa_erp_id,
        )
    if not commessa.aperta:
        raise RuleViolation(
            N_(
                "La commessa %(numero)s non è aperta nel gestionale (stato «%(stato)s»): si possono configurare solo commesse aperte."
            ),
            code="COMMESSA_NON_APERTA",
            numero=commessa.numero,
            stato=commessa.statocommessa or "—",
        )
    return commessa


def _qta_pianificata(commessa: Commessa) -> int:
    """R2: the fasi plan the ERP's QTA, which must be a positive number."""
    if commessa.qta is None:
        raise RuleViolation(
            N_("La commessa %(numero)s non ha la quantità nel gestionale: indicarla in ASITRON e riprovare."),
            code="QTA_ERP_ASSENTE",
            numero=commessa.numero,
        )
    if commessa.qta <= 0:
        raise RuleViolation(
            N_("La commessa %(numero)s ha quantità %(qta)s nel gestionale: correggerla in ASITRON e riprovare."),
            code="QTA_ERP_NON_VALIDA",
            numero=commessa.numero,
            qta=commessa.qta,
        )
    return commessa.qta


def _qta_nuove_fasi(erp: ErpGateway, config: ConfigCommessa) -> int:
    """QtaPrevista for a fase created after configuration: the commessa must still be
    open; the quantity is the QtaERP stamped at configuration (see module docstring)."""
    commessa = _commessa_configurabile(erp, config.commessa_erp_id)
    if config.qta_erp is not None and config.qta_erp > 0:
        return config.qta_erp
    return _qta_pianificata(commessa)


def _tipi_per_codice(session: DbSession, codici: list[str]) -> list[FaseTipo]:
    """The FaseTipo rows for ``codici`` in flow order; each must exist and be active."""
    if not codici:
        return []
    tipi = {t.codice: t for t in session.scalars(select(FaseTipo).where(FaseTipo.codice.in_(codici)))}
    for codice in codici:
        if codice not in tipi:
            raise RuleViolation(
                N_("Il tipo di fase %(fase)s manca dal catalogo: farlo aggiungere da un amministratore."),
                code="FASE_TIPO_ASSENTE",
                fase=codice,
            )
        _tipo_attivo(tipi[codice])
    return sorted(tipi.values(), key=lambda t: (t.ordine, t.id))


def _tipo_attivo(tipo: FaseTipo) -> None:
    if not tipo.attivo:
        raise RuleViolation(
            N_("Il tipo di fase %(fase)s è disattivato: farlo riattivare da un amministratore o toglierlo."),
            code="FASE_TIPO_DISATTIVATO",
            fase=tipo.codice,
        )


def totali_lotti(session: DbSession, fase_ids: list[int]) -> dict[int, TotaliLotti]:
    """Per FaseID: lotti count, Σ output and Σ scrap of closed lotti, Σ input of open ones.

    One statement per 2,000 fasi, grouped by FaseID. Open and closed are told apart with
    conditional sums rather than a GROUP BY on ``DataFine IS NULL``, which SQL Server
    cannot select; open lotti have NULL QtaOutput/QtaScarti (CHECK ``chiusura``), so the
    plain sums are the closed lotti's.
    """
    found: dict[int, TotaliLotti] = {}
    for chunk in chunked(sorted(set(fase_ids))):
        stmt = (
            select(
                Lotto.fase_id,
                func.count(Lotto.id),
                func.sum(Lotto.qta_output),
                func.sum(Lotto.qta_scarti),
                func.sum(case((Lotto.data_fine.is_(None), Lotto.qta_input))),
            )
            .where(Lotto.fase_id.in_(chunk))
            .group_by(Lotto.fase_id)
        )
        for fase_id, lotti, output, scarti, aperti in session.execute(stmt):
            found[fase_id] = TotaliLotti(
                lotti=lotti, output_chiusi=output or 0, scarti_chiusi=scarti or 0, input_aperti=aperti or 0
            )
    return found


def _senza_lotti(session: DbSession, fasi: list[Fase], *, codice: str) -> None:
    """R2/R3: refuse when any of ``fasi`` has lotti, naming those phases."""
    if not fasi:
        return
    totali = totali_lotti(session, [f.id for f in fasi])
    con_lotti = [f for f in fasi if totali.get(f.id, TotaliLotti()).lotti]
    if con_lotti:
        raise _fasi_con_lotti(con_lotti, codice)


def fasi_bloccate(session: DbSession, commessa_erp_id: int) -> list[Fase]:
    """Every fase of an order, locked until commit (PostgreSQL, SQL Server) in FaseID
    order — the same order for every caller, so lockers never wait on each other in a
    cycle; a kiosk open locks its one fase the same way."""
    return list(
        session.scalars(
            select(Fase).where(Fase.commessa_erp_id == commessa_erp_id).order_by(Fase.id).with_for_update(of=Fase)
        )
    )


def _non_prima_di_fasi_con_lotti(session: DbSession, commessa_erp_id: int, tipi: list[FaseTipo]) -> None:
    """R2: refuse a new fase of any of ``tipi`` that would come, in flow order, before a
    fase of the order that already has lotti (naming those phases).

    Reads with the order's fasi locked: a first lotto committed meanwhile is counted,
    and an open waiting on its fase sees the new fase (and R5's answer) after us.
    """
    if not tipi:
        return
    fasi = fasi_bloccate(session, commessa_erp_id)
    totali = totali_lotti(session, [f.id for f in fasi])
    con_lotti = [f for f in fasi if totali.get(f.id, TotaliLotti()).lotti]
    for tipo in tipi:
        dopo = [f for f in con_lotti if (tipo.ordine, tipo.id) < (f.fase_tipo.ordine, f.fase_tipo_id)]
        if dopo:
            raise RuleViolation(
                N_(
                    "La fase %(fase)s non si può aggiungere: verrebbe prima della fase %(lavorata)s, che ha già "
                    "lotti, e quei pezzi risulterebbero mai prodotti a monte. Si possono aggiungere solo fasi che "
                    "vengono dopo quelle già lavorate."
                ),
                code="FASE_PRIMA_DI_FASE_CON_LOTTI",
                fase=tipo.codice,
                lavorata=", ".join(f.fase_tipo.codice for f in sorted(dopo, key=lambda f: f.fase_tipo.ordine)),
            )


def _modifica_concorrente() -> Conflict:
    return Conflict(
        N_(
            "Un'altra modifica a questa commessa è stata salvata nello stesso momento: ricaricare la pagina e riprovare."
        ),
        code="MODIFICA_CONCORRENTE",
    )


def _fasi_con_lotti(fasi: list[Fase], codice: str) -> RuleViolation:
    nomi = ", ".join(f.fase_tipo.codice for f in fasi)
    if codice == "CONFIG_CON_LOTTI":
        return RuleViolation(
            N_(
                "La configurazione non si può eliminare: la fase %(fase)s ha già lotti. "
                "Per fermare la produzione, sospendere la fase."
            ),
            code=codice,
            fase=nomi,
        )
    return RuleViolation(
        N_("La fase %(fase)s ha già lotti e non si può togliere: lasciarla attiva e, per fermarla, sospenderla."),
        code=codice,
        fase=nomi,
    )


def _crea_fase(session: DbSession, actor: Actor | None, commessa_erp_id: int, fase_tipo_id: int, qta: int) -> Fase:
    fase = Fase(
        commessa_erp_id=commessa_erp_id,
        fase_tipo_id=fase_tipo_id,
        stato=APERTA,
        qta_prevista=qta,
        qta_prodotta=0,
        qta_scarti=0,
    )
    session.add(fase)
    session.flush()
    audit.record(session, actor, "FASE_CREATA", "Fasi", fase.id, dopo=_fase_dict(fase))
    return fase


def _elimina_fase(session: DbSession, actor: Actor | None, fase: Fase) -> None:
    prima, fase_id = _fase_dict(fase), fase.id
    session.delete(fase)
    session.flush()
    audit.record(session, actor, "FASE_ELIMINATA", "Fasi", fase_id, prima=prima)


def _config_dict(config: ConfigCommessa) -> dict[str, object]:
    return {column: getattr(config, attr) for attr, column in _CONFIG_COLUMNS.items()}


def _fase_dict(fase: Fase) -> dict[str, object]:
    return {
        "FaseID": fase.id,
        "CommessaERPId": fase.commessa_erp_id,
        "FaseTipo": fase.fase_tipo.codice,
        "Stato": fase.stato,
        "QtaPrevista": fase.qta_prevista,
        "QtaProdotta": fase.qta_prodotta,
        "QtaScarti": fase.qta_scarti,
    }
