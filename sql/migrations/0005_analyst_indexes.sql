-- 0005_analyst_indexes: index paths for the analytics views and the example queries.

-- a track's claims in a time range (negotiation_claims filtered by parties and month; the report)
create index claims_track_time_idx on talkwatch.claims (parties_key, published_at);

-- a source's latest claim on a track (analytics.contradictions.is_open, negotiation_tracks)
create index claims_source_track_idx on talkwatch.claims (source_key, parties_key, published_at desc);
