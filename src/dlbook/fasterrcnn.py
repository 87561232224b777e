"""``full`` プロファイルの物体検出: COCO で学習済みの Faster R-CNN。

第6章で使う。torchvision の Faster R-CNN (ResNet-50 + FPN) を読み込み
(:func:`load_faster_rcnn`)、写真にかけて (:func:`detect`)、ラベルを日本語の
クラス名 (:func:`coco_class_names_ja`) で表す。予測は :mod:`dlbook.detection`
と同じ辞書の並び ``{"boxes", "scores", "labels"}`` で返す。
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import torch
from torch import Tensor, nn

from dlbook.detection import Detection

# COCO の 80 カテゴリの日本語名 (torchvision の英語名 → 日本語)
# fmt: off
COCO_NAMES_JA: Mapping[str, str] = MappingProxyType({
    "person": "人", "bicycle": "自転車", "car": "自動車",
    "motorcycle": "オートバイ",
    "airplane": "飛行機", "bus": "バス", "train": "列車", "truck": "トラック",
    "boat": "船", "traffic light": "信号機", "fire hydrant": "消火栓",
    "stop sign": "一時停止標識", "parking meter": "パーキングメーター",
    "bench": "ベンチ", "bird": "鳥", "cat": "猫", "dog": "犬", "horse": "馬",
    "sheep": "羊", "cow": "牛", "elephant": "象", "bear": "熊",
    "zebra": "シマウマ", "giraffe": "キリン", "backpack": "リュック",
    "umbrella": "傘", "handbag": "ハンドバッグ", "tie": "ネクタイ",
    "suitcase": "スーツケース", "frisbee": "フリスビー", "skis": "スキー板",
    "snowboard": "スノーボード", "sports ball": "ボール", "kite": "凧",
    "baseball bat": "野球のバット", "baseball glove": "野球のグローブ",
    "skateboard": "スケートボード", "surfboard": "サーフボード",
    "tennis racket": "テニスラケット", "bottle": "瓶",
    "wine glass": "ワイングラス",
    "cup": "カップ", "fork": "フォーク", "knife": "ナイフ",
    "spoon": "スプーン",
    "bowl": "ボウル", "banana": "バナナ", "apple": "りんご",
    "sandwich": "サンドイッチ", "orange": "オレンジ",
    "broccoli": "ブロッコリー",
    "carrot": "にんじん", "hot dog": "ホットドッグ", "pizza": "ピザ",
    "donut": "ドーナツ", "cake": "ケーキ", "chair": "椅子", "couch": "ソファ",
    "potted plant": "鉢植え", "bed": "ベッド", "dining table": "食卓",
    "toilet": "トイレ", "tv": "テレビ", "laptop": "ノートパソコン",
    "mouse": "マウス", "remote": "リモコン", "keyboard": "キーボード",
    "cell phone": "携帯電話", "microwave": "電子レンジ", "oven": "オーブン",
    "toaster": "トースター", "sink": "流し台", "refrigerator": "冷蔵庫",
    "book": "本", "clock": "時計", "vase": "花瓶", "scissors": "はさみ",
    "teddy bear": "テディベア", "hair drier": "ヘアドライヤー",
    "toothbrush": "歯ブラシ",
})
# fmt: on


def coco_class_names_ja() -> tuple[str, ...]:
    """Faster R-CNN のラベル番号 (0〜90) → 日本語名。

    torchvision の COCO のカテゴリ表 (背景 ``__background__`` と欠番 ``N/A``
    を含む 91 個) を :data:`COCO_NAMES_JA` で日本語にしたもの。重みは要らない。
    """
    from torchvision.models.detection import FasterRCNN_ResNet50_FPN_Weights

    categories = FasterRCNN_ResNet50_FPN_Weights.DEFAULT.meta["categories"]
    return tuple(COCO_NAMES_JA.get(name, name) for name in categories)


def load_faster_rcnn(
    *, pretrained: bool = True, device: torch.device | None = None
) -> nn.Module:
    """torchvision の Faster R-CNN (ResNet-50 + FPN) を評価モードで作る。

    ``pretrained=True`` (``full`` プロファイル) では COCO で学習済みの重み
    ``FasterRCNN_ResNet50_FPN_Weights.DEFAULT`` を読み込む
    (初回はダウンロード)。
    ``pretrained=False`` ではバックボーンも含め乱数の重みで作る (テスト用)。
    """
    from torchvision.models.detection import (
        FasterRCNN_ResNet50_FPN_Weights,
        fasterrcnn_resnet50_fpn,
    )

    if pretrained:
        weights = FasterRCNN_ResNet50_FPN_Weights.DEFAULT
        model = fasterrcnn_resnet50_fpn(weights=weights)
    else:
        # weights_backbone も None にしないと ImageNet の重みを取りに行く
        model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None)
    return model.to(device or torch.device("cpu")).eval()


@torch.no_grad()
def detect(
    model: nn.Module,
    images: Sequence[Tensor],
    score_threshold: float = 0.5,
    device: torch.device | None = None,
) -> list[Detection]:
    """torchvision の検出モデルで物体を検出し、スコアの低い箱を除く。

    前処理 (正規化・リサイズ) はモデルの中で行われるので、画素値 0〜1 の
    画像をそのまま渡す。NMS もモデルの中で済んでいる。

    Shape:
        - images: 長さ N のリスト、各要素 (Tensor[3, H_i, W_i]) (大きさは任意)
        - 戻り値: 長さ N の予測 ``{"boxes", "scores", "labels"}`` (CPU 上)。
    """
    device = device or torch.device("cpu")
    model.eval()
    outputs = model([image.to(device) for image in images])
    results: list[Detection] = []
    for out in outputs:
        keep = out["scores"] >= score_threshold
        keys = ("boxes", "scores", "labels")
        results.append({k: out[k][keep].cpu() for k in keys})
    return results
