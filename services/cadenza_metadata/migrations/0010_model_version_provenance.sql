-- Model versions record what serves them and where their weights came from: the inference
-- service's model adapter ('cadenza' checkpoint or 'diffusers' pipeline directory), the source
-- (local path, repository id + revision), every file with its SHA-256, the licence, the audio rate,
-- the longest clip and the tasks the model can do. Columns only; rows registered before keep their
-- defaults (an empty adapter means a Cadenza checkpoint).
ALTER TABLE model_versions
    ADD COLUMN adapter              text NOT NULL DEFAULT '' CHECK (adapter ~ '^[a-z0-9_-]{0,32}$'),
    ADD COLUMN source               jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN files                jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN licence              text NOT NULL DEFAULT '',
    ADD COLUMN sample_rate          integer NOT NULL DEFAULT 0 CHECK (sample_rate >= 0),
    ADD COLUMN max_duration_seconds double precision NOT NULL DEFAULT 0 CHECK (max_duration_seconds >= 0),
    ADD COLUMN tasks                text[] NOT NULL DEFAULT '{}';
