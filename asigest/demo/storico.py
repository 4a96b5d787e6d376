"""The demo's rows in ASI_GEST: its people (through ``auth.create_user``), then machines,
configured commesse, fasi, lotti and their audit history, from the simulation."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import select, true

from asigest.demo.cast import MACCHINE, SUPERVISORE, UTENTI
from asigest.demo.erp import Articolo
from asigest.demo.simulazione import (
    GIORNI_STORICO,
    ConfigPiano,
    FaseSim,
    LottoSim,
    Simulazione,
    fasi_del_piano,
    scegli_configurate,
)
from asigest.domain.actor import Actor
from asigest.domain.stati import APERTA, COMPLETATA, IN_CORSO
from asigest.models import CausaleScarto, ConfigCommessa, Fase, FaseTipo, Lotto, Macchina, Utente
from asigest.services import audit, auth, origini


def utenti_demo(session) -> dict[str, Utente]:
    """The demo users by matricola, created where missing (one commit each, by create_user)."""
    utenti = {}
    for u in UTENTI:
        esistente = session.scalar(select(Utente).where(Utente.matricola == u.matricola))
        utenti[u.matricola] = esistente or auth.create_user(
            session,
            actor=None,
            matricola=u.matricola,
            nome=u.nome,
            cognome=u.cognome,
            ruolo=u.ruolo,
            password=u.password,
            pin=u.pin,
        )
    return utenti


def crea_storico(
    session, rng: random.Random, ordini: list[dict], articoli: list[Articolo], utenti: dict[str, Utente], now: datetime
) -> None:
    """Machines, configs, fasi, lotti and their audit rows, inside the caller's transaction."""
    tipi = {ft.codice: ft for ft in session.scalars(select(FaseTipo).order_by(FaseTipo.ordine, FaseTipo.id))}
    macchine = _salva_macchine(session, tipi)
    per_tipo, id_causali = _causali(session, tipi)
    piani = scegli_configurate(rng, ordini, {a.codart: a for a in articoli}, now)
    fasi_sim = fasi_del_piano(piani, list(tipi))
    lotti_sim = Simulazione(rng, fasi_sim, per_tipo, now).esegui(now - timedelta(days=GIORNI_STORICO))

    supervisore = utenti[SUPERVISORE.matricola]
    configs = [_salva_config(session, piano, supervisore) for piano in piani]
    fasi = {fs: _salva_fase(session, fs, tipi[fs.tipo]) for fs in fasi_sim}
    piano_di = {p.ordine["ID"]: p for p in piani}
    lotti = [
        _salva_lotto(session, ls, fasi[ls.fase], piano_di[ls.fase.commessa_id], macchine, utenti, id_causali)
        for ls in lotti_sim
    ]
    session.flush()
    # R14: the draws, as the kiosk would have recorded them opening and closing these lotti.
    origini.ricostruisci_storico(session.connection())
    _scrivi_eventi(session, piani, configs, supervisore, lotti_sim, lotti, utenti)


def _salva_macchine(session, tipi: dict[str, FaseTipo]) -> dict[str, Macchina]:
    macchine = {
        m.codice: Macchina(
            codice=m.codice, descrizione=m.descrizione, fase_tipo_id=tipi[m.fase].id, reparto=m.reparto, attiva=True
        )
        for m in MACCHINE
    }
    session.add_all(macchine.values())
    return macchine


def _causali(session, tipi: dict[str, FaseTipo]) -> tuple[dict[str, list[str]], dict[str, int]]:
    """Active scrap reasons valid per phase type (R7), the phase's own ones three times
    as likely as the generic ones; and their ids by code."""
    query = select(CausaleScarto).where(CausaleScarto.attiva == true()).order_by(CausaleScarto.codice)
    attive = list(session.scalars(query))
    per_tipo = {}
    for codice, tipo in tipi.items():
        proprie = [c.codice for c in attive if c.fase_tipo_id == tipo.id]
        generiche = [c.codice for c in attive if c.fase_tipo_id is None]
        per_tipo[codice] = proprie * 3 + generiche
    return per_tipo, {c.codice: c.id for c in attive}


def _salva_config(session, piano: ConfigPiano, supervisore: Utente) -> ConfigCommessa:
    fasi = piano.articolo.fasi
    config = ConfigCommessa(
        commessa_erp_id=piano.ordine["ID"],
        flag_smd="SMD" in fasi,
        flag_pth="PTH" in fasi,
        flag_controlli="CONTROLLI" in fasi,
        diba=piano.articolo.diba,
        revisione=piano.articolo.revisione,
        note=piano.nota,
        data_creazione=piano.creata,
        bloccata_documentazione=piano.bloccata,
        qta_erp=piano.ordine["QTA"],
        creato_da=supervisore.id,
    )
    session.add(config)
    return config


