"""The deployment path on loopback: the EC2 user-data script, run in a sandbox folder against moto's S3 and
Secrets Manager and the local MariaDB and Redis, installs the packaged bundle and the app answers on its port.

Needs what scripts/test provides: MOTO_URL, DATABASE_URL, REDIS_URL, the `aws` CLI (the project's venv) and
dist/cachelens-<version>-x86_64-linux.tar.gz (scripts/package).
"""
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlparse

import boto3

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
REGION = "us-east-1"


def required(var):
    value = os.environ.get(var)
    if not value:
        raise RuntimeError(f"{var} is not set: run through scripts/test")
    return value


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TOKEN = "sandbox-access-token-" + uuid.uuid4().hex
ORIGIN_SECRET = "sandbox-origin-secret-" + uuid.uuid4().hex


def get(url, method="GET", timeout=10, body=None):
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    request = urllib.request.Request(url, method=method, data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as r:
        return r.status, r.read()


class UserDataSandboxTest(unittest.TestCase):
    def setUp(self):
        self.moto = required("MOTO_URL")
        self.db = urlparse(required("DATABASE_URL"))
        self.redis = urlparse(required("REDIS_URL"))
        bundles = glob.glob(os.path.join(TOP, "dist", "cachelens-*-x86_64-linux.tar.gz"))
        self.assertTrue(bundles, "no bundle in dist/: scripts/test runs scripts/package --debug first")
        self.bundle = bundles[0]
        self.sandbox = tempfile.mkdtemp(prefix="cachelens-deploy-")
        self.db_name = "covid_t_deploy"
        # RDS's master user may hand out SELECT on its database; MariaDB gives the local app user that right only
        # on databases named exactly, so name this one (as root, over the socket scripts/services exports).
        subprocess.run(["mariadb", "--no-defaults", "--protocol=socket", f"--socket={required('CACHELENS_MYSQL_SOCKET')}",
                        "-uroot", "-e", f"GRANT ALL PRIVILEGES ON {self.db_name}.* TO '{self.db.username}'@'127.0.0.1' WITH GRANT OPTION"],
                       check=True)
        subprocess.run(["mariadb", "--no-defaults", f"-h{self.db.hostname}", f"-P{self.db.port}", f"-u{self.db.username}",
                        f"-p{self.db.password}", "-e", f"DROP DATABASE IF EXISTS {self.db_name}"], check=True)

    def tearDown(self):
        pid_file = os.path.join(self.sandbox, "cachelens.pid")
        if os.path.exists(pid_file):
            with open(pid_file) as f:
                try:
                    os.kill(int(f.read()), signal.SIGTERM)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.sandbox, ignore_errors=True)
        # The pid file must name the server itself, or the server outlives the test and keeps its port.
        if hasattr(self, "port"):
            for _ in range(50):
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", self.port)) != 0:
                        return
                time.sleep(0.1)
            self.fail(f"the sandbox's cachelens still listens on port {self.port} after SIGTERM to its pid file's process")

    def aws(self, service):
        return boto3.client(service, region_name=REGION, endpoint_url=self.moto,
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def test_bootstrap_installs_the_bundle_and_the_app_answers(self):
        self.deploy_and_query(cluster_mode="disabled", endpoint=f"{self.redis.hostname}:{self.redis.port}")

    def test_cluster_mode_reaches_the_app(self):
        # Pulumi's cacheClusterMode=enabled hands the configuration endpoint over; the app must use cluster mode.
        cluster = urlparse(required("REDIS_CLUSTER_URL"))
        env_file = self.deploy_and_query(cluster_mode="enabled", endpoint=f"{cluster.hostname}:{cluster.port}")
        self.assertIn(f"CACHELENS_REDIS_HOST={cluster.hostname}:{cluster.port}", env_file)
        self.assertIn("CACHELENS_REDIS_CLUSTER=true", env_file)

    def deploy_and_query(self, cluster_mode, endpoint):
        bucket = f"cachelens-bundle-{uuid.uuid4().hex[:8]}"
        s3 = self.aws("s3")
        s3.create_bucket(Bucket=bucket)
        s3.upload_file(self.bundle, bucket, "cachelens-x86_64-linux.tar.gz")
        etag = s3.head_object(Bucket=bucket, Key="cachelens-x86_64-linux.tar.gz")["ETag"].strip('"')
        # An RDS-managed secret: username and password only, the host comes from the stack.
        secret = self.aws("secretsmanager").create_secret(
            Name=f"rds!db-{uuid.uuid4().hex[:8]}",
            SecretString=json.dumps({"username": self.db.username, "password": self.db.password}))
        token_secret = self.aws("secretsmanager").create_secret(Name=f"cachelens-access-token-{uuid.uuid4().hex[:8]}",
                                                                SecretString=TOKEN)
        origin_secret = self.aws("secretsmanager").create_secret(Name=f"cachelens-origin-secret-{uuid.uuid4().hex[:8]}",
                                                                 SecretString=ORIGIN_SECRET)

        port = self.port = free_port()
        env = {
            "PATH": os.path.dirname(shutil.which("aws") or "/usr/bin") + ":" + os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/tmp"),
            "CACHELENS_SANDBOX": self.sandbox,
            "CACHELENS_BUNDLE_URI": f"s3://{bucket}/cachelens-x86_64-linux.tar.gz",
            "CACHELENS_BUNDLE_ETAG": etag,
            "AWS_REGION": REGION,
            "AWS_ENDPOINT_URL": self.moto,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CACHELENS_BIND": "127.0.0.1",
            "CACHELENS_PORT": str(port),
            "CACHELENS_DB_SECRET": secret["ARN"],
            "CACHELENS_DB_HOST": self.db.hostname,
            "CACHELENS_DB_PORT": str(self.db.port),
            "CACHELENS_DB_NAME": self.db_name,
            "CACHELENS_REDIS_PRIMARY": endpoint if cluster_mode == "disabled" else "primary.invalid:6379",
            "CACHELENS_REDIS_CONFIGURATION": endpoint if cluster_mode == "enabled" else "",
            "CACHELENS_REDIS_CLUSTER_MODE": cluster_mode,
            "CACHELENS_REDIS_TLS": "false",
            "CACHELENS_RETRY_SECONDS": "1",
            "CACHELENS_ACCESS_TOKEN_SECRET": token_secret["ARN"],
            "CACHELENS_ORIGIN_SECRET_SECRET": origin_secret["ARN"],
            "CACHELENS_DB_CA_URL": "",
        }
        run = subprocess.run(["bash", os.path.join(TOP, "scripts/deploy/user-data.sh")], env=env,
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertIn("loaded 3000 rows", run.stdout)

        with open(os.path.join(self.sandbox, "etc/cachelens.env")) as f:
            env_file = f.read()
        self.assertIn(f"CACHELENS_DB_SECRET={secret['ARN']}", env_file)
        self.assertNotIn(self.db.password, env_file, "the password was written to disk")
        # The stack's access token guards the app: named in the file, never written into it.
        self.assertIn(f"CACHELENS_ACCESS_TOKEN_SECRET={token_secret['ARN']}", env_file)
        self.assertNotIn("ALLOW_ANONYMOUS", env_file)
        self.assertNotIn(TOKEN, env_file)
        # So is the origin secret CloudFront sends; the test's requests come from loopback, which it exempts.
        self.assertIn(f"CACHELENS_ORIGIN_SECRET_SECRET={origin_secret['ARN']}", env_file)
        self.assertNotIn(ORIGIN_SECRET, env_file)
        self.assertIn("CACHELENS_DB_APP_USER=cachelens_app", env_file)
        self.assertTrue(os.path.islink(os.path.join(self.sandbox, "opt/cachelens/current")))

        base = f"http://127.0.0.1:{port}"
        deadline = time.time() + 30
        while True:
            try:
                status, body = get(f"{base}/healthz")
                health = json.loads(body)
                if health["mysql"]["up"] and health["redis"]["up"]:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            if time.time() > deadline:
                with open(os.path.join(self.sandbox, "var/log/cachelens.log")) as f:
                    self.fail("the app did not come up:\n" + f.read())
            time.sleep(0.3)

        get(f"{base}/api/cache/delete", method="POST")
        first = json.loads(get(f"{base}/api/query/cache?term=delta&limit=20")[1])
        second = json.loads(get(f"{base}/api/query/cache?term=delta&limit=20")[1])
        self.assertEqual((first["source"], first["hit"]), ("mysql", False), first)
        self.assertEqual((second["source"], second["hit"], second["row_count"]), ("cache", True, 20), second)
        self.assertEqual(first["rows"], second["rows"])
        status, page = get(f"{base}/")
        self.assertEqual(status, 200)
        self.assertIn(b"/pkg/cachelens.js", page)
        self.assertEqual(get(f"{base}/pkg/cachelens.wasm")[0], 200, "the bundle's site is not served")
        # Custom SQL runs as the SELECT-only user the app set up with the main user's rights.
        query = json.dumps({"sql": "select current_user() as u", "cache": False}).encode()
        who = json.loads(get(f"{base}/api/query/sql", method="POST", body=query)[1])
        self.assertTrue(who["rows"][0]["u"].startswith("cachelens_reader@"), who)
        # Everything else runs as the application user the app set up; the master user only set up.
        sessions = subprocess.run(
            ["mariadb", "--no-defaults", "--protocol=socket", f"--socket={required('CACHELENS_MYSQL_SOCKET')}", "-uroot",
             "-N", "-e", "SELECT COUNT(*) FROM information_schema.processlist WHERE user = 'cachelens_app'"],
            check=True, capture_output=True, text=True).stdout.strip()
        self.assertGreater(int(sessions), 0, "no connection of cachelens_app")
        # Without the token the API is closed.
        with self.assertRaises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/api/query/mysql?term=delta", timeout=10)
        self.assertEqual(refused.exception.code, 401)
        return env_file


if __name__ == "__main__":
    unittest.main()
