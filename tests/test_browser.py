"""Every HTML report, opened in headless Chromium at 1280x800: no error output, no missing image, no empty table,
no page wider than the screen, no cell cut short, no index column, nothing fetched from another host, no
measuring logs; and the index names a pick for every measured model.

Skips (and says so) where no Chromium is installed; ``.ci/run`` installs Debian's ``chromium`` first,
so CI always runs it.
"""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--window-size=1300,900",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom"]

# Loads the report in a 1280x800 frame, as a reader's screen, and writes what it found into the harness's own DOM,
# which --dump-dom prints.
HARNESS = """<!doctype html><html><body style="margin:0"><iframe id="page" src="{src}"
 style="width:1280px;height:800px;border:0"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {{
  const doc = document.getElementById("page").contentDocument;
  const images = [...doc.images];
  const tables = [...doc.querySelectorAll("table")];
  const cells = [...doc.querySelectorAll("td, th")].map(c => c.textContent.trim());
  const remote = u => /^(https?:)?\\/\\//i.test(u || "");
  const fetched = [...doc.querySelectorAll("script[src], link[href], img[src], iframe[src], source[src], embed[src], object[data]")]
    .filter(e => !(e.tagName === "LINK" && !/stylesheet|preload|icon|modulepreload/i.test(e.rel)))
    .map(e => e.getAttribute("src") || e.getAttribute("href") || e.getAttribute("data")).filter(remote);
  const styles = [...doc.querySelectorAll("style")].map(s => s.textContent).join("\\n");
  const imports = (styles.match(/(@import|url\\()\\s*["']?(https?:)?\\/\\//gi) || []);
  const resources = performance.getEntriesByType("resource").map(r => r.name)
    .concat(document.getElementById("page").contentWindow.performance.getEntriesByType("resource").map(r => r.name))
    .filter(n => !n.startsWith("file:") && !n.startsWith("data:"));
  const firstTable = doc.querySelector("table");
  const result = {{
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60)),
    errors: [...doc.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"], .output_error')].length,
    tracebacks: (doc.body.innerText.match(/Traceback \\(most recent call last\\)/g) || []).length,
    tables: tables.length,
    empty: tables.filter(t => t.querySelectorAll("td").length === 0).length,
    title: doc.title,
    overflow: doc.documentElement.scrollWidth - doc.documentElement.clientWidth,
    truncated: cells.filter(t => t.endsWith("…") || t.endsWith("...")),
    index_columns: tables.filter(t => {{ const h = t.querySelector("thead th"); return h && h.textContent.trim() === ""; }}).length,
    remote: fetched.concat(imports, resources),
    logs: (doc.body.innerText.match(/^\\[[\\w.-]+\\] /gm) || []).length,
    first_column: firstTable ? [...firstTable.querySelectorAll("tbody tr")].map(r => r.cells[0].textContent.trim()) : [],
  }};
  const out = document.createElement("pre");
  out.id = "result";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
}});
</script></body></html>"""


def inspect(page: Path) -> dict:
    with tempfile.TemporaryDirectory() as profile_dir:
        harness = Path(profile_dir) / "harness.html"
        harness.write_text(HARNESS.format(src=page.resolve().as_uri()))
        done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile_dir}/chrome", harness.as_uri()],
                              capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found, f"Chromium did not render {page.name}: {done.stderr[-500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


needs_chromium = pytest.mark.skipif(CHROMIUM is None,
                                    reason="no Chromium installed (apt-get install chromium); .ci/run installs it")


def check_page(page: Path) -> dict:
    """What a reader at 1280x800 must get from every page; the findings, for more checks."""
    found = inspect(page)
    assert found["errors"] == 0 and found["tracebacks"] == 0, (page.name, found)
    assert not found["broken"], (page.name, found)
    assert found["empty"] == 0, (page.name, found)
    assert found["overflow"] <= 0, f"{page.name} is {found['overflow']} px wider than a 1280 px screen"
    assert not found["truncated"], f"{page.name}: cells cut short: {found['truncated'][:3]}"
    assert found["index_columns"] == 0, f"{page.name}: a table starts with pandas' index column"
    assert not found["remote"], f"{page.name} fetches from another host: {found['remote'][:3]}"
    assert found["logs"] == 0, f"{page.name} shows measuring logs"
    return found


@needs_chromium
def test_every_report_page_fits_a_screen_works_offline_and_answers(tiny_report):
    report = tiny_report
    pages = [report, *sorted((report.parent / "tiny").glob("*.html"))]
    assert len(pages) == 7  # the index and six notebooks
    for page in pages:
        found = check_page(page)
        assert found["tables"] >= 1, (page.name, found)  # the tiny profile measures every phase
        if page.name != "index.html":
            assert found["images"] >= 1, (page.name, found)
    index = inspect(report)
    latency = pd.read_csv(report.parents[1] / "results" / "tiny" / "latency.csv")
    measured = set(latency.loc[(latency["status"] == "ok") & (latency["batch"] == 1), "model"])
    assert measured and measured <= set(index["first_column"]), ("a pick per measured model", index["first_column"])
    assert index["images"] >= 1  # the headline figure


@needs_chromium
def test_the_checks_catch_what_a_reader_would_see(tmp_path):
    """Each check fails on a page with the fault it looks for (a page that fits passes)."""
    faults = {
        "overflow": "<div style='width:1900px'>wide</div>",
        "truncated": "<table><thead><tr><th>reason</th></tr></thead><tbody><tr><td>closest lit…</td></tr></tbody></table>",
        "index_columns": "<table><thead><tr><th></th><th>model</th></tr></thead><tbody><tr><td>0</td><td>m</td></tr></tbody></table>",
        "remote": "<script src='https://cdnjs.cloudflare.com/ajax/libs/require.js/2.1.10/require.min.js'></script>",
        "logs": "<pre>[host-1t] planning cases (converting artifacts where needed)</pre>",
    }
    table = "<table><thead><tr><th>model</th></tr></thead><tbody><tr><td>m</td></tr></tbody></table>"
    clean = tmp_path / "clean.html"
    clean.write_text(f"<!doctype html><html><body>{table}</body></html>")
    check_page(clean)
    for fault, markup in faults.items():
        page = tmp_path / f"{fault}.html"
        page.write_text(f"<!doctype html><html><body>{table}{markup}</body></html>")
        with pytest.raises(AssertionError):
            check_page(page)
