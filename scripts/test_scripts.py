"""Tests of the scripts themselves: external-services mode, a taken port, common.sh in an interactive shell, the
shared target dir, and the site builder against cargo-leptos (`cargo leptos build` and `cargo leptos watch`).

Run by scripts/test after the site is built (python3 -m unittest scripts/test_scripts.py). The cargo-leptos
tests need cargo-leptos on PATH: scripts/setup --dev installs it; CI sets CACHELENS_CARGO_LEPTOS=1, which
makes its absence a failure rather than a skip.
"""
import filecmp
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("CACHELENS_STATE_DIR", ROOT / ".cachelens"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/cachelens/target"))
# Every variable the scripts read from `scripts/services env` (run, test, soak, bench, the tests).
SERVICE_VARS = ["DATABASE_URL", "REDIS_URL", "READONLY_DATABASE_URL", "CACHELENS_MYSQL_SOCKET"]


def bash(script, env=None, interactive=False):
    args = ["bash", "--norc", "--noprofile"] + (["-i"] if interactive else []) + ["-c", script]
    return subprocess.run(args, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True)


def without(*names):
    return {k: v for k, v in os.environ.items() if k not in names}


class ExternalServices(unittest.TestCase):
    """DATABASE_URL and REDIS_URL given: the scripts use them, and every variable they read is defined."""

    EXTERNAL = {"DATABASE_URL": "mysql://app:secret@db.example:3306/covid", "REDIS_URL": "redis://cache.example:6379"}

    def sourced(self, extra):
        env = {**without("READONLY_DATABASE_URL", "CACHELENS_SQL_DATABASE_URL", "CACHELENS_MYSQL_SOCKET"),
               **self.EXTERNAL, **extra}
        lines = "; ".join(f'echo "{v}=${{{v}}}"' for v in SERVICE_VARS)
        script = f'set -euo pipefail; eval "$(scripts/services env)"; {lines}'
        done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        return dict(line.split("=", 1) for line in done.stdout.splitlines())

    def test_env_defines_every_variable_under_set_u(self):
        seen = self.sourced({})
        self.assertEqual(seen["DATABASE_URL"], self.EXTERNAL["DATABASE_URL"])
        self.assertEqual(seen["REDIS_URL"], self.EXTERNAL["REDIS_URL"])
        self.assertEqual(seen["READONLY_DATABASE_URL"], "")
        self.assertEqual(seen["CACHELENS_MYSQL_SOCKET"], "")

    def test_a_given_read_only_url_is_passed_on(self):
        ro = "mysql://reader:pw@db.example:3306/covid"
        self.assertEqual(self.sourced({"CACHELENS_SQL_DATABASE_URL": ro})["READONLY_DATABASE_URL"], ro)

    def test_custom_sql_falls_back_to_the_main_user_with_a_note(self):
        done = bash('. scripts/common.sh; url=$(sql_url_for covid_e2e); echo "url=[$url]"',
                    env={k: "" for k in ("READONLY_DATABASE_URL", "CACHELENS_SQL_DATABASE_URL")})
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("url=[]", done.stdout)
        self.assertIn("custom SQL runs as the main user", done.stderr)
        done = bash('. scripts/common.sh; sql_url_for covid_e2e',
                    env={"READONLY_DATABASE_URL": "", "CACHELENS_SQL_DATABASE_URL": "mysql://r:p@h:1/covid"})
        self.assertEqual(done.stdout.strip(), "mysql://r:p@h:1/covid_e2e")

    def test_start_leaves_external_services_alone(self):
        env = {**without("READONLY_DATABASE_URL"), **self.EXTERNAL}
        done = subprocess.run(["scripts/services", "start", "mysql"], cwd=ROOT, env=env, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("not starting a local mysql", done.stderr)


class LocalServices(unittest.TestCase):
    def test_a_taken_mysql_port_is_named_not_waited_on(self):
        # Another checkout's MariaDB on the port, say: this checkout's would fail to bind after a long wait.
        with tempfile.TemporaryDirectory() as state, socket.socket() as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen()
            port = holder.getsockname()[1]
            env = {**without("DATABASE_URL", "REDIS_URL"), "CACHELENS_STATE_DIR": state, "CACHELENS_MYSQL_PORT": str(port)}
            done = subprocess.run(["scripts/services", "start", "mysql"], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=120)
            self.assertNotEqual(done.returncode, 0, done.stderr)
            self.assertIn(f"127.0.0.1:{port} is taken by another process", done.stderr)
            self.assertIn("CACHELENS_MYSQL_PORT", done.stderr)
            self.assertFalse(Path(state, "mysql/mysqld.sock").exists(), "no MariaDB was started")


class CommonSh(unittest.TestCase):
    def test_sourcing_in_an_interactive_shell_keeps_its_options(self):
        done = bash('. scripts/common.sh; false | true; false; echo "alive opts=$-"', interactive=True)
        self.assertIn("alive", done.stdout, done.stderr)
        opts = done.stdout.split("opts=")[1].strip()
        self.assertNotIn("e", opts.replace("i", ""), f"set -e leaked into the shell: {opts}")
        self.assertNotIn("u", opts)

    def test_a_script_still_gets_strict_mode(self):
        done = bash('. scripts/common.sh; echo "opts=$-"; false; echo unreachable')
        self.assertIn("e", done.stdout.split("opts=")[1])
        self.assertNotIn("unreachable", done.stdout)

    def test_claiming_the_target_dir_touches_no_source_file(self):
        with tempfile.TemporaryDirectory() as target:
            fingerprint = Path(target, "debug/.fingerprint/cachelens-0123abcd")
            dependency = Path(target, "debug/.fingerprint/serde-0123abcd")
            for d in (fingerprint, dependency):
                d.mkdir(parents=True)
            Path(target, ".cachelens-checkout").write_text("/some/other/checkout\n")
            sources = [ROOT / "app/src/lib.rs", ROOT / "app/src/main.rs"]
            before = [p.stat().st_mtime_ns for p in sources]
            done = bash(". scripts/common.sh; claim_target_dir", env={"CARGO_TARGET_DIR": target})
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertEqual([p.stat().st_mtime_ns for p in sources], before)
            self.assertFalse(fingerprint.exists(), "this crate's fingerprint should be dropped")
            self.assertTrue(dependency.exists(), "dependencies must be reused")
            self.assertEqual(Path(target, ".cachelens-checkout").read_text().strip(), str(ROOT))


class Package(unittest.TestCase):
    def test_a_binary_for_another_machine_is_refused(self):
        # An aarch64 ELF: a copy of a system binary with its e_machine field set to EM_AARCH64 (183).
        target = tempfile.mkdtemp(prefix="cachelens-package-")
        try:
            os.makedirs(os.path.join(target, "debug"))
            binary = os.path.join(target, "debug", "cachelens")
            shutil.copy("/bin/true", binary)
            with open(binary, "r+b") as f:
                f.seek(18)
                f.write((183).to_bytes(2, "little"))
            done = subprocess.run(["scripts/package", "--debug", "--no-build"], cwd=ROOT, capture_output=True, text=True,
                                  env={**os.environ, "CARGO_TARGET_DIR": target})
            self.assertNotEqual(done.returncode, 0)
            self.assertIn("the binary is built for AArch64, the bundle and the web server are x86_64", done.stderr + done.stdout)
        finally:
            shutil.rmtree(target)


def need_cargo_leptos(test):
    if shutil.which("cargo-leptos"):
        return test
    if os.environ.get("CACHELENS_CARGO_LEPTOS") == "1":
        return test  # fails below with the missing tool named
    return unittest.skip("cargo-leptos is not installed (scripts/setup --dev installs it)")(test)


def toolchain_env():
    """The environment scripts/setup chose (toolchain.env), as the build scripts see it."""
    done = bash('. scripts/common.sh; load_toolchain; env -0')
    return dict(item.split("=", 1) for item in done.stdout.split("\0") if "=" in item)


def sorted_name_lists(js):
    """`js` with every brace list of bare names (`{ b, a, }`) sorted."""
    return re.sub(r"\{((?:\s*[\w$]+\s*,)+)\s*\}", lambda m: "{" + ",".join(sorted(x.strip() for x in m.group(1).split(",") if x.strip())) + "}", js)


class AgainstCargoLeptos(unittest.TestCase):
    @need_cargo_leptos
    def test_the_site_is_what_cargo_leptos_builds(self):
        """scripts/test built target/site with scripts/site.py; cargo-leptos builds the same front end again."""
        ours = ROOT / "target/site"
        theirs = ROOT / "target/site-cargo-leptos"
        shutil.rmtree(theirs, ignore_errors=True)
        env = {**toolchain_env(), "LEPTOS_SITE_ROOT": "target/site-cargo-leptos"}
        lib_args = env.get("LEPTOS_LIB_CARGO_ARGS")
        args = ["cargo", "leptos", "build", "--frontend-only", "--split"] + ([f"--lib-cargo-args={lib_args}"] if lib_args else [])
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
        self.assertEqual(done.returncode, 0, done.stderr[-4000:])
        names = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.suffix != ".gz")
        self.assertEqual(names(ours), names(theirs))
        self.assertIn("pkg/__wasm_split_manifest.json", names(ours))
        for name in names(ours):
            if name.endswith("__wasm_split_manifest.json"):
                # cargo-leptos writes its keys in hash-map order (scripts/wasm-split sorts them).
                read = lambda root: json.loads((root / name).read_text())
                self.assertEqual(read(ours), read(theirs))
            elif name.startswith("pkg/__wasm_split."):
                # The split library lists the shared exports the loader destructures (`{ memory, … }`) in hash-set
                # order, on both paths: the same names, in an order that changes from build to build.
                self.assertEqual(*(sorted_name_lists((root / name).read_text()) for root in (ours, theirs)), f"{name} differs")
            elif (ours / name).is_file():
                self.assertTrue(filecmp.cmp(ours / name, theirs / name, shallow=False), f"{name} differs")
        shutil.rmtree(theirs)

    @need_cargo_leptos
    def test_cargo_leptos_watch_serves_a_hydrating_dashboard(self):
        addr = "127.0.0.1:18012"
        # Its own target dir: LEPTOS_WATCH changes how leptos compiles, and sharing would rebuild it both ways.
        # cargo-leptos announces LEPTOS_SITE_ADDR and the server must listen there (not on CACHELENS_ADDR's default).
        env = {k: v for k, v in toolchain_env().items() if k != "CACHELENS_ADDR"}
        # Its own site root too: the watch build must not replace target/site, which the other tests serve.
        env = {**env, "LEPTOS_SITE_ADDR": addr, "LEPTOS_RELOAD_PORT": "18013", "LEPTOS_SITE_ROOT": "target/site-watch",
               "CARGO_TARGET_DIR": str(Path.home() / ".cache/cachelens/watch-target"),
               "CACHELENS_CACHE_PREFIX": "cachelens-watch"}
        log = open(STATE / "watch-test.log", "w")
        lib_args = env.get("LEPTOS_LIB_CARGO_ARGS")
        args = ["cargo", "leptos", "watch", "--split"] + ([f"--lib-cargo-args={lib_args}"] if lib_args else [])
        watch = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 1800
            while time.time() < deadline:
                self.assertIsNone(watch.poll(), f"cargo leptos watch exited; see {log.name}")
                try:
                    with urllib.request.urlopen(f"http://{addr}/healthz", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    time.sleep(2)
            else:
                self.fail(f"cargo leptos watch never served; see {log.name}")
            with urllib.request.urlopen(f"http://{addr}/pkg/cachelens.wasm") as r:
                self.assertEqual(r.headers["Content-Type"], "application/wasm")
            # The lab is a lazy route: it hydrates only once its own chunk has loaded.
            check = ("import { withBrowser, openHydrated } from './end2end/browser.mjs';"
                     "await withBrowser(async (b) => { for (const path of ['/', '/lab']) {"
                     " const p = await openHydrated(b, path); p.assertNoErrors(); } });")
            done = subprocess.run(["node", "--input-type=module", "-e", check], cwd=ROOT,
                                  env={**os.environ, "CACHELENS_URL": f"http://{addr}"}, capture_output=True, text=True)
            self.assertEqual(done.returncode, 0, done.stderr)
        finally:
            try:
                os.killpg(watch.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            watch.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    unittest.main()
