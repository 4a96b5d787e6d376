"""States of a fase and of a lotto."""

APERTA = "APERTA"
IN_CORSO = "IN_CORSO"
SOSPESA = "SOSPESA"
COMPLETATA = "COMPLETATA"

STATI_FASE = (APERTA, IN_CORSO, SOSPESA, COMPLETATA)

# A lotto's state is derived from DataFine, never stored.
LOTTO_APERTO = "APERTO"
LOTTO_CHIUSO = "CHIUSO"
