// @ts-check
/** The hub's HTTP API as the dashboard uses it: the same routes and key a platform would (docs/api.md). */

/** An HTTP error of the API, with its stable `code` (docs/api.md "Errors"). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   */
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export class Api {
  /** @param {string} key */
  constructor(key) {
    this.key = key;
  }

  /**
   * @param {string} path
   * @param {RequestInit} [init]
   * @returns {Promise<any>}
   */
  async request(path, init = {}) {
    let res;
    try {
      res = await fetch(path, { ...init, headers: { 'X-API-Key': this.key, ...init.headers } });
    } catch (err) {
      throw new ApiError(0, 'unreachable', `the hub did not answer (${/** @type {Error} */ (err).message})`);
    }
    const text = await res.text();
    /** @type {any} */
    let body;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (!res.ok) {
      const error = body?.error ?? {};
      throw new ApiError(res.status, error.code ?? `http_${res.status}`, error.message ?? res.statusText);
    }
    return body;
  }

  /** @returns {Promise<{devices: import('./types.js').Device[]}>} */
  devices() {
    return this.request('/v1/devices');
  }

  /** @param {string} id @returns {Promise<import('./types.js').Device>} */
  device(id) {
    return this.request(`/v1/devices/${encodeURIComponent(id)}`);
  }

  /** @param {string} id @returns {Promise<import('./types.js').History>} */
  history(id) {
    return this.request(`/v1/devices/${encodeURIComponent(id)}/history`);
  }

  /** @returns {Promise<{gateways: import('./types.js').Gateway[]}>} */
  gateways() {
    return this.request('/v1/gateways');
  }

  /** @returns {Promise<{webhooks: import('./types.js').Webhook[]}>} */
  webhooks() {
    return this.request('/v1/webhooks');
  }

  /**
   * @param {string} id
   * @param {Record<string, unknown>} body
   * @returns {Promise<import('./types.js').SendReply>}
   */
  send(id, body) {
    return this.request(`/v1/devices/${encodeURIComponent(id)}/send`, { method: 'POST', body: JSON.stringify(body) });
  }
}
