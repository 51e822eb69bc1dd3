#!/bin/sh
# Runs once, when the `db` volume is first initialised: let the replica (profile `replica`)
# stream WAL from this server with the same user and password. On an existing volume, add the
# line to pg_hba.conf by hand and reload.
set -e
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
