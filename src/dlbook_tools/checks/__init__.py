"""本の品質チェック (textlint の前処理、用語集、サイトの検査、決定性)。

読者向けパッケージ ``dlbook`` とは別物で、``make lint`` / ``make test`` /
``make determinism`` / ``make bench`` から呼ばれる。
"""
