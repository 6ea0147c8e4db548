"""Every resource-name rule and request limit of the suite, in one place.

Each service checks what it is sent (it may be called directly, not only by the orchestrator), so
the same rule runs in several processes; it is written only here, so the front door never accepts
what a store later refuses, and the protos' comments state these values (tests/runtime checks them):

- ``field``: the one way a rule reports a bad field (INVALID_ARGUMENT naming it);
- ``names``: ``users/``, ``jobs/``, ``tracks/``, ``modelVersions/``, ``styleTemplates/`` names;
- ``limits``: every numeric bound (lengths, steps, guidance, durations, seeds, page and batch sizes);
- ``generation``: the checks of a generation request shared by orchestrator, metadata and inference;
- ``tags``: what a track tag may be;
- ``digests``: what a SHA-256 digest in a request looks like;
- ``blob_keys``: the object keys of a job's results (audio, latent) and the job a key belongs to.
- ``text``: what a control character is, for single-line and multi-line text;
- ``keys``: what a blob object key and listing prefix may be;
- ``audio``: what a sample rate may be;
- ``models``: the adapter and task names a model version may declare.
"""
