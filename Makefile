# dlbook のビルド入口。`make book` と `make test` だけ覚えればよい。
# Entry points: `make book` (build book + slides) and `make test` (all tests).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMPS := .stamps
export DLBOOK_PROFILE ?= quick
export PYTHONHASHSEED := 0

.PHONY: help setup book html slides pdf serve preview check test test-all test-unit lint rehearse-full determinism lock bench clean distclean

help: ## このヘルプ (this help)
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# ---------------------------------------------------------------- setup
$(STAMPS)/apt: tools/apt-packages.txt
	@mkdir -p $(STAMPS)
	bash tools/install-apt.sh tools/apt-packages.txt
	@touch $@

$(STAMPS)/venv: requirements.lock pyproject.toml
	@mkdir -p $(STAMPS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -q --require-hashes \
	  -r requirements.lock 2>&1 | { grep -v "is ignored: it is neither" || true; }
	set -o pipefail; $(BIN)/pip install --disable-pip-version-check -q --no-deps \
	  --no-build-isolation -e . 2>&1 | { grep -v "is ignored: it is neither" || true; }
	@touch $@

$(STAMPS)/npm: package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup: $(STAMPS)/apt $(STAMPS)/venv $(STAMPS)/npm ## 依存をすべて入れる (install everything; idempotent)

# ---------------------------------------------------------------- build
html: setup ## 本 (HTML) だけをビルド (book only)
	$(BIN)/python -m dlbook_tools.build html

slides: setup ## スライドだけ (全形式)。1 章だけ: make slides CH=book/ch06_cnn.md
	$(BIN)/python -m dlbook_tools.build slides $(if $(CH),--chapter $(CH))

pdf: html ## 本全体の PDF (_build/html/dlbook.pdf)
	$(BIN)/python -m dlbook_tools.build pdf

book: setup ## 本とスライドと PDF をビルド (スライドと PDF は同時に。build the whole site)
	$(BIN)/python -m dlbook_tools.build all
	@echo "サイト: _build/html/index.html"

serve: setup ## 執筆中のライブプレビュー (live preview on http://127.0.0.1:8000)
	$(BIN)/python -m dlbook_tools.serve

preview: setup ## 1 章だけビルド: make preview CH=book/ch04_nn_basics.md
	$(BIN)/python -m dlbook_tools.preview $(CH)

# ---------------------------------------------------------------- checks
# サイトを先に 1 度だけビルドし、テストは 2 プロセスで分けて走らせる
# (テストのファイルごとに 1 プロセス。各プロセスがビルドし直さないよう DLBOOK_SKIP_BUILD)
PYTEST_N ?= 2
test: setup lint ## すべてのテスト (lint + unit tests + one site build checked in Chromium)
	$(BIN)/python -m dlbook_tools.build all
	DLBOOK_SKIP_BUILD=1 $(BIN)/pytest -q -n $(PYTEST_N) --dist loadfile -m "not weekly" tests

test-all: setup lint ## make test + 章を丸ごと実行し直す重い検査 (weekly 印、毎週の CI)
	$(BIN)/python -m dlbook_tools.build all
	DLBOOK_SKIP_BUILD=1 $(BIN)/pytest -q -n $(PYTEST_N) --dist loadfile tests

test-unit: setup ## パッケージの単体テストだけ (package unit tests only)
	$(BIN)/pytest -q -m "not site and not slow" tests

# ruff format をまだ通していない執筆中のファイル (src/dlbook_tools/checks/ruff-format-pending.txt)
FORMAT_PENDING := $(shell grep -v '^\#' src/dlbook_tools/checks/ruff-format-pending.txt 2>/dev/null)

lint: setup ## ruff・mypy・ワークフローと文章の検査 (linters)
	$(BIN)/ruff check --extend-exclude tests/fixtures src tests benchmarks
	$(BIN)/ruff format --check --extend-exclude tests/fixtures \
	  $(addprefix --extend-exclude ,$(FORMAT_PENDING)) src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m dlbook_tools.checks.workflows
	$(BIN)/python -m dlbook_tools.checks.textlint_myst

rehearse-full: setup ## 公開ビルド (full) の予行演習: 偽のデータ・重みで全章を CPU で実行 (_build/rehearsal)
	$(BIN)/python -m dlbook_tools.rehearsal

check: setup ## コミット前の検査: lint + 変えた章のプレビュー + その単体テスト (CH= で章を指定)
	$(BIN)/python -m dlbook_tools.check $(if $(CH),--chapter $(CH))

determinism: setup ## 全章を新しいカーネルで再実行し、ビルドと同じ数値になるか確かめる
	$(BIN)/python -m dlbook_tools.checks.determinism --all

bench: setup ## ベンチマークを実行し benchmarks/results/ に表を書く
	$(BIN)/python -m benchmarks.run

# uv が requirements.in をハッシュ付きで解決する。ロックにある版はそのまま残すので、
# 何度走らせても同じファイルになる (版を上げるのは make lock UPGRADE=1)
lock: $(STAMPS)/venv ## requirements.in から requirements.lock を作る (ハッシュ付き)
	$(BIN)/uv pip compile requirements.in --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command "make lock" --quiet \
	  $(if $(UPGRADE),--upgrade) -o requirements.lock

clean: ## ビルド結果を消す (keeps the execution cache)
	rm -rf _build/html _build/slides _build/preview

distclean: ## すべて消す (venv, node_modules, caches)
	rm -rf _build $(VENV) node_modules $(STAMPS)
