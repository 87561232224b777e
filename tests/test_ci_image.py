"""CI のコンテナ: すべてのジョブが同じ Debian 12 のイメージをダイジェストで固定して使う。"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"
PINNED = re.compile(r"^debian:12(\.\d+)?@sha256:[0-9a-f]{64}$")


def _jobs() -> dict[str, dict]:
    jobs = {}
    for path in sorted(WORKFLOWS.glob("*.yml")):
        for name, job in yaml.safe_load(path.read_text())["jobs"].items():
            jobs[f"{path.name}:{name}"] = job
    return jobs


def test_one_pinned_debian_image() -> None:
    images = {
        name: job["container"]["image"]
        for name, job in _jobs().items()
        if "container" in job
    }
    for job in (
        "ci.yml:test",
        "scheduled.yml:fresh",
        "scheduled.yml:links",
        "rehearse.yml:rehearse",
        "build-book.yml:build",
    ):
        assert job in images, f"{job} はコンテナで走らない"
    assert len(set(images.values())) == 1, images
    assert all(PINNED.match(image) for image in images.values()), images


def test_gpu_build_gets_the_gpu() -> None:
    job = _jobs()["build-book.yml:build"]
    assert "--gpus all" in job["container"]["options"]
    assert "self-hosted" in job["runs-on"] and "gpu" in job["runs-on"]


def test_no_sudo_in_container_jobs() -> None:
    """コンテナの中は root なので sudo は要らない (イメージに sudo もない)。"""
    for name, job in _jobs().items():
        if "container" not in job:
            continue
        for step in job["steps"]:
            assert "sudo" not in step.get("run", ""), name


def test_rehearsal_runs_weekly_and_on_source_pushes() -> None:
    weekly = _jobs()["scheduled.yml:rehearse"]
    assert weekly["uses"].endswith("rehearse.yml")
    on = yaml.safe_load((WORKFLOWS / "rehearse.yml").read_text())[True]
    assert {"src/**", "book/**"} <= set(on["push"]["paths"])
    assert "workflow_call" in on
