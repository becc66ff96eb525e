-- 0004_detection_indexes: index paths for contradiction detection (pipeline/contradictions.py).
-- A new claim reads only the claims of its track with a conflicting status and an overlapping
-- period: "now" claims by publication time, dated claims by event_time (C collation, so that a
-- prefix is a range scan: '2024-08' <= x < '2024-08.').

create index claims_now_period_idx
    on talkwatch.claims (parties_key, status, published_at)
    where event_time is null;

create index claims_dated_period_idx
    on talkwatch.claims (parties_key, status, (event_time collate "C"))
    where event_time is not null;
