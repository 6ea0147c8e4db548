-- The job state machine, enforced by the database for every writer, not only by the service:
--
--   PENDING -> RUNNING | CANCELLED | FAILED
--   RUNNING -> SUCCEEDED | FAILED | CANCELLED | PENDING   (PENDING: a dead worker's lease is requeued)
--   SUCCEEDED, FAILED, CANCELLED are final.
--
-- An illegal transition raises SQLSTATE CZ001, which the service reports as FAILED_PRECONDITION.

-- The legal pairs live in the function, not in a table the service role could write to.
CREATE FUNCTION job_transition_allowed(from_state text, to_state text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (from_state, to_state) IN (
        ('PENDING', 'RUNNING'), ('PENDING', 'CANCELLED'), ('PENDING', 'FAILED'),
        ('RUNNING', 'SUCCEEDED'), ('RUNNING', 'FAILED'), ('RUNNING', 'CANCELLED'),
        ('RUNNING', 'PENDING'))
$$;

CREATE FUNCTION jobs_enforce_state_machine() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF NEW.state IS NOT DISTINCT FROM OLD.state THEN
        RETURN NEW;
    END IF;
    IF NOT job_transition_allowed(OLD.state, NEW.state) THEN
        RAISE EXCEPTION 'job % cannot move from % to %', OLD.id, OLD.state, NEW.state
            USING ERRCODE = 'CZ001',
                  DETAIL = format('from_state=%s to_state=%s', OLD.state, NEW.state),
                  HINT = 'allowed: PENDING->RUNNING|CANCELLED|FAILED, RUNNING->SUCCEEDED|FAILED|CANCELLED|PENDING';
    END IF;
    -- Bookkeeping that belongs to the transition itself.
    CASE NEW.state
        WHEN 'RUNNING' THEN
            NEW.started_at := coalesce(OLD.started_at, now());
            NEW.attempts := OLD.attempts + 1;
        WHEN 'PENDING' THEN
            NEW.worker := NULL;
            NEW.lease_expires_at := NULL;
        ELSE
            NEW.ended_at := now();
            NEW.lease_expires_at := NULL;
            IF NEW.state = 'CANCELLED' AND NEW.failure_reason IS NULL THEN
                NEW.failure_reason := 'CANCELLED';
            END IF;
    END CASE;
    RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_state_machine
    BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_enforce_state_machine();

-- A SUCCEEDED job points at its track row, which must exist (the saga writes it first).
CREATE FUNCTION jobs_require_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'SUCCEEDED' AND OLD.state IS DISTINCT FROM 'SUCCEEDED'
       AND NOT EXISTS (SELECT 1 FROM tracks WHERE id = NEW.track_id AND job_id = NEW.id) THEN
        RAISE EXCEPTION 'job % cannot succeed: track % does not exist or belongs to another job',
            NEW.id, NEW.track_id
            USING ERRCODE = 'CZ002',
                  HINT = 'create the track (CreateTrack) before marking the job SUCCEEDED';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_succeeded_track
    BEFORE UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_require_track();
