// dlbook のスライド (Marp) の設定。`python -m dlbook_tools.slides` が使う。
// すべてローカルの資源だけを使う (CDN を読まない): KaTeX のフォントはデッキの隣の
// assets/katex/fonts/ (marp-core の KaTeX と同じ版を slides.py が写す)、絵文字は画像にしない。
export default {
  lang: 'ja',
  html: true,
  allowLocalFiles: true,
  themeSet: ['./theme/dlbook.css'],
  options: {
    math: { lib: 'katex', katexFontPath: 'assets/katex/fonts/' },
    emoji: { shortcode: false, unicode: false },
    script: { source: 'inline' },
  },
}
