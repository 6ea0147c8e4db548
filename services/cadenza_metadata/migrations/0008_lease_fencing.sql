-- Lease fencing. lease_epoch counts a job's lease holders: it moves on each time the job enters
-- RUNNING (a claim) and each time an expired lease is taken over (TakeOverJob). A holder names its
-- epoch when it renews, transitions or writes its track, so a worker whose lease expired or was
-- taken away can no longer renew it or write a result. Callers that send no epoch keep the old
-- (worker-name only) checks.

ALTER TABLE jobs ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;
-- The archive keeps every column of the live table.
ALTER TABLE jobs_archive ADD COLUMN lease_epoch bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION jobs_enforce_state_machine() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    IF NEW.lease_epoch < OLD.lease_epoch THEN
        RAISE EXCEPTION 'job % lease epoch cannot go back from % to %', OLD.id, OLD.lease_epoch, NEW.lease_epoch
            USING ERRCODE = 'CZ001';
    END IF;
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
            NEW.lease_epoch := OLD.lease_epoch + 1;
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
