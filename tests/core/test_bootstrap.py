import pytest
from django.core.management import call_command

from collectors.models import Agent
from collectors.models.fleet import hash_token

pytestmark = pytest.mark.django_db


def test_it_creates_the_first_login_once_and_prints_its_password(capsys):
    from django.contrib.auth.models import User

    call_command("bootstrap")
    first = capsys.readouterr().out
    password = first.splitlines()[1].strip()
    assert User.objects.get(username="admin").check_password(password)
    call_command("bootstrap")
    assert "none created" in capsys.readouterr().out


def test_the_local_agents_token_goes_to_an_owner_only_file(settings, capsys):
    call_command("bootstrap", "--local-agent")
    path = settings.DATA_DIR / "agent-token"
    token = path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    assert Agent.objects.get(name="local-agent").token_hash == hash_token(token)
    assert token not in capsys.readouterr().out
    # Run again: the token stays; lost: a new one replaces it.
    call_command("bootstrap", "--local-agent")
    assert path.read_text() == token
    path.unlink()
    call_command("bootstrap", "--local-agent")
    assert Agent.objects.get(name="local-agent").token_hash == hash_token(path.read_text())
    path.unlink()


def test_the_first_password_is_kept_in_an_owner_only_file_until_it_is_changed(settings, capsys):
    from django.contrib.auth.models import User

    call_command("bootstrap")
    password = capsys.readouterr().out.splitlines()[1].strip()
    path = settings.DATA_DIR / "first-login.txt"
    assert path.read_text() == f"login: admin\npassword: {password}\n"
    assert path.stat().st_mode & 0o077 == 0
    call_command("bootstrap")
    assert path.exists()
    admin = User.objects.get(username="admin")
    admin.set_password("a new password of its own")
    admin.save()
    call_command("bootstrap")
    assert not path.exists()
