"""dlbook_tools.rehearsal のテスト: 環境、GPU の分岐の CPU での実行、状況の表。"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from dlbook import config
from dlbook_tools import rehearsal

ROOT = Path(__file__).resolve().parents[1]


def test_env_is_full_and_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = {"data": tmp_path / "data", "torch": tmp_path / "torch"}
    env = rehearsal.rehearsal_env(tmp_path, paths, 0.01)
    assert env[config.PROFILE_ENV] == "full"
    assert env[config.DATA_ENV] == str(paths["data"])
    assert env["TORCH_HOME"] == str(paths["torch"])
    assert float(env[config.REHEARSAL_ENV]) == 0.01
    startup = (
        Path(env["IPYTHONDIR"])
        / "profile_default"
        / "startup"
        / "00-rehearsal.py"
    )
    assert "install_kernel_hooks()" in startup.read_text()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # ダウンロードしようとすれば、待たずに失敗する
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(
            "https://download.pytorch.org/models/x.pth", timeout=5
        )


@pytest.mark.slow  # 乱数の重み 2 つ (約 210 MB) を書く
def test_fabricate_inputs(tmp_path: Path) -> None:
    inputs = tmp_path / "inputs"
    (inputs / "stale").mkdir(parents=True)
    paths = rehearsal.fabricate_inputs(inputs, 0.001)
    assert not (inputs / "stale").exists()  # 毎回作り直す
    assert (
        paths["data"] / "MNIST" / "raw" / "train-images-idx3-ubyte"
    ).is_file()
    assert (paths["data"] / "cifar-10-batches-py" / "data_batch_5").is_file()
    names = {
        p.name for p in (paths["torch"] / "hub" / "checkpoints").iterdir()
    }
    assert "resnet18-f37072fd.pth" in names
    assert "fasterrcnn_resnet50_fpn_coco-258fb6c6.pth" in names


def test_drill_gpu_branches_runs_the_chapter_cell() -> None:
    result = rehearsal.drill_gpu_branches()
    assert result["cell"].startswith("ch05_framework.md:")
    assert result["autocast dtype is float16"] is True
    assert result["GradScaler enabled"] is True
    assert result["grads are float32 and finite"] is True
    assert result["cuda_peak_bytes is None on CPU"] is True
    assert result["scale"] > 1.0  # 損失のスケーリングが実際に効いた


def test_drill_fails_loud_without_the_cell(tmp_path: Path) -> None:
    chapter = tmp_path / "ch05.md"
    chapter.write_text("```{code-cell} ipython3\nx = 1\n```\n")
    with pytest.raises(RuntimeError, match="GradScaler"):
        rehearsal.drill_gpu_branches(chapter)


def test_gpu_only_table() -> None:
    cpu = rehearsal.gpu_only_table("cpu").splitlines()
    assert len(cpu) == 2 + len(rehearsal.GPU_ONLY)
    assert all("GPU でのみ実行" in row for row in cpu[2:])
    cuda = rehearsal.gpu_only_table("cuda").splitlines()
    assert all(row.endswith("| 実行した |") for row in cuda[2:])


def test_bad_scale_stops_before_fabricating(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(config.REHEARSAL_ENV, "0.5")  # main が書き換えても戻す
    with pytest.raises(ValueError, match="DLBOOK_REHEARSAL_SCALE"):
        rehearsal.main(["--scale", "0", "--out", str(tmp_path)])
    assert not (tmp_path / "inputs").exists()


def test_glued_nan_is_found(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "ch06_cnn.html").write_text(
        '<p>正解率は <span class="pasted-text">97.5</span>% で、'
        '段階的な解凍が <span class="pasted-text">nan</span>% だった。</p>'
        '<p>名前 <span class="pasted-text">Financial</span></p>'
    )
    (book / "index.html").write_text('<span class="pasted-text">nan</span>')
    found = rehearsal.glued_nan(tmp_path)
    assert len(found) == 1
    assert found[0].startswith("book/ch06_cnn.html: ")
    assert "段階的な解凍が 【nan】% だった" in found[0]


def test_kernel_hooks_record_claims_and_keep_errors(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """主張 (assert) は記録して続け、ほかの例外はセルを失敗させる。"""
    from IPython.core.interactiveshell import InteractiveShell
    from torchvision.datasets import CIFAR10

    from dlbook_tools import fabricate

    for name in ("train_list", "test_list", "meta"):
        monkeypatch.setattr(CIFAR10, name, getattr(CIFAR10, name))
    fabricate.write_cifar10(tmp_path, 20, 20)
    monkeypatch.setenv(config.DATA_ENV, str(tmp_path))
    shell = InteractiveShell.instance()
    monkeypatch.setattr(shell, "ast_transformers", [])
    rehearsal.install_kernel_hooks()
    assert CIFAR10.meta["md5"] != "5ff9c542aee3614f3951f8cda6e48888"
    result = shell.run_cell("x = 3\nassert x > 5, '大きい'\ny = x + 1")
    assert result.error_in_exec is None
    assert shell.user_ns["y"] == 4  # 主張の後も実行が続く
    err = capsys.readouterr().err
    assert f"{rehearsal.CLAIM_MARK} 大きい (x > 5)" in err
    result = shell.run_cell("raise ValueError('boom')")
    assert isinstance(result.error_in_exec, ValueError)


def test_claim_findings_name_chapter_and_line(tmp_path: Path) -> None:
    book = tmp_path / "book"
    book.mkdir()
    (book / "ch09.md").write_text(
        "# t\n\n```{code-cell} ipython3\nprint(1)\n```\n\n"
        "```{code-cell} ipython3\n:tags: [remove-cell]\nassert a > b, 'A'\n```\n"
    )
    executed = tmp_path / "exec"
    executed.mkdir()
    nb = {
        "cells": [
            {"cell_type": "code", "source": ["print(1)"], "outputs": []},
            {
                "cell_type": "code",
                "source": ["assert a > b, 'A'"],
                "outputs": [
                    {
                        "output_type": "stream",
                        "name": "stderr",
                        "text": [f"{rehearsal.CLAIM_MARK} A (a > b)\n"],
                    }
                ],
            },
        ]
    }
    (executed / "ch09.ipynb").write_text(json.dumps(nb))
    found = rehearsal.claim_findings(executed, book)
    assert found == ["book/ch09.md:7: A (a > b)"]  # セルの開始行
