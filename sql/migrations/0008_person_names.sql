-- 0008_person_names: one key for one person across articles (SPEC 1, `source_key`).
-- An article that names "Bertrand Musoni" in full gives the key `bertrand-musoni`; a later article
-- that only says "Musoni" gives `musoni`. The loader records each full name of a person source under
-- the key its surname alone would get, per track of parties, and a surname-only claim takes the
-- full name's key when exactly one full name of that surname is known for its parties.

create table talkwatch.person_names (
    parties_key   text not null,            -- as claims.parties_key ("COD|M23")
    surname_key   text not null,            -- slug of the surname ("musoni", "al-wazir")
    source_key    text not null,            -- the full name's key ("bertrand-musoni")
    source        text not null,            -- the full name as first seen ("Bertrand Musoni")
    first_seen_at timestamptz not null default now(),
    primary key (parties_key, surname_key, source_key)
);

comment on table talkwatch.person_names is
    'Full names of person sources by surname and parties: how a surname-only mention in a later article finds its person (store_claims).';
