#!/bin/sh
# Runs once, when the postgres container initialises an empty data volume (docker-entrypoint-initdb.d).
# The image has already created the Airflow metadata database ($POSTGRES_DB, owned by $POSTGRES_USER);
# this adds the warehouse: its own login and database, so Airflow's tables and talkwatch's never mix.
# CREATEROLE: the warehouse migrations create the loader and analyst group roles, and
# `talkwatch db grant-analyst` creates analyst logins.
set -eu
: "${TALKWATCH_DB_PASSWORD:?set TALKWATCH_DB_PASSWORD in docker/.env}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v pw="$TALKWATCH_DB_PASSWORD" -v airflow_db="$POSTGRES_DB" <<'SQL'
create role talkwatch login createrole password :'pw';
create database talkwatch owner talkwatch;
-- the Airflow metadata database is Airflow's alone (analyst logins connect to talkwatch only)
revoke connect, temporary on database :"airflow_db" from public;
SQL
