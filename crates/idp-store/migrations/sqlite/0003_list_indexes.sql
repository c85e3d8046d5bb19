-- The console's inventory and queue at scale (100k connections, 10k pending):
-- the default screens read one page in SQL order instead of sorting everything.
CREATE INDEX connections_status_created ON connections(status, created_at DESC, id);
CREATE INDEX connections_created ON connections(created_at DESC, id);
CREATE INDEX connection_requests_status ON connection_requests(status, first_seen);
