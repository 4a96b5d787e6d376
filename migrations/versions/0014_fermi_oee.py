"""Machine stops and OEE (SPEC §13, R15): CausaliFermo, Fermi, CalendarioTurni, TempiCiclo.

At most one running stop per machine is a filtered unique index (``Fine IS NULL``), as
for the open lotti (0001), on all three databases; the four combinations of a cycle time
(article or any, machine or any) are four filtered unique indexes. The standard stop
reasons are the base catalog's (``flask --app wsgi init``), not this migration's.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mssql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

c = sa.column
_UTC = sa.DateTime().with_variant(mssql.DATETIME2(), "mssql")
_CATEGORIE = ("GUASTO", "ATTREZZAGGIO", "MATERIALE", "ATTESA", "QUALITA", "ALTRO")
_fermo_aperto = c("Fine").is_(None)


def _dove(condizione):
    return {"sqlite_where": condizione, "postgresql_where": condizione, "mssql_where": condizione}


_CICLI = (
    ("UX_TempiCiclo_ArticoloMacchina", ["CODART", "FaseTipoID", "MacchinaID"], True, True),
    ("UX_TempiCiclo_Articolo", ["CODART", "FaseTipoID"], True, False),
    ("UX_TempiCiclo_Macchina", ["FaseTipoID", "MacchinaID"], False, True),
    ("UX_TempiCiclo_Fase", ["FaseTipoID"], False, False),
)


def _condizione_ciclo(articolo: bool, macchina: bool):
    return sa.and_(
        c("CODART").is_not(None) if articolo else c("CODART").is_(None),
        c("MacchinaID").is_not(None) if macchina else c("MacchinaID").is_(None),
    )


def upgrade():
    op.create_table(
        "CausaliFermo",
        sa.Column("CausaleFermoID", sa.Integer(), nullable=False),
        sa.Column("Codice", sa.Unicode(length=30), nullable=False),
        sa.Column("Descrizione", sa.Unicode(length=200), nullable=False),
        sa.Column("FaseTipoID", sa.Integer(), nullable=True),
        sa.Column("Categoria", sa.String(length=20), nullable=False),
        sa.Column("Pianificato", sa.Boolean(), nullable=False),
        sa.Column("Attiva", sa.Boolean(), nullable=False),
        sa.CheckConstraint(c("Categoria").in_(_CATEGORIE), name=op.f("CK_CausaliFermo_categoria")),
        sa.ForeignKeyConstraint(
            ["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_CausaliFermo_FaseTipoID_FaseTipo")
        ),
        sa.PrimaryKeyConstraint("CausaleFermoID", name=op.f("PK_CausaliFermo")),
        sa.UniqueConstraint("Codice", name=op.f("UQ_CausaliFermo_Codice")),
    )
    with op.batch_alter_table("CausaliFermo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_CausaliFermo_FaseTipoID"), ["FaseTipoID"], unique=False)

    op.create_table(
        "Fermi",
        sa.Column("FermoID", sa.Integer(), nullable=False),
        sa.Column("MacchinaID", sa.Integer(), nullable=False),
        sa.Column("Inizio", _UTC, nullable=False),
        sa.Column("Fine", _UTC, nullable=True),
        sa.Column("CausaleFermoID", sa.Integer(), nullable=False),
        sa.Column("OperatoreID", sa.Integer(), nullable=False),
        sa.Column("Note", sa.Unicode(length=500), nullable=True),
        sa.CheckConstraint(sa.or_(c("Fine").is_(None), c("Fine") >= c("Inizio")), name=op.f("CK_Fermi_durata")),
        sa.ForeignKeyConstraint(
            ["CausaleFermoID"], ["CausaliFermo.CausaleFermoID"], name=op.f("FK_Fermi_CausaleFermoID_CausaliFermo")
        ),
        sa.ForeignKeyConstraint(["MacchinaID"], ["Macchine.MacchinaID"], name=op.f("FK_Fermi_MacchinaID_Macchine")),
        sa.ForeignKeyConstraint(["OperatoreID"], ["Utenti.UtenteID"], name=op.f("FK_Fermi_OperatoreID_Utenti")),
        sa.PrimaryKeyConstraint("FermoID", name=op.f("PK_Fermi")),
        # A stop's id is never given to another: the audit log names stops by id.
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("Fermi", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_Fermi_CausaleFermoID"), ["CausaleFermoID"], unique=False)
        batch_op.create_index(batch_op.f("IX_Fermi_OperatoreID"), ["OperatoreID"], unique=False)
        batch_op.create_index("IX_Fermi_MacchinaID_Inizio", ["MacchinaID", "Inizio", "Fine"], unique=False)
        batch_op.create_index("IX_Fermi_Fine", ["Fine", "Inizio", "MacchinaID", "CausaleFermoID"], unique=False)
        batch_op.create_index("IX_Fermi_Inizio", ["Inizio"], unique=False)
        batch_op.create_index("UX_Fermi_MacchinaAperto", ["MacchinaID"], unique=True, **_dove(_fermo_aperto))

    op.create_table(
        "CalendarioTurni",
        sa.Column("CalendarioID", sa.Integer(), nullable=False),
        sa.Column("MacchinaID", sa.Integer(), nullable=True),
        sa.Column("Reparto", sa.Unicode(length=50), nullable=True),
        sa.Column("GiornoSettimana", sa.Integer(), nullable=True),
        sa.Column("Data", sa.Date(), nullable=True),
        sa.Column("OraInizio", sa.Time(), nullable=True),
        sa.Column("OraFine", sa.Time(), nullable=True),
        sa.Column("Note", sa.Unicode(length=200), nullable=True),
        sa.CheckConstraint(
            sa.or_(
                sa.and_(c("MacchinaID").is_not(None), c("Reparto").is_(None)),
                sa.and_(c("MacchinaID").is_(None), c("Reparto").is_not(None)),
            ),
            name=op.f("CK_CalendarioTurni_macchina_o_reparto"),
        ),
        sa.CheckConstraint(
            sa.or_(
                sa.and_(
                    c("GiornoSettimana").is_not(None),
                    c("Data").is_(None),
                    c("GiornoSettimana") >= 1,
                    c("GiornoSettimana") <= 7,
                ),
                sa.and_(c("GiornoSettimana").is_(None), c("Data").is_not(None)),
            ),
            name=op.f("CK_CalendarioTurni_settimanale_o_datato"),
        ),
        sa.CheckConstraint(
            sa.or_(
                sa.and_(c("OraInizio").is_not(None), c("OraFine").is_not(None), c("OraInizio") != c("OraFine")),
                sa.and_(c("OraInizio").is_(None), c("OraFine").is_(None), c("Data").is_not(None)),
            ),
            name=op.f("CK_CalendarioTurni_orari"),
        ),
        sa.ForeignKeyConstraint(
            ["MacchinaID"], ["Macchine.MacchinaID"], name=op.f("FK_CalendarioTurni_MacchinaID_Macchine")
        ),
        sa.PrimaryKeyConstraint("CalendarioID", name=op.f("PK_CalendarioTurni")),
    )
    with op.batch_alter_table("CalendarioTurni", schema=None) as batch_op:
        batch_op.create_index("IX_CalendarioTurni_MacchinaID", ["MacchinaID"], unique=False)
        batch_op.create_index("IX_CalendarioTurni_Reparto", ["Reparto"], unique=False)

    op.create_table(
        "TempiCiclo",
        sa.Column("TempoCicloID", sa.Integer(), nullable=False),
        sa.Column("CODART", sa.Unicode(length=30), nullable=True),
        sa.Column("FaseTipoID", sa.Integer(), nullable=False),
        sa.Column("MacchinaID", sa.Integer(), nullable=True),
        sa.Column("SecondiPerPezzo", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.CheckConstraint(c("SecondiPerPezzo") > 0, name=op.f("CK_TempiCiclo_secondi")),
        sa.ForeignKeyConstraint(
            ["FaseTipoID"], ["FaseTipo.FaseTipoID"], name=op.f("FK_TempiCiclo_FaseTipoID_FaseTipo")
        ),
        sa.ForeignKeyConstraint(
            ["MacchinaID"], ["Macchine.MacchinaID"], name=op.f("FK_TempiCiclo_MacchinaID_Macchine")
        ),
        sa.PrimaryKeyConstraint("TempoCicloID", name=op.f("PK_TempiCiclo")),
    )
    with op.batch_alter_table("TempiCiclo", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("IX_TempiCiclo_MacchinaID"), ["MacchinaID"], unique=False)
        for nome, colonne, articolo, macchina in _CICLI:
            batch_op.create_index(nome, colonne, unique=True, **_dove(_condizione_ciclo(articolo, macchina)))


def downgrade():
    op.drop_table("TempiCiclo")
    op.drop_table("CalendarioTurni")
    op.drop_table("Fermi")
    op.drop_table("CausaliFermo")
