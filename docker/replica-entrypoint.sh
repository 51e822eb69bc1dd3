#!/bin/sh
# The streaming replica (profile `replica`): on first start, copy the primary with
# pg_basebackup -R (which makes it a standby), then run PostgreSQL read-only, following `db`.
set -e
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    until gosu postgres pg_isready -h db -U "$POSTGRES_USER" -d "$POSTGRES_DB"; do sleep 1; done
    gosu postgres env PGPASSWORD="$POSTGRES_PASSWORD" \
        pg_basebackup -h db -U "$POSTGRES_USER" -D "$PGDATA" -R -X stream -c fast
    # Spell the connection out (with its password) so a restart reconnects whatever -R wrote.
    echo "primary_conninfo = 'host=db port=5432 user=$POSTGRES_USER password=$POSTGRES_PASSWORD application_name=db-replica'" \
        >> "$PGDATA/postgresql.auto.conf"
fi
exec gosu postgres postgres -c hot_standby=on
