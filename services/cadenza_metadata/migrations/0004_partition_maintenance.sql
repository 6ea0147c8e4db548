-- Monthly partitions of jobs and audit_logs, created ahead of time.
--
-- The service role may not create tables, so this SECURITY DEFINER function (owned by the owner
-- role, EXECUTE granted to the service role only) is its one narrow way to add partitions: at
-- start, from a periodic task, and on demand when a row finds no partition. `migrate` runs it too.
-- Returns the partitions it created.

CREATE FUNCTION cadenza_ensure_partitions(p_from timestamptz DEFAULT now(), p_months_ahead integer DEFAULT 3)
RETURNS SETOF text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = public, pg_temp
AS $$
DECLARE
    parent text;
    month_start date;
    partition text;
BEGIN
    IF p_months_ahead < 0 OR p_months_ahead > 24 THEN
        RAISE EXCEPTION 'p_months_ahead must be within 0..24, got %', p_months_ahead
            USING ERRCODE = '22023';
    END IF;
    IF p_from < timestamptz '1970-01-01' OR p_from > now() + interval '100 years' THEN
        RAISE EXCEPTION 'p_from % is out of range', p_from USING ERRCODE = '22023';
    END IF;
    -- Concurrent callers (several replicas starting at once) take turns instead of racing.
    PERFORM pg_advisory_xact_lock(hashtext('cadenza_ensure_partitions'));
    FOREACH parent IN ARRAY ARRAY['jobs', 'audit_logs'] LOOP
        FOR i IN 0..p_months_ahead LOOP
            month_start := (date_trunc('month', p_from AT TIME ZONE 'UTC') + make_interval(months => i))::date;
            partition := format('%s_p%s', parent, to_char(month_start, 'YYYY_MM'));
            IF to_regclass(partition) IS NULL THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    partition, parent,
                    (month_start::timestamp AT TIME ZONE 'UTC'),
                    ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
                RETURN NEXT partition;
            END IF;
        END LOOP;
    END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION cadenza_ensure_partitions(timestamptz, integer) FROM PUBLIC;
