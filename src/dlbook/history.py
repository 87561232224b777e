"""学習の記録 ``History`` (PyTorch の ``fit`` と NumPy の ``fit_numpy`` が共通で返す)。

torch を読まないので、NumPy だけの章も同じ型を使える。
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass
class History:
    """エポックごとの学習の記録。

    Attributes:
        train_loss: 訓練データの平均損失 (そのエポックの更新中の値)。
        train_acc: 訓練データの正解率 (0〜1、更新中の値)。
        val_loss: 検証データの平均損失 (エポックの終わりに評価)。
        val_acc: 検証データの正解率 (0〜1)。
        lr: エポックの始めの学習率 (最初のパラメータグループ)。
        epoch_time: エポックにかかった秒数 (評価を含む)。
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.train_loss)

    @property
    def total_time(self) -> float:
        """学習にかかった秒数の合計。"""
        return float(sum(self.epoch_time))

    def best_epoch(self) -> int:
        """検証の正解率が最も高いエポック (1 始まり)。"""
        if not self.val_acc:
            raise ValueError("検証の記録がありません")
        return int(np.argmax(self.val_acc)) + 1

    def to_dict(self) -> dict[str, list[float]]:
        """保存用の辞書 (リストはコピー)。"""
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> History:
        """``to_dict`` の逆。"""
        return cls(**{k: [float(x) for x in v] for k, v in d.items()})
