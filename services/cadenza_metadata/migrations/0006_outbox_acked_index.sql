-- The outbox retention purge deletes acknowledged rows oldest acknowledgement first; this index
-- lets each bounded batch find them without scanning the whole table. Unacknowledged rows are
-- left out: outbox_pending_idx serves them.
CREATE INDEX outbox_acked_idx ON outbox (acked_at) WHERE acked_at IS NOT NULL;
