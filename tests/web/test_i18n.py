"""The English catalog covers every message the code and templates mark for translation
(extracted now, as ``pybabel extract`` would), without fuzzy entries or broken
placeholders; pages switch to it."""

from __future__ import annotations

import re

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from asigest import PROJECT_ROOT
from tests.conftest import csrf_from

PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def extracted_msgids() -> set[str]:
    with open(PROJECT_ROOT / "babel.cfg") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "N_": None, "_l": None}  # as in the Makefile
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(PROJECT_ROOT), method_map, options_map, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.fixture(scope="module")
def english():
    with open(PROJECT_ROOT / "asigest/translations/en/LC_MESSAGES/messages.po", "rb") as handle:
        return read_po(handle, locale="en")


def test_every_message_has_an_english_translation(english):
    wanted = extracted_msgids()
    assert wanted, "nessun messaggio estratto?"
    missing = sorted(m for m in wanted if m not in english or not english[m].string)
    assert not missing, "Da tradurre (make extract-messages, poi messages.po):\n" + "\n".join(missing)


def test_english_catalog_has_no_fuzzy_entries_and_keeps_placeholders(english):
    for message in english:
        if not message.id:
            continue
        assert not message.fuzzy, message.id
        # A plural entry (ngettext) has a tuple of ids and a tuple of translations.
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set().union(*(PLACEHOLDER.findall(i) for i in ids))
        for string in strings:
            assert string, message.id
            assert set(PLACEHOLDER.findall(string)) == wanted, message.id


def test_english_pages_show_no_untranslated_template_text(client, login, make_config):
    """After switching to English, the list and the card show the English strings."""
    login()
    token = csrf_from(client.get("/commesse").text)
    client.post("/lingua/en", data={"csrf_token": token})
    make_config(101)
    page = client.get("/commesse").text
    assert '<html lang="en"' in page
    for text in ("Open orders", "Customer", "Due date", "Configured", "Not configured", "Next", "Log out"):
        assert text in page, text
    card = client.get("/commesse/103").text
    assert "Not open in the ERP (status “C”)" in card
    missing = client.get("/commesse/999999").text
    assert "Order 999999 does not exist in the ERP." in missing and "Not found" in missing
