# An SVG bar chart of bench/run's CSV, written by hand (no plotting library): peak RSS and
# CPU per GiB per tool, medians, over HTTP and HTTPS, one block per size (default: every
# size of 1 GiB and over, else the largest).
#   python3 bench/chart.py results.csv peers.txt [SIZE_MIB...] > doc/bench.svg
import csv, statistics, sys
from xml.sax.saxutils import escape

TOOLS = ["s3push", "curl", "aws-cli", "s3cmd", "s5cmd", "rclone"]
SCHEMES = [("http", "#4e79a7"), ("https", "#f28e2b")]
rows = list(csv.DictReader(open(sys.argv[1])))
info = dict(l.split(" ", 1) for l in open(sys.argv[2]).read().splitlines() if " " in l)
have = sorted({int(r["size_mib"]) for r in rows})
sizes = [int(a) for a in sys.argv[3:]] or [s for s in have if s >= 1024] or have[-1:]


def medians(size):
    groups = {}
    for r in rows:
        if int(r["size_mib"]) == size and r["tool"] in TOOLS:
            groups.setdefault((r["tool"], r["scheme"]), []).append(r)
    return {k: (statistics.median(int(r["peak_rss_kib"]) for r in rs) / 1024,
                statistics.median(float(r["cpu_s"]) for r in rs) * 1024 / size, len(rs))
            for k, rs in groups.items()}


W, left, panel_w, gap = 900, 80, 340, 60
bar_h, row_h = 11, 30
blocks = [(s, medians(s)) for s in sizes]
block_h = [58 + row_h * len([t for t in TOOLS if any((t, sc) in v for sc, _ in SCHEMES)]) for _, v in blocks]
H = 60 + sum(block_h) + 70
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
       'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>']


def text(x, y, s, **kw):
    attrs = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in kw.items())
    out.append(f'<text x="{x:.1f}" y="{y:.1f}" {attrs}>{escape(s)}</text>')


text(W / 2, 22, "Uploading to a local s3s-fs, each tool with its defaults: medians, shorter is better",
     text_anchor="middle", font_size="15", font_weight="bold")
y0 = 50
for (size, vals), bh in zip(blocks, block_h):
    tools = [t for t in TOOLS if any((t, sc) in vals for sc, _ in SCHEMES)]
    counts = [f"{sc} {max((v[2] for k, v in vals.items() if k[1] == sc), default=0)}" for sc, _ in SCHEMES]
    size_name = f"{size // 1024} GiB" if size % 1024 == 0 else f"{size} MiB"
    text(20, y0 + 14, f"{size_name} (runs: {', '.join(counts)})", font_weight="bold", font_size="13")
    top = y0 + 44
    for p, (title, idx, unit) in enumerate([("peak RSS", 0, "MiB"), ("CPU (user+sys) per GiB", 1, "s")]):
        x0 = left + p * (panel_w + gap)
        top_val = max((v[idx] for v in vals.values()), default=1) or 1
        text(x0 + panel_w / 2, top - 12, f"{title}, {unit}", text_anchor="middle")
        out.append(f'<line x1="{x0}" y1="{top - 4}" x2="{x0}" y2="{top + row_h * len(tools) - 6}" stroke="#333"/>')
        for i, tool in enumerate(tools):
            y = top + i * row_h
            if p == 0:
                text(left - 8, y + bar_h + 3, tool, text_anchor="end",
                     font_weight="bold" if tool == "s3push" else "normal")
            for j, (scheme, color) in enumerate(SCHEMES):
                v = vals.get((tool, scheme))
                yb = y + j * (bar_h + 1)
                if v is None:
                    text(x0 + 4, yb + bar_h - 2, "no figure: failed or not run", fill="#999", font_size="10")
                    continue
                w = max(1.0, (panel_w - 60) * v[idx] / top_val)
                out.append(f'<rect x="{x0}" y="{yb}" width="{w:.1f}" height="{bar_h}" fill="{color}"/>')
                text(x0 + w + 4, yb + bar_h - 2, f"{v[idx]:.1f}" if v[idx] >= 10 else f"{v[idx]:.2f}",
                     font_size="10")
    y0 += bh
ly = y0 + 6
for j, (scheme, color) in enumerate(SCHEMES):
    out.append(f'<rect x="{left + j * 90}" y="{ly}" width="12" height="12" fill="{color}"/>')
    text(left + j * 90 + 18, ly + 10, scheme)
text(left, ly + 32, f"{info.get('date', '')}; {info.get('machine', '')}; load average {info.get('load', '')}",
     fill="#555", font_size="11")
text(left, ly + 48, "bench/run in the s3push repository; tool versions and settings in the README",
     fill="#555", font_size="11")
out.append("</svg>")
print("\n".join(out))
