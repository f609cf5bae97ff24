"""ledger parent index: a consolidation's entry, found from the container it made

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 18:20:00.000000

A consolidation (repacking several containers into a new one) names the new container as its
``parent``, not among the containers whose chains it extends, so ``ledger_container`` does not
list it and a timeline read through that index began after the container was made. The new
table holds (parent, entry index) for every such entry; it is filled here from the entries
already stored (each decoded once, in chunks).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from custody.history import record_of
from custody.ports import StoredEntry


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHUNK = 2000


def upgrade() -> None:
    op.create_table('ledger_parent',
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('container', sqlmodel.sql.sqltypes.AutoString(length=37), nullable=False),
    sa.PrimaryKeyConstraint('container', 'idx')
    )
    _fill_parents(op.get_bind())


def downgrade() -> None:
    op.drop_table('ledger_parent')


def _fill_parents(conn: sa.Connection) -> None:
    """One row per stored entry that names a parent, read in chunks of ``_CHUNK``."""
    entry = sa.table('ledger_entry', sa.column('idx'), sa.column('event_id'),
                     sa.column('event_hash'), sa.column('entry'), sa.column('leaf_hash'))
    parent = sa.table('ledger_parent', sa.column('container'), sa.column('idx'))
    start = 0
    while True:
        rows = conn.execute(
            sa.select(entry.c.idx, entry.c.event_id, entry.c.event_hash, entry.c.entry,
                      entry.c.leaf_hash)
            .where(entry.c.idx >= start).order_by(entry.c.idx).limit(_CHUNK)
        ).all()
        if not rows:
            return
        made = []
        for idx, event_id, event_hash, data, leaf in rows:
            stored = StoredEntry(idx, event_id, bytes(event_hash), bytes(data), bytes(leaf))
            event = record_of(stored).event
            if event.parent is not None:
                made.append({"container": event.parent, "idx": idx})
        if made:
            conn.execute(sa.insert(parent), made)
        start = rows[-1].idx + 1
