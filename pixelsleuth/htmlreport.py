"""The audit's self-contained HTML report: one file, no network, sortable and filterable.

It is written from what :func:`pixelsleuth.audit_results.read_audit` reads back: each file's
row and, when the audit kept them, its extras (the whole Report and small pictures). The table
lists every file; each file's details live in a ``<template>`` that is only turned into DOM
when the row is opened, so thousands of rows stay responsive.
"""

from __future__ import annotations

import html
from pathlib import Path

from pixelsleuth.audit_results import AuditEntry, read_audit
from pixelsleuth.report import percent

MAX_EVIDENCE = 8  # evidence lines shown per finding


def _details_html(entry: AuditEntry) -> str:
    e = html.escape
    row, extras, report = entry.row, entry.extras, entry.report
    parts = []
    if row.error:
        parts.append(f"<p class='err'>{e(row.error)}</p>")
    if row.reasons:
        parts.append("<h4>Why</h4><ul>" + "".join(f"<li>{e(r)}</li>" for r in row.reasons))
        parts.append("</ul>")
    figures = []
    if extras is not None and extras.image:
        figures.append(f"<figure><img src='{extras.image}'><figcaption>image</figcaption>")
        figures.append("</figure>")
    for m in extras.maps if extras is not None else []:
        figures.append(
            f"<figure><img src='{m.uri}' title='{e(m.description)}'>"
            f"<figcaption>{e(m.name)}</figcaption></figure>"
        )
    if figures:
        parts.append("<h4>Image and heatmaps (bright = suspicious)</h4>")
        parts.append("<div class='maps'>" + "".join(figures) + "</div>")
    if report.findings:
        rows = "".join(
            f"<tr><td>{e(f.analyzer)}</td><td>{'' if f.score is None else f.score}</td>"
            f"<td>{e(f.summary)}"
            + "".join(f"<br><small>· {e(ev.message)}</small>" for ev in f.evidence[:MAX_EVIDENCE])
            + "</td></tr>"
            for f in report.findings
        )
        parts.append(
            "<h4>Findings</h4><table class='inner'><tr><th>analyzer</th><th>score</th>"
            f"<th>summary</th></tr>{rows}</table>"
        )
    meta = report.finding("metadata")
    fields = meta.details.get("fields") if meta is not None else None
    if isinstance(fields, dict) and any(v not in (None, "", []) for v in fields.values()):
        items = "".join(
            f"<tr><td>{e(str(k))}</td><td>{e(str(v))[:300]}</td></tr>"
            for k, v in fields.items()
            if v not in (None, "", [])
        )
        parts.append(f"<h4>Metadata</h4><table class='inner'>{items}</table>")
    return "".join(parts)


