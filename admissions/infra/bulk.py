"""Inserting many rows fast, without the ORM's per-object work: on PostgreSQL one
``COPY ... FROM STDIN`` streaming every row; on other databases (SQLite) one multi-row
``INSERT`` per chunk of ``batch_size`` rows (fewer when the database caps a statement's
parameters).

``bulk_create`` spends about 10 µs of Python per value (model instances, ``pre_save``, SQL
compilation): 40,000 claims take seconds. ``bulk_insert`` builds its statement once (the
``INSERT`` once per chunk size) and hands the driver the values, each adapted by its field's
``get_db_prep_save`` (so JSON, dates and IP addresses are stored exactly as the ORM stores them;
plain text, integers and foreign keys, whose adaptation is the identity, are passed through).
What it skips, callers must not need: no model instances, no signals, no ``auto_now`` (give those
values), no ids back.
"""

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

from django.db import connections, models


# A statement's parameters when the database states no limit (PostgreSQL's wire protocol caps
# server-side binding at 65,535; stay under it either way).
_MAX_PARAMS = 65_535
# Field types (exact types: subclasses such as encrypted fields adapt their values) whose
# database value is the Python value itself.
_AS_IS = frozenset(
    {
        models.CharField,
        models.TextField,
        models.IntegerField,
        models.BigIntegerField,
        models.PositiveIntegerField,
        models.PositiveBigIntegerField,
        models.ForeignKey,
    }
)


def _adapter(field: models.Field, connection: Any) -> Callable[[Any], Any] | None:
    """How a column's values are adapted: not at all, or by the field, once per distinct
    hashable value (a timestamp shared by every row is adapted once)."""
    if type(field) in _AS_IS:
        return None
    cache: dict[tuple[type, Any], Any] = {}

    def adapt(value: Any) -> Any:
        try:
            key = (type(value), value)
            if key not in cache:
                cache[key] = field.get_db_prep_save(value, connection)
            return cache[key]
        except TypeError:  # unhashable: a dict or list for a JSON column
            return field.get_db_prep_save(value, connection)

    return adapt


def _column(field: models.Field) -> str:
    """The column ``field`` is written to (every field given to ``bulk_insert`` has one)."""
    if field.column is None:
        raise ValueError(f"{field} has no column")
    return field.column


def bulk_insert(
    model: type[models.Model],
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    batch_size: int = 1000,
    using: str = "default",
) -> int:
    """Insert ``rows`` (values in ``fields`` order; foreign keys by id, with their ``_id``
    attribute name) into ``model``'s table, in the caller's transaction; return the count.

    PostgreSQL: one ``COPY`` for all rows. Others: one multi-row ``INSERT`` per ``batch_size``
    rows (fewer if the database limits the number of parameters of a statement).
    """
    connection = connections[using]
    opts = model._meta
    # Fields of the model's own table (a relation's reverse side has no column to insert into).
    columns = [cast(models.Field, opts.get_field(name)) for name in fields]
    adapters = [_adapter(field, connection) for field in columns]
    if connection.vendor == "postgresql":
        return _copy(connection, opts.db_table, columns, adapters, rows)
    max_params = connection.features.max_query_params or _MAX_PARAMS
    batch_size = max(1, min(batch_size, max_params // len(columns)))
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608 - names come from the model
        quote(opts.db_table), ", ".join(quote(_column(field)) for field in columns)
    )
    placeholders = "({})".format(", ".join(["%s"] * len(columns)))
    statements: dict[int, str] = {}
    count = 0
    with connection.cursor() as cursor:
        for chunk in itertools.batched(rows, batch_size):
            params = [
                value if adapt is None else adapt(value)
                for row in chunk
                for adapt, value in zip(adapters, row, strict=True)
            ]
            if len(chunk) not in statements:
                statements[len(chunk)] = head + ", ".join([placeholders] * len(chunk))
            cursor.execute(statements[len(chunk)], params)
            count += len(chunk)
    return count


def _copy(
    connection: Any,
    table: str,
    columns: list[models.Field],
    adapters: list[Callable[[Any], Any] | None],
    rows: Iterable[Sequence[Any]],
) -> int:
    """PostgreSQL: ``COPY ... FROM STDIN``, streamed row by row (an order of magnitude faster
    than INSERTs with client-side parameter binding). Errors become Django's (IntegrityError)."""
    quote = connection.ops.quote_name
    statement = "COPY {} ({}) FROM STDIN".format(
        quote(table), ", ".join(quote(_column(field)) for field in columns)
    )
    count = 0
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.cursor.copy(statement) as copy,
    ):
        for row in rows:
            copy.write_row(
                [
                    value if adapt is None else adapt(value)
                    for adapt, value in zip(adapters, row, strict=True)
                ]
            )
            count += 1
    return count
