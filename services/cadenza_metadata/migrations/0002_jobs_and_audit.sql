-- Jobs and the audit log, range-partitioned by month on created_at; job events.
--
-- A unique index on a partitioned table must contain the partition key, so (user, request_id)
-- cannot be unique on jobs itself. job_requests is the small, unpartitioned directory that makes
-- CreateJob idempotent (its primary key) and finds a job's partition from its id alone.

CREATE TABLE job_requests (
    user_id        text NOT NULL,
    request_id     text NOT NULL,
    job_id         uuid NOT NULL UNIQUE,
    job_created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, request_id)
);

CREATE TABLE jobs (
    id               uuid NOT NULL,
    user_id          text NOT NULL,
    request_id       text NOT NULL,
    state            text NOT NULL DEFAULT 'PENDING'
                     CHECK (state IN ('PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    params           jsonb NOT NULL DEFAULT '{}',
    derivation       jsonb,
    model_version    text NOT NULL DEFAULT '',
    failure_reason   text CHECK (failure_reason IN (
                         'INVALID_INPUT', 'RESOURCE_EXHAUSTED', 'STORE_UNAVAILABLE',
                         'MODEL_ERROR', 'CANCELLED', 'INTERNAL')),
    failure_message  text NOT NULL DEFAULT '',
    progress_step    integer NOT NULL DEFAULT 0 CHECK (progress_step >= 0),
    progress_total   integer NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    track_id         uuid,
    seed             numeric(20, 0) CHECK (seed >= 0 AND seed < 18446744073709551616),
    worker           text,
    lease_expires_at timestamptz,
    annotations      jsonb NOT NULL DEFAULT '{}',
    -- Last sequence number handed to a job event; bumping it also serialises appends per job.
    event_seq        bigint NOT NULL DEFAULT 0,
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    ended_at         timestamptz,
    PRIMARY KEY (id, created_at),
    -- What each state needs, whatever path wrote it.
    CONSTRAINT jobs_failed_has_reason CHECK (state <> 'FAILED' OR failure_reason IS NOT NULL),
    CONSTRAINT jobs_active_has_no_reason
        CHECK (state NOT IN ('PENDING', 'RUNNING', 'SUCCEEDED') OR failure_reason IS NULL),
    CONSTRAINT jobs_succeeded_has_track CHECK (state <> 'SUCCEEDED' OR track_id IS NOT NULL),
    CONSTRAINT jobs_running_has_lease
        CHECK (state <> 'RUNNING' OR (worker IS NOT NULL AND lease_expires_at IS NOT NULL))
) PARTITION BY RANGE (created_at);

-- The real queries: a user's jobs newest first, a model version's jobs, by state, and the queue.
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at, id);
CREATE INDEX jobs_model_created_idx ON jobs (model_version, created_at, id);
CREATE INDEX jobs_state_created_idx ON jobs (state, created_at, id);
CREATE INDEX jobs_created_idx ON jobs (created_at, id);
CREATE INDEX jobs_pending_queue_idx ON jobs (created_at, id) WHERE state = 'PENDING';
CREATE INDEX jobs_running_lease_idx ON jobs (lease_expires_at) WHERE state = 'RUNNING';

CREATE TABLE job_events (
    job_id     uuid NOT NULL,
    sequence   bigint NOT NULL,
    type       text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, sequence)
);

CREATE SEQUENCE audit_logs_id_seq;
CREATE TABLE audit_logs (
    id         bigint NOT NULL DEFAULT nextval('audit_logs_id_seq'),
    actor      text NOT NULL,
    action     text NOT NULL,
    resource   text NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, created_at)
) PARTITION BY RANGE (created_at);
ALTER SEQUENCE audit_logs_id_seq OWNED BY audit_logs.id;

CREATE INDEX audit_logs_created_idx ON audit_logs (created_at, id);
CREATE INDEX audit_logs_actor_created_idx ON audit_logs (actor, created_at, id);
CREATE INDEX audit_logs_resource_created_idx ON audit_logs (resource, created_at, id);
