"""Every HTML report, opened in headless Chromium: no error output, no missing image, no empty table.

Skips (and says so) where no Chromium is installed; ``.ci/run`` installs Debian's ``chromium`` first,
so CI always runs it.
"""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom"]

# Loads the report in a frame and writes what it found into the harness's own DOM, which --dump-dom prints.
HARNESS = """<!doctype html><html><body><iframe id="page" src="{src}" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById("page").addEventListener("load", () => {{
  const doc = document.getElementById("page").contentDocument;
  const images = [...doc.images];
  const tables = [...doc.querySelectorAll("table")];
  const result = {{
    images: images.length,
    broken: images.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src.slice(0, 60)),
    errors: [...doc.querySelectorAll('[data-mime-type="application/vnd.jupyter.error"], .output_error')].length,
    tracebacks: (doc.body.innerText.match(/Traceback \\(most recent call last\\)/g) || []).length,
    tables: tables.length,
    empty: tables.filter(t => t.querySelectorAll("td").length === 0).length,
    title: doc.title,
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


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (apt-get install chromium); .ci/run installs it")
def test_every_report_page_renders_cleanly(tiny_report):
    report = tiny_report
    pages = [report, *sorted((report.parent / "tiny").glob("*.html"))]
    assert len(pages) == 7  # the index and six notebooks
    for page in pages:
        found = inspect(page)
        assert found["errors"] == 0 and found["tracebacks"] == 0, (page.name, found)
        assert not found["broken"], (page.name, found)
        assert found["empty"] == 0, (page.name, found)
        assert found["tables"] >= 1, (page.name, found)
        if page.name != "index.html":
            assert found["images"] >= 1, (page.name, found)