def _salva_fase(session, fs: FaseSim, tipo: FaseTipo) -> Fase:
    """The Fase row with its R8 totals and state, computed from the simulated lotti."""
    chiusi = [lt.chiusura() for lt in fs.lotti if lt.fine is not None]  # (fine, buoni, scarti)
    prodotta = sum(buoni for _fine, buoni, _scarti in chiusi)
    fase = Fase(
        commessa_erp_id=fs.commessa_id,
        fase_tipo_id=tipo.id,
        stato=APERTA,
        qta_prevista=fs.prevista,
        qta_prodotta=prodotta,
        qta_scarti=sum(scarti for _fine, _buoni, scarti in chiusi),
        data_apertura=fs.lotti[0].inizio if fs.lotti else None,
    )
    if fs.lotti:
        fase.stato = IN_CORSO
    if fs.lotti and len(chiusi) == len(fs.lotti) and prodotta >= fs.prevista:
        fase.stato = COMPLETATA
        fase.data_chiusura = max(fine for fine, _buoni, _scarti in chiusi)
    session.add(fase)
    return fase


def _salva_lotto(session, ls: LottoSim, fase: Fase, piano: ConfigPiano, macchine, utenti, id_causali) -> Lotto:
    ordine = piano.ordine
    lotto = Lotto(
        fase=fase,
        progressivo=ls.progressivo,
        codice_lotto=f"{ordine['ESERCIZIO']}-{ordine['NUMEROCOM']}-{ls.fase.tipo}-{ls.progressivo:03d}",
        data_inizio=ls.inizio,
        data_fine=ls.fine,
        qta_input=ls.qta_input,
        qta_output=ls.qta_output,
        qta_scarti=ls.qta_scarti,
        causale_id=id_causali[ls.causale] if ls.causale else None,
        note_scarti=ls.note_scarti,
        operatore_id=utenti[ls.operatore].id,
        operatore_chiusura_id=utenti[ls.operatore_chiusura].id if ls.operatore_chiusura else None,
        macchina=macchine[ls.macchina],
        diba=piano.articolo.diba,
        revisione=piano.articolo.revisione,
    )
    session.add(lotto)
    return lotto


def _scrivi_eventi(session, piani, configs, supervisore: Utente, lotti_sim, lotti, utenti) -> None:
    """The audit history, added in time order so LogID and DataOra agree."""
    eventi: list[tuple[datetime, Actor, str, str, int, dict[str, object] | None, dict[str, object]]] = []
    chi_configura = auth.actor_for(supervisore)
    for piano, config in zip(piani, configs):
        dopo = {
            "CommessaERPId": config.commessa_erp_id,
            "FlagSMD": config.flag_smd,
            "FlagPTH": config.flag_pth,
            "FlagControlli": config.flag_controlli,
            "DIBA": config.diba,
            "Revisione": config.revisione,
            "QtaERP": config.qta_erp,
            "BloccataDocumentazione": config.bloccata_documentazione,
        }
        eventi.append((piano.creata, chi_configura, "CONFIG_CREATA", "ConfigCommessa", config.id, None, dopo))
    for ls, lotto in zip(lotti_sim, lotti):
        postazione = ls.macchina
        aperto = {
            "CodiceLotto": lotto.codice_lotto,
            "FaseID": lotto.fase_id,
            "FaseTipo": ls.fase.tipo,
            "QtaInput": lotto.qta_input,
            "MacchinaID": lotto.macchina_id,
            "OperatoreID": lotto.operatore_id,
        }
        chi_apre = auth.actor_for(utenti[ls.operatore], postazione)
        eventi.append((ls.inizio, chi_apre, "LOTTO_APERTO", "Lotti", lotto.id, None, aperto))
        if ls.fine is not None:
            chiuso = {
                "CodiceLotto": lotto.codice_lotto,
                "QtaOutput": lotto.qta_output,
                "QtaScarti": lotto.qta_scarti,
                "CausaleScarto": ls.causale,
                "NoteScarti": lotto.note_scarti,
            }
            chi_chiude = auth.actor_for(utenti[ls.operatore_chiusura], postazione)
            eventi.append((ls.fine, chi_chiude, "LOTTO_CHIUSO", "Lotti", lotto.id, {"Stato": "APERTO"}, chiuso))
    eventi.sort(key=lambda e: e[0])
    for quando, actor, azione, entita, entita_id, prima, dopo in eventi:
        evento = audit.record(session, actor, azione, entita, entita_id, prima=prima, dopo=dopo)
        # History happened in the past: the row carries the instant of the event itself.
        evento.data_ora = quando
