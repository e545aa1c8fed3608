from setuptools import find_packages, setup

setup(
    name="kerasdl",
    version="0.1.0",
    description="Data in, a trained, verified, phone-ready Keras 3 model out, on CPU, GPU or TPU.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["kerasdl", "kerasdl.*"]),
    package_data={
        "kerasdl": [
            "presets/*.yaml",
            # The bundled `nuclei` segmentation and detection set
            # (load_dataset("nuclei"), load_dataset("nuclei_boxes")).
            "data/nuclei/README.md",
            "data/nuclei/classes.txt",
            "data/nuclei/data.yaml",
            "data/nuclei/images/*.png",
            "data/nuclei/masks/*.png",
            "data/nuclei/labels/*.txt",
        ]
    },
    install_requires=[
        # `tensorflow`, not `tensorflow-cpu` beside it: the two collide.
        "tensorflow>=2.21,<2.22",
        "keras>=3.13,<4",
        # TensorFlow 2.21 no longer pulls TensorBoard in.
        "tensorboard>=2.21,<2.22",
        "tensorflow-datasets>=4.9,<5",
        # TFDS imports it to download, but does not declare it.
        "importlib_resources>=6",
        # The LiteRT interpreter; tf.lite.Interpreter is deprecated.
        "ai-edge-litert>=2.1,<3",
        # Keras 2, for the opt-in fused-LSTM export only: the TFLite converter
        # fuses LSTMs only from tf_keras layers (kerasdl/export/fused.py).
        "tf_keras>=2.21,<2.22",
        # BERT (text_bert): keras-hub's models and its WordPiece tokeniser,
        # which runs on tensorflow-text ops.
        "keras-hub>=0.32,<0.33",
        "tensorflow-text>=2.21,<2.22",
        "scikit-learn>=1.4,<2",
        "numpy>=1.26,<3",
        "pyyaml>=6,<7",
        # plots/ (training curves; Agg, no display) and report.html (report.md's tables).
        "matplotlib>=3.8,<4",
        "markdown>=3.5,<4",
        # COCO mAP for detection, computed by the reference implementation.
        "pycocotools>=2.0.8,<3",
        # data=colorize: CC0 and public-domain colour photos that ship inside
        # its wheel (kerasdl/data/colorize.py), an image-to-image set offline.
        "scikit-image>=0.22,<1",
    ],
    extras_require={
        # The tests train on the JAX backend too, and execute the Colab notebook.
        "dev": [
            "pytest>=8,<10",
            "pytest-xdist>=3.5,<4",
            "ruff>=0.6",
            "jax>=0.5,<0.11",
            "nbclient>=0.10,<1",
            "nbformat>=5.10,<6",
            "ipykernel>=6.29,<8",
            # The browser test drives Debian's chromium with its chromedriver (no browser download).
            "selenium>=4.20,<5",
        ],
        # backend=jax: Keras's JAX backend (the Colab TPU path; TPU runtimes
        # come with a matching jax[tpu] already, so install kerasdl without it there).
        "jax": ["jax>=0.5,<0.11"],
        # scripts/bench_training.py's PyTorch columns. On a CPU-only machine,
        # `pip install torch --index-url https://download.pytorch.org/whl/cpu`
        # first avoids the multi-GB CUDA build that PyPI's torch brings.
        "bench": ["torch>=2.4,<3"],
    },
    entry_points={"console_scripts": ["kerasdl=kerasdl.cli:main"]},
)
