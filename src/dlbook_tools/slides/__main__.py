"""``python -m dlbook_tools.slides`` (``cli.main``)。"""

from dlbook_tools.slides.cli import main

raise SystemExit(main())
