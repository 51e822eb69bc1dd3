"""docker-compose.yml scales the API behind nginx and can add a streaming replica.

No Docker engine runs the tests, so these read the files: what `docker compose up --scale
api=3` and `--profile replica` depend on.
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX_CONF = ROOT / "docker" / "nginx.conf"


def test_the_api_publishes_no_host_port_so_it_can_scale():
    assert "ports" not in SERVICES["api"]
    assert SERVICES["api"]["expose"] == ["8000"]


def test_nginx_publishes_the_api_and_forwards_to_every_api_container():
    nginx = SERVICES["nginx"]
    assert nginx["ports"] == ["8000:8000"]
    assert "./docker/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    conf = NGINX_CONF.read_text()
    assert "set $api http://api:8000;" in conf and "proxy_pass $api;" in conf
    assert "resolver 127.0.0.11" in conf  # asks Docker's DNS again as containers come and go


def test_the_api_sees_each_callers_address_behind_nginx():
    # Login throttling counts failures per client address.
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in NGINX_CONF.read_text()
    assert SERVICES["api"]["environment"]["FORWARDED_ALLOW_IPS"] == "*"


def test_the_replica_runs_only_with_its_profile_and_streams_from_the_primary():
    replica = SERVICES["db-replica"]
    assert replica["profiles"] == ["replica"]
    assert replica["image"] == SERVICES["db"]["image"] == "pgvector/pgvector:0.7.0-pg16"
    entrypoint = (ROOT / "docker" / "replica-entrypoint.sh").read_text()
    assert "pg_basebackup -h db" in entrypoint and " -R " in entrypoint
    assert "host replication" in (ROOT / "docker" / "primary-init.sh").read_text()
    assert SERVICES["api"]["environment"]["DATABASE_REPLICA_URL"] == "${DATABASE_REPLICA_URL:-}"


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_configuration(tmp_path):
    (tmp_path / "nginx.conf").write_text(
        f"events {{}}\npid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"http {{ access_log off; include {NGINX_CONF}; }}\n"
    )
    checked = subprocess.run(
        ["nginx", "-t", "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
