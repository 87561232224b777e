"""配布するノートブック (notebooks/<章>.ipynb) と「Colab で開く」リンクの検査。

- インストールセルが、このコミットの dlbook を固定して入れる (``@<40 桁の SHA>``)。
- 章のページに、ダウンロードと Colab のリンクがスライドのリンクの隣にある。
- 第4章のノートブックが、新しい仮想環境で上から下まで動く (quick プロファイル)。
  ネットワークがないので、同じコミットから作った wheel を入れるようにインストール
  セルの URL だけを差し替える。torch などの大きな依存はプロジェクトの venv のものを
  見せる (dlbook だけは見せない)。
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup

from dlbook_tools import buildinfo, notebooks

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["ch04_nn_basics", "ch05_framework", "ch06_cnn"]


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()


def _expected_spec() -> str:
    sha = os.environ.get("GITHUB_SHA") or _head()
    return f"dlbook @ git+https://github.com/{buildinfo.repo_slug()}@{sha}"


def _install_cell(nb: nbformat.NotebookNode) -> str:
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "コードセルがない"
    return code[0].source


def test_install_cell_pins_this_commit() -> None:
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import dlbook")]
    )
    out = notebooks.add_install_cell(nb, "https://example.org/book/ch04.html")
    src = _install_cell(out)
    assert src.splitlines()[-1].startswith("%pip install")
    assert f'"{_expected_spec()}"' in src
    assert re.search(r"@[0-9a-f]{40}\"", src), src
    assert "myst-nb==" in src  # 章は myst_nb.glue を使う
    # 2 度足しても 1 つだけ
    again = notebooks.add_install_cell(out)
    assert sum("%pip install" in c.source for c in again.cells) == 1
    assert again.cells[-1].source == "import dlbook"


def test_colab_url() -> None:
    assert notebooks.colab_url(
        "o/r", "notebooks", "v1.0.0", "ch04_nn_basics"
    ) == (
        "https://colab.research.google.com/github/o/r/blob/notebooks/v1.0.0/"
        "ch04_nn_basics.ipynb"
    )


@pytest.mark.site
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_site_notebook_and_links(built_site: Path, chapter: str) -> None:
    path = built_site / "notebooks" / f"{chapter}.ipynb"
    assert path.exists(), path
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert f'"{_expected_spec()}"' in _install_cell(nb)
    # 実行済み: 出力のあるコードセルがある
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")

    soup = BeautifulSoup(
        (built_site / "book" / f"{chapter}.html").read_text(), "html.parser"
    )
    para = soup.select_one("article p.dlbook-notebook")
    assert para is not None, "ノートブックのリンクがない"
    slides = soup.select_one("article p.dlbook-slides")
    if slides is not None:  # スライドのリンクのすぐ後ろ
        assert slides.find_next_sibling("p") is para
    download = para.select_one("a.dlbook-download")
    assert download is not None
    assert (built_site / "book" / download["href"]).resolve() == path.resolve()
    colab = para.select_one("a.dlbook-colab")
    assert colab is not None
    assert re.fullmatch(
        rf"https://colab\.research\.google\.com/github/{buildinfo.repo_slug()}"
        rf"/blob/[\w.-]+/[\w.-]+/{chapter}\.ipynb",
        colab["href"],
    ), colab["href"]


def _overlay(dest: Path) -> Path:
    """プロジェクトの site-packages を、dlbook 以外だけ見せるディレクトリ。"""
    site = Path(sysconfig.get_paths()["purelib"])
    dest.mkdir()
    for entry in site.iterdir():
        name = entry.name.lower()
        if name.startswith(("dlbook", "__editable__", "_dlbook")) or (
            name.endswith(".pth")
        ):
            continue
        (dest / entry.name).symlink_to(entry)
    return dest


def _fresh_venv(tmp: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    py = venv / "bin" / "python"
    purelib = subprocess.run(
        [
            py,
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        text=True,
        capture_output=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "_dlbook_test_deps.pth").write_text(
        str(_overlay(tmp / "deps")) + "\n"
    )
    return py


def _wheel_from_head(tmp: Path) -> Path:
    """HEAD のコミットそのもの (作業中の変更を含まない) から wheel を作る。"""
    src = tmp / "src"
    src.mkdir()
    archive = subprocess.run(
        ["git", "archive", "HEAD"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        check=True,
    )
    return next((tmp / "dist").glob("dlbook-*.whl"))


RUNNER = textwrap.dedent("""
    import sys, time, nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(sys.argv[1], as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": sys.argv[2]}}).execute()
    nbformat.write(nb, sys.argv[3])
    print("ELAPSED", round(time.perf_counter() - start, 1))
""")


@pytest.mark.site
@pytest.mark.slow
def test_ch04_notebook_runs_in_a_fresh_venv(
    built_site: Path, tmp_path: Path
) -> None:
    start = time.perf_counter()
    nb = nbformat.read(
        built_site / "notebooks" / "ch04_nn_basics.ipynb", as_version=4
    )
    spec = _expected_spec()
    install = next(c for c in nb.cells if c.cell_type == "code")
    assert f'"{spec}"' in install.source
    wheel = _wheel_from_head(tmp_path)
    py = _fresh_venv(tmp_path)
    # GitHub の代わりに同じコミットの wheel を入れる (ほかは元のセルのまま)
    install.source = install.source.replace(
        f'"{spec}"', f'"dlbook @ {wheel.as_uri()}"'
    ).replace("%pip install", "%pip install --no-index")
    # 最後に、どの dlbook が読み込まれたかを記録する
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "import json, dlbook\nprint(json.dumps({'file': dlbook.__file__}))"
        )
    )
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    work = tmp_path / "work"
    work.mkdir()
    src_nb, out_nb = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src_nb)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MPLBACKEND")
    }
    env.update(
        DLBOOK_PROFILE="quick",
        DLBOOK_DATA=str(tmp_path / "data"),
        PATH=f"{py.parent}:{env.get('PATH', '')}",
        JUPYTER_PATH=str(tmp_path / "jupyter"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    proc = subprocess.run(
        [py, "-c", RUNNER, src_nb, work, out_nb],
        env=env,
        cwd=work,
        text=True,
        capture_output=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    done = nbformat.read(out_nb, as_version=4)
    last = "".join(o.get("text", "") for o in done.cells[-1].outputs)
    loaded = json.loads(last.strip().splitlines()[-1])["file"]
    assert str(tmp_path / "venv") in loaded, f"dlbook の読み込み元: {loaded}"
    print(
        f"\n[ch04 fresh venv] {proc.stdout.strip()} "
        f"(wheel + venv 込みで {time.perf_counter() - start:.1f} 秒)"
    )


class TestPushNotebooksScript:
    """tools/push-notebooks.sh (publish.yml と release.yml が使う) を
    ローカルの bare リポジトリに対して動かす。"""

    SCRIPT = ROOT / "tools" / "push-notebooks.sh"

    def _run(
        self, tmp_path: Path, *args: str, remote: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "GH_TOKEN": "dummy",
            "GITHUB_REPOSITORY": "example/dlbook",
            "GITHUB_SHA": "0" * 40,
            "HOME": str(tmp_path),  # 利用者の git 設定を使わない
        }
        if remote is not None:
            env["NOTEBOOKS_REMOTE"] = remote.as_uri()
        return subprocess.run(
            ["bash", str(self.SCRIPT), *args],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )

    def _branch_files(self, remote: Path) -> list[str]:
        out = subprocess.run(
            ["git", "-C", str(remote), "ls-tree", "-r", "--name-only",
             "notebooks"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return out.split()

    def _commits(self, remote: Path) -> int:
        out = subprocess.run(
            ["git", "-C", str(remote), "rev-list", "--count", "notebooks"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return int(out)

    def test_creates_branch_then_updates_one_folder(
        self, tmp_path: Path
    ) -> None:
        remote = tmp_path / "remote.git"
        subprocess.run(
            ["git", "init", "-q", "--bare", str(remote)], check=True
        )
        nbs = tmp_path / "nbs"
        nbs.mkdir()
        (nbs / "ch04.ipynb").write_text("{}", encoding="utf-8")
        # 1 回目: notebooks ブランチがないので作る
        r = self._run(tmp_path, str(nbs), "main", remote=remote)
        assert r.returncode == 0, r.stderr
        assert self._branch_files(remote) == ["main/ch04.ipynb"]
        # 2 回目: 別のフォルダ (タグ) を足す。main/ はそのまま残る
        r = self._run(tmp_path, str(nbs), "v1.0.0", remote=remote)
        assert r.returncode == 0, r.stderr
        assert self._branch_files(remote) == [
            "main/ch04.ipynb",
            "v1.0.0/ch04.ipynb",
        ]
        # 同じ内容をもう一度押しても、コミットは増えない
        before = self._commits(remote)
        r = self._run(tmp_path, str(nbs), "main", remote=remote)
        assert r.returncode == 0, r.stderr
        assert self._commits(remote) == before == 2

    def test_bad_arguments(self, tmp_path: Path) -> None:
        r = self._run(tmp_path, str(tmp_path / "missing"), "main")
        assert r.returncode == 2 and "usage" in r.stderr
        empty = tmp_path / "empty"
        empty.mkdir()
        r = self._run(tmp_path, str(empty), "main")
        assert r.returncode == 1 and "no notebooks" in r.stderr
