import json

import duckdb

from tests.layout_samples import write_moe_gguf
from warehouse.db.store import open_store


def _settings(db_path) -> dict[str, str]:
    con = duckdb.connect(db_path, read_only=True)
    try:
        return dict(con.execute("select key, value from settings").fetchall())
    finally:
        con.close()


def test_settings_list_and_set(cli, db_path):
    open_store(db_path).close()
    code, out, _ = cli("settings", "list", "--format", "json")
    assert code == 0
    listed = {r["key"]: r["value"] for r in json.loads(out)}
    assert listed == _settings(db_path) and listed["file_region_bucket_bytes"] == str(64 * 2**20)

    code, out, _ = cli("settings", "set", "file_region_bucket_bytes", "4096")
    assert code == 0 and _settings(db_path)["file_region_bucket_bytes"] == "4096"


def test_file_regions_follow_the_bucket_setting(cli, db_path, tmp_path):
    model = write_moe_gguf(tmp_path / "m.gguf")
    assert cli("ingest", "model", str(model))[0] == 0
    con = duckdb.connect(db_path, read_only=True)
    spans = con.execute("select offset_start, offset_end from tensors").fetchall()
    con.close()
    for size in (4096, 1000):
        assert cli("settings", "set", "file_region_bucket_bytes", str(size))[0] == 0
        code, out, _ = cli("query", "select distinct bucket, bucket_start, bucket_end from v1.file_regions",
                           "--format", "json")
        got = {(r["bucket"], r["bucket_start"], r["bucket_end"]) for r in json.loads(out)}
        # Independent recount: every bucket some tensor byte falls in.
        want = {(b, b * size, (b + 1) * size)
                for start, end in spans if end > start for b in range(start // size, (end - 1) // size + 1)}
        assert got == want


def test_bad_settings_are_refused_and_change_nothing(cli, db_path):
    open_store(db_path).close()
    before = _settings(db_path)
    for args, message in [(("file_region_bucket_bytes", "64MiB"), "positive whole number"),
                          (("file_region_bucket_bytes", "0"), "positive whole number"),
                          (("no_such_setting", "1"), "no setting 'no_such_setting'")]:
        code, _, err = cli("settings", "set", *args)
        assert code == 2 and message in err, (args, err)
    assert _settings(db_path) == before