PAGE_HEAD = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pixelsleuth audit</title><style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em} .bar{margin:.8em 0;display:flex;gap:.8em;flex-wrap:wrap}
input,select{font:inherit;padding:.3em}
table.main{border-collapse:collapse;width:100%} table.main th{cursor:pointer;background:#f1f3f5;
position:sticky;top:0;text-align:left;padding:.4em;user-select:none}
table.main td{padding:.35em .4em;border-top:1px solid #e5e5e5;vertical-align:middle}
tr.row{cursor:pointer} tr.row:hover{background:#f8f9fa} td.num{text-align:right}
.badge{padding:.15em .5em;border-radius:1em;font-weight:600;white-space:nowrap}
.ai-generated{background:#ffe3e3;color:#a61e1e} .manipulated{background:#fff3bf;color:#8a5a00}
.camera-original{background:#d3f9d8;color:#1b6e2a} .no-signs-found{background:#dbe9ff;color:#1c4b8f}
.inconclusive{background:#e9ecef;color:#444}
.error{background:#343a40;color:#fff} tr.detail td{background:#fcfcfd}
.maps{display:flex;flex-wrap:wrap;gap:.6em} figure{margin:0} figure img{max-width:320px;
border:1px solid #ddd} figcaption{font-size:.85em;color:#555} table.inner{border-collapse:
collapse} table.inner td,table.inner th{border:1px solid #e5e5e5;padding:.25em .4em;
text-align:left;vertical-align:top} .err{color:#a61e1e} img.thumb{width:64px;height:64px;
object-fit:cover;border-radius:4px}
</style></head><body>
"""

PAGE_SCRIPT = """<script>
const table=document.getElementById('results'), body=table.tBodies[0];
function rows(){return Array.from(body.querySelectorAll('tr.row'));}
function close(r){const d=r.nextElementSibling; if(d&&d.classList.contains('detail')) d.remove();}
body.addEventListener('click',ev=>{const r=ev.target.closest('tr.row'); if(!r) return;
 const d=r.nextElementSibling; if(d&&d.classList.contains('detail')){d.remove();return;}
 const t=document.getElementById('d'+r.dataset.i); const tr=document.createElement('tr');
 tr.className='detail'; const td=document.createElement('td'); td.colSpan=8;
 td.appendChild(t.content.cloneNode(true)); tr.appendChild(td); r.after(tr);});
let dir={};
table.tHead.addEventListener('click',ev=>{const th=ev.target.closest('th'); if(!th) return;
 const k=th.dataset.k, num=th.dataset.num==='1'; dir[k]=-(dir[k]||-1);
 const rs=rows(); rs.forEach(close);
 rs.sort((a,b)=>{let x=a.dataset[k], y=b.dataset[k];
  if(num){x=x===''?-1:parseFloat(x); y=y===''?-1:parseFloat(y); return (x-y)*dir[k];}
  return x.localeCompare(y)*dir[k];});
 rs.forEach(r=>body.appendChild(r));});
function filter(){const q=document.getElementById('q').value.toLowerCase();
 const v=document.getElementById('v').value; let n=0;
 rows().forEach(r=>{const ok=(!q||r.dataset.text.includes(q))&&(!v||r.dataset.verdict===v);
  if(!ok) close(r); r.style.display=ok?'':'none'; n+=ok;});
 document.getElementById('count').textContent=n+' shown';}
document.getElementById('q').addEventListener('input',filter);
document.getElementById('v').addEventListener('change',filter); filter();
</script></body></html>
"""


def write_html(results: str | Path, out: str | Path, extras: str | Path | None = None) -> int:
    """Write the HTML report for an audit's results (and its extras sidecar, by default the
    one beside them); returns the number of rows."""
    counts: dict[str, int] = {}
    e = html.escape
    with Path(out).open("w", encoding="utf-8") as dst:
        dst.write(PAGE_HEAD)
        dst.write(
            "<h1>pixelsleuth audit</h1><p>Click a column to sort, a row to open its evidence. "
            "Probabilities are calibrated estimates, not proof; read the reasons.</p>"
            "<div class='bar'><input id='q' placeholder='filter by path or reason' size='40'>"
            "<select id='v'><option value=''>all verdicts</option>"
            + "".join(
                f"<option>{v}</option>"
                for v in (
                    "ai-generated",
                    "manipulated",
                    "camera-original",
                    "no-signs-found",
                    "inconclusive",
                    "error",
                )
            )
            + "</select><span id='count'></span></div>"
            "<table class='main' id='results'><thead><tr>"
            "<th data-k='i' data-num='1'>#</th><th data-k='path'>image</th>"
            "<th data-k='verdict'>verdict</th><th data-k='ai' data-num='1'>P(AI)</th>"
            "<th data-k='manip' data-num='1'>P(manipulated)</th><th data-k='reason'>top reason"
            "</th><th data-k='detector' data-num='1'>detector</th><th data-k='size'>file</th>"
            "</tr></thead><tbody>\n"
        )
        templates = []
        i = 0
        for entry in read_audit(results, extras):
            i += 1
            row, report = entry.row, entry.report
            verdict = row.label
            counts[verdict] = counts.get(verdict, 0) + 1
            reason = row.top_reason
            det = row.score("detector")
            ai, manip = row.ai_probability, row.manipulation_probability
            info = report.file
            size = f"{info.width}×{info.height}" if info.width else ""
            thumb = entry.extras.thumbnail if entry.extras is not None else None
            text = f"{row.path} {verdict} {' '.join(row.reasons)}".lower()
            dst.write(
                f"<tr class='row' data-i='{i}' data-path='{e(row.path)}' "
                f"data-verdict='{e(verdict)}' data-ai='{'' if ai is None else ai}' "
                f"data-manip='{'' if manip is None else manip}' data-reason='{e(reason)}' "
                f"data-detector='{'' if det is None else det}' "
                f"data-size='{e(size)}' data-text='{e(text)}'>"
                f"<td class='num'>{i}</td><td>"
                + (f"<img class='thumb' src='{thumb}' alt=''> " if thumb else "")
                + f"{e(row.path)}</td><td><span class='badge {e(verdict)}'>{e(verdict)}"
                f"</span></td><td class='num'>{'' if ai is None else percent(ai)}</td>"
                f"<td class='num'>{'' if manip is None else percent(manip)}</td>"
                f"<td>{e(reason)[:240]}</td><td class='num'>"
                f"{'' if det is None else percent(det)}</td>"
                f"<td>{e(info.format or '')} {e(size)}</td></tr>\n"
            )
            templates.append(f"<template id='d{i}'>{_details_html(entry)}</template>\n")
            if len(templates) >= 200:  # bounded memory: flush templates after the table
                _spill(dst, templates)
        dst.write("</tbody></table>\n")
        _spill(dst, templates)
        summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        dst.write(f"<p>{i} files: {e(summary)}.</p>")
        dst.write(PAGE_SCRIPT)
    return i


def _spill(dst, templates: list[str]) -> None:
    # Templates may sit anywhere in the document; writing them out in batches keeps memory
    # flat, and <template> inside <tbody> is valid HTML.
    dst.write("".join(templates))
    templates.clear()
