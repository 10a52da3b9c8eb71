#!/usr/bin/env python3
"""The arithmetic of scripts/bench: reading what wrk, redis-benchmark, mysqlslap and /proc report, and the
medians, shares and per-request CPU figures of the report. One subcommand a job; numbers out on stdout.

    wrk            wrk's --latency output and bash's `times` on stdin  → rps p50 p99 errors requests cpu_s
    redis-get      redis-benchmark --csv and `times` on stdin          → rps cpu_s
    slap N         mysqlslap's output on stdin, N queries              → qps
    proc-cpu PID   CPU seconds PID has used (all threads)
    median X…      the median (the lower middle of an even count)
    pct A B        100·A/B, whole
    per-us S N     S seconds over N requests, in whole µs
    add ROW ROW    two rows of numbers added column by column
    secs START END seconds between two `date +%s.%N` stamps
    div A B        A/B, whole
    ratio A B      A/B, two decimals
    mul A B        A·B, whole
"""
import os
import re
import statistics
import sys


def times_cpu(text):
    """bash's `times` ends the text: its last line is the children's user and system time, like 0m1.25s."""
    last = text.strip().splitlines()[-1].split()
    return sum(int(m) * 60 + float(s) for m, s in (re.fullmatch(r"(\d+)m([\d.]+)s", t).groups() for t in last[:2]))


def number(pattern, text, default=None, group=1):
    m = re.search(pattern, text, re.M)
    return m.group(group) if m else default


def wrk(text):
    non2xx = int(number(r"Non-2xx or 3xx responses: (\d+)", text, 0))
    socket = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", number(r"Socket errors: (.*)$", text, "")))
    return [number(r"^Requests/sec:\s+([\d.]+)", text), number(r"^\s+50%\s+(\S+)", text), number(r"^\s+99%\s+(\S+)", text),
            non2xx + socket, number(r"^\s+(\d+) requests in", text), round(times_cpu(text), 3)]


def redis_get(text):
    return [number(r'^"GET","([\d.]+)"', text), round(times_cpu(text), 3)]


def proc_cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(cmd, *args):
    text = sys.stdin.read() if cmd in ("wrk", "redis-get", "slap") else ""
    if cmd == "wrk":
        out = wrk(text)
    elif cmd == "redis-get":
        out = redis_get(text)
    elif cmd == "slap":
        secs = number(r"Average number of seconds to run all queries: ([\d.]+)", text)
        if not secs:
            sys.exit("bench_stats: no mysqlslap result in its output")
        out = [round(int(args[0]) / float(secs))]
    elif cmd == "proc-cpu":
        out = [proc_cpu(args[0])]
    elif cmd == "median":
        out = [statistics.median_low(float(a) for a in args)]
    elif cmd == "pct":
        out = [round(100 * float(args[0]) / float(args[1]))]
    elif cmd == "per-us":
        out = [round(float(args[0]) * 1e6 / float(args[1]))]
    elif cmd == "add":
        out = [round(float(a) + float(b), 6) for a, b in zip(args[0].split(), args[1].split())]
    elif cmd == "secs":
        out = [round(float(args[1]) - float(args[0]), 3)]
    elif cmd == "div":
        out = [round(float(args[0]) / float(args[1]))]
    elif cmd == "ratio":
        out = [f"{float(args[0]) / float(args[1]):.2f}"]
    elif cmd == "mul":
        out = [round(float(args[0]) * float(args[1]))]
    else:
        sys.exit(__doc__)
    print(" ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in out))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(*sys.argv[1:])
