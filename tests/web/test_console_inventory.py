"""A warehouse's inventory files on the console's Files page, against a real ``ftpbridge
serve`` (both store backends): listed under their own direction and under "refused" when
held or with refused rows, with their rows counted; a file's page shows the inventory
report's own columns and quantities, and explains a held snapshot in words.

The files go through ``import_inventory``, the code ``ftpbridge inventory import`` and
the inventory poll run. The store holds examples/orders.jsonl's SKUs: 25 (warehouse SKU
007), 26 (55665) and 27 (55666) for acme, whose inventory_mode is snapshot.
"""

from __future__ import annotations

import html
import re
import shlex
from pathlib import Path

import httpx

from ftpbridge.files.inventory import InventoryResult, import_inventory
from ftpbridge.settings import Settings
from ftpbridge.store import Store
from tests.unit.test_inventory_files import NOW, in_stock, set_stock
from tests.web.conftest import Api
from tests.web.test_console_pages import signed_in


def inventory_file(
    store: Store, settings: Settings, path: Path, lines: list[str]
) -> InventoryResult:
    path.write_text("\r\n".join(["sku,quantity", *lines]) + "\r\n")
    return import_inventory(store, settings.partners["acme"], path, now=NOW)


def three_files(store: Store, settings: Settings, folder: Path) -> dict[str, InventoryResult]:
    """A snapshot applied cleanly, one applied with a refused row, and a cut-off one held
    with a refused row (it would set 2 of acme's 3 SKUs in stock to 0)."""
    set_stock(store, _25=10, _26=10, _27=10)
    made = {
        "clean": inventory_file(
            store, settings, folder / "clean_inventory.csv", ["007,4", "55665,9", "55666,5"]
        ),
        "partial": inventory_file(
            store,
            settings,
            folder / "partial_inventory.csv",
            ["007,6", "55665,9", "NOPE-1,3", "55666,5"],
        ),
        "held": inventory_file(
            store, settings, folder / "cut_inventory.csv", ["007,7", "NOPE-2,1"]
        ),
    }
    assert [result.status for result in made.values()] == ["applied", "applied", "held"]
    return made


