// How the terminals look: the font (with CJK fallbacks, so Chinese lines up in two cells), the
// colours, and the search's match highlights.

export const TERM_FONT =
  "'DejaVu Sans Mono', Menlo, Consolas, 'Liberation Mono', 'Noto Sans Mono CJK SC', 'Noto Sans Mono CJK TC', 'Sarasa Mono SC', 'PingFang SC', 'Microsoft YaHei', monospace";

export const TERM_THEME = {
  background: '#0f1416',
  foreground: '#d9e0e3',
  cursor: '#f4f4f0',
  cursorAccent: '#0f1416',
  selectionBackground: '#3b5560',
  black: '#1b2226',
  red: '#f07178',
  green: '#a5d96b',
  yellow: '#f2c66d',
  blue: '#6cb6ff',
  magenta: '#d2a6ff',
  cyan: '#5fd1c5',
  white: '#d9e0e3',
  brightBlack: '#5c6a72',
  brightRed: '#ff8f95',
  brightGreen: '#c2f08a',
  brightYellow: '#ffd98a',
  brightBlue: '#9ccfff',
  brightMagenta: '#e4c4ff',
  brightCyan: '#8ff0e5',
  brightWhite: '#ffffff',
};

/** The search addon's highlights: every match, and the current one. */
export const SEARCH_DECORATIONS = {
  matchBackground: '#3d4f26',
  matchOverviewRuler: '#a5d96b',
  activeMatchBackground: '#8a6d1f',
  activeMatchColorOverviewRuler: '#f2c66d',
};
