"""Schema iniziale di ASI_GEST (SPEC §4).

Revision ID: 0001
Revises:
Create Date: 2026-11-26

Written to run unchanged on SQLite, PostgreSQL and SQL Server: CHECK constraints that
involve booleans are SQLAlchemy expressions (``= true`` on PostgreSQL, ``= 1``
elsewhere), datetimes are plain ``DateTime`` holding UTC (``datetime2`` on SQL Server).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

# revision identifiers, used by Alembic.
revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# CHECKs are expressions, not SQL text, so each database gets its own quoting and
# boolean literals. ``DateTime`` holds UTC; on SQL Server it is ``datetime2``.
c = sa.column
_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")

# One open lotto per machine: a filtered unique index on all three databases.
_lotto_aperto = c("DataFine").is_(None)


def upgrade():
    op.create_table(
        "FaseTipo",
        sa.Column("FaseTipoID", sa.Integer(), nullable=False),
        sa.Column("Codice", sa.Unicode(length=20), nullable=False),
        sa.Column("Descrizione", sa.Unicode(length=100), nullable=False),
        sa.Column("Ordine", sa.Integer(), nullable=False),
        sa.Column("DocumentiRichiesti", sa.JSON(), nullable=False),
        sa.Column("Attivo", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("FaseTipoID", name=op.f("PK_FaseTipo")),
        sa.UniqueConstraint("Codice", name=op.f("UQ_FaseTipo_Codice")),
    )
    op.create_table(
        "Utenti",
        sa.Column("UtenteID", sa.Integer(), nullable=False),
        sa.Column("Matricola", sa.Unicode(length=30), nullable=False),
        sa.Column("Nome", sa.Unicode(length=60), nullable=False),
        sa.Column("Cognome", sa.Unicode(length=60), nullable=False),
        sa.Column("Ruolo", sa.String(length=20), nullable=False),
        sa.Column("PinHash", sa.String(length=255), nullable=True),
        sa.Column("PasswordHash", sa.String(length=255), nullable=True),
        sa.Column("Attivo", sa.Boolean(), nullable=False),
        sa.Column("DataCreazione", _UTC, nullable=False),
        sa.Column("UltimoAccesso", _UTC, nullable=True),
        sa.CheckConstraint(c("Ruolo").in_(["OPERATORE", "SUPERVISORE", "ADMIN"]), name=op.f("CK_Utenti_ruolo")),
        sa.PrimaryKeyConstraint("UtenteID", name=op.f("PK_Utenti")),
        sa.UniqueConstraint("Matricola", name=op.f("UQ_Utenti_Matricola")),
    )
    op.create_table(
        "ApiToken",
        sa.Column("TokenID", sa.Integer(), nullable=False),
        sa.Column("UtenteID", sa.Integer(), nullable=False),
        sa.Column("TokenHash", sa.String(length=64), nullable=False),
        sa.Column("Prefisso", sa.String(length=12), nullable=False),
        sa.Column("Descrizione", sa.Unicode(length=100), nullable=True),
        sa.Column("DataCreazione", _UTC, nullable=False),
        sa.Column("DataRevoca", _UTC, nullable=True),
        sa.ForeignKeyConstraint(["UtenteID"], ["Utenti.UtenteID"], name=op.f("FK_ApiToken_UtenteID_Utenti")),
        sa.PrimaryKeyConstraint("TokenID", name=op.f("PK_ApiToken")),
        sa.UniqueConstraint("TokenHash", name=op.f("UQ_ApiToken_TokenHash")),
    )
    with op.batch_alter_table("ApiToken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_ApiToken_UtenteID"), ["UtenteID"], unique=False)

    op.create_table(
        "CausaliScarto",
        sa.Column("CausaleID", sa.Integer(), nullable=False),
        sa.Column("Codice", sa.Unicode(length=30), nullable=False),
        sa.Column("Descrizione", sa.Unicode(length=200), nullable=False),
        sa.Column("FaseTipoID", sa.Integer(), nullable=True),
        sa.Column("Attiva", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_CausaliScarto_FaseTipoID_FaseTipo")
        ),
        sa.PrimaryKeyConstraint("CausaleID", name=op.f("PK_CausaliScarto")),
        sa.UniqueConstraint("Codice", name=op.f("UQ_CausaliScarto_Codice")),
    )
    with op.batch_alter_table("CausaliScarto", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_CausaliScarto_FaseTipoID"), ["FaseTipoID"], unique=False)

    op.create_table(
        "ConfigCommessa",
        sa.Column("ConfigID", sa.Integer(), nullable=False),
        sa.Column("CommessaERPId", sa.Integer(), nullable=False),
        sa.Column("FlagSMD", sa.Boolean(), nullable=False),
        sa.Column("FlagPTH", sa.Boolean(), nullable=False),
        sa.Column("FlagControlli", sa.Boolean(), nullable=False),
        sa.Column("DIBA", sa.Unicode(length=50), nullable=True),
        sa.Column("Revisione", sa.Unicode(length=20), nullable=True),
        sa.Column("Note", sa.Unicode(length=2000), nullable=True),
        sa.Column("DataCreazione", _UTC, nullable=False),
        sa.Column("DataModifica", _UTC, nullable=True),
        sa.Column("BloccataDocumentazione", sa.Boolean(), nullable=False),
        sa.Column("QtaERP", sa.Integer(), nullable=True),
        sa.Column("CreatoDa", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            sa.or_(c("FlagSMD") == sa.true(), c("FlagPTH") == sa.true(), c("FlagControlli") == sa.true()),
            name=op.f("CK_ConfigCommessa_almeno_una_fase"),
        ),
        sa.ForeignKeyConstraint(["CreatoDa"], ["Utenti.UtenteID"], name=op.f("FK_ConfigCommessa_CreatoDa_Utenti")),
        sa.PrimaryKeyConstraint("ConfigID", name=op.f("PK_ConfigCommessa")),
        sa.UniqueConstraint("CommessaERPId", name=op.f("UQ_ConfigCommessa_CommessaERPId")),
    )
    with op.batch_alter_table("ConfigCommessa", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_ConfigCommessa_CreatoDa"), ["CreatoDa"], unique=False)

    op.create_table(
        "DocumentiTecnici",
        sa.Column("DocumentoID", sa.Integer(), nullable=False),
        sa.Column("CommessaERPId", sa.Integer(), nullable=True),
        sa.Column("CODART", sa.Unicode(length=30), nullable=True),
        sa.Column("Tipo", sa.String(length=30), nullable=False),
        sa.Column("Titolo", sa.Unicode(length=200), nullable=False),
        sa.Column("NomeFile", sa.Unicode(length=255), nullable=False),
        sa.Column("ContentType", sa.String(length=100), nullable=False),
        sa.Column("Dimensione", sa.BigInteger(), nullable=False),
        sa.Column("Sha256", sa.String(length=64), nullable=False),
        sa.Column("Revisione", sa.Unicode(length=20), nullable=True),
        sa.Column("DataCaricamento", _UTC, nullable=False),
        sa.Column("CaricatoDa", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            sa.or_(c("CommessaERPId").is_not(None), c("CODART").is_not(None)),
            name=op.f("CK_DocumentiTecnici_destinazione"),
        ),
        sa.CheckConstraint(c("Dimensione") >= 0, name=op.f("CK_DocumentiTecnici_dimensione")),
        sa.ForeignKeyConstraint(
            ["CaricatoDa"], ["Utenti.UtenteID"], name=op.f("FK_DocumentiTecnici_CaricatoDa_Utenti")
        ),
        sa.PrimaryKeyConstraint("DocumentoID", name=op.f("PK_DocumentiTecnici")),
    )
    with op.batch_alter_table("DocumentiTecnici", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_DocumentiTecnici_CODART"), ["CODART"], unique=False)
        batch_op.create_index(batch_op.f("IX_DocumentiTecnici_CaricatoDa"), ["CaricatoDa"], unique=False)
        batch_op.create_index(batch_op.f("IX_DocumentiTecnici_CommessaERPId"), ["CommessaERPId"], unique=False)
        batch_op.create_index(batch_op.f("IX_DocumentiTecnici_Sha256"), ["Sha256"], unique=False)

    op.create_table(
        "Fasi",
        sa.Column("FaseID", sa.Integer(), nullable=False),
        sa.Column("CommessaERPId", sa.Integer(), nullable=False),
        sa.Column("FaseTipoID", sa.Integer(), nullable=False),
        sa.Column("Stato", sa.String(length=20), nullable=False),
        sa.Column("QtaPrevista", sa.Integer(), nullable=False),
        sa.Column("QtaProdotta", sa.Integer(), nullable=False),
        sa.Column("QtaScarti", sa.Integer(), nullable=False),
        sa.Column("DataApertura", _UTC, nullable=True),
        sa.Column("DataChiusura", _UTC, nullable=True),
        sa.CheckConstraint(c("QtaPrevista") >= 0, name=op.f("CK_Fasi_qta_prevista")),
        sa.CheckConstraint(c("QtaProdotta") >= 0, name=op.f("CK_Fasi_qta_prodotta")),
        sa.CheckConstraint(c("QtaScarti") >= 0, name=op.f("CK_Fasi_qta_scarti")),
        sa.CheckConstraint(c("Stato").in_(["APERTA", "IN_CORSO", "SOSPESA", "COMPLETATA"]), name=op.f("CK_Fasi_stato")),
        sa.ForeignKeyConstraint(["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_Fasi_FaseTipoID_FaseTipo")),
        sa.PrimaryKeyConstraint("FaseID", name=op.f("PK_Fasi")),
        sa.UniqueConstraint("CommessaERPId", "FaseTipoID", name=op.f("UQ_Fasi_CommessaERPId_FaseTipoID")),
    )
    with op.batch_alter_table("Fasi", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_Fasi_FaseTipoID"), ["FaseTipoID"], unique=False)

    op.create_table(
        "LogEventi",
        sa.Column("LogID", sa.Integer(), nullable=False),
        sa.Column("DataOra", _UTC, nullable=False),
        sa.Column("UtenteID", sa.Integer(), nullable=True),
        sa.Column("Postazione", sa.Unicode(length=100), nullable=True),
        sa.Column("Azione", sa.String(length=40), nullable=False),
        sa.Column("Entita", sa.String(length=40), nullable=False),
        sa.Column("EntitaID", sa.Integer(), nullable=True),
        sa.Column("Dettagli", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["UtenteID"], ["Utenti.UtenteID"], name=op.f("FK_LogEventi_UtenteID_Utenti")),
        sa.PrimaryKeyConstraint("LogID", name=op.f("PK_LogEventi")),
    )
    with op.batch_alter_table("LogEventi", schema=None) as batch_op:
        batch_op.create_index("IX_LogEventi_Azione_DataOra", ["Azione", "DataOra"], unique=False)
        batch_op.create_index(batch_op.f("IX_LogEventi_DataOra"), ["DataOra"], unique=False)
        batch_op.create_index("IX_LogEventi_Entita_EntitaID", ["Entita", "EntitaID"], unique=False)
        batch_op.create_index("IX_LogEventi_UtenteID_DataOra", ["UtenteID", "DataOra"], unique=False)

    op.create_table(
        "Macchine",
        sa.Column("MacchinaID", sa.Integer(), nullable=False),
        sa.Column("Codice", sa.Unicode(length=30), nullable=False),
        sa.Column("Descrizione", sa.Unicode(length=100), nullable=False),
        sa.Column("FaseTipoID", sa.Integer(), nullable=False),
        sa.Column("Reparto", sa.Unicode(length=50), nullable=True),
        sa.Column("Attiva", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_Macchine_FaseTipoID_FaseTipo")),
        sa.PrimaryKeyConstraint("MacchinaID", name=op.f("PK_Macchine")),
        sa.UniqueConstraint("Codice", name=op.f("UQ_Macchine_Codice")),
    )
    with op.batch_alter_table("Macchine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_Macchine_FaseTipoID"), ["FaseTipoID"], unique=False)

    op.create_table(
        "Lotti",
        sa.Column("LottoID", sa.Integer(), nullable=False),
        sa.Column("FaseID", sa.Integer(), nullable=False),
        sa.Column("Progressivo", sa.Integer(), nullable=False),
        sa.Column("CodiceLotto", sa.Unicode(length=40), nullable=False),
        sa.Column("DataInizio", _UTC, nullable=False),
        sa.Column("DataFine", _UTC, nullable=True),
        sa.Column("QtaInput", sa.Integer(), nullable=False),
        sa.Column("QtaOutput", sa.Integer(), nullable=True),
        sa.Column("QtaScarti", sa.Integer(), nullable=True),
        sa.Column("CausaleID", sa.Integer(), nullable=True),
        sa.Column("NoteScarti", sa.Unicode(length=500), nullable=True),
        sa.Column("OperatoreID", sa.Integer(), nullable=False),
        sa.Column("OperatoreChiusuraID", sa.Integer(), nullable=True),
        sa.Column("MacchinaID", sa.Integer(), nullable=False),
        sa.Column("DIBA", sa.Unicode(length=50), nullable=True),
        sa.Column("Revisione", sa.Unicode(length=20), nullable=True),
        sa.CheckConstraint(
            sa.or_(
                sa.and_(c("DataFine").is_(None), c("QtaOutput").is_(None), c("QtaScarti").is_(None)),
                sa.and_(
                    c("DataFine").is_not(None),
                    c("QtaOutput").is_not(None),
                    c("QtaScarti").is_not(None),
                    c("QtaOutput") >= 0,
                    c("QtaScarti") >= 0,
                    c("QtaOutput") + c("QtaScarti") > 0,
                    c("QtaOutput") + c("QtaScarti") <= c("QtaInput"),
                ),
            ),
            name=op.f("CK_Lotti_chiusura"),
        ),
        sa.CheckConstraint(c("QtaInput") > 0, name=op.f("CK_Lotti_qta_input")),
        sa.ForeignKeyConstraint(
            ["CausaleID"], ["CausaliScarto.CausaleID"], name=op.f("FK_Lotti_CausaleID_CausaliScarto")
        ),
        sa.ForeignKeyConstraint(["FaseID"], ["Fasi.FaseID"], name=op.f("FK_Lotti_FaseID_Fasi")),
        sa.ForeignKeyConstraint(["MacchinaID"], ["Macchine.MacchinaID"], name=op.f("FK_Lotti_MacchinaID_Macchine")),
        sa.ForeignKeyConstraint(
            ["OperatoreChiusuraID"], ["Utenti.UtenteID"], name=op.f("FK_Lotti_OperatoreChiusuraID_Utenti")
        ),
        sa.ForeignKeyConstraint(["OperatoreID"], ["Utenti.UtenteID"], name=op.f("FK_Lotti_OperatoreID_Utenti")),
        sa.PrimaryKeyConstraint("LottoID", name=op.f("PK_Lotti")),
        sa.UniqueConstraint("CodiceLotto", name=op.f("UQ_Lotti_CodiceLotto")),
        sa.UniqueConstraint("FaseID", "Progressivo", name="UQ_Lotti_FaseID_Progressivo"),
    )
    with op.batch_alter_table("Lotti", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_Lotti_CausaleID"), ["CausaleID"], unique=False)
        batch_op.create_index("IX_Lotti_DataFine", ["DataFine"], unique=False)
        batch_op.create_index("IX_Lotti_DataInizio", ["DataInizio"], unique=False)
        batch_op.create_index("IX_Lotti_MacchinaID_DataFine", ["MacchinaID", "DataFine"], unique=False)
        batch_op.create_index(batch_op.f("IX_Lotti_OperatoreChiusuraID"), ["OperatoreChiusuraID"], unique=False)
        batch_op.create_index("IX_Lotti_OperatoreID_DataFine", ["OperatoreID", "DataFine"], unique=False)
        batch_op.create_index(
            "UX_Lotti_MacchinaAperta",
            ["MacchinaID"],
            unique=True,
            sqlite_where=_lotto_aperto,
            postgresql_where=_lotto_aperto,
            mssql_where=_lotto_aperto,
        )


def downgrade():
    with op.batch_alter_table("Lotti", schema=None) as batch_op:
        batch_op.drop_index(
            "UX_Lotti_MacchinaAperta",
            sqlite_where=_lotto_aperto,
            postgresql_where=_lotto_aperto,
            mssql_where=_lotto_aperto,
        )
        batch_op.drop_index("IX_Lotti_OperatoreID_DataFine")
        batch_op.drop_index(batch_op.f("IX_Lotti_OperatoreChiusuraID"))
        batch_op.drop_index("IX_Lotti_MacchinaID_DataFine")
        batch_op.drop_index("IX_Lotti_DataInizio")
        batch_op.drop_index("IX_Lotti_DataFine")
        batch_op.drop_index(batch_op.f("IX_Lotti_CausaleID"))

    op.drop_table("Lotti")
    with op.batch_alter_table("Macchine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("IX_Macchine_FaseTipoID"))

    op.drop_table("Macchine")
    with op.batch_alter_table("LogEventi", schema=None) as batch_op:
        batch_op.drop_index("IX_LogEventi_UtenteID_DataOra")
        batch_op.drop_index("IX_LogEventi_Entita_EntitaID")
        batch_op.drop_index(batch_op.f("IX_LogEventi_DataOra"))
        batch_op.drop_index("IX_LogEventi_Azione_DataOra")

    op.drop_table("LogEventi")
    with op.batch_alter_table("Fasi", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("IX_Fasi_FaseTipoID"))

    op.drop_table("Fasi")
    with op.batch_alter_table("DocumentiTecnici", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("IX_DocumentiTecnici_Sha256"))
        batch_op.drop_index(batch_op.f("IX_DocumentiTecnici_CommessaERPId"))
        batch_op.drop_index(batch_op.f("IX_DocumentiTecnici_CaricatoDa"))
        batch_op.drop_index(batch_op.f("IX_DocumentiTecnici_CODART"))

    op.drop_table("DocumentiTecnici")
    with op.batch_alter_table("ConfigCommessa", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("IX_ConfigCommessa_CreatoDa"))

    op.drop_table("ConfigCommessa")
    with op.batch_alter_table("CausaliScarto", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("IX_CausaliScarto_FaseTipoID"))

    op.drop_table("CausaliScarto")
    with op.batch_alter_table("ApiToken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("IX_ApiToken_UtenteID"))

    op.drop_table("ApiToken")
    op.drop_table("Utenti")
    op.drop_table("FaseTipo")
