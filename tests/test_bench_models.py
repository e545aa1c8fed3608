"""The arithmetic behind the training benchmark's fraction-of-peak column."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from bench_models import BUILDERS, training_flops  # noqa: E402


def test_convnet_training_flops_match_a_count_by_hand():
    conv1 = 2 * 26 * 26 * (3 * 3 * 1 * 32)  # 28x28 -> 26x26, 32 filters over 1 channel
    conv2 = 2 * 11 * 11 * (3 * 3 * 32 * 64)  # pooled 13x13 -> 11x11, 64 filters over 32 channels
    dense = 2 * (5 * 5 * 64) * 10
    assert training_flops(BUILDERS["cnn"]()) == 3 * (conv1 + conv2 + dense)


def test_lstm_and_mlp_training_flops():
    lstm = 2 * 100 * (64 + 64) * 4 * 64  # 100 steps; input and recurrent kernels; 4 gates
    assert training_flops(BUILDERS["lstm"]()) == 3 * (lstm + 2 * 64 * 2)
    assert training_flops(BUILDERS["mlp"]()) == 3 * 2 * (30 * 32 + 32 * 16 + 16 * 2)
