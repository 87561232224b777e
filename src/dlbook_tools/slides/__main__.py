"""``python -m dlbook_tools.slides`` (``cli.main``)。"""

from dlbook_tools.slides.cli import main

if __name__ == "__main__":  # 書き出しが spawn で子プロセスを作るので必要
    raise SystemExit(main())
