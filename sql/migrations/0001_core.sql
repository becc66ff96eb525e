-- 0001_core: the warehouse's core tables (runs, feeds, fetches, articles, claims).
-- Append-only: never edit a released migration; add 000N_*.sql instead.

create schema if not exists talkwatch;

-- one row per pipeline run (CLI `talkwatch run`, an Airflow DAG run, an eval load)
create table talkwatch.runs (
    run_id        bigserial primary key,
    kind          text not null default 'cli' check (kind in ('cli', 'airflow', 'eval', 'test')),
    logical_date  date,
    started_at    timestamptz not null default now(),
    finished_at   timestamptz,
    status        text not null default 'running' check (status in ('running', 'success', 'failed')),
    summary       jsonb not null default '{}'::jsonb,
    error         text
);

-- one row per configured feed; health columns are updated by every fetch
create table talkwatch.feeds (
    feed_id               bigserial primary key,
    url                   text not null unique,          -- exactly as configured
    outlet                text not null,
    language              text,
    current_url           text,                          -- after permanent redirects
    etag                  text,
    last_modified         text,
    last_status           text,
    last_error            text,
    last_fetch_at         timestamptz,
    last_success_at       timestamptz,
    consecutive_failures  integer not null default 0 check (consecutive_failures >= 0),
    created_at            timestamptz not null default now()
);

-- one row per fetch of a feed
create table talkwatch.feed_fetches (
    fetch_id      bigserial primary key,
    feed_id       bigint not null references talkwatch.feeds (feed_id),
    run_id        bigint references talkwatch.runs (run_id),
    fetched_at    timestamptz not null default now(),
    status        text not null check (status in ('ok', 'not_modified', 'error')),
    http_status   integer,
    final_url     text,
    bytes         bigint not null default 0,
    duration_ms   integer not null default 0,
    entries_seen  integer not null default 0,
    entries_new   integer not null default 0,
    error         text,
    warnings      text[] not null default '{}'
);
create index feed_fetches_feed_idx on talkwatch.feed_fetches (feed_id, fetched_at desc);

-- one row per article (a story syndicated by two feeds is one article, two sightings)
create table talkwatch.articles (
    article_id           bigserial primary key,
    canonical_url        text not null unique,
    url                  text not null,
    outlet               text not null,
    title                text not null default '',
    body                 text not null default '',
    text_source          text not null default 'feed' check (text_source in ('feed', 'fulltext', 'import')),
    content_hash         text not null,
    published_at         timestamptz not null,
    published_estimated  boolean not null default false,   -- no date in the feed: first-seen time
    first_seen_at        timestamptz not null default now(),
    first_run_id         bigint references talkwatch.runs (run_id),
    language             text,
    guid                 text,
    fulltext_error       text,
    extract_status       text not null default 'pending'
                         check (extract_status in ('pending', 'done', 'skipped', 'failed')),
    extract_reason       text,
    extracted_at         timestamptz,
    extractor_version    text
);
create index articles_content_hash_idx on talkwatch.articles (content_hash);
create index articles_pending_idx on talkwatch.articles (article_id) where extract_status = 'pending';
create index articles_published_idx on talkwatch.articles (published_at);

create table talkwatch.article_sightings (
    article_id     bigint not null references talkwatch.articles (article_id) on delete cascade,
    feed_id        bigint not null references talkwatch.feeds (feed_id),
    guid           text,
    first_seen_at  timestamptz not null default now(),
    run_id         bigint references talkwatch.runs (run_id),
    primary key (article_id, feed_id)
);

-- one row per negotiation-status claim (SPEC section 1)
create table talkwatch.claims (
    claim_id           bigserial primary key,
    article_id         bigint not null references talkwatch.articles (article_id) on delete cascade,
    claim_index        integer not null check (claim_index >= 0),
    claim_key          text not null,                 -- hash of the claim's content: idempotent upserts
    parties            text[] not null check (cardinality(parties) >= 1),
    parties_key        text not null,                 -- 'RUS|UKR': sorted parties joined by '|'
    status             text not null check (status in (
                           'proposed', 'accepted', 'rejected',
                           'planned', 'ongoing', 'held', 'agreed', 'stalled', 'collapsed',
                           'denied', 'no_deal')),
    topic              text not null check (topic in (
                           'ceasefire', 'partial_ceasefire', 'peace_deal', 'humanitarian', 'hostages', 'other')),
    source             text not null,
    source_key         text not null check (source_key ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    source_org         text,
    reported_by        text,
    mediator           text,
    venue              text,
    hedged             boolean not null default false,
    event_time         text check (event_time ~ '^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$'),
    evidence           text not null,
    published_at       timestamptz not null,          -- the article's, kept here for the period rule
    extractor_version  text not null,
    run_id             bigint references talkwatch.runs (run_id),
    created_at         timestamptz not null default now(),
    checked_at         timestamptz,                   -- seen by contradiction detection
    unique (article_id, claim_key)
);
create index claims_track_idx on talkwatch.claims (parties_key, status);
create index claims_unchecked_idx on talkwatch.claims (claim_id) where checked_at is null;
create index claims_source_idx on talkwatch.claims (source_key);
