#!/usr/bin/env python3
"""scripts/bench's report: reads what the run left in its measurement folder and prints the markdown section
that bench appends to BENCHMARKS.md. Every number of the report is computed here, in one step.

    bench_report.py DIR

DIR holds `facts` (one `name value…` line each: stamps, sizes, versions, CPU ticks) and each tool's raw output:
`<round>-hit.wrk`, `-gzip.wrk`, `-webdis.wrk`, `-mysql.wrk` (wrk --latency, then bash's `times`),
`<round>-redis.csv` (redis-benchmark --csv, then `times`), `<round>-slap.txt` (mysqlslap), `page.wrk`,
`home.wrk`, and `front.md` (scripts/front_weight.mjs --markdown).

`bench_report.py --wrk FILE` prints one wrk run's requests/s (for the next tool's request count).
"""
import os
import re
import statistics
import sys
from pathlib import Path


def number(pattern, text, default=None):
    m = re.search(pattern, text, re.M)
    return m.group(1) if m else default


def times_cpu(text):
    """bash's `times` ends the text: its last line is the children's user and system time, like 0m1.25s."""
    last = text.strip().splitlines()[-1].split()
    return sum(int(m) * 60 + float(s) for m, s in (re.fullmatch(r"(\d+)m([\d.]+)s", t).groups() for t in last[:2]))


class Wrk:
    def __init__(self, path):
        text = Path(path).read_text()
        self.rps = float(number(r"^Requests/sec:\s+([\d.]+)", text, "nan"))
        self.p50 = number(r"^\s+50%\s+(\S+)", text, "?")
        self.p99 = number(r"^\s+99%\s+(\S+)", text, "?")
        non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)", text, 0))
        sockets = number(r"Socket errors: (.*)$", text, "")
        self.errors = non2xx + sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", sockets))
        self.requests = int(number(r"^\s+(\d+) requests in", text, 0))
        self.cpu = times_cpu(text)


def facts(folder):
    out = {}
    for line in (folder / "facts").read_text().splitlines():
        name, _, value = line.partition(" ")
        out[name] = value.strip()
    return out


def pct(a, b):
    return round(100 * a / b)


def ratio(a, b):
    return f"{a / b:.2f}"


