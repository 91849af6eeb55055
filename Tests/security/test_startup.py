"""Secrets left as the placeholders of deploy/ripple.env.example are refused at start-up, with a
message that says which setting and what to do."""

from __future__ import annotations

import subprocess

from harness import free_port, server_env

HINT = "from ripple.env.example; set a random secret, e.g. the output of `head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'`"


def run(chat_bin, args, env, work_dir):
    return subprocess.run([chat_bin, *args], env=env, cwd=work_dir, capture_output=True, text=True, timeout=60)


def test_placeholder_admin_key(chat_bin, jwks, work_dir):
    env = server_env(jwks.base_url, "change-me-too")
    result = run(chat_bin, ["dev", "--listen", f"127.0.0.1:{free_port()}", "--data", str(work_dir / "placeholder-admin")], env, work_dir)
    assert result.returncode != 0
    assert f'RIPPLE_ADMIN_KEY is still the placeholder "change-me-too" {HINT}' in result.stderr + result.stdout


def test_placeholder_cluster_secret(chat_bin, jwks, work_dir):
    env = server_env(jwks.base_url, "a-real-admin-key-0123456789")
    env["RIPPLE_CLUSTER_SECRET"] = "change-me"
    result = run(chat_bin, ["writer", "--listen", f"127.0.0.1:{free_port()}", "--replication", f"127.0.0.1:{free_port()}",
                            "--data", str(work_dir / "placeholder-secret")], env, work_dir)
    assert result.returncode != 0
    assert f'--cluster-secret (RIPPLE_CLUSTER_SECRET) is still the placeholder "change-me" {HINT}' in result.stderr + result.stdout
