"""The README's "Running in production" checklist, followed literally.

The shell blocks marked `<!-- production:NAME -->` in README.md are read from the file and
run as written in a fresh clone of this repository: a fresh virtualenv from
requirements.txt, a fresh PostgreSQL database, a Redis of its own, gunicorn serving TLS
itself (a certificate made for the test), a Celery worker and beat. The only changes are
the substitutions in SUBSTITUTIONS (names, ports, paths, passwords and process counts),
each of which must match the README, and the processes get no environment variable but
the ones the checklist's environment block names (plus PATH, HOME and the locale).

Then it does what an operator and the first users would: the health check of step 7,
the administrator adds a manager and a support agent in /admin/, an API key pushes a
touchpoint that the worker scores, and every page is walked in Chromium as each role, with
the support agent logging a touchpoint and seeing the worker's new score.
"""

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from playwright.sync_api import Browser, Page, expect

from harness.stack import PROJECT, RedisServer, Service, StackError, free_port, wait_until
from tests.browser import ARTIFACTS, needs_chromium

pytestmark = needs_chromium

README = PROJECT / "README.md"
BLOCK = re.compile(r"<!-- production:(?P<name>[a-z]+) -->\s*```sh\n(?P<body>.*?)```", re.DOTALL)
# What the child processes may inherit from the test's own environment: no settings.
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "PYENV_ROOT", "PIP_CONFIG_FILE")


def readme_blocks() -> dict[str, str]:
    blocks = {m["name"]: m["body"].replace("\\\n", " ") for m in BLOCK.finditer(README.read_text())}
    wanted = {"install", "environment", "prepare", "administrator", "web", "worker", "beat", "health"}
    assert wanted <= set(blocks), f"README.md lacks the production blocks {sorted(wanted - set(blocks))}"
    return blocks


@dataclass
class Site:
    url: str
    cert: Path
    env: dict[str, str]
    clone: Path
    admin_password: str
    logs: list[Service]

    def https(self, path: str, *, headers: dict[str, str] | None = None, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - the test's own server
            f"{self.url}{path}",
            data=data,
            headers={**(headers or {}), **({"Content-Type": "application/json"} if data else {})},
            method="POST" if data else "GET",
        )
        context = ssl.create_default_context(cafile=str(self.cert))
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()[:500]


def _substitute(block: str, replacements: dict[str, str], name: str) -> str:
    for old, new in replacements.items():
        assert old in block, f"the README's {name} block no longer says {old!r}: update this test's substitutions"
        block = block.replace(old, new)
    return block


def _run(command: str, *, cwd: Path, env: dict[str, str], what: str, timeout: float = 600) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"README step {what!r} failed ({result.returncode}):\n{command}\n{output[-4000:]}"
    return result.stdout