def report(folder):
    f = facts(folder)
    num = lambda name: float(f[name])  # noqa: E731
    tick = os.sysconf("SC_CLK_TCK")
    cpu = lambda name: num(name) / tick  # noqa: E731
    rows = int(f["rows"])
    ours, floor = num("load.ours.end") - num("load.ours.start"), num("load.floor.end") - num("load.floor.start")
    body, stored, gzip_bytes = int(f["body_bytes"]), int(f["value_bytes"]), int(f["gzip_bytes"])
    conc, seconds = f["concurrency"], f["seconds"]
    out = []
    say = out.append

    say(f"## {f['date']} on {f['cores']} cores, {round(int(f['mem_kib']) / 1048576)} GiB, {f['cpu']}")
    say("")
    say(f"MariaDB {f['mariadb']}, Redis {f['redis']}, {f['rustc']}, wrk at concurrency {conc} for {seconds}s each.")
    say("")
    say(f"### Loading {rows} generated rows")
    say("")
    say("| loader | seconds | rows/s | ratio to LOAD DATA |")
    say("|---|---|---|---|")
    say(f"| LOAD DATA LOCAL INFILE (floor) | {floor:.2f} | {round(rows / floor)} | 1.00 |")
    say(f"| cachelens load-data | {ours:.2f} | {round(rows / ours)} | {ratio(ours, floor)} (goal ≤ 1.5) |")
    say("")

    rounds = sorted({int(p.name.split("-")[0]) for p in folder.glob("*-hit.wrk")})
    peer, hits, dbs = [], [], []
    plain_ratios, gzip_ratios, hit_shares, db_shares = [], [], [], []
    errors = 0
    cost = dict(app=0.0, redis_hit=0.0, wrk=0.0, hits=0, redis_get=0.0, client=0.0, gets=0)
    for r in rounds:
        hit, gz, wd, db = (Wrk(folder / f"{r}-{k}.wrk") for k in ("hit", "gzip", "webdis", "mysql"))
        redis_text = (folder / f"{r}-redis.csv").read_text()
        redis_rps = float(number(r'^"GET","([\d.]+)"', redis_text))
        slap_secs = number(r"Average number of seconds to run all queries: ([\d.]+)", (folder / f"{r}-slap.txt").read_text())
        if not slap_secs:
            sys.exit(f"bench_report: no mysqlslap result in round {r}")
        slap_qps = round(int(f[f"{r}.slap_queries"]) / float(slap_secs))
        gets = int(f[f"{r}.gets"])
        cost["app"] += cpu(f"{r}.app1") - cpu(f"{r}.app0")
        cost["redis_hit"] += cpu(f"{r}.redis1") - cpu(f"{r}.redis0")
        cost["redis_get"] += cpu(f"{r}.redis2") - cpu(f"{r}.redis1")
        cost["wrk"] += hit.cpu
        cost["hits"] += hit.requests
        cost["client"] += times_cpu(redis_text)
        cost["gets"] += gets
        plain_ratios.append(hit.rps / wd.rps)
        gzip_ratios.append(gz.rps / wd.rps)
        hit_shares.append(pct(hit.rps, redis_rps))
        db_shares.append(pct(db.rps, slap_qps))
        errors += hit.errors + gz.errors + wd.errors + db.errors
        peer.append(f"| {r} | {hit.rps:.0f} | {gz.rps:.0f} | {gz.p50} | {gz.p99} | {wd.rps:.0f} | {wd.p50} | {wd.p99} | "
                    f"{ratio(hit.rps, wd.rps)} | {ratio(gz.rps, wd.rps)} |")
        hits.append(f"| {r} | {hit.rps:.0f} | {hit.p50} | {hit.p99} | {hit.errors} | {redis_rps:.0f} | {pct(hit.rps, redis_rps)} % |")
        dbs.append(f"| {r} | {db.rps:.0f} | {db.p50} | {db.p99} | {db.errors} | {slap_qps} | {pct(db.rps, slap_qps)} % |")
    page, home = Wrk(folder / "page.wrk"), Wrk(folder / "home.wrk")
    errors += page.errors + home.errors
    median = statistics.median_low

    say(f"### Serving (the query of the seed: term delta, 500 rows; JSON body {body} bytes, stored entry {stored} bytes, "
        f"gzip answer {gzip_bytes} bytes)")
    say("")
    say("Each round measures the endpoint with wrk, then its peers at the same concurrency: webdis serving the same")
    say(f"JSON uncompressed from the same Redis, `redis-benchmark` GET of a {stored}-byte value (SET once before")
    say("the rounds), or `mysqlslap` with the endpoint's query.")
    say("")
    say(f"**Cache hit asking for gzip: median {median(gzip_ratios):.2f} × webdis (goal ≥ 2).** "
        f"**Plain cache hit: median {median(plain_ratios):.2f} × webdis (goal ≥ 1.5).**")
    say(f"**Stored entry: {pct(stored, body)} % of the JSON body (goal ≤ 30 %).** Redis used_memory per entry: "
        f"{round((int(f['mem1']) - int(f['mem0'])) / 99)} bytes as stored, {round((int(f['mem2']) - int(f['mem1'])) / 99)} bytes "
        "for the plain JSON.")
    say(f"**MySQL endpoint: median share of mysqlslap {median(db_shares)} % (goal ≥ 65 %).** Errors in all runs: {errors} (goal 0).")
    say("")
    say("| round | hit plain req/s | hit gzip req/s | p50 | p99 | webdis req/s | p50 | p99 | plain ÷ webdis | gzip ÷ webdis |")
    say("|---|---|---|---|---|---|---|---|---|---|")
    out.extend(peer)
    say("")
    say(f"The hit's share of redis-benchmark GET (median {median(hit_shares)} %), the earlier goal's measure:")
    say("")
    say("| round | GET /api/query/cache (hit) req/s | p50 | p99 | errors | redis-benchmark GET req/s | share |")
    say("|---|---|---|---|---|---|---|")
    out.extend(hits)
    say("")
    per_hit = lambda s: round(s * 1e6 / cost["hits"])  # noqa: E731
    per_get = lambda s: round(s * 1e6 / cost["gets"])  # noqa: E731
    app_us, redis_hit_us, wrk_us = per_hit(cost["app"]), per_hit(cost["redis_hit"]), per_hit(cost["wrk"])
    redis_get_us, client_us = per_get(cost["redis_get"]), per_get(cost["client"])
    floor_us, hit_us = redis_get_us + client_us, app_us + redis_hit_us + wrk_us
    say("CPU per request over the rounds (from /proc and bash's `times`; all processes share the cores):")
    say("")
    say("| process | cache hit | redis-benchmark GET |")
    say("|---|---|---|")
    say(f"| redis-server | {redis_hit_us} µs | {redis_get_us} µs |")
    say(f"| load generator (wrk / redis-benchmark) | {wrk_us} µs | {client_us} µs |")
    say(f"| cachelens | {app_us} µs | |")
    say(f"| all | {hit_us} µs | {floor_us} µs |")
    say("")
    say("The hit moves the value twice more (Redis → cachelens → wrk against Redis → client). A cachelens costing just a")
    say(f"client read plus a Redis write ({floor_us} µs) would reach {pct(floor_us, redis_hit_us + wrk_us + floor_us)} % of the floor; "
        f"by this count it reaches {pct(floor_us, hit_us)} %.")
    say("")
    say("| round | GET /api/query/mysql req/s | p50 | p99 | errors | mysqlslap qps | share |")
    say("|---|---|---|---|---|---|---|")
    out.extend(dbs)
    say("")
    say("| also measured | req/s | p50 | p99 | errors |")
    say("|---|---|---|---|---|")
    say(f"| GET /cache?… (server-rendered, hit) | {page.rps:.0f} | {page.p50} | {page.p99} | {page.errors} |")
    say(f"| GET / (server-rendered home) | {home.rps:.0f} | {home.p50} | {home.p99} | {home.errors} |")
    say("")
    rss = [str(round(int(v) / 1024)) for v in f["rss_kib"].split()]
    say(f"Server RSS in MiB after warm-up, after each round's two endpoints, and after the pages: {' → '.join(rss)}.")
    say("")
    say("Front end shipped per page (release, as Chromium received it, gzip; WASM + JS, a lazy page's chunks included):")
    say("")
    out.append((folder / "front.md").read_text().rstrip())
    say("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--wrk":
        print(round(Wrk(sys.argv[2]).rps))
    elif len(sys.argv) == 2:
        sys.stdout.write(report(Path(sys.argv[1])))
    else:
        sys.exit(__doc__)
