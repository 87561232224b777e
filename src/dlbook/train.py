"""PyTorch の学習ループ: ``fit``・``evaluate``・``predict`` と保存。

1 エポックの中身は本書で学ぶ 5 行そのものである::

    y_hat = net(X)               # 順伝播
    loss = loss_fn(y_hat, y)     # 損失
    optimizer.zero_grad()        # 勾配を 0 に
    loss.backward()              # 逆伝播
    optimizer.step()             # パラメータの更新

進捗はエポックごとに 1 行だけ出す (ビルドしたページでも読めるように、
プログレスバーや復帰文字は使わない)。
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from dlbook.history import History

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _format_epoch(epoch: int, epochs: int, h: History) -> str:
    width = len(str(epochs))
    line = (
        f"epoch {epoch:>{width}}/{epochs}  "
        f"train loss {h.train_loss[-1]:.4f} acc {h.train_acc[-1]:6.2%}"
    )
    if h.val_loss:
        line += f"  val loss {h.val_loss[-1]:.4f} acc {h.val_acc[-1]:6.2%}"
    return line + f"  ({h.epoch_time[-1]:.1f} s)"


def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    device: torch.device,
) -> tuple[float, float]:
    """1 エポック学習し、(平均損失, 正解率) を返す。

    Shape:
        - ローダのミニバッチ: ``X`` :math:`(B, \\ldots)`、``y`` :math:`(B,)`
    """
    model.train()
    total_loss, correct, n = 0.0, 0, 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        y_hat = model(X)  # (B, K)
        loss = loss_fn(y_hat, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        B = len(y)
        total_loss += loss.item() * B  # loss はミニバッチの平均
        correct += int((y_hat.argmax(dim=1) == y).sum())
        n += B
    if n == 0:
        raise ValueError("訓練データが空です (loader が何も返さなかった)")
    return total_loss / n, correct / n


@torch.no_grad()
def evaluate(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device,
    loss_fn: LossFn | None = None,
) -> tuple[float, float]:
    """推論モードで (平均損失, 正解率) を計算する。

    Args:
        model: モデル (呼び出し後は ``eval`` モードのまま)。
        loader: 評価するデータ。
        device: 計算するデバイス。
        loss_fn: 損失関数 (既定は交差エントロピー)。

    Returns:
        ``(loss, acc)``。``acc`` は 0〜1。
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    model.eval()
    total_loss, correct, n = 0.0, 0, 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        y_hat = model(X)  # (B, K)
        total_loss += loss_fn(y_hat, y).item() * len(y)
        correct += int((y_hat.argmax(dim=1) == y).sum())
        n += len(y)
    if n == 0:
        raise ValueError("評価するデータが空です")
    return total_loss / n, correct / n


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, device: torch.device
) -> tuple[np.ndarray, np.ndarray]:
    """正解ラベルと予測ラベルを NumPy 配列で返す (混同行列などに使う)。

    Returns:
        ``(y_true, y_pred)``。どちらも :math:`(N,)` の int64。
    """
    model.eval()
    trues, preds = [], []
    for X, y in loader:
        y_hat = model(X.to(device))  # (B, K)
        trues.append(y.cpu().numpy())
        preds.append(y_hat.argmax(dim=1).cpu().numpy())
    return (
        np.concatenate(trues).astype(np.int64),
        np.concatenate(preds).astype(np.int64),
    )


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    val_loader: DataLoader | None,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device,
    loss_fn: LossFn | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    history: History | None = None,
    log: Callable[[str], None] | None = print,
) -> History:
    """モデルを ``epochs`` エポック学習させ、記録を返す。

    各エポックで訓練データを 1 周し、``val_loader`` があれば評価する。
    ``scheduler`` はエポックの終わりに 1 回 ``step()`` する。

    Args:
        model: 学習させるモデル (``device`` に置いておく)。
        train_loader: 訓練データ (シャッフルあり)。
        val_loader: 検証データ (``None`` なら評価しない)。
        optimizer: 最適化器。
        epochs: 今回学習するエポック数。
        device: 計算するデバイス。
        loss_fn: 損失関数 (既定は ``nn.CrossEntropyLoss()``)。
        scheduler: 学習率スケジューラ。
        history: 続きから学習するときの記録 (これに追記して返す)。
        log: 1 エポック 1 行の進捗を渡す関数 (``None`` なら出さない)。

    Returns:
        ``History`` (``history`` を渡したならそれ自身)。
    """
    if epochs < 0:
        raise ValueError(f"epochs は 0 以上です: {epochs}")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    history = history if history is not None else History()
    start = len(history)
    for epoch in range(start + 1, start + epochs + 1):
        t0 = time.perf_counter()
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        loss, acc = train_epoch(
            model,
            train_loader,
            optimizer,
            loss_fn,
            device,
        )
        history.train_loss.append(loss)
        history.train_acc.append(acc)
        if val_loader is not None:
            v_loss, v_acc = evaluate(model, val_loader, device, loss_fn)
            history.val_loss.append(v_loss)
            history.val_acc.append(v_acc)
        if scheduler is not None:
            scheduler.step()
        history.epoch_time.append(time.perf_counter() - t0)
        if log is not None:
            log(_format_epoch(epoch, start + epochs, history))
    return history


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None,
    epoch: int,
    history: History | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> Path:
    """学習を再開するための状態 (``state_dict``) を 1 ファイルに保存する。

    モデルそのもの (pickle) ではなく ``state_dict`` を保存するので、
    読むときは同じ構成のモデルを先に作っておく。

    Returns:
        保存したファイルのパス。
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "epoch": int(epoch),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer else None,
        "scheduler": scheduler.state_dict() if scheduler else None,
        "history": history.to_dict() if history is not None else None,
    }
    torch.save(state, path)
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    map_location: torch.device | str | None = None,
) -> tuple[int, History]:
    """``save_checkpoint`` の逆。モデル (と最適化器) に状態を読み込む。

    Args:
        path: チェックポイントのファイル。
        model: 読み込み先のモデル (保存時と同じ構成)。
        optimizer: 読み込み先の最適化器 (``None`` なら読まない)。
        scheduler: 読み込み先のスケジューラ (``None`` なら読まない)。
        map_location: テンソルを置くデバイス (GPU で保存して CPU で読む
            ときなど)。

    Returns:
        ``(epoch, history)``。記録がなければ空の ``History``。

    Raises:
        FileNotFoundError: ファイルがないとき。
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"チェックポイントがありません: {path}")
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None and state["optimizer"] is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None and state["scheduler"] is not None:
        scheduler.load_state_dict(state["scheduler"])
    hist = state["history"]
    history = History.from_dict(hist) if hist is not None else History()
    return int(state["epoch"]), history


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, n_classes: int
) -> np.ndarray:
    """混同行列 ``cm[i, j]`` = 正解 ``i`` を ``j`` と予測した件数。

    Shape:
        - y_true, y_pred: :math:`(N,)`
        - 出力: :math:`(K, K)` int64 (:math:`K` = ``n_classes``)
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true {y_true.shape} と y_pred {y_pred.shape} の形が違います",
        )
    for arr in (y_true, y_pred):
        if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
            raise ValueError(f"ラベルは 0〜{n_classes - 1} の範囲です")
    flat = y_true * n_classes + y_pred  # (N,) 行列の通し番号
    counts = np.bincount(flat, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes)  # (K, K)


def accuracy_per_class(cm: np.ndarray) -> np.ndarray:
    """混同行列からクラスごとの正解率 (再現率) を返す。

    そのクラスの画像がないときは ``nan``。

    Shape:
        - cm: :math:`(K, K)` → 出力: :math:`(K,)` float64
    """
    cm = np.asarray(cm)
    support = cm.sum(axis=1)  # (K,) クラスごとの正解の件数
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, np.diag(cm) / support, np.nan)
