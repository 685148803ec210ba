"""Create and drop the scratch databases that the Python tests run in.

The server comes from the libpq environment (PGHOST, PGPORT, PGUSER).
"""

import psycopg2


def admin_execute(sql):
    """Run one statement outside a transaction, as CREATE DATABASE needs."""
    admin = psycopg2.connect('')
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(sql)
    admin.close()


def create(name, options=''):
    """Create the database afresh with jwt_pg, and return a connection to it.

    The connection is in autocommit mode, so that each statement runs in its
    own transaction and a rejected token does not abort the ones after it.
    """
    admin_execute(f'DROP DATABASE IF EXISTS {name}')
    admin_execute(f'CREATE DATABASE {name} {options}')
    conn = psycopg2.connect(dbname=name)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute('CREATE EXTENSION jwt_pg')
    return conn


def drop(name, conn):
    """Close the connection and drop the database."""
    if conn is not None:
        conn.close()
    admin_execute(f'DROP DATABASE IF EXISTS {name}')


def one(conn, sql, *args):
    """Run a statement and return the first column of its first row, or
    None when it returns no rows."""
    with conn.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0] if cur.description else None
