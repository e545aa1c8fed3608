"""README's quality bars, and the sampling noise that a measured accuracy is allowed.

A seed draws the splits and the initial weights, and the CPU's kernels
decide the last bits of every sum (oneDNN picks other kernels with AVX-512
than with AVX2), so one seeded run is one draw: seed 42 of digits_cnn
scored 358 of 360 test digits on an AVX-512 CPU and 356 on an AVX2 one.
What separates a regression from such a draw is the test set's sampling
noise: the binomial standard error sqrt(p (1 - p) / n) at the bar p over
the n test examples measured. A bar allows two of those standard errors.
"""

import math

QUALITY_BAR = {"digits_cnn": 0.99, "breast_cancer_ann": 0.96, "digits_rnn": 0.97}


def sampling_margin(accuracy, examples):
    """Two binomial standard errors of an accuracy measured on `examples` test examples.

    Example:
        >>> round(sampling_margin(0.99, 360), 4)  # one seed of digits_cnn: about 1 point
        0.0105
    """
    return 2 * math.sqrt(accuracy * (1 - accuracy) / examples)
