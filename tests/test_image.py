"""The container image without a Docker engine: hadolint, then its install step and ENTRYPOINT."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import sample, write_reference
from tests.test_helm import ROOT, one, render, stage_chart, tool

DOCKERFILE = ROOT / "Dockerfile"
VENV = "/opt/venv"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction with its continuation lines joined."""

    keyword: str
    args: str


def stages() -> list[list[Instruction]]:
    """The Dockerfile's stages, each starting at its FROM."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out: list[list[Instruction]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            out.append([])
        out[-1].append(Instruction(keyword.upper(), args.strip()))
    return out


def env_of(stage: list[Instruction], venv: Path) -> dict[str, str]:
    """The stage's ENV values with /opt/venv moved to `venv` and $PATH expanded."""
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for key, value in re.findall(r"(\w+)=(\S+)", ins.args):
                value = value.replace(VENV, str(venv)).replace("$PATH", os.environ["PATH"])
                env[key] = value
    return env


def final_args(keyword: str) -> list[str]:
    """ENTRYPOINT or CMD of the final stage, in exec form."""
    (ins,) = [i for i in stages()[-1] if i.keyword == keyword]
    args = json.loads(ins.args)
    assert isinstance(args, list)
    return [str(a) for a in args]


def test_the_dockerfile_passes_hadolint() -> None:
    result = subprocess.run(
        [tool("hadolint"), str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_runs_as_a_numeric_non_root_user_with_no_build_tools() -> None:
    build, final = stages()
    (user,) = [i.args for i in final if i.keyword == "USER"]
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", user), f"USER {user} is not a numeric non-root id"
    assert [i.args for i in final if i.keyword == "EXPOSE"] == ["10135"]
    assert "slim" in build[0].args and "3.11" in final[0].args and "slim" in final[0].args
    runs = " ".join(i.args for i in final if i.keyword == "RUN")
    assert not re.search(r"apt-get|gcc|build-essential|pip install", runs)
    copies = [i.args for i in final if i.keyword == "COPY"]
    assert copies == [f"--from=build {VENV} {VENV}"]


def test_the_entrypoint_reads_the_config_where_the_chart_mounts_it(tmp_path: Path) -> None:
    (config_arg,) = [a for a in final_args("ENTRYPOINT") if a.startswith("--config.file=")]
    config_path = Path(config_arg.removeprefix("--config.file="))
    pod = one(render(stage_chart(tmp_path)), "Deployment")["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "config")
    items = next(v for v in pod["volumes"] if v["name"] == "config")["configMap"]["items"]
    assert config_path == Path(mount["mountPath"]) / items[0]["path"]
    assert pod["containers"][0]["ports"][0]["containerPort"] == 10135


def install_like_the_build_stage(tmp_path: Path) -> Path:
    """Copy the build context as COPY does and run the build stage's RUN into tmp/venv."""
    build = stages()[0]
    workdir = tmp_path / "src"
    venv = tmp_path / "venv"
    workdir.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for ins in build:
        if ins.keyword == "COPY":
            *sources, dest = ins.args.split()
            for source in sources:
                src, target = ROOT / source, workdir / dest
                if src.is_dir():
                    shutil.copytree(src, target, ignore=ignore)
                else:
                    target.mkdir(parents=True, exist_ok=True)
                    shutil.copy(src, target)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_of(build, venv))
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    for ins in build:
        if ins.keyword == "RUN":
            # The image keeps no pip cache; here the wheels the test command already fetched
            # may be reused, which changes what is installed in no way, only how fast.
            command = ins.args.replace(VENV, str(venv)).replace(" --no-cache-dir", "")
            result = subprocess.run(
                ["bash", "-c", command],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=900,
            )
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv


def get(url: str) -> tuple[int, str]:
    """Status and body of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.integration
def test_the_dockerfile_install_step_and_entrypoint_serve_metrics_once_a_reference_is_loaded(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    venv = install_like_the_build_stage(tmp_path)
    assert not (venv / "bin" / "pip").exists(), "the runtime image should not ship pip"
    config = tmp_path / "config.yaml"
    config.write_text(
        f"redis: {{url: '{redis_server.url}'}}\nmodels:\n"
        "  - name: fraud\n    task: regression\n"
        "    reference: {redis_key: 'mlmon:{fraud}:reference'}\n"
        "    schedule: {interval: 2s}\n"  # the loaded reference is seen soon
        "    features:\n      - {name: x1, type: numeric}\n"
        "      - {name: c1, type: categorical}\n"
    )
    port = free_port()
    command = [
        a.replace("/etc/ml-monitoring-exporter/config.yaml", str(config))
        for a in final_args("ENTRYPOINT")
    ]
    command += [
        f"--web.listen-address=127.0.0.1:{port}" if a.startswith("--web.listen") else a
        for a in final_args("CMD")
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(env_of(stages()[-1], venv))
    process = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        base = f"http://127.0.0.1:{port}"
        # Redis answers first, then the missing reference is what /readyz names.
        status, _ = wait_for(
            lambda: (r := get(f"{base}/readyz")) and "fraud" in r[1] and r,
            60,
            what="/readyz naming the model without a reference",
        )
        assert status == 503
        write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(3), 300))
        load = subprocess.run(
            [
                str(venv / "bin" / "ml-monitoring-exporter"),
                "reference",
                "load",
                f"--config.file={config}",
                "--model",
                "fraud",
                "--file",
                str(tmp_path / "ref.csv"),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert load.returncode == 0, load.stderr
        wait_for(lambda: get(f"{base}/readyz")[0] == 200, 60, what="/readyz turning 200")
        status, metrics = get(f"{base}/metrics")
        assert status == 200 and "mlmon_redis_up 1.0" in metrics
        assert get(f"{base}/healthz")[0] == 200
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr.decode()[-2000:]
    lines = stderr.decode().splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines), lines[:5]
