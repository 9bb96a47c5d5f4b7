/*
 * nslab embed script, version 1 (served by the agent as /embed/v1.js). No dependencies, no build.
 *
 *   <script src="https://nslab.example/embed/v1.js"></script>
 *   const lab = NSLab.mount(document.getElementById('lab'), {
 *     url,                          // the launch URL your server got from POST /api/v1/launches
 *     onEvent: (e) => console.log(e.type, e),
 *     height: 640,                  // px, or any CSS height ('80vh'); 640 px by default
 *   });
 *   lab.destroy();                  // removes the frame
 *
 * The frame's events (docs/embedding.md): nslab:ready, nslab:task, nslab:lesson-complete,
 * nslab:closed, nslab:size. Only messages from this frame's window, from the launch URL's
 * origin, whose type starts with "nslab:", reach onEvent. nslab:size keeps the frame at least as
 * high as the lesson needs.
 */
// biome-ignore lint/complexity/useArrowFunction: a classic script's scope, where `this` is the global object
(function (global) {
  // biome-ignore lint/suspicious/noRedundantUseStrict: a classic script (not a module) is not strict by itself
  'use strict';

  const VERSION = 1;
  const DEFAULT_HEIGHT = 640;
  const MAX_HEIGHT = 4000;
  const PREFIX = 'nslab:';

  const cssHeight = (h) => {
    if (typeof h === 'number' && Number.isFinite(h) && h > 0) return `${Math.round(h)}px`;
    if (typeof h === 'string' && h.trim() !== '') return h.trim();
    throw new TypeError('NSLab.mount: height must be a number of pixels or a CSS height');
  };

  const mount = (element, options) => {
    if (!(element instanceof Element)) throw new TypeError('NSLab.mount: the first argument must be an element');
    const opts = options || {};
    if (typeof opts.url !== 'string' || opts.url === '') throw new TypeError('NSLab.mount: options.url must be the launch URL');
    const src = new URL(opts.url, document.baseURI);
    if (src.protocol !== 'https:' && src.protocol !== 'http:') throw new TypeError('NSLab.mount: options.url must be an http(s) URL');
    const origin = src.origin;
    const onEvent = typeof opts.onEvent === 'function' ? opts.onEvent : null;

    const iframe = document.createElement('iframe');
    iframe.src = src.href;
    iframe.title = typeof opts.title === 'string' ? opts.title : 'nslab lesson';
    iframe.setAttribute('allow', 'clipboard-read; clipboard-write');
    iframe.style.display = 'block';
    iframe.style.width = '100%';
    iframe.style.border = '0';
    iframe.style.height = cssHeight(opts.height === undefined ? DEFAULT_HEIGHT : opts.height);

    const onMessage = (ev) => {
      if (ev.source !== iframe.contentWindow || ev.origin !== origin) return;
      const data = ev.data;
      if (!data || typeof data !== 'object' || typeof data.type !== 'string' || data.type.indexOf(PREFIX) !== 0) return;
      if (data.type === `${PREFIX}size` && typeof data.height === 'number' && Number.isFinite(data.height) && data.height > 0) {
        iframe.style.minHeight = `${Math.min(MAX_HEIGHT, Math.ceil(data.height))}px`;
      }
      if (!onEvent) return;
      try {
        onEvent(Object.assign({}, data));
      } catch (err) {
        // The page's handler failed: report it as an uncaught error, and keep relaying.
        setTimeout(() => {
          throw err;
        }, 0);
      }
    };

    window.addEventListener('message', onMessage);
    element.appendChild(iframe);
    let destroyed = false;
    return {
      iframe,
      destroy() {
        if (destroyed) return;
        destroyed = true;
        window.removeEventListener('message', onMessage);
        if (iframe.parentNode) iframe.parentNode.removeChild(iframe);
      },
    };
  };

  // A page that loaded the script twice keeps the first copy.
  if (global.NSLab && global.NSLab.version === VERSION) return;
  global.NSLab = Object.freeze({ version: VERSION, mount });
})(typeof window !== 'undefined' ? window : this);
