"""The jinja2 template of report.html: the answer first (summary, warnings, setup), then per metric its plots and
table, the probe tables, per language its per-class scores and confusion matrices, and the details last.

Laid out for a 1366 px laptop screen: tables put a system's Δ under its score in one cell (no sideways scroll),
numbers never wrap inside, long paths do.
"""

STYLE = """
body{font-family:system-ui,sans-serif;margin:1.2em auto;max-width:1280px;color:#222;padding:0 1em;line-height:1.35}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd}
h3{font-size:1em;margin:1.1em 0 .3em}p{margin:.4em 0}.lede{color:#444}nav a{margin-right:.9em}
table{border-collapse:collapse;margin:.5em 0;font-size:.85em}th,td{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3;text-align:left}td.num{text-align:right;white-space:nowrap}
td .sub{display:block;font-size:.85em;color:#555;white-space:nowrap}tr.avg td{background:#fafafa;font-weight:600}
td.sig{background:#e6f4e6}td.signeg{background:#fbe7e7}td.better{background:#d8f0d8;font-weight:600}
td.worse{background:#f8dcdc;font-weight:600}td.unclear{color:#555}
.wide{overflow-x:auto;max-width:100%}.plots{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
img{max-width:100%;display:block;margin:.3em 0}code{font-size:.9em;overflow-wrap:anywhere}
.warnings{background:#fff6d6;border:1px solid #e8c95c;padding:.4em .9em;margin:.6em 0}
.warnings li{margin:.2em 0}dl.setup{display:grid;grid-template-columns:max-content 1fr;gap:.15em 1em;margin:.4em 0}
dl.setup dt{font-weight:600}dl.setup dd{margin:0;overflow-wrap:anywhere}.note{color:#555;font-size:.9em}
.matrices{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.matrix{font-size:.78em}
.matrix td,.matrix th{padding:2px 4px}.matrix td{text-align:right;min-width:2.2em}
.matrix td.diag{outline:2px solid #555;outline-offset:-2px}.matrix caption{text-align:left;font-weight:600}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>polytune evaluation report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{{ style }}</style></head><body>
{% macro cell(c, tag="td") %}<{{ tag }} class="{{ c.cls }}"{% if c.rowspan %} rowspan="{{ c.rowspan }}"{% endif %}
{% if c.title %} title="{{ c.title }}"{% endif %}>{{ c.text }}{% if c.sub %}<span class="sub">{{ c.sub }}</span>
{% endif %}</{{ tag }}>{% endmacro %}
{% macro table(t) %}<div class="wide"><table><tr>{% for h in t.header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in t.rows %}<tr class="{{ row.cls }}">{% for c in row.cells %}{{ cell(c) }}{% endfor %}</tr>
{% endfor %}</table></div>{% endmacro %}
<h1>Evaluation report</h1>
<p class="lede">{{ lede }}</p>
<nav>{% for id, label in contents %}<a href="#{{ id }}">{{ label }}</a>{% endfor %}</nav>
<section id="summary">
{% if summary %}<h2>Summary: did it help?</h2>
<p>{{ answer }}</p>
{{ table(summary) }}
<p class="note">{{ summary_note }}</p>
{% endif %}
{% if warnings %}<div class="warnings" id="warnings"><strong>Warnings</strong><ul>
{% for w in warnings %}<li>{{ w }}</li>{% endfor %}</ul></div>{% endif %}
</section>
<section id="setup"><h2>Setup</h2>
<dl class="setup">{% for label, value in setup %}<dt>{{ label }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>
{% if languages %}{{ table(languages) }}{% endif %}
<p class="note">{{ preamble }}</p></section>
{% for m in metrics %}
<section id="metric-{{ m.name }}"><h2>{{ m.label }}</h2>
<div class="plots"><img alt="{{ m.label }} per language with confidence intervals"
 src="data:image/png;base64,{{ m.bars }}">
{% if m.gain %}<img alt="gain vs corpus size" src="data:image/png;base64,{{ m.gain }}">{% endif %}</div>
{% if m.gain_note %}<p class="note">{{ m.gain_note }}</p>{% endif %}
{{ table(m.table) }}</section>
{% endfor %}
{% for t in probes %}
<section><h2>{{ t.title }}</h2>
{% if t.note %}<p class="note">{{ t.note }}</p>{% endif %}
{{ table(t) }}</section>
{% endfor %}
{% if per_class %}<section id="per-class"><h2>Per language: per-class scores and confusion matrices</h2>
<p class="note">Precision, recall and F1 in % per gold class (0 where undefined, as scikit-learn's
zero_division=0); "predicted": how often the system chose that class. Matrices: rows are the gold class, columns
the predicted one (numbered as in the rows), shaded by the share of the row; the diagonal is outlined.</p>
{% for lang in per_class %}
<h3 id="class-{{ lang.key }}">{{ lang.label }}</h3>
{{ table(lang.table) }}
{% if lang.matrices %}<div class="matrices">{% for mx in lang.matrices %}
<table class="matrix"><caption>{{ mx.system }}</caption>
<tr><th>gold \\ predicted</th>{% for c in mx.columns %}<th title="{{ c.title }}">{{ c.text }}</th>{% endfor %}</tr>
{% for row in mx.rows %}<tr><th>{{ row.label }}</th>
{% for c in row.cells %}<td class="{{ c.cls }}" style="background:rgba(31,119,180,{{ c.alpha }})">{{ c.text }}</td>
{% endfor %}</tr>{% endfor %}</table>
{% endfor %}</div>{% elif lang.matrix_note %}<p class="note">{{ lang.matrix_note }}</p>{% endif %}
{% endfor %}</section>{% endif %}
<section id="details">
{% if fairness %}<h2>Fairness across languages</h2>
<table><tr>{% for h in fairness_header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in fairness %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>{% endif %}
<h2>Signatures</h2><ul>
{% for label, sig in signatures %}<li>{{ label }}: <code>{{ sig }}</code></li>{% endfor %}</ul>
<h2>Inputs</h2><ul>
{% for name, digest in inputs %}<li><code>{{ name }}</code> sha256 <code>{{ digest }}</code></li>{% endfor %}</ul>
{% for name, text in manifests %}<details><summary>manifest of <code>{{ name }}</code></summary><pre>{{ text }}</pre>
</details>{% endfor %}
</section>
</body></html>
"""
