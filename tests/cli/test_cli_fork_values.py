"""``slipway env fork``'s values: ``--set`` for plain values, ``--set-file`` (a file, or stdin) for secrets, so a
secret is never written on the command line."""

import io

import pytest

from portal.cli import build_parser
from portal.cli.client import CLIError
from portal.cli.environments import fork_values


def test_set_reads_json_else_text():
    assert fork_values(["orders-db/replicas=2", "orders-db/name=app", "web/labels/team=core"], []) == {
        "orders-db": {"/replicas": 2, "/name": "app"},
        "web": {"/labels/team": "core"},
    }


def test_set_file_reads_a_file_as_text_and_drops_one_trailing_newline(tmp_path):
    secret = tmp_path / "password.txt"
    secret.write_text("s3cret {not json}\n")
    assert fork_values([], [f"orders-db/password={secret}"]) == {"orders-db": {"/password": "s3cret {not json}"}}
    secret.write_text("two lines\n\n")
    assert fork_values([], [f"orders-db/password={secret}"]) == {"orders-db": {"/password": "two lines\n"}}


def test_set_file_dash_reads_stdin_once():
    assert fork_values(["db/size=3"], ["db/password=-"], stdin=io.StringIO("from-stdin\n")) == {
        "db": {"/size": 3, "/password": "from-stdin"}
    }
    with pytest.raises(CLIError, match=r"only one value can be read from stdin"):
        fork_values([], ["db/password=-", "db/token=-"], stdin=io.StringIO("x"))


@pytest.mark.parametrize(
    ("sets", "files", "message"),
    [
        (["password=x"], [], "--set 'password=x': use DEPLOYMENT/POINTER=VALUE"),
        ([], ["db/password"], "--set-file 'db/password': use DEPLOYMENT/POINTER=PATH"),
        ([], ["db/password=/no/such/file"], "--set-file db/password: cannot read /no/such/file"),
    ],
)
def test_mistakes_are_said(sets, files, message):
    with pytest.raises(CLIError) as caught:
        fork_values(sets, files)
    assert message in str(caught.value)


def test_the_help_says_set_is_not_for_secrets(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["env", "fork", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert "Not for secrets" in shown and "--set-file DEPLOYMENT/POINTER=PATH" in shown
