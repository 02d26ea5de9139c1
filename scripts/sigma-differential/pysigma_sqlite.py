"""The reference side of the Sigma differential test.

Converts every rule under the given directories with pySigma's SQLite backend, loads the events
exported by export-events.ts into one SQLite table (a column per Sigma field, as the shared field
mapping gave them, and `fulltext` = the original line for keywords), runs each rule's query over
the events of its logsource, and writes the matches as JSON:

    {"converted": {rule_id: title}, "errors": {rule_id_or_file: message},
     "matches": {rule_id: [event_id, ...]}}

Usage: python pysigma_sqlite.py <events.jsonl> <out.json> <rules dir>...
"""

import json
import re
import sqlite3
import sys
from pathlib import Path

from sigma.backends.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.rule import SigmaRule


def load_events(path):
    events = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            events.append(json.loads(line))
    return events


def build_table(events):
    db = sqlite3.connect(":memory:")
    db.create_function(
        "regexp", 2, lambda p, v: v is not None and re.search(p, str(v)) is not None, deterministic=True
    )
    columns = {}
    for e in events:
        for name in e["fields"]:
            key = name.lower()
            if key in columns and columns[key] != name:
                raise SystemExit(f"fields {columns[key]} and {name} differ only in case: SQLite cannot hold both")
            columns[key] = name
    names = sorted(columns.values())
    # No declared type: values keep their storage class (numbers stay numbers); NOCASE as Zircolite's table.
    decl = ", ".join(f'"{n}" COLLATE NOCASE' for n in names)
    db.execute(f"CREATE TABLE logs (fulltext TEXT COLLATE NOCASE{', ' if decl else ''}{decl})")
    placeholders = ", ".join("?" for _ in range(len(names) + 1))
    quoted = ", ".join(f'"{n}"' for n in names)
    db.executemany(
        f"INSERT INTO logs (fulltext{', ' if quoted else ''}{quoted}) VALUES ({placeholders})",
        ([e["fulltext"], *(e["fields"].get(n) for n in names)] for e in events),
    )
    return db, {n.lower() for n in names}


def serves(event, logsource):
    """Sigma's logsource rule: each of the rule's product, category, service is absent or the event's."""
    if logsource.product and logsource.product.lower() != (event["product"] or ""):
        return False
    if logsource.category and logsource.category.lower() not in event["categories"]:
        return False
    if logsource.service and logsource.service.lower() not in event["services"]:
        return False
    return True


def run_query(db, columns, sql):
    query = sql.replace("SELECT * FROM logs", "SELECT rowid FROM logs", 1)
    for _ in range(50):
        try:
            return [row[0] for row in db.execute(query)]
        except sqlite3.OperationalError as e:
            m = re.match(r"no such column: (.+)", str(e))
            if not m:
                raise
            # A field no event carries: every event has it NULL (pySigma's runtime does the same).
            name = m.group(1).strip('`"')
            db.execute(f'ALTER TABLE logs ADD COLUMN "{name}" COLLATE NOCASE')
            columns.add(name.lower())
    raise RuntimeError("too many missing columns")


def main():
    events_path, out_path, *rule_dirs = sys.argv[1:]
    events = load_events(events_path)
    db, columns = build_table(events)
    backend = sqliteBackend(fulltext_field="fulltext")
    # Events grouped by their logsource, so each rule's event set is a union of a few groups.
    groups = {}
    for i, e in enumerate(events):
        key = (e["product"], tuple(e["categories"]), tuple(e["services"]))
        groups.setdefault(key, (e, set()))[1].add(i + 1)
    converted, errors, matches = {}, {}, {}
    for rule_dir in rule_dirs:
        for path in sorted(Path(rule_dir).rglob("*.yml")):
            try:
                collection = SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True)
            except Exception as e:  # noqa: BLE001 - a rule that does not parse is reported, not fatal
                errors[str(path)] = f"parse: {e}"
                continue
            for rule in collection.rules:
                if not isinstance(rule, SigmaRule):
                    continue
                rule_id = str(rule.id) if rule.id else f"{path}#{rule.title}"
                if rule.errors:
                    errors[rule_id] = "; ".join(str(e) for e in rule.errors)
                    continue
                try:
                    queries = backend.convert_rule(rule)
                except Exception as e:  # noqa: BLE001
                    errors[rule_id] = f"convert: {e}"
                    continue
                converted[rule_id] = rule.title
                wanted = set().union(*(rows for e, rows in groups.values() if serves(e, rule.logsource)))
                if not wanted:
                    continue
                rows = set()
                try:
                    for q in queries:
                        rows.update(r for r in run_query(db, columns, q) if r in wanted)
                except Exception as e:  # noqa: BLE001
                    errors[rule_id] = f"query: {e}"
                    del converted[rule_id]
                    continue
                if rows:
                    matches[rule_id] = sorted(events[r - 1]["event"]["eventId"] for r in rows)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"converted": converted, "errors": errors, "matches": matches}, f, indent=1, sort_keys=True)
    print(f"pySigma: {len(converted)} rules converted, {len(errors)} errors, {len(matches)} rules matched {sum(len(v) for v in matches.values())} events")


if __name__ == "__main__":
    main()
