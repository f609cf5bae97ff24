"""checkpoint division: the GB/T 2260 county or district a checkpoint stands in

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 17:40:00.000000

Officers read the plate reads of checkpoints in their districts. Checkpoints recorded before
have no division (the empty string): every officer reads theirs, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('checkpoint', schema=None) as batch_op:
        batch_op.add_column(sa.Column('division', sqlmodel.sql.sqltypes.AutoString(length=6),
                                      nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('checkpoint', schema=None) as batch_op:
        batch_op.drop_column('division')