def _environment(block: str, values: dict[str, str]) -> dict[str, str]:
    names = re.findall(r"^export (\w+)=", block, re.MULTILINE)
    assert set(names) == set(values), (
        f"the README's environment block names {sorted(names)}; this test supplies {sorted(values)}"
    )
    inherited = {name: os.environ[name] for name in INHERITED if name in os.environ}
    return {**inherited, **values}


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    blocks = readme_blocks()
    work = tmp_path_factory.mktemp("production")
    clone = work / "rememberly"
    subprocess.run(["git", "clone", "--quiet", str(PROJECT), str(clone)], check=True, capture_output=True)
    cert, key = _certificate(work)
    database = f"rememberly_production_{secrets.token_hex(4)}"
    admin = psycopg2.connect("postgres://postgres@127.0.0.1:5432/postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')
    redis = RedisServer()
    redis.start()
    port = free_port()
    password = secrets.token_urlsafe(18)
    env = _environment(
        blocks["environment"],
        {
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_URL": redis.url(0),
            "HEALTH_TOKEN": secrets.token_urlsafe(24),
        },
    )
    services: list[Service] = []
    try:
        _run(blocks["install"], cwd=clone, env=env, what="install")
        _run(blocks["prepare"], cwd=clone, env=env, what="prepare")
        administrator = _substitute(blocks["administrator"], {"<a long password>": password}, "administrator")
        _run(administrator, cwd=clone, env=env, what="administrator")
        processes = {
            "web": ({"0.0.0.0:443": f"127.0.0.1:{port}", "--workers 4": "--workers 2",
                     "/etc/rememberly/tls.crt": str(cert), "/etc/rememberly/tls.key": str(key)},
                    "Listening at: https://"),
            "worker": ({"--concurrency 4": "--concurrency 1"}, "ready."),
            "beat": ({"/var/lib/rememberly/celerybeat-schedule": str(work / "celerybeat-schedule")},
                     "beat: Starting"),
        }  # fmt: skip
        for name, (replacements, ready) in processes.items():
            command = _substitute(blocks[name].strip(), replacements, name)
            service = Service(name, ["bash", "-c", f"exec {command}"], env, cwd=clone)
            services.append(service)
            service.wait_for_output(ready, timeout=120)
        site = Site(f"https://localhost:{port}", cert, env, clone, password, services)
        health = _substitute(
            blocks["health"],
            {"https://rememberly.example.com/health/": f"--cacert {cert} {site.url}/health/"},
            "health",
        )
        # The worker's ping may take a moment after it says ready.
        wait_until(
            lambda: subprocess.run(["bash", "-c", health], env=env, capture_output=True).returncode == 0,
            timeout=60,
            what="the README's health check to pass",
        )
        checks = json.loads(_run(health, cwd=clone, env=env, what="health"))
        assert set(checks.values()) == {"OK"}, checks
        assert len(checks) >= 4, checks
        yield site
    except StackError as error:
        raise AssertionError(f"{error}\n" + "\n".join(f"--- {s.name}\n{s.log()}" for s in services)) from error
    finally:
        for service in services:
            service.stop()
        redis.stop()
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(work, ignore_errors=True)


def _sign_in(page: Page, site: Site, username: str, password: str) -> None:
    page.goto(f"{site.url}/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="What our customers will remember")).to_be_visible()


def _add_staff(page: Page, site: Site, username: str, group: str, password: str) -> None:
    """README step 5: Users -> Add user, then the role under Groups."""
    page.goto(f"{site.url}/admin/auth/user/add/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password1").fill(password)
    page.locator("#id_password2").fill(password)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was added successfully")).to_be_visible()
    # The groups widget (Django's filter box): pick the role, move it across, save.
    page.locator("#id_groups_from").select_option(label=group)
    page.locator("#id_groups_add").click()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("was changed successfully")).to_be_visible()


def _walk(page: Page, site: Site, allowed: list[str], refused: list[str], errors: list[str]) -> None:
    for path in allowed:
        response = page.goto(f"{site.url}{path}")
        assert response is not None, path
        assert response.status == 200, f"{path}: {response.status}"
        expect(page.locator("h1, #swagger-ui").first).to_be_visible()
    for path in refused:
        response = page.goto(f"{site.url}{path}")
        assert response is not None, path
        assert response.status == 403, f"{path} should be refused"
        # Chromium reports the refused page itself as a failed resource: expected here.
        errors[:] = [e for e in errors if not (e.startswith(f"{site.url}{path}:") and "status of 403" in e)]
    assert not errors, errors


def test_the_production_checklist_works_as_written(site: Site, browser: Browser) -> None:
    # An integration key (README step 5), a touchpoint pushed, scored by the worker.
    key = _run(
        "venv/bin/python manage.py issue_api_key shop --scope full", cwd=site.clone, env=site.env, what="api key"
    ).strip()
    auth = {"Authorization": f"Api-Key {key}"}
    touchpoint = {
        "customer_ref": "PROD-1",
        "customer_name": "Production Check Ltd",
        "channel": "complaint",
        "valence": -2,
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600)),
        "source": "shop",
        "external_id": "order-1",
        "summary": "Wrong size delivered",
    }
    status, stored = site.https("/api/v1/interactions/", headers=auth, body=touchpoint)
    assert status == 201, stored
    customer_id = stored["customer"]

    def scored() -> bool:
        code, memory = site.https(f"/api/v1/customers/{customer_id}/memory/", headers=auth)
        return code == 200 and memory["score_as_of"] is not None and memory["score"] < 50

    wait_until(scored, timeout=60, what="the worker to score the pushed touchpoint")

    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    try:
        _sign_in(page, site, "admin", site.admin_password)
        staff_password = secrets.token_urlsafe(12)
        _add_staff(page, site, "maya", "Managers", staff_password)
        _add_staff(page, site, "sam", "Support staff", staff_password)
        customer_pages = ["/", "/customers/", "/customers/?q=prod", f"/customers/{customer_id}/", "/log/"]
        _walk(page, site, [*customer_pages, "/dashboard/", "/imports/", "/api/v1/docs/", "/admin/"], [], errors)

        context.clear_cookies()
        _sign_in(page, site, "maya", staff_password)
        _walk(page, site, [*customer_pages, f"/customers/{customer_id}/edit/", "/dashboard/"], ["/imports/"], errors)

        context.clear_cookies()
        _sign_in(page, site, "sam", staff_password)
        _walk(page, site, customer_pages, ["/dashboard/", "/imports/"], errors)
        page.goto(f"{site.url}/customers/{customer_id}/")
        page.get_by_label("Very good").check()
        page.get_by_label("What happened").fill("Sent the right size by courier, with an apology")
        page.get_by_role("button", name="Save touchpoint").click()
        expect(page.get_by_role("status")).to_contain_text("Logged: call (very good) for Production Check Ltd")
        # The badge polls until the worker (not the web process) has scored the new touchpoint.
        expect(page.locator(".memory-badge")).to_contain_text("Memory now", timeout=60_000)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=ARTIFACTS / "production-path.png", full_page=True)
        assert not errors, errors
    finally:
        context.close()
    worker_log = next(s for s in site.logs if s.name == "worker").log()
    assert "memory" in worker_log, worker_log
    assert "succeeded" in worker_log, worker_log
