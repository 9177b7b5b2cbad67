// @ts-check
import { ApiError } from './api.js';
import { CONTENT_FORMATS, contentFormatName, el } from './format.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'FETCH', 'PATCH', 'iPATCH'];

/**
 * The body of `POST /v1/devices/:id/send` (docs/api.md "Send a command") from the form's fields: a JSON content
 * format sends the payload as JSON, octet-stream as base64, anything else as text.
 * @param {FormData} data
 * @returns {Record<string, unknown>}
 */
export function sendBody(data) {
  /** @type {Record<string, unknown>} */
  const body = { method: String(data.get('method')), path: String(data.get('path')).trim() };
  const query = String(data.get('query') ?? '').trim();
  if (query) body.query = query;
  const ct = String(data.get('ct') ?? '');
  const accept = String(data.get('accept') ?? '');
  const timeout = Number(data.get('timeout'));
  const payload = String(data.get('payload') ?? '');
  if (accept !== '') body.accept = Number(accept);
  if (Number.isInteger(timeout) && timeout > 0) body.timeout = timeout;
  if (payload === '') {
    if (ct !== '') body.ct = Number(ct);
    return body;
  }
  if (ct === '50' || ct === '110' || ct === '60') {
    try {
      body.payload = JSON.parse(payload);
    } catch {
      throw new Error('the payload is not valid JSON for this content format');
    }
  } else if (ct === '42') {
    body.payload = btoa(payload);
    body.encoding = 'base64';
  } else {
    body.payload = payload;
  }
  if (ct !== '') body.ct = Number(ct);
  return body;
}

/** The send form of a device page, and the reply it got: code, content format, payload and round-trip time. */
export class SendForm {
  /**
   * @param {import('./api.js').Api} api
   * @param {import('./types.js').Device} device
   * @param {import('./events-view.js').EventLog} log
   */
  constructor(api, device, log) {
    const paths = el(
      'datalist',
      { id: 'send-paths' },
      device.resources.map((link) => el('option', { value: link.href })),
    );
    const formats = (/** @type {string} */ none) => [
      el('option', { value: '' }, [none]),
      ...Object.entries(CONTENT_FORMATS).map(([n, name]) => el('option', { value: n }, [`${n} ${name}`])),
    ];
    this.result = el('output', { class: 'reply', for: 'send-path', 'aria-live': 'polite' });
    this.form = el('form', { class: 'send', id: 'send-form' }, [
      el('label', { for: 'send-method' }, ['Method']),
      el(
        'select',
        { id: 'send-method', name: 'method' },
        METHODS.map((m) => el('option', { value: m }, [m])),
      ),
      el('label', { for: 'send-path' }, ['Path']),
      el('input', {
        id: 'send-path',
        name: 'path',
        required: true,
        pattern: '/.*',
        list: 'send-paths',
        value: device.resources[0]?.href ?? '/',
      }),
      paths,
      el('label', { for: 'send-query' }, ['Query']),
      el('input', { id: 'send-query', name: 'query', placeholder: 'a=1&b' }),
      el('label', { for: 'send-payload' }, ['Payload']),
      el('textarea', { id: 'send-payload', name: 'payload', rows: 3, placeholder: '{"on": true}' }),
      el('label', { for: 'send-ct' }, ['Content format']),
      el('select', { id: 'send-ct', name: 'ct' }, formats('none (text or JSON by payload)')),
      el('label', { for: 'send-accept' }, ['Accept']),
      el('select', { id: 'send-accept', name: 'accept' }, formats('none')),
      el('label', { for: 'send-timeout' }, ['Timeout (ms)']),
      el('input', { id: 'send-timeout', name: 'timeout', type: 'number', min: 1, max: 120000, value: 5000 }),
      el('button', { type: 'submit' }, ['Send']),
    ]);
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.submit(api, device, log);
    });
    this.root = el('div', {}, [this.form, this.result]);
  }

  /**
   * @param {import('./api.js').Api} api
   * @param {import('./types.js').Device} device
   * @param {import('./events-view.js').EventLog} log
   */
  async submit(api, device, log) {
    const button = /** @type {HTMLButtonElement} */ (this.form.querySelector('button'));
    /** @type {Record<string, unknown>} */
    let body;
    try {
      body = sendBody(new FormData(this.form));
    } catch (err) {
      this.result.replaceChildren(el('p', { class: 'error' }, [/** @type {Error} */ (err).message]));
      return;
    }
    button.disabled = true;
    this.result.replaceChildren(el('p', { class: 'muted' }, ['Sending…']));
    const started = performance.now();
    try {
      const reply = await api.send(device.id, body);
      const rtt = performance.now() - started;
      const ok = reply.code.startsWith('2.');
      this.result.replaceChildren(
        el('dl', { class: `reply-fields ${ok ? 'ok' : 'coap-error'}`, 'data-code': reply.code }, [
          el('dt', {}, ['Code']),
          el('dd', { class: 'code' }, [reply.code]),
          el('dt', {}, ['Content format']),
          el('dd', {}, [contentFormatName(reply.ct)]),
          el('dt', {}, ['Round trip']),
          el('dd', { class: 'rtt' }, [`${rtt.toFixed(1)} ms`]),
          el('dt', {}, ['Payload']),
          el('dd', {}, [el('pre', { class: 'payload' }, [payloadText(reply.payload, reply.encoding)])]),
        ]),
      );
      log.add({
        event: 'command.result',
        ts: Date.now(),
        data: {
          device: device.id,
          ep: device.ep,
          method: body.method,
          path: body.path,
          code: reply.code,
          rttMs: Math.round(rtt),
        },
      });
    } catch (err) {
      const message = err instanceof ApiError ? `${err.status} ${err.code}: ${err.message}` : String(err);
      this.result.replaceChildren(
        el('p', { class: 'error', 'data-error': err instanceof ApiError ? err.code : 'error' }, [message]),
      );
      log.add({
        event: 'command.result',
        ts: Date.now(),
        data: { device: device.id, ep: device.ep, method: body.method, path: body.path, error: message },
      });
    } finally {
      button.disabled = false;
    }
  }
}

/** @param {unknown} payload @param {string | undefined} encoding */
function payloadText(payload, encoding) {
  if (payload === undefined || payload === null || payload === '') return '(empty)';
  if (encoding === 'base64') return `base64: ${String(payload)}`;
  return typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2);
}
