# The Markdown of bench/run's CSV: the tools side by side, s3push's modes, and the goals.
#   python3 bench/table.py results.csv peers.txt
# Medians and minima over the runs; each ratio to s3push is the median of the per-run
# ratios (the tool and s3push measured in the same run, on the same server).
import csv, statistics, sys

PEERS = ["s3push", "curl", "aws-cli", "s3cmd", "s5cmd", "rclone"]
rows = list(csv.DictReader(open(sys.argv[1])))
info = open(sys.argv[2]).read().splitlines() if len(sys.argv) > 2 else []

# (size, scheme, tool) -> {run: (wall, cpu, rss_kib)}
data = {}
for r in rows:
    data.setdefault((int(r["size_mib"]), r["scheme"], r["tool"]), {})[r["run"]] = (
        float(r["wall_s"]), float(r["cpu_s"]), int(r["peak_rss_kib"]))
cases = sorted({(s, sc) for s, sc, _ in data}, key=lambda c: (c[0], c[1]))
med = statistics.median


def stat(key, i):
    v = [x[i] for x in data[key].values()]
    return med(v), min(v)


def ratio(key, i):
    base = data.get((key[0], key[1], "s3push"), {})
    v = [x[i] / base[run][i] for run, x in data[key].items() if run in base and base[run][i] > 0]
    return f"{med(v):.2f}" if v else "-"


def size_name(mib):
    return f"{mib // 1024} GiB" if mib >= 1024 and mib % 1024 == 0 else f"{mib} MiB"


def line(key):
    size, scheme, tool = key
    (w, wmin), (c, cmin), (m, mmin) = stat(key, 0), stat(key, 1), stat(key, 2)
    per_gib = 1024 / size
    return (f"| {size_name(size)} | {scheme} | {tool} | {len(data[key])} | {w:.2f} / {wmin:.2f} | "
            f"{c * per_gib:.2f} / {cmin * per_gib:.2f} | {m / 1024:.1f} / {mmin / 1024:.1f} | "
            f"{ratio(key, 0)} | {ratio(key, 1)} | {ratio(key, 2)} |")


head = ("| size | scheme | tool | runs | wall s (median / min) | CPU s per GiB (median / min) | "
        "peak RSS MiB (median / min) | wall vs s3push | CPU vs s3push | RSS vs s3push |\n"
        "|---|---|---|---|---|---|---|---|---|---|")
for l in info:
    print(f"- {l}")
print("\n**Each tool with its defaults** (s3push: no flags; ratios: the tool's figure over s3push's in the same run)\n")
print(head)
for size, scheme in cases:
    for tool in PEERS:
        if (size, scheme, tool) in data:
            print(line((size, scheme, tool)))
print("\n**s3push, one PUT in each payload and checksum mode** (`--multipart-threshold 5G`)\n")
print(head)
for size, scheme in cases:
    for key in sorted(k for k in data if k[:2] == (size, scheme) and k[2].startswith("s3push 1 PUT")):
        print(line(key))

print("\n**Goals** (medians; same size, same scheme, same server)\n")
for size, scheme in cases:
    case = f"{size_name(size)} {scheme}"
    me, curl = (size, scheme, "s3push"), (size, scheme, "curl")
    if me not in data:
        print(f"- {case}: no s3push figures")
        continue
    if curl in data:
        rss, crss = stat(me, 2)[0], stat(curl, 2)[0]
        ok = rss <= crss / 4
        print(f"- {'PASS' if ok else 'FAIL'} {case}: peak RSS {rss / 1024:.2f} MiB, at most a quarter of "
              f"curl's {crss / 1024:.2f} MiB ({crss / 4 / 1024:.2f})")
        # curl sends one PUT with UNSIGNED-PAYLOAD: s3push's one PUT unsigned is the same mode.
        same = (size, scheme, "s3push 1 PUT: unsigned + trailer")
        mode = "one PUT, unsigned payload (+ CRC32 trailer)"
        if same not in data:
            same, mode = me, "its default (no one-PUT figure at this size)"
        cpu, ccpu = stat(same, 1)[0] * 1024 / size, stat(curl, 1)[0] * 1024 / size
        verdict, why = ("PASS" if cpu <= ccpu else "FAIL"), ""
        if stat(curl, 1)[0] < 0.2:
            verdict, why = "n/a", " (under 0.2 s of CPU: GNU time counts in 10 ms steps)"
        print(f"- {verdict} {case}: CPU {cpu:.2f} s per GiB ({mode}), no more than curl's {ccpu:.2f}{why}")
        if same != me:
            dcpu = stat(me, 1)[0] * 1024 / size
            print(f"  - as run with no flags: {dcpu:.2f} s per GiB "
                  f"({'within' if dcpu <= ccpu else 'over'} curl's)")
    else:
        print(f"- {case}: no curl figures (see failures.txt)")
    peers = [(stat((size, scheme, t), 0)[0], t) for t in PEERS[1:] if (size, scheme, t) in data]
    if peers:
        wall, (fast, who) = stat(me, 0)[0], min(peers)
        print(f"- {'PASS' if wall <= fast else 'FAIL'} {case}: wall {wall:.2f} s, no worse than the "
              f"fastest peer ({who}, {fast:.2f} s)")
        one = (size, scheme, "s3push 1 PUT: default")
        if who == "curl" and one in data and size > 64:
            # curl sends one PUT; s3push's one PUT is the same request shape.
            w1 = stat(one, 0)[0]
            print(f"  - one PUT against curl's one PUT: {w1:.2f} s "
                  f"({'within' if w1 <= fast else 'over'} curl's {fast:.2f} s)")
        multi = [(w, t) for w, t in peers if t != "curl"]
        if who == "curl" and multi and size > 64:
            fm, wm = min(multi)
            print(f"  - against the fastest multipart peer ({wm}, {fm:.2f} s): "
                  f"{'within' if wall <= fm else 'over'}")
