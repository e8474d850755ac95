#!/bin/sh
# One-shot job (temporalio/admin-tools image): create Temporal's two PostgreSQL databases and bring
# their schemas up to date. Safe to run on every `docker-compose up`: existing databases are kept,
# schema updates only apply what is missing.
set -eu
: "${POSTGRES_SEEDS:=postgresql}" "${DB_PORT:=5432}" "${POSTGRES_USER:=temporal}" "${POSTGRES_PWD:?set POSTGRES_PWD}"
SCHEMA=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"
i=0
until nc -z "$POSTGRES_SEEDS" "$DB_PORT"; do
  i=$((i + 1)); [ "$i" -lt 60 ] || { echo "PostgreSQL did not answer" >&2; exit 1; }
  sleep 1
done

# The password reaches the tool through its environment (SQL_PASSWORD), never its command line,
# where `ps` and /proc/<pid>/cmdline would show it to every process of the container.
export SQL_PASSWORD="$POSTGRES_PWD"
sql() {
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" "$@"
}
for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  dir=${db#*:}
  sql --db "$name" create 2>/dev/null || echo "database $name exists"
  sql --db "$name" setup-schema -v 0.0
  sql --db "$name" update-schema -d "$SCHEMA/$dir/versioned"
done
echo "Temporal schemas are up to date"
