"""転移学習 (transfer learning): 特徴抽出とファインチューニング。

第6章で使う。学習済みのモデルの本体 (バックボーン、backbone) を再利用し、
出力層 (ヘッド、head) だけを新しい課題のクラス数に付け替える。

- 特徴抽出 (feature extraction): バックボーンを凍結し、ヘッドだけを学習する。
- ファインチューニング (fine-tuning): 全体を学習し直す (学習済みの重みを
  大きく崩さないよう、小さな学習率を使うことが多い)。

ヘッドは torchvision の ResNet と同じく属性 ``fc`` (``nn.Linear``) とする。
``quick`` プロファイルでは同梱の sklearn digits で、数字 0〜4 で事前学習した
小さな CNN を数字 5〜9 に転移する (:func:`digits_transfer_experiment`)。
``full`` プロファイルでは ImageNet で学習済みの ResNet-18
(:func:`resnet18_for_transfer`) を使う。
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import Literal, cast

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import Tensor, nn

Mode = Literal["feature_extraction", "fine_tuning"]


# ------------------------------------------------------------ 凍結と付け替え
def set_trainable(module: nn.Module, trainable: bool) -> None:
    """``module`` のすべてのパラメータの ``requires_grad`` を切り替える。

    ``False`` にしたパラメータには勾配が計算されず、最適化器も更新しない
    (凍結、freeze)。
    """
    for p in module.parameters():
        p.requires_grad_(trainable)


def freeze_backbone(model: nn.Module, head: str = "fc") -> None:
    """ヘッド (属性 ``head``) 以外のパラメータをすべて凍結する (特徴抽出)。

    注意: 凍結してもバッチ正規化の移動平均は ``model.train()`` の間は
    更新される。統計も固定したいときはバックボーンを ``eval()`` にする。

    Raises:
        ValueError: ``model`` に属性 ``head`` がないとき。
    """
    if not hasattr(model, head):
        raise ValueError(f"モデルにヘッド {head!r} がありません")
    set_trainable(model, False)
    set_trainable(getattr(model, head), True)


def replace_head(
    model: nn.Module,
    n_classes: int,
    head: str = "fc",
) -> nn.Module:
    r"""出力層 ``model.<head>`` を ``n_classes`` 出力の新しい全結合層に替える。

    入力の次元 (ResNet-18 なら 512) はそのままで、重みは乱数で初期化される。

    .. math::
        \boldsymbol{y} = W \boldsymbol{h} + \boldsymbol{b}, \qquad
        W \in \mathbb{R}^{\text{n\_classes} \times d}

    Returns:
        同じ ``model`` (その場で書き換える)。

    Raises:
        ValueError: ``model.<head>`` が ``nn.Linear`` でないとき。
    """
    old = getattr(model, head, None)
    if not isinstance(old, nn.Linear):
        raise ValueError(f"model.{head} は nn.Linear である必要があります")
    setattr(model, head, nn.Linear(old.in_features, n_classes))
    return model


def resnet18_for_transfer(
    n_classes: int,
    mode: Mode = "fine_tuning",
    *,
    pretrained: bool = True,
) -> nn.Module:
    """転移学習用の torchvision ResNet-18 (``full`` プロファイル)。

    ``pretrained=True`` なら ImageNet で学習済みの重み
    ``ResNet18_Weights.DEFAULT`` を読み込む (初回はダウンロード)。
    入力はその重みの前処理 ``ResNet18_Weights.DEFAULT.transforms()``
    (リサイズ・切り抜き・ImageNet の平均と標準偏差で正規化) に合わせる。

    Args:
        n_classes: 新しい課題のクラス数。
        mode: ``"feature_extraction"`` ならヘッド以外を凍結する。
        pretrained: ``False`` なら乱数の重み (テスト用、ダウンロードしない)。

    Returns:
        ヘッド ``fc`` を付け替えた ResNet-18。
    """
    from torchvision.models import ResNet18_Weights, resnet18

    if mode not in ("feature_extraction", "fine_tuning"):  # 重みを取る前に
        raise ValueError(
            f"mode は 'feature_extraction' か 'fine_tuning': {mode!r}"
        )
    weights = ResNet18_Weights.DEFAULT if pretrained else None
    model = replace_head(resnet18(weights=weights), n_classes)
    if mode == "feature_extraction":
        freeze_backbone(model)
    return model


# ------------------------------------------------------------ 小さな CNN
class SmallCNN(nn.Module):
    """8x8 の手書き数字 (sklearn digits) 用の小さな CNN。

    バックボーン ``features`` (畳み込み 3 層 + 大域平均プーリング) と
    ヘッド ``fc`` (全結合 1 層) に分かれる。

    Shape:
        - 入力 (Tensor[N, 1, 8, 8])
        - 出力 (Tensor[N, n_classes]): ロジット。
    """

    def __init__(self, n_classes: int, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),  # (N, w, 8, 8)
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),  # (N, w, 8, 8)
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, w, 4, 4)
            nn.Conv2d(width, 2 * width, 3, padding=1),  # (N, 2w, 4, 4)
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),  # (N, 2w, 1, 1)
            nn.Flatten(),  # (N, 2w)
        )
        self.fc = nn.Linear(2 * width, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))


def train_classifier(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | None = None,
) -> list[float]:
    """交差エントロピーと Adam でモデルを学習する (``model`` をその場で更新)。

    最適化器には ``requires_grad`` のパラメータだけを渡す
    (凍結した層は更新されない)。

    Returns:
        エポックごとの平均損失。

    Shape:
        - X (Tensor[N, ...]), y (Tensor[N], int64)
    """
    device = device or torch.device("cpu")
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    N = len(X)
    history: list[float] = []
    for _ in range(epochs):
        total = 0.0
        for idx in torch.randperm(N, generator=generator).split(batch_size):
            loss = F.cross_entropy(model(X[idx].to(device)), y[idx].to(device))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / N)
    return history


@torch.no_grad()
def accuracy(
    model: nn.Module, X: Tensor, y: Tensor, device: torch.device | None = None
) -> float:
    """正解率 (評価モードで計算する)。"""
    device = device or torch.device("cpu")
    model.to(device).eval()
    y_hat = model(X.to(device)).argmax(dim=1).cpu()
    return float((y_hat == y).float().mean())


# -------------------------------------------------- quick: digits で転移学習
def digits_split(
    n_per_class: int,
    *,
    seed: int,
) -> dict[str, tuple[Tensor, Tensor]]:
    """sklearn digits を「事前学習用 (0〜4)」と「転移先 (5〜9)」に分ける。

    転移先は 1 クラス ``n_per_class`` 枚だけをラベル付きの学習データとし、
    残りを評価に使う。転移先のラベルは 5〜9 を 0〜4 に付け直す。

    Returns:
        ``"pretrain"``, ``"pretrain_test"`` (0〜4 の 8:2 分割)、
        ``"target_train"``, ``"target_test"`` (5〜9) → ``(X, y)``。

    Shape:
        - X (Tensor[N, 1, 8, 8], float32): 画素値は 0〜1。
        - y (Tensor[N], int64)
    """
    digits = load_digits()
    X_all = torch.tensor(digits.images / 16.0, dtype=torch.float32)
    X_all = X_all.unsqueeze(1)  # (1797, 1, 8, 8)
    y_all = torch.tensor(digits.target, dtype=torch.int64)
    rng = np.random.default_rng(seed)

    source = rng.permutation(np.flatnonzero(digits.target < 5))
    n_test = len(source) // 5
    train_idx: list[int] = []
    test_idx: list[int] = []
    for c in range(5, 10):
        idx = rng.permutation(np.flatnonzero(digits.target == c))
        train_idx += idx[:n_per_class].tolist()
        test_idx += idx[n_per_class:].tolist()
    return {
        "pretrain": (X_all[source[n_test:]], y_all[source[n_test:]]),
        "pretrain_test": (X_all[source[:n_test]], y_all[source[:n_test]]),
        "target_train": (X_all[train_idx], y_all[train_idx] - 5),
        "target_test": (X_all[test_idx], y_all[test_idx] - 5),
    }


def digits_transfer_experiment(
    n_per_class: Sequence[int] = (1, 3, 10, 30),
    repeats: int = 3,
    epochs: int = 100,
    lr: float = 3e-3,
    pretrain_epochs: int = 30,
    *,
    seed: int = 0,
    device: torch.device | None = None,
) -> dict[str, object]:
    """転移学習と「ゼロから学習」を、転移先のラベル付きデータの量ごとに比べる。

    1. 数字 0〜4 で :class:`SmallCNN` を ``pretrain_epochs`` エポック
       事前学習する (1 回だけ)。
    2. 数字 5〜9 の 1 クラス ``n`` 枚で、次の 3 通りを学習し、残りの
       5〜9 で正解率を測る。``repeats`` 回 (選ぶ ``n`` 枚を変えて) 平均する。

       - ``scratch``: 乱数の重みから全体を学習
       - ``feature_extraction``: 事前学習の重みを凍結し、新しいヘッドだけ学習
       - ``fine_tuning``: 事前学習の重みから全体を学習

       3 通りとも同じ学習率 ``lr``、全データを 1 バッチにした ``epochs`` 回の
       更新でそろえる。

    Returns:
        ``pretrain_accuracy`` (0〜4 の評価データでの正解率)、
        ``n_per_class``、``accuracy`` (方法名 → ``n`` ごとの平均正解率の
        リスト)、
        ``accuracy_std`` (同じ形の標準偏差)、``seconds`` を持つ辞書。
    """
    start = time.perf_counter()
    split = digits_split(0, seed=seed)
    torch.manual_seed(seed)
    pretrained = SmallCNN(n_classes=5)
    X_source, y_source = split["pretrain"]
    train_classifier(
        pretrained,
        X_source,
        y_source,
        epochs=pretrain_epochs,
        lr=lr,
        seed=seed,
        device=device,
    )
    pretrain_acc = accuracy(pretrained, *split["pretrain_test"], device)
    state = {k: v.clone() for k, v in pretrained.state_dict().items()}

    methods = ("scratch", "feature_extraction", "fine_tuning")
    results: dict[str, list[list[float]]] = {m: [] for m in methods}
    for n in n_per_class:
        runs: dict[str, list[float]] = {m: [] for m in methods}
        for r in range(repeats):
            data = digits_split(n, seed=seed + 1 + r)
            X, y = data["target_train"]
            for method in methods:
                torch.manual_seed(seed + r)
                model = SmallCNN(n_classes=5)
                if method != "scratch":
                    model.load_state_dict(state)
                    replace_head(model, 5)
                if method == "feature_extraction":
                    freeze_backbone(model)
                # 小さなデータなので全データを 1 バッチにし、更新回数をそろえる
                train_classifier(
                    model,
                    X,
                    y,
                    epochs=epochs,
                    lr=lr,
                    batch_size=len(X),
                    seed=seed + r,
                    device=device,
                )
                acc = accuracy(model, *data["target_test"], device)
                runs[method].append(acc)
        for m in methods:
            results[m].append(runs[m])
    # 方法ごとに、n ごとの repeats 回の平均と標準偏差
    mean = {m: [float(np.mean(a)) for a in results[m]] for m in methods}
    std = {m: [float(np.std(a)) for a in results[m]] for m in methods}
    return {
        "pretrain_accuracy": pretrain_acc,
        "n_per_class": list(n_per_class),
        "accuracy": mean,
        "accuracy_std": std,
        "seconds": time.perf_counter() - start,
    }


# ------------------------------------ quick: 生成したカラー画像 (shapes10) で転移
#: 事前学習に使う shapes10 のクラス (偶数番) と、転移先のクラス (奇数番)。
SOURCE_CLASSES = (0, 2, 4, 6, 8)  # 円, 正方形, 十字, 横縞, 市松模様
TARGET_CLASSES = (1, 3, 5, 7, 9)  # リング, 三角形, バツ印, 縦縞, 水玉


class ColorCNN(nn.Module):
    """小さなカラー画像 (shapes10 を 16×16 にしたもの) 用の CNN。

    第 1 層は 5×5 の畳み込み 16 枚 (フィルタを色の画像として見られる)。
    バックボーン ``features`` は 3 ブロック (畳み込み + BN + ReLU) と
    大域平均プーリング、ヘッドは ``fc``。

    Shape:
        - 入力 (Tensor[N, 3, H, W]) → 出力 (Tensor[N, n_classes])
    """

    def __init__(self, n_classes: int, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 5, padding=2),  # (N, w, H, W)
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, w, H/2, W/2)
            nn.Conv2d(w, 2 * w, 3, padding=1),  # (N, 2w, H/2, W/2)
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 2w, H/4, W/4)
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),  # (N, 2w, H/4, W/4)
            nn.BatchNorm2d(2 * w),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),  # (N, 2w, 1, 1)
            nn.Flatten(),  # (N, 2w)
        )
        self.fc = nn.Linear(2 * w, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.features(x))


def conv_blocks(model: nn.Module) -> list[list[nn.Module]]:
    """``model.features`` を畳み込みから始まるブロックに分ける (解凍の単位)。"""
    blocks: list[list[nn.Module]] = []
    features = cast(nn.Module, model.features)
    for m in features.children():
        if isinstance(m, nn.Conv2d) or not blocks:
            blocks.append([])
        blocks[-1].append(m)
    return blocks


def shapes_split(
    *, seed: int = 0, size: int = 16, n_train: int = 5000, n_test: int = 2000
) -> dict[str, tuple[Tensor, Tensor]]:
    """shapes10 を事前学習用 (偶数番のクラス) と転移先 (奇数番) に分ける。

    ラベルはどちらも 0〜4 に付け直す (``y // 2``)。

    Returns:
        ``"source"``, ``"source_test"``, ``"target_pool"`` (転移先の
        ラベル付き画像を選ぶ元), ``"target_test"`` → ``(X, y)``。
    """
    from dlbook.shapes10 import make_shapes10

    X, y = make_shapes10(n_train, seed=seed, size=size)
    Xt, yt = make_shapes10(n_test, seed=seed + 1, size=size)
    src, src_t = y % 2 == 0, yt % 2 == 0
    return {
        "source": (X[src], y[src] // 2),
        "source_test": (Xt[src_t], yt[src_t] // 2),
        "target_pool": (X[~src], y[~src] // 2),
        "target_test": (Xt[~src_t], yt[~src_t] // 2),
    }


def pretrain_color_cnn(
    *,
    seed: int = 0,
    epochs: int = 10,
    lr: float = 0.03,
    first_layer_scale: float = 0.1,
    size: int = 16,
) -> dict[str, object]:
    """shapes10 の偶数番の 5 クラスで :class:`ColorCNN` を事前学習する。

    モーメンタム SGD (0.9、重み減衰 5e-4、バッチ 64) で学習する。第 1 層の
    初期値は ``first_layer_scale`` 倍に小さくしておく。SGD の更新は勾配
    (入力の画素の相関なので空間的になめらか) の積み重ねなので、初期値の
    雑音が小さければ、育ったフィルタの形 (向きのある色の境目など) が見える。
    (Adam は要素ごとに更新の大きさをそろえるので、小さな初期値には
    相対的に大きすぎる雑音の多い更新になる。)

    Returns:
        ``model`` (学習済み)、``accuracy`` (偶数番クラスの評価画像での
        正解率)、``split`` (:func:`shapes_split` の結果)、``seconds``。
    """
    start = time.perf_counter()
    split = shapes_split(seed=seed, size=size)
    torch.manual_seed(seed)
    model = ColorCNN(len(SOURCE_CLASSES))
    with torch.no_grad():
        first = model.features[0]
        assert isinstance(first, nn.Conv2d)
        first.weight.mul_(first_layer_scale)
    opt = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4
    )
    X, y = split["source"]
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(X), generator=generator).split(64):
            loss = F.cross_entropy(model(X[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {
        "model": model,
        "accuracy": accuracy(model, *split["source_test"]),
        "split": split,
        "seconds": time.perf_counter() - start,
    }


@functools.lru_cache(maxsize=2)
def pretrained_color_cnn(seed: int = 0) -> dict[str, object]:
    """:func:`pretrain_color_cnn` (既定の設定) の結果を覚えておく版。

    同じ ``seed`` の 2 回目からは学習し直さず、同じ辞書を返す (第 6 章の
    特徴マップの可視化・転移学習・Grad-CAM の節が同じネットワークを使う)。
    返したモデルの重みを書き換えないこと (転移の実験は重みを複製して使う)。
    """
    return pretrain_color_cnn(seed=seed)


def pick_per_class(
    y: Tensor, n_per_class: int, rng: np.random.Generator
) -> Tensor:
    """クラスごとに ``n_per_class`` 個の添字を無作為に選ぶ (クラス順に並ぶ)。"""
    idx = [
        rng.permutation(np.flatnonzero(y.numpy() == c))[:n_per_class]
        for c in range(int(y.max()) + 1)
    ]
    return torch.from_numpy(np.concatenate(idx))


def train_staged(
    model: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    steps: int,
    n_stages: int,
    lr: float,
    seed: int,
) -> None:
    """段階的な解凍 (gradual unfreezing): ヘッドから順に 1 ブロックずつ解凍する。

    全体を ``n_stages`` 段階に分け、段階 ``s`` (0 から) ではヘッドと、
    後ろから ``s`` 個のブロックを学習する。各段階の更新回数は
    ``steps // n_stages`` (全データを 1 バッチ)。段階が変わるたびに、
    学習する層だけを渡した新しい Adam を作る。
    """
    blocks = conv_blocks(model)
    for s in range(n_stages):
        set_trainable(model, False)
        set_trainable(cast(nn.Module, model.fc), True)
        for block in blocks[len(blocks) - s :] if s else []:
            for m in block:
                set_trainable(m, True)
        train_classifier(
            model,
            X,
            y,
            epochs=steps // n_stages,
            lr=lr,
            batch_size=len(X),
            seed=seed,
        )


def shapes_transfer_experiment(
    n_per_class: Sequence[int] = (1, 5, 20),
    repeats: int = 3,
    steps: int = 60,
    lr: float = 3e-3,
    *,
    seed: int = 0,
    pretrained: dict[str, object] | None = None,
) -> dict[str, object]:
    """転移先のラベル付き画像の数ごとに、4 通りの学習を比べる (quick)。

    事前学習 (:func:`pretrain_color_cnn`) は 1 回だけ。転移先 (奇数番の
    5 クラス) の 1 クラス ``n`` 枚を ``repeats`` 回選び直し、次を比べる。
    どれも全データを 1 バッチにした ``steps`` 回の更新 (Adam, ``lr``)。

    - ``scratch``: 乱数の重みから全体を学習
    - ``feature_extraction``: 事前学習の重みを凍結し、新しいヘッドだけ
    - ``fine_tuning``: 事前学習の重みから全体を学習 (学習率 ``lr / 3``)
    - ``gradual``: 事前学習の重みから、ヘッド → 後ろのブロック → … と
      3 段階で解凍 (:func:`train_staged`、学習率 ``lr / 3``)

    Returns:
        ``n_per_class``、``accuracy`` と ``accuracy_std`` (方法名 →
        ``n`` ごとの平均と標準偏差)、``runs`` (方法名 → ``n`` ごとの
        各回の正解率)、``pretrain_accuracy``、``seconds`` を持つ辞書。
    """
    start = time.perf_counter()
    pre = (
        pretrained if pretrained is not None else pretrain_color_cnn(seed=seed)
    )
    split = pre["split"]
    model0 = cast(nn.Module, pre["model"])
    state = {k: v.clone() for k, v in model0.state_dict().items()}
    X_pool, y_pool = split["target_pool"]  # type: ignore[index]
    X_test, y_test = split["target_test"]  # type: ignore[index]
    methods = ("scratch", "feature_extraction", "fine_tuning", "gradual")
    runs: dict[str, list[list[float]]] = {m: [] for m in methods}
    for n in n_per_class:
        accs: dict[str, list[float]] = {m: [] for m in methods}
        for r in range(repeats):
            idx = pick_per_class(
                y_pool, n, np.random.default_rng(seed + 100 + r)
            )
            X, y = X_pool[idx], y_pool[idx]
            for method in methods:
                torch.manual_seed(seed + r)
                model = ColorCNN(len(TARGET_CLASSES))
                if method != "scratch":
                    model.load_state_dict(state)
                    replace_head(model, len(TARGET_CLASSES))
                if method == "feature_extraction":
                    freeze_backbone(model)
                if method == "gradual":
                    train_staged(
                        model,
                        X,
                        y,
                        steps=steps,
                        n_stages=3,
                        lr=lr / 3,
                        seed=seed + r,
                    )
                else:
                    train_classifier(
                        model,
                        X,
                        y,
                        epochs=steps,
                        batch_size=len(X),
                        seed=seed + r,
                        lr=lr / 3 if method == "fine_tuning" else lr,
                    )
                accs[method].append(accuracy(model, X_test, y_test))
        for m in methods:
            runs[m].append(accs[m])
    return {
        "n_per_class": list(n_per_class),
        "accuracy": {m: [float(np.mean(a)) for a in runs[m]] for m in methods},
        "accuracy_std": {
            m: [float(np.std(a)) for a in runs[m]] for m in methods
        },
        "runs": runs,
        "pretrain_accuracy": pre["accuracy"],
        "seconds": time.perf_counter() - start,
    }
