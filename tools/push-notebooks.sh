#!/usr/bin/env bash
# 実行済みノートブック (*.ipynb) を notebooks ブランチの <DEST>/ に置く。
# 「Colab で開く」のリンクはここを指す (main/ は公開中の本、<tag>/ はリリース)。
# 使い方: GH_TOKEN=... tools/push-notebooks.sh <ノートブックのフォルダ> <DEST>
# publish.yml と release.yml が使う。ほかのジョブと同時に押しても、取り直して 3 回まで試す。
# NOTEBOOKS_REMOTE で押し先を変えられる (テストはローカルの bare リポジトリに押す)。
set -euo pipefail

if [ "$#" -ne 2 ] || [ ! -d "$1" ] || [ -z "$2" ]; then
  echo "使い方 (usage): GH_TOKEN=... $0 <notebooks dir> <dest subdir>" >&2
  exit 2
fi
: "${GH_TOKEN:?GH_TOKEN が必要です (needs GH_TOKEN)}"
: "${GITHUB_REPOSITORY:?GITHUB_REPOSITORY が必要です}"
src="$(realpath "$1")"
dest="$2"
shopt -s nullglob
notebooks=("$src"/*.ipynb)
if [ "${#notebooks[@]}" -eq 0 ]; then
  echo "ノートブックがありません (no notebooks): $src" >&2
  exit 1
fi

auth="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GH_TOKEN" | base64 -w0)"
url="${NOTEBOOKS_REMOTE:-https://github.com/${GITHUB_REPOSITORY}.git}"
work="$(mktemp -d)" && cd "$work" && git init -q
git config user.name "github-actions[bot]"
git config user.email "41898282+github-actions[bot]@users.noreply.github.com"
for attempt in 1 2 3; do
  if git -c http.extraheader="$auth" fetch -q --depth=1 "$url" notebooks; then
    git checkout -q -B notebooks FETCH_HEAD
  else
    git checkout -q --orphan notebooks && git rm -rqf --ignore-unmatch .
  fi
  rm -rf "./${dest}" && mkdir -p "./${dest}"
  cp "${notebooks[@]}" "./${dest}/"
  git add -A -- "./${dest}"
  git diff --cached --quiet && exit 0
  git commit -q -m "notebooks ${dest} from ${GITHUB_SHA:-unknown}"
  git -c http.extraheader="$auth" push -q "$url" HEAD:notebooks && exit 0
  sleep $((attempt * 5))
done
exit 1