def listed(client: httpx.Client, query: str) -> dict[str, list[str]]:
    """The Files page's rows for ``query``: file name → the row's cells, as text."""
    page = client.get("/console/files?" + query)
    assert page.status_code == 200, page.text[:800]
    if "<tbody>" not in page.text:  # "No file matches these filters."
        return {}
    body = page.text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S):
        cells = [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        rows[cells[3]] = cells
    return rows


def report_rows(page: str) -> list[list[str]]:
    table = page.split('<table class="report">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [
        [
            html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    ]


def text_of(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_inventory_files_are_filtered_counted_and_refused(
    api: Api, loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """direction=inventory lists the three inventory files with their rows applied and
    refused; "refused" lists the held one and the one with a refused row, not the clean
    one; "held" only the held one; direction=import none of them."""
    three_files(loaded_store, settings, tmp_path)
    client, _token = signed_in(api)
    page = client.get("/console/files")
    assert '<option value="inventory">inventory files</option>' in page.text
    inventory = listed(client, "direction=inventory")
    assert set(inventory) == {"clean_inventory.csv", "partial_inventory.csv", "cut_inventory.csv"}
    # When, Partner, Direction, File, Outcome, Rows, Applied, Refused
    assert inventory["clean_inventory.csv"][2:] == [
        "inventory",
        "clean_inventory.csv",
        "Applied",
        "3",
        "3",
        "0",
    ]
    assert inventory["partial_inventory.csv"][4:] == ["Applied, 1 row refused", "4", "1", "1"]
    assert inventory["cut_inventory.csv"][4:] == ["Held, nothing applied", "2", "0", "1"]
    refused = listed(client, "outcome=refused")
    assert set(refused) == {"partial_inventory.csv", "cut_inventory.csv"}
    assert set(listed(client, "direction=inventory&outcome=refused")) == set(refused)
    assert set(listed(client, "outcome=held")) == {"cut_inventory.csv"}
    assert listed(client, "direction=import") == {}


def test_an_inventory_files_page_shows_its_own_report(
    api: Api, loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The page of an inventory file counts its rows like an import's and shows its report
    with the inventory columns: the refused row first with its reason, then the others
    with their quantities before and after."""
    files = three_files(loaded_store, settings, tmp_path)
    client, _token = signed_in(api)
    page = client.get(f"/console/files/{files['partial'].file_id}")
    assert page.status_code == 200, page.text[:800]
    text = text_of(page.text)
    assert "Rows 4 rows: 1 applied, 2 unchanged, 1 refused" in text
    assert "Direction inventory When" in text
    report = page.text.split('<table class="report">', 1)[1]
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)</th>', report.split("</thead>")[0])
    assert headers == [
        "Row",
        "SKU",
        "SKU id",
        "Outcome",
        "Quantity before",
        "Quantity after",
        "Reason",
    ]
    rows = report_rows(page.text)
    assert rows[0][:6] == ["4", "NOPE-1", "", "Refused", "", ""]
    assert rows[0][6].startswith("no SKU NOPE-1 is known")
    assert rows[1:] == [
        ["2", "007", "25", "Applied", "4", "6", "updated"],
        ["3", "55665", "26", "Unchanged", "9", "9", "no change"],
        ["5", "55666", "27", "Unchanged", "5", "5", "no change"],
    ]
    assert "1 row refused" in text and "1 row applied" in text and "2 rows unchanged" in text
    assert 'href="/console/files/{}/report"'.format(files["partial"].file_id) in page.text
    download = client.get(f"/console/files/{files['partial'].file_id}/report")
    assert download.status_code == 200
    assert download.text.startswith("row,sku,sku_id,outcome,quantity_before,quantity_after")


def test_a_held_snapshot_is_explained_and_its_rows_come_first(
    api: Api, loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """A held snapshot's page says it was held and nothing applied, why (the share of
    SKUs it would set to 0), and what to do (ask for a complete file, or apply this one by
    hand with the command naming the kept file); its report lists the held lines first
    with the quantities they would have set, and the stock is as before."""
    files = three_files(loaded_store, settings, tmp_path)
    client, _token = signed_in(api)
    page = client.get(f"/console/files/{files['held'].file_id}")
    assert page.status_code == 200, page.text[:800]
    text = text_of(page.text)
    assert "Outcome Held, nothing applied" in text
    assert "Rows 2 rows: none applied (held), 1 refused" in text
    assert "This inventory file was held: nothing was applied" in text
    assert (
        "What happened: acme sends snapshots: a file that lists all of its stock, where a SKU"
        " the file leaves out goes to 0. Held, nothing applied: this snapshot would set 2 of"
        " the 3 SKUs acme has in stock to 0 (67%), more than inventory_max_zeroed (50%)"
    ) in text
    command = (
        "If the file is right, apply it by hand: ftpbridge inventory import --partner acme"
        f" --force {shlex.quote(str(tmp_path / 'cut_inventory.csv'))}."
    )
    assert "What to do: Ask acme whether the file is complete" in text and command in text
    rows = report_rows(page.text)
    assert rows[0][3] == "Held" and "inventory_max_zeroed" in rows[0][6]
    assert rows[1:] == [
        ["2", "007", "25", "Held", "6", "7", "would be updated"],
        ["3", "NOPE-2", "", "Refused", "", "", rows[2][6]],
        ["", "55665", "26", "Held", "9", "0", "not in this snapshot: would be set to 0"],
        ["", "55666", "27", "Held", "5", "0", "not in this snapshot: would be set to 0"],
    ]
    assert "3 rows held" in text and rows[2][6].startswith("no SKU NOPE-2 is known")
    assert in_stock(loaded_store) == {"25": 6, "26": 9, "27": 5, "28": 0}


def test_the_partners_page_shows_the_last_inventory_file(
    api: Api, loaded_store: Store, settings: Settings, tmp_path: Path
) -> None:
    """The Partners page names the partner's last inventory file, held in words, and links
    to its inventory files."""
    three_files(loaded_store, settings, tmp_path)
    client, _token = signed_in(api)
    page = client.get("/console/")
    assert page.status_code == 200
    assert "<dt>Last inventory</dt><dd>2026-12-01 12:00 UTC: " in page.text
    link = '<a class="file" href="/console/files?partner=acme&amp;direction=inventory">'
    held = '<span class="outcome-held">held, nothing applied</span>'
    assert f"{link}cut_inventory.csv</a> ({held})" in page.text


def test_the_import_page_says_where_inventory_files_go(api: Api) -> None:
    """The Import page takes updated files only, and says how an inventory file is applied
    instead (an inventory file sent there would be refused for lacking the order columns)."""
    client, _token = signed_in(api)
    text = text_of(client.get("/console/import").text)
    assert "A warehouse's inventory file (stock levels) is not imported here" in text
    assert "ftpbridge inventory import --partner NAME FILE applies one by hand" in text
