"""The HTML QC report: summary, plots (matplotlib, embedded as PNG) and the failed samples and variants."""

from __future__ import annotations

import base64
import io
import math

import jinja2

TEMPLATE = jinja2.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>QC report: {{ title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px }
table { border-collapse: collapse; margin: 1em 0 } td, th { border: 1px solid #ccc; padding: 3px 8px; font-size: 90% }
th { background: #f3f3f3 } .fail { color: #a40000; font-weight: 600 } .ok { color: #216e00; font-weight: 600 }
.plots img { width: 48%; margin: 0.5%; border: 1px solid #eee }
</style></head><body>
<h1>QC report: {{ title }}</h1>
<p>{{ s.samples }} samples, <span class="{{ 'fail' if s.samples_failed else 'ok' }}">{{ s.samples_failed }} failed</span>;
{{ s.variants }} variants, <span class="{{ 'fail' if s.variants_failed else 'ok' }}">{{ s.variants_failed }} failed</span>.</p>
<h2>Sex check against the clinical table</h2>
{% if s.clinical_sex %}<p>chrX inference compared with the sex recorded in {{ s.clinical_sex }}:
<span class="{{ 'fail' if mismatches else 'ok' }}">{{ mismatches|length }} sample(s) flagged <code>sex-mismatch</code></span>.</p>
{% if mismatches %}<table><tr><th>sample</th><th>chrX F</th><th>inferred</th><th>clinical</th><th>flags</th></tr>
{% for r in mismatches %}<tr><td>{{ r.sample }}</td><td>{{ fmt(r.x_f) }}</td><td>{{ r.inferred_sex }}</td>
<td>{{ r.clinical_sex }}</td><td class="fail">{{ r.flags }}</td></tr>{% endfor %}</table>{% endif %}
{% else %}<p>No clinical table with a sex column covers these samples; name one with <code>cirn datasets qc ID@V --clinical CLINICAL@V</code>.</p>{% endif %}
<h2>Thresholds (policy section <code>qc</code>)</h2>
<table><tr><th>check</th><th>value</th></tr>
{% for group, values in s.thresholds.items() %}{% for k, v in values.items() %}
<tr><td>{{ group }}.{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}{% endfor %}</table>
<h2>Plots</h2><div class="plots">{% for name, png in plots %}<img alt="{{ name }}" src="data:image/png;base64,{{ png }}">{% endfor %}</div>
<h2>Failed samples</h2>
{% if failed_samples %}<table><tr><th>sample</th><th>call rate</th><th>het rate</th><th>Ti/Tv</th><th>chrX F</th><th>sex</th><th>flags</th><th>reasons</th></tr>
{% for r in failed_samples %}<tr><td>{{ r.sample }}</td><td>{{ fmt(r.call_rate) }}</td><td>{{ fmt(r.het_rate) }}</td><td>{{ fmt(r.ti_tv) }}</td>
<td>{{ fmt(r.x_f) }}</td><td>{{ r.inferred_sex }}</td><td>{{ r.flags }}</td><td>{{ r.reasons }}</td></tr>{% endfor %}</table>
{% else %}<p class="ok">None.</p>{% endif %}
<h2>Failed variants{% if failed_variants|length >= 200 %} (first 200){% endif %}</h2>
{% if failed_variants %}<table><tr><th>chrom</th><th>pos</th><th>call rate</th><th>AF</th><th>HWE p</th><th>reasons</th></tr>
{% for r in failed_variants %}<tr><td>{{ r.chrom }}</td><td>{{ r.pos }}</td><td>{{ fmt(r.call_rate) }}</td><td>{{ fmt(r.af) }}</td>
<td>{{ fmt(r.hwe_p) }}</td><td>{{ r.reasons }}</td></tr>{% endfor %}</table>
{% else %}<p class="ok">None.</p>{% endif %}
</body></html>""")


def _fmt(x) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1e-3 and x != 0 else f"{x:.4f}".rstrip("0").rstrip(".")
    return str(x)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(result, policy) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    s, v = result.samples.to_pydict(), result.variants.to_pydict()
    plots = []

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(s["call_rate"], bins=30, color="#4472c4")
    ax.axvline(policy.sample.min_call_rate, color="#a40000", ls="--", label="threshold")
    ax.set(title="Sample call rate", xlabel="call rate", ylabel="samples")
    ax.legend()
    plots.append(("sample call rate", _png(fig)))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    colours = ["#4472c4" if p else "#c00000" for p in s["pass"]]
    ax.scatter([x if x is not None else math.nan for x in s["call_rate"]],
               [x if x is not None else math.nan for x in s["het_rate"]], c=colours, s=10)
    ax.set(title="Heterozygosity vs call rate (red: failed)", xlabel="call rate", ylabel="autosomal het rate")
    plots.append(("heterozygosity", _png(fig)))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist([x for x in s["ti_tv"] if x is not None], bins=30, color="#70ad47")
    ax.axvline(policy.sample.min_ti_tv, color="#a40000", ls="--")
    ax.axvline(policy.sample.max_ti_tv, color="#a40000", ls="--")
    ax.set(title="Ti/Tv per sample", xlabel="Ti/Tv", ylabel="samples")
    plots.append(("ti/tv", _png(fig)))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist([x for x in s["x_f"] if x is not None], bins=30, color="#ed7d31")
    ax.axvline(policy.sample.female_max_x_f, color="#a40000", ls="--")
    ax.axvline(policy.sample.male_min_x_f, color="#a40000", ls="--")
    ax.set(title="Sex check: chrX F (female ≤ left line, male ≥ right)", xlabel="F", ylabel="samples")
    plots.append(("sex check", _png(fig)))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    afs = [a for a in v["af"] if a is not None and a > 0]
    if afs:
        ax.hist([math.log10(a) for a in afs], bins=40, color="#7f7f7f")
    ax.set(title="Allele frequency spectrum", xlabel="log10 alternate allele frequency", ylabel="variants")
    plots.append(("allele frequency spectrum", _png(fig)))

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ps = sorted(p for p in v["hwe_p"] if p is not None)
    if ps:
        n = len(ps)
        expected = [-math.log10((i + 0.5) / n) for i in range(n)]
        observed = [-math.log10(max(p, 1e-300)) for p in ps]
        ax.scatter(expected, observed, s=4, color="#4472c4")
        top = max(max(expected), max(observed))
        ax.plot([0, top], [0, top], color="#999", lw=1)
        ax.axhline(-math.log10(policy.variant.min_hwe_p), color="#a40000", ls="--")
    ax.set(title="Hardy–Weinberg p, QQ plot (autosomes)", xlabel="expected -log10 p", ylabel="observed -log10 p")
    plots.append(("hwe qq", _png(fig)))
    return plots


def render_report(result, policy, title: str) -> str:
    s = result.summary(policy)
    samples = result.samples.to_pylist()
    variants = result.variants.filter(result.variants.column("pass").to_numpy(zero_copy_only=False) == False)  # noqa: E712
    failed_variants = variants.slice(0, 200).to_pylist()
    mismatches = [r for r in samples if "sex-mismatch" in (r.get("flags") or "").split(",")]
    return TEMPLATE.render(title=title, s=s, plots=_plots(result, policy), fmt=_fmt, mismatches=mismatches,
                           failed_samples=[r for r in samples if not r["pass"]], failed_variants=failed_variants)
