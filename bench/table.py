# The Markdown table of bench/run's CSV: median and min wall, CPU per GiB, peak RSS and
# its ratio to s3push's default, per size, scheme and tool.
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
groups = {}
for r in rows:
    groups.setdefault((int(r["size_mib"]), r["scheme"], r["tool"]), []).append(r)
print("| size | scheme | tool | wall s (median / min) | CPU s per GiB (median) | peak RSS KiB (median) | RSS vs s3push |")
print("|---|---|---|---|---|---|---|")
for (size, scheme, tool), rs in sorted(groups.items()):
    wall = [float(r["wall_s"]) for r in rs]; cpu = [float(r["cpu_s"]) for r in rs]
    rss = statistics.median(int(r["peak_rss_kib"]) for r in rs)
    base = groups.get((size, scheme, "s3push default"))
    ratio = rss / statistics.median(int(r["peak_rss_kib"]) for r in base) if base else float("nan")
    print(f"| {size} MiB | {scheme} | {tool} | {statistics.median(wall):.2f} / {min(wall):.2f} | "
          f"{statistics.median(cpu) * 1024 / size:.2f} | {rss:.0f} | {ratio:.2f}x |")
