# An SVG bar chart of bench/run's CSV, written by hand (no plotting library): peak RSS and
# CPU per GiB per tool, medians, over HTTP and HTTPS, for one size (default 1 GiB).
#   python3 bench/chart.py results.csv peers.txt [SIZE_MIB] > doc/bench.svg
import csv, statistics, sys
from xml.sax.saxutils import escape

TOOLS = ["s3push", "curl", "aws-cli", "s3cmd", "s5cmd", "rclone"]
SCHEMES = [("http", "#4e79a7"), ("https", "#f28e2b")]
rows = list(csv.DictReader(open(sys.argv[1])))
info = dict(l.split(" ", 1) for l in open(sys.argv[2]).read().splitlines() if " " in l)
sizes = sorted({int(r["size_mib"]) for r in rows})
size = int(sys.argv[3]) if len(sys.argv) > 3 else (1024 if 1024 in sizes else sizes[-1])

vals, runs = {}, {}
for r in rows:
    if int(r["size_mib"]) == size:
        vals.setdefault((r["tool"], r["scheme"]), []).append(r)
for key, rs in vals.items():
    runs[key] = len(rs)
    vals[key] = (statistics.median(int(r["peak_rss_kib"]) for r in rs) / 1024,
                 statistics.median(float(r["cpu_s"]) for r in rs) * 1024 / size)
tools = [t for t in TOOLS if any((t, s) in vals for s, _ in SCHEMES)]

W, left, panel_w, gap = 900, 80, 340, 60
bar_h, row_h, top = 11, 34, 78
H = top + row_h * len(tools) + 70
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
       'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>']


def text(x, y, s, **kw):
    attrs = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in kw.items())
    out.append(f'<text x="{x:.1f}" y="{y:.1f}" {attrs}>{escape(s)}</text>')


size_name = f"{size // 1024} GiB" if size % 1024 == 0 else f"{size} MiB"
n = max(runs.values()) if runs else 0
text(W / 2, 22, f"Uploading {size_name} to a local s3s-fs: each tool with its defaults "
     f"(median of {n} run{'s' if n != 1 else ''})", text_anchor="middle", font_size="15", font_weight="bold")
text(W / 2, 42, "shorter is better", text_anchor="middle", fill="#555")
for p, (title, idx, unit) in enumerate([("peak RSS", 0, "MiB"), ("CPU (user+sys) per GiB", 1, "s")]):
    x0 = left + p * (panel_w + gap)
    top_val = max((v[idx] for v in vals.values()), default=1) or 1
    text(x0 + panel_w / 2, top - 16, f"{title}, {unit}", text_anchor="middle", font_weight="bold")
    out.append(f'<line x1="{x0}" y1="{top - 6}" x2="{x0}" y2="{top + row_h * len(tools) - 6}" stroke="#333"/>')
    for i, tool in enumerate(tools):
        y = top + i * row_h
        if p == 0:
            text(left - 8, y + bar_h + 3, tool, text_anchor="end",
                 font_weight="bold" if tool == "s3push" else "normal")
        for j, (scheme, color) in enumerate(SCHEMES):
            v = vals.get((tool, scheme))
            yb = y + j * (bar_h + 1)
            if v is None:
                text(x0 + 4, yb + bar_h - 2, "n/a", fill="#999", font_size="10")
                continue
            w = max(1.0, (panel_w - 60) * v[idx] / top_val)
            out.append(f'<rect x="{x0}" y="{yb}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
            text(x0 + w + 4, yb + bar_h - 2, f"{v[idx]:.1f}" if v[idx] >= 10 else f"{v[idx]:.2f}", font_size="10")
ly = top + row_h * len(tools) + 6
for j, (scheme, color) in enumerate(SCHEMES):
    out.append(f'<rect x="{left + j * 90}" y="{ly}" width="12" height="12" fill="{color}"/>')
    text(left + j * 90 + 18, ly + 10, scheme)
text(left, ly + 32, f"{info.get('date', '')}; {info.get('machine', '')}; load {info.get('load', '')}",
     fill="#555", font_size="11")
text(left, ly + 48, "bench/run; versions in the README", fill="#555", font_size="11")
out.append("</svg>")
print("\n".join(out))
