"""One store, found the same way by every command: `--db`, $GRADER_DB_URL, `db` in the config
file, else <home>/grader.db; each command says which it opens; a store not there is made only on
purpose; a URL that cannot be used is one `error:` line, exit 2, its password masked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from grader.cli.app import main
from grader.ops.loopback import ServerProcess
from grader.service import tokens
from grader.service.db import open_store
from grader.service.settings import ServiceSettings, db_source
from grader.service.store_location import StoreLocation, locate

PASSWORD = "s3cret-pw"
CHECKOUT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$GRADER_HOME in a folder of its own, no config file, and the cwd somewhere else."""
    folder = tmp_path / "home"
    folder.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("GRADER_HOME", str(folder))
    monkeypatch.setenv("GRADER_BANK", str(CHECKOUT / "questions"))  # GRADER_HOME no longer
    monkeypatch.setenv("GRADER_ASSIGNMENTS", str(CHECKOUT / "assignments"))  # finds these
    monkeypatch.setenv("GRADER_CONFIG", str(tmp_path / "no-config.toml"))
    monkeypatch.chdir(elsewhere)
    return folder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip().splitlines()


def sqlite(path: Path) -> str:
    return f"sqlite:///{path}"


def test_from_another_folder_tokens_create_uses_the_server_s_store(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(home)
    served = ServiceSettings().db_url  # what `grader serve` opens with no --db
    assert served == locate(None).url == sqlite(home / "grader.db")
    open_store(served).kw["bind"].dispose()  # the store serve made
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert locate(None).url == served
    code, token, err = run(capsys, "tokens", "create", "--student", "s1")
    assert code == 0, err
    assert err == [f"store: {served} (default)"]
    sessions = open_store(served)
    try:
        with sessions() as session:
            found = tokens.find_token(session, token)
            assert found is not None and found.student == "s1"
    finally:
        sessions.kw["bind"].dispose()
    assert not (tmp_path / "elsewhere" / "grader.db").exists()


@pytest.mark.parametrize(
    ("argv", "can_create"),
    [
        (["tokens", "create", "--student", "s1"], True),
        (["tokens", "list"], False),
        (["lms", "add", "canvas", "--callback-host", "lms.edu"], True),
        (["lms", "deliveries"], False),
        (["stats", "--course", "c1"], False),
        (["worker", "--broker", "redis://127.0.0.1:1/0"], False),
    ],
    ids=["tokens-create", "tokens-list", "lms-add", "lms-deliveries", "stats", "worker"],
)
def test_a_store_not_there_is_refused_unless_created(
    home: Path, capsys: pytest.CaptureFixture[str], argv: list[str], can_create: bool
) -> None:
    url = sqlite(home / "grader.db")
    code, out, err = run(capsys, *argv, "--db", url)
    assert (code, out) == (2, "")
    [line] = err
    assert line.startswith(f"error: no store at {home / 'grader.db'}; run `grader serve` first")
    assert ("--create" in line) is can_create and "GRADER_DB_URL" in line
    assert not (home / "grader.db").exists()
    if can_create:
        code, out, err = run(capsys, *argv, "--db", url, "--create")
        assert code == 0 and out, err
        assert err == [f"store: {url} (from --db; new, created)"]
        assert (home / "grader.db").is_file()


def test_serve_creates_a_new_store_and_says_so(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    server.start()
    try:
        log = server.log.read_text()
    finally:
        server.stop()
    assert f"store: {server.db_url} (from --db; new: serve creates it)" in log
    assert (tmp_path / "grader.db").is_file()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("not a url", "does not parse"),
        (f"mysql://grader:{PASSWORD}@db:port/grader", "does not parse"),
        ("nosuchdb://host/grader", "SQLAlchemy has no dialect 'nosuchdb'"),
        # with psycopg installed, port 1 refuses the connection: the same one line, another reason
        (
            f"postgresql+psycopg://grader:{PASSWORD}@127.0.0.1:1/grader",
            "driver is not installed|cannot open the store",
        ),
        ("sqlite:///{tmp}/not-a-store.db", "file is not a database"),
    ],
    ids=["garbage", "bad-port", "unknown-dialect", "missing-driver", "not-a-database"],
)
@pytest.mark.parametrize(
    "argv",
    [
        ["tokens", "create", "--student", "s1"],
        ["lms", "list"],
        ["serve", "--port", "0"],
        ["worker", "--broker", "redis://127.0.0.1:1/0"],
    ],
    ids=["tokens", "lms", "serve", "worker"],
)
def test_a_bad_url_is_one_error_line_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str], url: str, reason: str, argv: list[str]
) -> None:
    (home / "not-a-store.db").write_bytes(b"not SQLite at all, " * 10)
    url = url.format(tmp=home)
    code, out, err = run(capsys, *argv, "--db", url)
    assert (code, out) == (2, ""), err
    if argv[0] == "serve" and err[0].startswith("store: "):
        # a URL that parses (and whose driver is installed) is said before serve opens it (the
        # assignments are read first), its password hidden
        assert err[0] == f"store: {url.replace(PASSWORD, '***')} (from --db)"
        err = err[1:]
    [line] = err
    assert line.startswith("error: store URL '") and re.search(reason, line)
    assert PASSWORD not in line and "Traceback" not in line


