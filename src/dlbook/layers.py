"""NumPy による層 (forward/backward の組)。

すべての層は ``Layer`` を継承し、次の約束に従う。

- ``forward(x, train=True)`` は出力を返し、逆伝播に要るものだけを保持する。
- ``backward(dout)`` は入力に関する勾配 ``dx`` を返し、
  パラメータの勾配を ``self.grads`` (``self.params`` と同じキー) に入れる。
- 入力 ``x`` や ``dout`` をその場で書き換えない。
"""

from __future__ import annotations

import numpy as np


class Layer:
    """層の基底クラス。パラメータを持たない層は ``params`` が空。"""

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError
