"""サイトを localhost で配信し、Debian の Chromium で開くための共通部品。

PDF の印刷 (``dlbook_tools.pdf``)、ベンチマークのページ重量、サイトのテストが使う。
ブラウザはダウンロードせず、``apt`` で入れた ``/usr/bin/chromium`` を使う。
"""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# 閉じたネットワークで外へ出ようとしないための引数 (root では sandbox も切る)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


#: 静的ホスティング (GitHub Pages など) が gzip で送る種類。画像と woff2 は送らない
COMPRESSED_TYPES = (
    "text/",
    "application/javascript",
    "application/json",
    "image/svg+xml",
    "font/ttf",
    "application/vnd.ms-fontobject",
)


class _GzipHandler(_QuietHandler):
    """テキストの応答を gzip で送る (ページの重さを公開サイトと同じ条件で測る)。"""

    def do_GET(self) -> None:
        path = self.translate_path(self.path)
        if os.path.isdir(path):
            path = os.path.join(path, "index.html")
        ctype = self.guess_type(path)
        wants = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (
            wants
            and os.path.isfile(path)
            and ctype.startswith(COMPRESSED_TYPES)
        ):
            super().do_GET()
            return
        with open(path, "rb") as f:
            body = gzip.compress(f.read(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def serve_directory(directory: Path, compress: bool = False) -> Iterator[str]:
    """``directory`` を 127.0.0.1 の空きポートで配信し、その URL を返す。

    ``compress=True`` ならテキスト (HTML・CSS・JS・SVG) を gzip で送る。
    """
    cls = _GzipHandler if compress else _QuietHandler
    handler = functools.partial(cls, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
