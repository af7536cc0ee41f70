"""The JSON Schemas shipped for editors are exactly what the models say, and describe the files
the project ships (an editor would otherwise underline valid content, or miss a mistake)."""

import datetime as dt
import subprocess
import sys
import tomllib

import jsonschema
import pytest

from conftest import ROOT
from statpress import schemas


def test_regenerating_the_schemas_gives_the_shipped_files_byte_for_byte():
    shipped = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "schemas").glob("*.schema.json")}
    assert shipped == schemas.generate(), "schemas/ is stale: run build.py schemas and commit the result"


def test_the_schemas_command_writes_them(tmp_path, monkeypatch):
    written = schemas.write(tmp_path / "schemas")
    assert sorted(p.name for p in written) == sorted(schemas.generate())
    result = subprocess.run([sys.executable, str(ROOT / "build.py"), "schemas", "--help"], capture_output=True, text=True)
    assert result.returncode == 0


def plain(value):
    """TOML values as JSON sees them: dates as ISO text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


def shipped_files():
    yield "site", ROOT / "site.toml"
    yield "datasets", ROOT / "stats" / "datasets.toml"
    for folder in sorted((ROOT / "content").iterdir()):
        yield "statistic", folder / "statistic.toml"
        yield "releases", folder / "releases.toml"
        if (ROOT / "stats" / folder.name / "tables.toml").exists():
            yield "tables", ROOT / "stats" / folder.name / "tables.toml"


@pytest.mark.parametrize("name,path", list(shipped_files()), ids=lambda v: str(v).replace(str(ROOT) + "/", ""))
def test_every_shipped_file_keeps_its_schema(name, path):
    import json
    schema = json.loads((ROOT / "schemas" / schemas.file_name(name)).read_text(encoding="utf-8"))
    jsonschema.validate(plain(tomllib.loads(path.read_text(encoding="utf-8"))), schema)


def test_a_mistake_is_caught_by_the_schema_too():
    import json
    schema = json.loads((ROOT / "schemas" / "statistic.schema.json").read_text(encoding="utf-8"))
    data = plain(tomllib.loads((ROOT / "content" / "migration" / "statistic.toml").read_text(encoding="utf-8")))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**data, "colour": "red"}, schema)
