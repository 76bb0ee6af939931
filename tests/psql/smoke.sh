#!/usr/bin/env bash
# psql smoke test: the README's tour and psql's meta-commands against a running Runnel.
# Usage: RUNNEL_PORT=4566 bash tests/psql/smoke.sh
set -euo pipefail
port=${RUNNEL_PORT:?set RUNNEL_PORT}
host=${RUNNEL_HOST:-127.0.0.1}
psql_cmd=(psql -X -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U runnel runnel)

fail() { echo "FAIL: $*" >&2; exit 1; }
expect() { # expect <description> <needle> <haystack>
  grep -qF -- "$2" <<<"$3" || { echo "$3" >&2; fail "$1: missing '$2'"; }
}

out=$("${psql_cmd[@]}" <<'SQL'
CREATE TABLE psql_t (id INT, name TEXT, amount DOUBLE PRECISION, ts TIMESTAMP);
INSERT INTO psql_t VALUES (1, 'a', 10.5, '2024-01-01 00:00:00'), (2, 'b', 3.25, '2024-01-01 00:00:01');
SELECT name, SUM(amount) FROM psql_t GROUP BY name ORDER BY name;
CREATE VIEW psql_big AS SELECT * FROM psql_t WHERE amount > 5;
SELECT * FROM psql_big;
SQL
)
expect "insert tag" "INSERT 0 2" "$out"
grep -qE '^ a +\| +10\.5$' <<<"$out" || { echo "$out" >&2; fail "aggregate row a"; }
grep -qE '^ b +\| +3\.25$' <<<"$out" || { echo "$out" >&2; fail "aggregate row b"; }
expect "view rows" "(1 row)" "$out"

out=$("${psql_cmd[@]}" -c '\l')
expect '\l lists the database' "runnel" "$out"

out=$("${psql_cmd[@]}" -c '\dt')
expect '\dt lists the table' "psql_t" "$out"
expect '\dt says table' "table" "$out"
grep -q "psql_big" <<<"$out" && fail '\dt must not list views'

out=$("${psql_cmd[@]}" -c '\dv')
expect '\dv lists the view' "psql_big" "$out"

out=$("${psql_cmd[@]}" -c '\d psql_t')
expect '\d names the table' 'Table "public.psql_t"' "$out"
expect '\d shows a column' "amount" "$out"
expect '\d shows types' "double precision" "$out"
expect '\d shows types' "timestamp without time zone" "$out"

out=$("${psql_cmd[@]}" -c '\d psql_big')
expect '\d shows the view' 'View "public.psql_big"' "$out"

out=$("${psql_cmd[@]}" -c '\d')
expect '\d lists relations' "psql_t" "$out"

out=$("${psql_cmd[@]}" -c '\dn')
expect '\dn lists public' "public" "$out"

# \df lists user functions (none); \dfS shows the signatures of built-in ones.
out=$("${psql_cmd[@]}" -c '\df')
expect '\df answers' "List of functions" "$out"
out=$("${psql_cmd[@]}" -c '\dfS pg_catalog.lower')
expect '\dfS shows the result type' "text" "$out"
grep -qE 'lower +\| text +\| text +\| func' <<<"$out" || { echo "$out" >&2; fail '\dfS lower signature'; }

# An error keeps the session usable, and points at the mistake.
out=$("${psql_cmd[@]}" -v ON_ERROR_STOP=0 2>&1 <<'SQL'
SELEC 1;
SELECT 'after error' AS msg;
SQL
)
expect "syntax error reported" 'syntax error at or near "SELEC"' "$out"
expect "session continues" "after error" "$out"

"${psql_cmd[@]}" -c 'DROP VIEW psql_big' -c 'DROP TABLE psql_t' >/dev/null
echo "psql smoke test passed"