def test_an_unreachable_sqlite_folder_is_one_error_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite(home / "no-such-folder" / "grader.db")
    code, _, err = run(capsys, "tokens", "create", "--student", "s1", "--db", url, "--create")
    assert code == 2
    assert err == [
        f"error: store URL '{url}': cannot open the store (unable to open database file)"
    ]


def test_the_config_file_s_db_comes_after_the_variable_and_the_flag(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    configured = sqlite(tmp_path / "configured.db")
    config.write_text(f'server = "http://x"\ndb = "{configured}"\n')
    monkeypatch.setenv("GRADER_CONFIG", str(config))
    assert db_source(None) == (configured, f"`db` in {config}")
    assert ServiceSettings().db_url == configured
    code, _, err = run(capsys, "lms", "add", "canvas", "--callback-host", "lms.edu", "--create")
    assert code == 0 and err == [f"store: {configured} (from `db` in {config}; new, created)"]
    monkeypatch.setenv("GRADER_DB_URL", "sqlite:///from-env.db")
    assert db_source(None) == ("sqlite:///from-env.db", "GRADER_DB_URL")
    assert db_source("sqlite:///flag.db") == ("sqlite:///flag.db", "--db")


def test_a_config_db_that_is_not_a_url_string_is_exit_2(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("db = 5\n")
    monkeypatch.setenv("GRADER_CONFIG", str(config))
    code, _, err = run(capsys, "tokens", "list")
    assert code == 2
    assert err == [f"error: {config}: `db` must be a SQLAlchemy URL string (sqlite:///PATH)"]


def test_the_store_line_masks_the_password_and_names_a_relative_file_in_full(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"postgresql+psycopg://grader:{PASSWORD}@db.example:5432/grader"
    line = StoreLocation(url, "GRADER_DB_URL").line()
    assert (
        line == "store: postgresql+psycopg://grader:***@db.example:5432/grader (from GRADER_DB_URL)"
    )
    code, _, err = run(capsys, "tokens", "create", "--student", "s1", "--db", "sqlite:///rel.db")
    assert code == 2 and f"no store at {Path.cwd() / 'rel.db'};" in err[0]
    code, _, err = run(capsys, "tokens", "list", "--db", "sqlite:///rel.db")
    assert code == 2
    code, _, err = run(
        capsys, "tokens", "create", "--student", "s1", "--db", "sqlite:///rel.db", "--create"
    )
    assert code == 0 and err == [
        f"store: sqlite:///{Path.cwd() / 'rel.db'} (from --db; new, created)"
    ]
