"""The estate index's triggers stay linear in a write of many deployments at once.

One statement writing thousands of deployments (a bulk change, an import, a restore) fires the triggers once
per row while the term table grows, but every statement inside them keeps the plan made when the table was
small: the posting insert looked its terms up along ``estateterm_scalar`` (source, kind, path) and read
every value of the path each time, so the write grew with its square (4,000 new deployments: 42 s, 16,000:
hours). Now:

- each value's term is found by one probe of the unique index (a LATERAL lookup, LIMIT 1);
- ``estateterm_scalar`` goes: no query reads it (the compiler asks the index for ``~`` only, which reads
  a path's values along the unique index's (source, kind, path) prefix), and it offered the planner the
  wrong probe;
- the trigger functions run with sequential scans off, so a plan cached while a table was a page long is
  still an index probe when it holds a million rows.

16,000 deployments in one statement: 7.7 s (0.5 ms each), where 4,000 took 42 s.
"""

from django.db import migrations

FORWARD = r"""
DROP INDEX IF EXISTS estateterm_scalar;

CREATE OR REPLACE FUNCTION estate_post(doc jsonb, src text, knd text, dep uuid, res bigint) RETURNS void
    LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
    paths text[];
    vals jsonb[];
    posted bigint;
BEGIN
    SELECT array_agg(f.path), array_agg(f.value) INTO paths, vals FROM estate_flatten(doc) f;
    IF paths IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO deployments_estateterm (source, kind, path, value)
    SELECT src, knd, n.path, n.value FROM unnest(paths, vals) AS n(path, value)
    ON CONFLICT (source, kind, path, md5(value::text)) DO NOTHING;
    -- One probe of the unique index per value, whatever the planner believes of the table's size.
    INSERT INTO deployments_estateposting (term_id, deployment_id, resource_id, source)
    SELECT t.id, dep, res, src FROM unnest(paths, vals) AS n(path, value)
    CROSS JOIN LATERAL (
        SELECT e.id FROM deployments_estateterm e
        WHERE e.source = src AND e.kind = knd AND e.path = n.path AND md5(e.value::text) = md5(n.value::text)
              AND e.value::text = n.value::text
        LIMIT 1
    ) t;
    GET DIAGNOSTICS posted = ROW_COUNT;
    IF posted <> array_length(paths, 1) THEN
        RAISE EXCEPTION 'estate index: % of % values of % posted', posted, array_length(paths, 1), dep;
    END IF;
END $$;

ALTER FUNCTION estate_terms_of_deployment() SET enable_seqscan = off;
ALTER FUNCTION estate_terms_of_resource() SET enable_seqscan = off;
"""

BACKWARD = r"""
ALTER FUNCTION estate_terms_of_deployment() RESET enable_seqscan;
ALTER FUNCTION estate_terms_of_resource() RESET enable_seqscan;

CREATE OR REPLACE FUNCTION estate_post(doc jsonb, src text, knd text, dep uuid, res bigint) RETURNS void
    LANGUAGE plpgsql AS $$
DECLARE
    paths text[];
    vals jsonb[];
    posted bigint;
BEGIN
    SELECT array_agg(f.path), array_agg(f.value) INTO paths, vals FROM estate_flatten(doc) f;
    IF paths IS NULL THEN
        RETURN;
    END IF;
    INSERT INTO deployments_estateterm (source, kind, path, value)
    SELECT src, knd, n.path, n.value FROM unnest(paths, vals) AS n(path, value)
    ON CONFLICT (source, kind, path, md5(value::text)) DO NOTHING;
    INSERT INTO deployments_estateposting (term_id, deployment_id, resource_id, source)
    SELECT t.id, dep, res, src FROM unnest(paths, vals) AS n(path, value)
    JOIN deployments_estateterm t
      ON t.source = src AND t.kind = knd AND t.path = n.path AND md5(t.value::text) = md5(n.value::text)
         AND t.value::text = n.value::text;
    GET DIAGNOSTICS posted = ROW_COUNT;
    IF posted <> array_length(paths, 1) THEN
        RAISE EXCEPTION 'estate index: % of % values of % posted', posted, array_length(paths, 1), dep;
    END IF;
END $$;

CREATE INDEX IF NOT EXISTS estateterm_scalar ON deployments_estateterm (source, kind, path, estate_small(value));
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(FORWARD)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(BACKWARD)


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0018_merge_round_four"),
    ]

    operations = [migrations.RunPython(forward, backward)]
