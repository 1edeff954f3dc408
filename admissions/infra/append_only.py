"""Append-only models: rows are created, never updated or deleted through the ORM.

Audit events and verification attempts are evidence. The ORM refuses to change them here; on
PostgreSQL a trigger refuses it in the database too (see the migrations).

One narrow, explicit exception: the retention purge (and a GDPR erasure, which goes through the
same code) runs inside ``purge_allowed()``. Within it, and only within the current transaction:

* the ORM lets ``QuerySet.delete()`` through, and ``QuerySet.purge_fields(...)`` blank a
  model's ``PURGEABLE_FIELDS`` (an attempt's redacted ``payload``), nothing else;
* on PostgreSQL, the context manager sets ``vigie.allow_purge = 'on'`` with
  ``set_config(..., is_local => true)``: the trigger then accepts DELETE, and an UPDATE that
  changes nothing but the table's purgeable columns, to an empty value. The setting ends with
  the transaction (and is switched off again when the block exits), so an ordinary UPDATE or
  DELETE, in any other transaction or after the block, is still refused.
"""

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any, NoReturn

from django.db import DatabaseError, connection, models, transaction


class AppendOnlyError(Exception):
    """An attempt to update or delete an append-only row."""


def _refuse(model: type[models.Model], operation: str) -> NoReturn:
    raise AppendOnlyError(f"{model.__name__} rows are append-only: {operation} is refused")


_purging: contextvars.ContextVar[bool] = contextvars.ContextVar("vigie_purging", default=False)


def _set_db_flag(value: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('vigie.allow_purge', %s, true)", [value])


@contextlib.contextmanager
def purge_allowed() -> Iterator[None]:
    """The retention purge's bypass (see the module docstring). Must run inside an atomic block:
    the database flag is transaction-local, and a purge is all or nothing."""
    if not transaction.get_connection().in_atomic_block:
        raise AppendOnlyError("purge_allowed() must be used inside transaction.atomic()")
    token = _purging.set(True)
    _set_db_flag("on")
    try:
        yield
    except BaseException:
        _purging.reset(token)
        # The transaction may be aborted (then its rollback drops the flag anyway).
        with contextlib.suppress(DatabaseError):
            _set_db_flag("off")
        raise
    _purging.reset(token)
    _set_db_flag("off")


def purging() -> bool:
    return _purging.get()


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        _refuse(self.model, "update")

    def delete(self) -> Any:
        if not purging():
            _refuse(self.model, "delete")
        return super().delete()

    def purge_fields(self, *fields: str) -> int:
        """Blank these purgeable fields (``{}`` for JSON, ``""`` for text): purge only."""
        allowed = getattr(self.model, "PURGEABLE_FIELDS", ())
        if not purging() or not fields or not set(fields) <= set(allowed):
            _refuse(self.model, "purge_fields outside the purge or of a kept field")
        values = {}
        for name in fields:
            field = self.model._meta.get_field(name)
            values[name] = {} if isinstance(field, models.JSONField) else ""
        return super().update(**values)

    def bulk_update(self, objs: Any, fields: Any, batch_size: Any = None) -> NoReturn:
        _refuse(self.model, "bulk_update")

    def update_or_create(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(self.model, "update_or_create")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            _refuse(type(self), "save of an existing row")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        _refuse(type(self), "delete")


# PostgreSQL: the database itself refuses UPDATE and DELETE on append-only tables. The retention
# purge sets `vigie.allow_purge` for its own transaction (purge_allowed above) and may then
# DELETE rows, or UPDATE a row so that only the purgeable columns named as the trigger's
# arguments change, to an empty value ('{}', '' or NULL). Any other UPDATE is refused even
# then. TRUNCATE (test database flushes) is not affected.
_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION vigie_refuse_change() RETURNS trigger AS $$
DECLARE
    col text;
BEGIN
    IF current_setting('vigie.allow_purge', true) = 'on' THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        IF TG_NARGS > 0 AND (to_jsonb(NEW) - TG_ARGV) = (to_jsonb(OLD) - TG_ARGV) THEN
            FOREACH col IN ARRAY TG_ARGV LOOP
                IF NOT (COALESCE(to_jsonb(NEW) -> col, 'null'::jsonb)
                        IN ('{}'::jsonb, '""'::jsonb, 'null'::jsonb)) THEN
                    RAISE EXCEPTION 'append-only table %: purge may only blank %',
                        TG_TABLE_NAME, col USING ERRCODE = 'insufficient_privilege';
                END IF;
            END LOOP;
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'append-only table %: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def install_append_only_trigger(
    schema_editor: Any, table: str, purgeable_columns: tuple[str, ...] = ()
) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(_TRIGGER_FUNCTION, params=None)
    args = ", ".join(f"'{column}'" for column in purgeable_columns)
    schema_editor.execute(
        f'CREATE TRIGGER "{table}_append_only" BEFORE UPDATE OR DELETE ON "{table}" '
        f"FOR EACH ROW EXECUTE FUNCTION vigie_refuse_change({args})"
    )


def reinstall_append_only_trigger(
    schema_editor: Any, table: str, purgeable_columns: tuple[str, ...] = ()
) -> None:
    """Replace the function and the table's trigger (a migration that changes either)."""
    remove_append_only_trigger(schema_editor, table)
    install_append_only_trigger(schema_editor, table, purgeable_columns)


def remove_append_only_trigger(schema_editor: Any, table: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f'DROP TRIGGER IF EXISTS "{table}_append_only" ON "{table}"')
