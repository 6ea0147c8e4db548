-- Users, roles, model versions, style templates, per-user defaults, tracks and the outbox.
-- Identifiers are the resource ids of the API ("users/{id}" stores id); times are timestamptz.

CREATE TABLE users (
    id           text PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- One account per e-mail address, compared case-insensitively; users without one are exempt.
CREATE UNIQUE INDEX users_email_key ON users (lower(email)) WHERE email <> '';

CREATE TABLE user_roles (
    user_id text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role    text NOT NULL CHECK (role IN ('USER', 'ADMIN')),
    PRIMARY KEY (user_id, role)
);

CREATE TABLE model_versions (
    id                text PRIMARY KEY,
    description       text NOT NULL DEFAULT '',
    checkpoint_uri    text NOT NULL DEFAULT '',
    checkpoint_sha256 text NOT NULL DEFAULT '' CHECK (checkpoint_sha256 ~ '^([0-9a-f]{64})?$'),
    config            jsonb NOT NULL DEFAULT '{}',
    untrained         boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX model_versions_created_idx ON model_versions (created_at, id);

CREATE TABLE style_templates (
    id           text PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    prompt       text NOT NULL DEFAULT '',
    tags         text[] NOT NULL DEFAULT '{}',
    params       jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A singleton per user: absent means "no defaults", which reads as empty defaults.
CREATE TABLE user_defaults (
    user_id        text PRIMARY KEY,
    params         jsonb NOT NULL DEFAULT '{}',
    style_template text REFERENCES style_templates (id) ON DELETE SET NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A track's id is the id of the job that produced it.
CREATE TABLE tracks (
    id               uuid PRIMARY KEY,
    user_id          text NOT NULL,
    job_id           uuid NOT NULL UNIQUE,
    title            text NOT NULL DEFAULT '',
    prompt           text NOT NULL DEFAULT '',
    tags             text[] NOT NULL DEFAULT '{}',
    model_version    text NOT NULL DEFAULT '',
    duration_seconds double precision NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0),
    sample_rate      integer NOT NULL DEFAULT 0 CHECK (sample_rate >= 0),
    seed             numeric(20, 0) CHECK (seed >= 0 AND seed < 18446744073709551616),
    audio_uri        text NOT NULL DEFAULT '',
    audio_sha256     text NOT NULL DEFAULT '',
    latent_uri       text NOT NULL DEFAULT '',
    latent_sha256    text NOT NULL DEFAULT '',
    derivation       jsonb,
    created_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    CHECK (id = job_id)
);
CREATE INDEX tracks_user_created_idx ON tracks (user_id, created_at, id);
CREATE INDEX tracks_model_created_idx ON tracks (model_version, created_at, id);
CREATE INDEX tracks_created_idx ON tracks (created_at, id);

-- State changes for the orchestrator, written in the same transaction as the change itself.
CREATE TABLE outbox (
    id         bigserial PRIMARY KEY,
    topic      text NOT NULL,
    resource   text NOT NULL,
    payload    jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    acked_at   timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (id) WHERE acked_at IS NULL;
