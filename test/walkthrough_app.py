"""test/walkthrough_app.py: the application's side of the walkthrough.

Connects as the application role with psycopg 3, which sends the token as a
bind parameter: the query text that pg_stat_activity shows every session of
the same role is "SELECT taskforce.authenticate_jwt($1)", never the token.
"""
import os
import sys

import psycopg

TOKEN = os.environ["TF_TOKEN"]
FORGED = TOKEN[:-4] + ("AAAA" if not TOKEN.endswith("AAAA") else "BBBB")


def show(cur, sql, params=()):
    cur.execute(sql, params)
    names = [d.name for d in cur.description]
    print("   " + " | ".join(names))
    for row in cur.fetchall():
        print("   " + " | ".join("" if v is None else str(v) for v in row))


def refused(conn, sql, params=()):
    try:
        with conn.transaction():
            conn.execute(sql, params)
    except psycopg.Error as e:
        print(f"   -> refused, SQLSTATE {e.sqlstate}: {e.diag.message_primary}")
    else:
        sys.exit("expected a refusal")


with psycopg.connect(os.environ["TF_DSN"], autocommit=True) as conn:
    cur = conn.cursor()
    print("-- A JWT login: the token travels as a bind parameter. Authentication writes")
    print("   nothing, so the request can be a read-only transaction (or run on a standby).")
    with conn.transaction():
        cur.execute("SET TRANSACTION READ ONLY")
        cur.execute("SELECT taskforce.authenticate_jwt(%s)", [TOKEN])
        print("-- What another session of the same role sees of this one in pg_stat_activity:")
        with psycopg.connect(os.environ["TF_DSN"], autocommit=True) as other:
            show(other.cursor(), "SELECT state, query FROM pg_stat_activity WHERE pid = %s",
                 [conn.info.backend_pid])
        print("-- The context it established:")
        show(cur, "SELECT tenant_id, user_id, auth_method, scope FROM taskforce.current_context()")
        print("-- Permission checks (operator holds agent:execute, not user:manage):")
        show(cur, "SELECT taskforce.has_permission('agent:execute') AS agent_execute,"
                  " taskforce.has_permission('user:manage') AS user_manage")
        show(cur, "SELECT * FROM taskforce.explain_permission('user:manage')")
        print("-- A denied action: creating a user needs user:manage.")
        refused(conn, "SELECT taskforce.create_user('mallory', 'mallory')")
    print("-- A tampered token:")
    refused(conn, "SELECT taskforce.authenticate_jwt(%s)", [FORGED])
    print("-- An audited change: alice, logged in with her JWT, switches an agent's model.")
    with conn.transaction():
        cur.execute("SELECT taskforce.authenticate_jwt(%s)", [TOKEN])
        cur.execute("UPDATE agents SET model = 'gpt-4.1' WHERE name = 'researcher'")
        print(f"   {cur.rowcount} row updated")
    print("-- After the transaction the context is gone:")
    show(cur, "SELECT taskforce.current_tenant() AS tenant")
