"""Containers and their labels in SQL, behind :class:`custody.ports.ContainerStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from custody.containers import Container, ContainerType, NewContainer, PhysicalForm
from custody.digital_id import DigitalId, parse_digital_id
from custody.ports import IssuedLabel
from storage._sql import commit_insert
from storage.tables import ContainerRow, LabelRow

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import date

    from sqlalchemy.engine import Engine, Row

__all__ = ["IN_CHUNK", "SqlContainerStore"]

#: Codes per ``IN (...)`` list: SQLite allows 32,766 bound parameters, PostgreSQL 65,535.
IN_CHUNK = 5000


class SqlContainerStore:
    """Containers and labels in SQL tables. Each insert is its own committed transaction."""

    def __init__(self, bind: Engine | Session) -> None:
        self._session = bind if isinstance(bind, Session) else Session(bind)

    def last_sequence(self, generator: str, waste_code: str, day: date) -> int:
        query = select(func.max(ContainerRow.sequence)).where(
            ContainerRow.generator == generator,
            ContainerRow.waste_code == waste_code,
            ContainerRow.day == day,
        )
        return self._session.exec(query).one() or 0

    def insert_container(self, container: Container) -> None:
        ident, facts = container.digital_id, container.facts
        row = ContainerRow(
            digital_id=ident.text,
            generator=ident.unit_code,
            waste_code=ident.waste_code,
            day=ident.day,
            sequence=ident.sequence,
            edition=container.edition,
            form=facts.form.value,
            container_type=facts.container_type.value,
            capacity_l=facts.capacity_l,
            declared_net_mass_g=facts.declared_net_mass_g,
            seal_no=facts.seal_no,
            waste_name=facts.waste_name,
            main_components=facts.main_components,
            harmful_components=facts.harmful_components,
            precautions=facts.precautions,
            contact=facts.contact,
            remarks=facts.remarks,
        )
        commit_insert(self._session, row, ident.text, f"container {ident.text}")

    def get_container(self, digital_id: str) -> Container | None:
        row = self._session.get(ContainerRow, digital_id)
        return None if row is None else _container(row)

    def known(self, digital_ids: list[str]) -> set[str]:
        query = select(ContainerRow.digital_id).where(col(ContainerRow.digital_id).in_(digital_ids))
        return set(self._session.exec(query).all())

    def get_containers(self, digital_ids: Collection[str]) -> dict[str, Container]:
        wanted = sorted(set(digital_ids))
        found: dict[str, Container] = {}
        table = ContainerRow.__table__  # type: ignore[attr-defined]  # SQLModel table typing
        for start in range(0, len(wanted), IN_CHUNK):  # bound the IN list for every back end
            chunk = wanted[start : start + IN_CHUNK]
            # Core rows, not ORM objects: the checker loads every container, at twice the speed.
            rows = self._session.connection().execute(
                select(table).where(table.c.digital_id.in_(chunk))
            )
            found.update((row.digital_id, _container(row)) for row in rows)
        return found

    def containers_of(
        self, generator: str, *, limit: int, after: str | None = None
    ) -> list[Container]:
        """A generator's containers, newest generation day first (then code, descending).

        ``after``: the code of the last container of the previous page (a keyset cursor; the
        code embeds its day). One range of ``ix_container_generator_day`` (generator, day, code),
        read backwards.
        """
        query = select(ContainerRow).where(ContainerRow.generator == generator)
        if after is not None:
            cursor = parse_digital_id(after)
            query = query.where(
                or_(
                    col(ContainerRow.day) < cursor.day,
                    (col(ContainerRow.day) == cursor.day)
                    & (col(ContainerRow.digital_id) < cursor.text),
                )
            )
        query = query.order_by(col(ContainerRow.day).desc(), col(ContainerRow.digital_id).desc())
        return [_container(row) for row in self._session.exec(query.limit(limit))]

    def labelled(self, digital_ids: Collection[str]) -> set[str]:
        """Which of these containers have at least one label (through the label index)."""
        wanted = sorted(set(digital_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), IN_CHUNK):
            chunk = wanted[start : start + IN_CHUNK]
            query = select(LabelRow.digital_id).where(col(LabelRow.digital_id).in_(chunk))
            found.update(self._session.exec(query.distinct()).all())
        return found

    def insert_label(self, label: IssuedLabel) -> None:
        row = LabelRow(
            digital_id=label.digital_id,
            key_name=label.key_name,
            issued_at=label.issued_at,
            text=label.text,
        )
        commit_insert(self._session, row, None, f"label of {label.digital_id}")

    def labels_of(self, digital_id: str) -> list[IssuedLabel]:
        query = select(LabelRow).where(LabelRow.digital_id == digital_id).order_by(col(LabelRow.id))
        return [
            IssuedLabel(row.digital_id, row.key_name, row.issued_at, row.text)
            for row in self._session.exec(query)
        ]


def _container(row: ContainerRow | Row[Any]) -> Container:
    facts = NewContainer(
        generator=row.generator,
        waste_code=row.waste_code,
        generated_on=row.day,
        form=PhysicalForm(row.form),
        container_type=ContainerType(row.container_type),
        capacity_l=row.capacity_l,
        declared_net_mass_g=row.declared_net_mass_g,
        seal_no=row.seal_no,
        waste_name=row.waste_name,
        main_components=row.main_components,
        harmful_components=row.harmful_components,
        precautions=row.precautions,
        contact=row.contact,
        remarks=row.remarks,
    )
    return Container(
        DigitalId(row.generator, row.waste_code, row.day, row.sequence), row.edition, facts
    )
