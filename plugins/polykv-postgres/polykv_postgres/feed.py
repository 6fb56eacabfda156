"""The durable change feed of a PostgreSQL store table (``Capability.WATCH``, ``polykv.ops.watch``).

Three triggers on the store table write ``<table>_changes (id, op, ns, key, value)`` inside the statement
that changes a row, so a write and its event commit or roll back together, whichever client wrote:

* a BEFORE STATEMENT trigger locks the one row of ``<table>_changes_head`` (``FOR UPDATE``) and copies its
  counter into a transaction-local setting. Every writing statement takes this lock first (no deadlock: it
  is always the first lock), and holds it to commit, so ids are given out in commit order, with no gaps;
* a row trigger numbers each change (overwriting an expired row is an insert; removing an expired row is
  no change at all: expiry is never reported) and inserts it;
* an AFTER STATEMENT trigger stores the counter back, deletes the changes beyond the retention
  (``keep``, in the head row) every 1000 changes, and ``pg_notify``-es the table's channel, which wakes
  the watchers that ``LISTEN`` on it (delivered at commit; nobody polls).

The price: with the feed on, writes to the table are serialised (one writer at a time, across processes).
"""

from __future__ import annotations

from psycopg import sql

from polykv.changes import ChangeOp

from .layout import Layout

__all__ = ["PRUNE_EVERY", "feed_sql", "has_feed_sql", "remove_feed_sql"]

#: Changes between two prunes of the change table (done by the writer that crosses the boundary).
PRUNE_EVERY = 1000


def feed_sql(layout: Layout, keep: int) -> list[sql.Composed]:
    """Statements that create (or replace) the change table, its head row and the three triggers, and set
    the retention to ``keep`` changes. Run under the DDL lock."""
    names = {
        "t": layout.t,
        "changes": layout.changes,
        "head": layout.head,
        "begin": layout.fn_begin,
        "row": layout.fn_row,
        "end": layout.fn_end,
        "guc": sql.Literal(layout.guc),
        "channel": sql.Literal(layout.channel),
        "prune": sql.Literal(PRUNE_EVERY),
        "ins": sql.Literal(ChangeOp.INSERT.value),
        "upd": sql.Literal(ChangeOp.UPDATE.value),
        "del": sql.Literal(ChangeOp.DELETE.value),
    }

    def s(text: str) -> sql.Composed:
        return sql.SQL(text).format(**names)

    return [
        s(
            "CREATE TABLE IF NOT EXISTS {changes} (id bigint PRIMARY KEY, op smallint NOT NULL, "
            'ns text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, value bytea)'
        ),
        s(
            "CREATE TABLE IF NOT EXISTS {head} (one boolean PRIMARY KEY DEFAULT true CHECK (one), "
            "n bigint NOT NULL, keep bigint NOT NULL)"
        ),
        sql.SQL(
            "INSERT INTO {head} (one, n, keep) VALUES (true, 0, {keep}) ON CONFLICT (one) DO UPDATE SET keep = {keep}"
        ).format(head=layout.head, keep=sql.Literal(keep)),
        s(
            "CREATE OR REPLACE FUNCTION {begin}() RETURNS trigger LANGUAGE plpgsql AS $f$ "
            "DECLARE cur bigint; BEGIN "
            "SELECT n INTO cur FROM {head} WHERE one FOR UPDATE; "
            "PERFORM set_config({guc}, cur::text, true); "
            "PERFORM set_config({guc} || '_start', cur::text, true); "
            "RETURN NULL; END $f$"
        ),
        s(
            "CREATE OR REPLACE FUNCTION {row}() RETURNS trigger LANGUAGE plpgsql AS $f$ "
            "DECLARE next_id bigint; kind smallint; BEGIN "
            "IF TG_OP = 'DELETE' THEN "
            "  IF OLD.expires IS NOT NULL AND OLD.expires <= now() THEN RETURN NULL; END IF; "
            "  kind := {del}; "
            "ELSIF TG_OP = 'UPDATE' AND (OLD.expires IS NULL OR OLD.expires > now()) THEN kind := {upd}; "
            "ELSE kind := {ins}; END IF; "
            "next_id := current_setting({guc})::bigint + 1; "
            "PERFORM set_config({guc}, next_id::text, true); "
            "IF TG_OP = 'DELETE' THEN "
            "  INSERT INTO {changes} (id, op, ns, key, value) VALUES (next_id, kind, OLD.ns, OLD.key, NULL); "
            "ELSE "
            "  INSERT INTO {changes} (id, op, ns, key, value) VALUES (next_id, kind, NEW.ns, NEW.key, NEW.value); "
            "END IF; "
            "RETURN NULL; END $f$"
        ),
        s(
            "CREATE OR REPLACE FUNCTION {end}() RETURNS trigger LANGUAGE plpgsql AS $f$ "
            "DECLARE cur bigint; started bigint; kept bigint; BEGIN "
            "cur := current_setting({guc})::bigint; "
            "started := current_setting({guc} || '_start')::bigint; "
            "IF cur = started THEN RETURN NULL; END IF; "
            "UPDATE {head} SET n = cur WHERE one RETURNING keep INTO kept; "
            "PERFORM set_config({guc} || '_start', cur::text, true); "
            "IF cur / {prune} > started / {prune} THEN DELETE FROM {changes} WHERE id <= cur - kept; END IF; "
            "PERFORM pg_notify({channel}, ''); "
            "RETURN NULL; END $f$"
        ),
        *_drop_triggers(layout),
        *[
            sql.SQL("CREATE TRIGGER {name} {when} {event} ON {t} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()").format(
                name=sql.Identifier(f"{layout.table}_feed_{label}_{event.lower()}"),
                when=sql.SQL("BEFORE" if label == "begin" else "AFTER"),
                event=sql.SQL(event),
                t=layout.t,
                fn=layout.fn_begin if label == "begin" else layout.fn_end,
            )
            for label in ("begin", "end")
            for event in ("INSERT", "UPDATE", "DELETE")
        ],
        sql.SQL(
            "CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE ON {t} FOR EACH ROW EXECUTE FUNCTION {fn}()"
        ).format(name=sql.Identifier(f"{layout.table}_feed_row"), t=layout.t, fn=layout.fn_row),
    ]


def has_feed_sql(layout: Layout) -> sql.Composed:
    """``SELECT`` of the number of feed triggers on the table (7 when the feed is on)."""
    return sql.SQL("SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass({t}) AND tgname LIKE {pattern}").format(
        t=sql.Literal(sql.Identifier(layout.table).as_string(None)), pattern=sql.Literal(f"{layout.table}\\_feed\\_%")
    )


def _drop_triggers(layout: Layout) -> list[sql.Composed]:
    names = [
        f"{layout.table}_feed_{label}_{event}" for label in ("begin", "end") for event in ("insert", "update", "delete")
    ]
    return [
        sql.SQL("DROP TRIGGER IF EXISTS {name} ON {t}").format(name=sql.Identifier(name), t=layout.t)
        for name in [*names, f"{layout.table}_feed_row"]
    ]


def remove_feed_sql(layout: Layout) -> list[sql.Composed]:
    """Statements that remove the triggers, functions and change tables (the feed's history is lost)."""
    drops = _drop_triggers(layout)
    for fn in (layout.fn_begin, layout.fn_row, layout.fn_end):
        drops.append(sql.SQL("DROP FUNCTION IF EXISTS {fn}()").format(fn=fn))
    drops.append(sql.SQL("DROP TABLE IF EXISTS {changes}, {head}").format(changes=layout.changes, head=layout.head))
    return drops
