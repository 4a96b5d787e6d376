"""ASI_GEST tables (ORM). Table and column names are the contract of SPEC §4."""

from asigest.models.accessi import TentativoAccesso
from asigest.models.audit import LogEvento
from asigest.models.catalog import CausaleScarto, FaseTipo, Macchina
from asigest.models.commesse import ConfigCommessa, Fase
from asigest.models.commesse_aperte import CommessaAperta, StatoCommesseAperte
from asigest.models.documenti import DocumentoTecnico
from asigest.models.fermi import CalendarioTurni, CausaleFermo, Fermo, TempoCiclo
from asigest.models.lotti import Lotto
from asigest.models.origini import LottoOrigine
from asigest.models.richieste import RichiestaEseguita
from asigest.models.riepiloghi import KpiGiorno, KpiOperatoreGiorno, KpiProduzioneGiorno, KpiRiepilogo, KpiScartiGiorno
from asigest.models.sessioni import Sessione
from asigest.models.utenti import ApiToken, Utente

__all__ = [
    "ApiToken",
    "CalendarioTurni",
    "CausaleFermo",
    "CausaleScarto",
    "CommessaAperta",
    "ConfigCommessa",
    "DocumentoTecnico",
    "Fase",
    "FaseTipo",
    "Fermo",
    "KpiGiorno",
    "KpiOperatoreGiorno",
    "KpiProduzioneGiorno",
    "KpiScartiGiorno",
    "KpiRiepilogo",
    "LogEvento",
    "Lotto",
    "LottoOrigine",
    "Macchina",
    "RichiestaEseguita",
    "Sessione",
    "StatoCommesseAperte",
    "TempoCiclo",
    "TentativoAccesso",
    "Utente",
]
