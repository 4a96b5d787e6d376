"""Static files are addressed by content (``?v=``) and kept by the browser: a page
loads its stylesheets and scripts without asking the server again (issue 14: the kiosk
login revalidated four files at every screen)."""

from __future__ import annotations

import hashlib
import re

from asigest import PROJECT_ROOT


def _statici(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/static/[^"]+)"', html)


def test_every_static_address_carries_the_files_content_version(client):
    indirizzi = _statici(client.get("/login").text)
    assert indirizzi and all("?v=" in a for a in indirizzi)
    for indirizzo in indirizzi:
        percorso, v = indirizzo.split("?v=")
        contenuto = (PROJECT_ROOT / percorso.lstrip("/")).read_bytes()
        assert v == hashlib.sha256(contenuto).hexdigest()[:12], indirizzo


def test_a_versioned_file_is_kept_a_year_and_an_unversioned_one_revalidated(client):
    indirizzo = next(a for a in _statici(client.get("/login").text) if "app.css" in a)
    tenuto = client.get(indirizzo)
    assert tenuto.status_code == 200
    assert {"public", "immutable", "max-age=31536000"} <= {
        p.strip() for p in tenuto.headers["Cache-Control"].split(",")
    }
    for altro in ("/static/css/app.css", "/static/css/app.css?v=000000000000"):
        risposta = client.get(altro)
        assert risposta.status_code == 200 and "immutable" not in risposta.headers.get("Cache-Control", "")
