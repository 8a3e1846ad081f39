"""The browser takes the contract's facts from the page, as protos/contract.py's browser_document builds them, and
the dashboard's scripts and stylesheet hold no copies of their own."""
import asyncio
import json
import re
from pathlib import Path

import pytest

from lenet_protos.contract import LAYERS, browser_document
from lenet_protos.lenet.v1 import lenet_pb2 as pb
from lenet_services.dashboard import web
from lenet_services.gateway.auth import Auth

STATIC_FILES = sorted(path for path in web.STATIC.iterdir() if path.suffix in (".js", ".css", ".html"))
# A quoted word that equals a contract value but means something else there.
NOT_FACTS = {("common.js", "data"): "el()'s data attribute (an element's dataset), not the network's input"}


def get(app, path: str) -> tuple[int, str]:
    """One GET through the ASGI application, as uvicorn calls it."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"dashboard")], "client": ("127.0.0.1", 1), "server": ("dashboard", 80)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body").decode()


def served_contract(html: str) -> dict:
    found = re.findall(r'<script type="application/json" id="contract">(.*?)</script>', html, re.S)
    assert len(found) == 1, html
    return json.loads(found[0])


@pytest.mark.parametrize("tokens, path", [("", "/"), ("alice:alice-token", "/login")])
def test_every_page_carries_the_contract_as_protos_contract_builds_it(tokens, path):
    status, html = get(web.build(None, Auth(tokens)), path)     # the pages call no service
    assert status == 200
    assert served_contract(html) == browser_document()


def test_the_document_names_what_the_browser_draws_and_filters_by():
    document = browser_document()
    assert [layer["name"] for layer in document["layers"]] == list(LAYERS)
    assert sorted(sum(document["layer_groups"].values(), [])) == sorted(LAYERS)
    assert document["job_states"] == [name for name in pb.JobState.keys() if pb.JobState.Value(name)]
    assert set(document["final_states"]) == {"SUCCEEDED", "FAILED", "CANCELLED", "PRUNED"}


def contract_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from contract_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from contract_strings(item)


def copies(path: Path) -> list[str]:
    """The contract's values `path` writes itself: colours and patterns anywhere, layer and enum names as words,
    any other value of two characters or more as a quoted string."""
    text, found = path.read_text(), []
    document = browser_document()
    words = {*LAYERS, *document["job_kinds"], *document["job_states"]}
    for value in set(contract_strings(document)):
        if value.startswith("#") or "[" in value:
            hit = value.lower() in text.lower()
        elif value in words:
            hit = re.search(rf"\b{re.escape(value)}\b", text)
        else:
            hit = len(value) > 1 and (path.name, value) not in NOT_FACTS and re.search(
                rf"""["'`]{re.escape(value)}["'`]""", text)
        if hit:
            found.append(value)
    return sorted(found)


@pytest.mark.parametrize("path", STATIC_FILES, ids=lambda path: path.name)
def test_no_static_file_copies_a_contract_fact(path):
    assert copies(path) == []


def test_the_copy_check_finds_a_copy(tmp_path):
    copy = tmp_path / "copy.js"
    copy.write_text('const STATES = ["QUEUED"];\nif (layer === "Conv1") color = "#2A9D4B";\nsplit = "train";\n')
    assert copies(copy) == ["#2a9d4b", "Conv1", "QUEUED", "train"]
