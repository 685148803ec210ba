"""Throwaway PostgreSQL 15 clusters of their own, for tests that crash a
server or stream to a standby, which the shared test cluster must not do.

Each cluster lives in a folder beside the shared cluster's socket folder
(PGHOST), or under /tmp when that path would make the socket path too
long.  It listens on its unix socket only.  As root, the commands run as
the postgres OS user, because initdb refuses root.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import psycopg2

BINDIR = '/usr/lib/postgresql/15/bin'
# sun_path has room for 108 bytes, the NUL included, so 100 leaves a margin.
MAX_SOCKET_PATH = 100


def as_owner(command):
    """Return the command run as the postgres OS user when we are root."""
    if os.geteuid() == 0:
        return ['runuser', '-u', 'postgres', '--'] + command
    return command


def run(command, **kwargs):
    subprocess.run(as_owner(command), check=True, cwd='/', stdout=subprocess.PIPE,
                   stderr=subprocess.STDOUT, **kwargs)


class Cluster:
    """One cluster, whose folder contains data/, server.log and the socket."""

    def __init__(self, name, port):
        self.port = port
        base = os.environ.get('PGHOST', '/tmp')
        folder = os.path.join(base, name)
        if len(os.path.join(folder, f'.s.PGSQL.{port}')) > MAX_SOCKET_PATH or not os.path.isdir(base):
            folder = tempfile.mkdtemp(prefix=f'jwt_pg_{name}.', dir='/tmp')
        self.folder = folder
        self.data = os.path.join(folder, 'data')
        self.log = os.path.join(folder, 'server.log')
        self.destroy()
        os.makedirs(folder, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, 'postgres', 'postgres')

    def settings(self, extra=''):
        """Append the socket, port and any extra lines to postgresql.conf."""
        lines = (f"\nlisten_addresses = ''\nport = {self.port}\n"
                 f"unix_socket_directories = '{self.folder}'\n"
                 f"max_worker_processes = 16\n{extra}\n")
        run(['sh', '-c', f'cat >> {self.data}/postgresql.conf'], input=lines.encode())

    def init(self, extra=''):
        run([f'{BINDIR}/initdb', '-D', self.data, '-U', 'postgres', '-A', 'trust',
             '-E', 'UTF8', '--locale=C.UTF-8'])
        self.settings(extra)

    def start(self):
        try:
            run([f'{BINDIR}/pg_ctl', '-D', self.data, '-l', self.log, '-w', '-t', '60', 'start'])
        except subprocess.CalledProcessError:
            with open(self.log, encoding='utf-8', errors='replace') as f:
                print(f'--- {self.log}', f.read(), sep='\n', flush=True)
            raise

    def stop(self, mode='fast'):
        if os.path.exists(os.path.join(self.data, 'postmaster.pid')):
            subprocess.run(as_owner([f'{BINDIR}/pg_ctl', '-D', self.data, '-m', mode, '-w',
                                     'stop']), cwd='/', stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)

    def kill(self):
        """SIGKILL the postmaster and every process it started, as a crash
        of the whole server would, and wait until they are gone."""
        with open(os.path.join(self.data, 'postmaster.pid')) as f:
            postmaster = int(f.readline())

        children = []
        for entry in os.listdir('/proc'):
            if entry.isdigit():
                try:
                    with open(f'/proc/{entry}/stat') as f:
                        if int(f.read().rsplit(')', 1)[1].split()[1]) == postmaster:
                            children.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass

        for pid in [postmaster] + children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        deadline = time.monotonic() + 30
        while any(os.path.exists(f'/proc/{pid}') and not self.zombie(pid)
                  for pid in [postmaster] + children):
            if time.monotonic() > deadline:
                raise RuntimeError('the killed server processes did not exit')
            time.sleep(0.1)
        # A killed postmaster may stay a zombie when nothing reaps it here,
        # and its lock files would then name a PID that still exists.  After
        # a real crash no such process is left, so the files go too.
        for lock in (os.path.join(self.data, 'postmaster.pid'),
                     os.path.join(self.folder, f'.s.PGSQL.{self.port}.lock')):
            if os.path.exists(lock):
                os.remove(lock)

    @staticmethod
    def zombie(pid):
        try:
            with open(f'/proc/{pid}/stat') as f:
                return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
        except OSError:
            return False

    def connect(self, dbname='postgres'):
        conn = psycopg2.connect(host=self.folder, port=self.port, user='postgres',
                                dbname=dbname)
        conn.autocommit = True
        return conn

    def base_backup_to(self, standby):
        """Make standby a streaming replica of this cluster."""
        run([f'{BINDIR}/pg_basebackup', '-D', standby.data, '-R', '-X', 'stream',
             '-h', self.folder, '-p', str(self.port), '-U', 'postgres'])
        standby.settings('hot_standby = on')

    def destroy(self):
        """Stop the server if it runs, and remove the folder."""
        self.stop('immediate')
        shutil.rmtree(self.folder, ignore_errors=True)
