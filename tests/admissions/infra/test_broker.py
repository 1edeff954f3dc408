"""The embedded broker (admissions/infra/broker.py) in one process, with kombu's real transport
on an SQLite file: what two processes meeting on a fresh file would do, made to happen in order."""

import pytest
from kombu import Connection
from sqlalchemy import create_engine, event, text

from admissions.infra import broker


@pytest.fixture(autouse=True)
def _engines_closed():
    """kombu keeps one engine per URL for the process: close the ones these tests opened."""
    before = set(broker.Channel._engines)
    yield
    for url in set(broker.Channel._engines) - before:
        engine, _session = broker.Channel._engines.pop(url)
        engine.dispose()


def test_a_queue_another_process_created_meanwhile_is_read_not_created_twice(tmp_path):
    """Two workers starting on a fresh file both find no row for the queue and both insert it;
    the second one died of the unique constraint on its name (seen in CI: "worker2 did not
    start"). Here the other process's insert lands between this channel's look-up and its own
    insert, every time."""
    path = tmp_path / "broker.sqlite3"
    url = f"sqlite:///{path}"
    with Connection(url, transport=broker.TRANSPORT, transport_options={}) as connection:
        channel = connection.channel()
        channel._get_or_create("warm-up")  # the tables exist, as after any first start
        other = create_engine(url)

        def the_other_process_inserts_first(session, _context, _instances):
            with other.begin() as conn:
                conn.execute(text("INSERT INTO kombu_queue (name) VALUES ('gov_api')"))

        event.listen(channel.session, "before_flush", the_other_process_inserts_first, once=True)
        queue = channel._get_or_create("gov_api")

        with other.connect() as conn:
            rows = conn.execute(text("SELECT id FROM kombu_queue WHERE name = 'gov_api'")).all()
        assert [queue.id] == [row.id for row in rows]
        # And the channel goes on working: a message put on that queue comes back.
        channel._put("gov_api", {"body": "ping"})
        assert channel._get("gov_api") == {"body": "ping"}
        channel.session.close()
        other.dispose()


def test_tables_another_process_created_meanwhile_are_used(tmp_path):
    """The same race one step earlier: both processes find no tables and create them."""
    from kombu.transport.sqlalchemy.models import metadata

    url = f"sqlite:///{tmp_path / 'broker.sqlite3'}"
    other = create_engine(url)

    def the_other_process_creates_it_first(target, _connection, **_kw):
        target.create(other, checkfirst=True)

    queue_table = metadata.tables["kombu_queue"]
    event.listen(queue_table, "before_create", the_other_process_creates_it_first, once=True)
    with Connection(url, transport=broker.TRANSPORT, transport_options={}) as connection:
        channel = connection.channel()
        channel._put("default", {"body": "pong"})
        assert channel._get("default") == {"body": "pong"}
        channel.session.close()
    other.dispose()
