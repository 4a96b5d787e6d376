"""The read-only gateway to the ASITRON ERP. Nothing outside this package knows ERP column names."""

from asigest.erp.gateway import Commessa, ErpGateway, parse_numero_commessa

__all__ = ["Commessa", "ErpGateway", "parse_numero_commessa"]
