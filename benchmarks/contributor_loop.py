"""執筆者のループを計る (issue 22): 小節を足し、3 つの間違いを直すまで。

書き出したリポジトリの写し (``git archive HEAD | tar -x -C <写し>`` に
``node_modules`` のシンボリックリンクを足したもの) の中で、第4章に対して
``python -m dlbook_tools.preview`` を繰り返し、各回の時間・終了コード・
要約に出た間違いを JSON で出す。

1. 温め: 元の章 (実行キャッシュを作る)
2. 小節を足す: glue した数、図 (``{glue:figure}``)、スライド (``{slide}``)
3. 3 つの間違い: glue の名前の誤り、存在しないラベルへの ``{numref}``、
   失敗するセル
4. 以後、執筆者と同じく「要約に出たもの」を直す。要約が空なら画面 (ログ) に
   出たものを探して直す。成功するまで繰り返す

負荷の高い共有機でも回るよう、章は最初の 2 節と参考文献に切り詰め、
切り詰めで壊れる節への参照 (``{ref}``/``{numref}``/``{doc}``) は地の文にする。
前後の比較では、写しの ``src/dlbook_tools`` (と ``_config.yml``) だけを
変更前の版に差し替える。

使い方::

    .venv/bin/python -m benchmarks.contributor_loop <写し> <結果.json>
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

CHAPTER = "book/ch04_nn_basics.md"
NEW = """### 追加の小節 (計測用)

```{code-cell} ipython3
:tags: [remove-cell]
import matplotlib.pyplot as plt
xs = np.linspace(-3, 3, 61)
n_pos = int((xs > 0).sum())
glue("ch4-loop-npos", n_pos, display=False)
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(xs, np.maximum(xs, 0))
glue("fig-ch4-loop", fig, display=False)
plt.close(fig)
```
BROKEN
正の点は {glue:text}`KEY` 個である ({numref}`fig-ch4-loop`)。MISSINGREF

```{glue:figure} fig-ch4-loop
:name: fig-ch4-loop
:alt: ReLU のグラフ
ReLU のグラフ。
```

```{slide} 追加の小節
:figure: fig-ch4-loop
- 正の点は {glue:text}`ch4-loop-npos` 個
```

"""
BROKEN_CELL = """
```{code-cell} ipython3
:tags: [remove-cell]
glue("ch4-loop-ratio", n_pos / n_neg, display=False)
```
"""
#: 間違い → それが画面・要約に出たと分かる文字列
MISTAKES = {
    "typo": "ch4-loop-nps",
    "ref": "fig-ch4-loop-missing",
    "cell": "n_neg",
}


def trimmed(text: str) -> str:
    """最初の 2 節と参考文献だけの章 (切り詰めで壊れる参照は地の文に)。"""
    lines = text.split("\n")
    cut = lines.index("## 多層ニューラルネットワーク")
    while not lines[cut - 1].strip() or re.match(r"^\(.*\)=$", lines[cut - 1]):
        cut -= 1
    refs = lines.index("## 参考文献")
    while re.match(r"^\(.*\)=$", lines[refs - 1]):
        refs -= 1
    body = [*lines[:cut], "", "## まとめ", "", "まとめ。", "", *lines[refs:]]
    return re.sub(r"\{(?:ref|doc|numref)\}`([^`<]+)`", r"\1", "\n".join(body))


def with_subsection(
    base: str, typo: bool = False, ref: bool = False, cell: bool = False
) -> str:
    new = NEW.replace("BROKEN", BROKEN_CELL if cell else "")
    new = new.replace(
        "MISSINGREF", " {numref}`fig-ch4-loop-missing` も見よ。" if ref else ""
    )
    new = new.replace("KEY", "ch4-loop-nps" if typo else "ch4-loop-npos")
    return base.replace("## まとめ\n", new + "## まとめ\n", 1)


def preview(root: Path, label: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "src"),
        "DLBOOK_PROFILE": "quick",
        "PYTHONHASHSEED": "0",
    }
    load = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "dlbook_tools.preview", CHAPTER],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    screen = proc.stdout + proc.stderr
    err = proc.stderr
    summary = err[err.rfind("ビルド失敗") :] if "ビルド失敗" in err else ""
    result = {
        "label": label,
        "seconds": round(seconds, 1),
        "rc": proc.returncode,
        "load": round(load, 1),
        "on_screen": {k: v in screen for k, v in MISTAKES.items()},
        "in_summary": {k: v in summary for k, v in MISTAKES.items()},
        "page_path_printed": "プレビュー:" in proc.stdout,
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    root, out = Path(args[0]).resolve(), Path(args[1])
    chapter = root / CHAPTER
    base = trimmed(chapter.read_text(encoding="utf-8"))
    rounds = []
    chapter.write_text(base)
    rounds.append(preview(root, "温め (元の章)"))
    chapter.write_text(with_subsection(base))
    rounds.append(preview(root, "小節を足す"))
    todo = dict.fromkeys(MISTAKES, True)
    chapter.write_text(with_subsection(base, **todo))
    result = preview(root, "3 つの間違い")
    rounds.append(result)
    while result["rc"] != 0 and len(rounds) < 8:
        named, screen = result["in_summary"], result["on_screen"]
        for key in MISTAKES:
            if named[key] or (not any(named.values()) and screen[key]):
                todo[key] = False
        chapter.write_text(with_subsection(base, **todo))
        result = preview(root, "直して再実行")
        rounds.append(result)
    report = {
        "rounds": rounds,
        "loop_seconds": round(sum(r["seconds"] for r in rounds[1:]), 1),
    }
    out.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
