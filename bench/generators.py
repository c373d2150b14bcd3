"""Generated networks for benchmarks and tests.

:func:`resnet_like` builds a ResNet-50-style bottleneck network of about ``target_nodes``
nodes through the document API (the way the canvas would), and :func:`resnet_like_torch`
writes the same architecture by hand as a plain ``nn.Module`` (the baseline). Both read one
:func:`resnet_plan`, so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from builder.catalog.layers import CATALOG
from graph.document import Network

# Nodes outside the residual blocks: Input, stem conv/bn/relu/maxpool, gap/flatten/fc/Output.
_FIXED_NODES = 1 + 4 + 4
_BLOCK_NODES = 10  # conv1 bn1 relu1 conv2 bn2 relu2 conv3 bn3 add relu
_PROJECTION_NODES = 2  # shortcut conv + bn


@dataclass(frozen=True)
class Block:
    """One bottleneck block: 1x1 ``in_ch -> width``, 3x3 (stride) ``width -> width``,
    1x1 ``width -> out_ch``; a projection shortcut when channels or stride change."""

    name: str
    in_ch: int
    width: int
    out_ch: int
    stride: int

    @property
    def projection(self) -> bool:
        return self.stride != 1 or self.in_ch != self.out_ch


def stage_depths(target_nodes: int) -> tuple[int, int, int, int]:
    """Blocks per stage for about ``target_nodes`` nodes: ResNet-152's (3, 8, 36, 3) shape,
    the third stage taking what is left (at least one block)."""
    blocks = max(4, round((target_nodes - _FIXED_NODES - 4 * _PROJECTION_NODES) / _BLOCK_NODES))
    third = max(1, blocks - 3 - 8 - 3)
    return (3, 8, third, 3) if blocks >= 15 else (1, 1, max(1, blocks - 3), 1)


def resnet_plan(target_nodes: int = 500, base_width: int = 64) -> list[Block]:
    """The residual blocks of a network of about ``target_nodes`` nodes."""
    blocks = []
    in_ch = base_width
    for s, depth in enumerate(stage_depths(target_nodes)):
        width = base_width * 2**s
        for b in range(depth):
            stride = 2 if (s > 0 and b == 0) else 1
            blocks.append(Block(f"s{s + 1}b{b + 1}", in_ch, width, 4 * width, stride))
            in_ch = 4 * width
    return blocks


def node_count(target_nodes: int = 500) -> int:
    """Exactly how many nodes :func:`resnet_like` makes for ``target_nodes``."""
    plan = resnet_plan(target_nodes)
    return _FIXED_NODES + sum(_BLOCK_NODES + _PROJECTION_NODES * b.projection for b in plan)


def resnet_like(
    target_nodes: int = 500,
    input_shape: tuple[int, int, int] = (3, 64, 64),
    base_width: int = 64,
    num_classes: int = 10,
    specs=CATALOG,
) -> Network:
    """A ResNet-50-like bottleneck network of about ``target_nodes`` nodes (497 for 500).

    Input -> conv7x7/2 -> bn -> relu -> maxpool3x3/2 -> bottleneck blocks -> AdaptiveAvgPool2d
    -> Flatten -> Linear -> Output. Node names: ``stem_conv``, ``s3b7_conv2``,
    ``s2b1_short_conv``, ``s4b3_add``, ``fc``, ... Convolutions have no bias (BN follows).
    """
    net = Network(specs, "resnet_like")
    col = [0.0]

    def node(type_id: str, name: str, **params) -> str:
        col[0] += 1.0
        return net.add_node(type_id, name, params, pos=(col[0] * 120.0, 0.0))

    def chain(src: str, *ids: str) -> str:
        for dst in ids:
            net.connect(src, dst)
            src = dst
        return src

    x = node("Input", "input", shape=input_shape)
    x = chain(
        x,
        node(
            "Conv2d",
            "stem_conv",
            out_channels=base_width,
            kernel_size=7,
            stride=2,
            padding=3,
            bias=False,
        ),
        node("BatchNorm2d", "stem_bn"),
        node("ReLU", "stem_relu"),
        node("MaxPool2d", "stem_pool", kernel_size=3, stride=2, padding=1),
    )
    for blk in resnet_plan(target_nodes, base_width):
        n = blk.name
        main = chain(
            x,
            node("Conv2d", f"{n}_conv1", out_channels=blk.width, kernel_size=1, bias=False),
            node("BatchNorm2d", f"{n}_bn1"),
            node("ReLU", f"{n}_relu1"),
            node(
                "Conv2d",
                f"{n}_conv2",
                out_channels=blk.width,
                kernel_size=3,
                stride=blk.stride,
                padding=1,
                bias=False,
            ),
            node("BatchNorm2d", f"{n}_bn2"),
            node("ReLU", f"{n}_relu2"),
            node("Conv2d", f"{n}_conv3", out_channels=blk.out_ch, kernel_size=1, bias=False),
            node("BatchNorm2d", f"{n}_bn3"),
        )
        short = x
        if blk.projection:
            short = chain(
                x,
                node(
                    "Conv2d",
                    f"{n}_short_conv",
                    out_channels=blk.out_ch,
                    kernel_size=1,
                    stride=blk.stride,
                    bias=False,
                ),
                node("BatchNorm2d", f"{n}_short_bn"),
            )
        add = node("Add", f"{n}_add")
        net.connect(main, add, dst_port="in1")
        net.connect(short, add, dst_port="in2")
        x = chain(add, node("ReLU", f"{n}_relu"))
    chain(
        x,
        node("AdaptiveAvgPool2d", "gap", output_size=1),
        node("Flatten", "flatten"),
        node("Linear", "fc", out_features=num_classes),
        node("Output", "output"),
    )
    return net


# ------------------------------------------------------------------------ hand-written baseline


class Bottleneck(nn.Module):
    """The same block as :func:`resnet_like` makes, written the usual (torchvision) way."""

    def __init__(self, blk: Block):
        super().__init__()
        self.conv1 = nn.Conv2d(blk.in_ch, blk.width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(blk.width)
        self.conv2 = nn.Conv2d(blk.width, blk.width, 3, stride=blk.stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(blk.width)
        self.conv3 = nn.Conv2d(blk.width, blk.out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(blk.out_ch)
        self.relu = nn.ReLU()
        self.shortcut = (
            nn.Sequential(
                nn.Conv2d(blk.in_ch, blk.out_ch, 1, stride=blk.stride, bias=False),
                nn.BatchNorm2d(blk.out_ch),
            )
            if blk.projection
            else nn.Identity()
        )

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self.shortcut(x))


class ResNetLike(nn.Module):
    """:func:`resnet_like`'s architecture as a hand-written module."""

    def __init__(
        self,
        target_nodes: int = 500,
        in_channels: int = 3,
        base_width: int = 64,
        num_classes: int = 10,
    ):
        super().__init__()
        plan = resnet_plan(target_nodes, base_width)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, base_width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(base_width),
            nn.ReLU(),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        self.blocks = nn.Sequential(*(Bottleneck(b) for b in plan))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(plan[-1].out_ch, num_classes)

    def forward(self, x):
        return self.fc(self.gap(self.blocks(self.stem(x))).flatten(1))


def resnet_like_torch(
    target_nodes: int = 500, input_shape=(3, 64, 64), base_width: int = 64, num_classes: int = 10
) -> ResNetLike:
    return ResNetLike(target_nodes, input_shape[0], base_width, num_classes)
