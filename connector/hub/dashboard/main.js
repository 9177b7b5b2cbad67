// @ts-check
import { Api, ApiError } from './api.js';
import { DeviceView } from './device-view.js';
import { DevicesView } from './devices-view.js';
import { EventLog, EventsView } from './events-view.js';
import { el, refreshTimes } from './format.js';
import { GatewaysView } from './gateways-view.js';
import { Live } from './live.js';

/**
 * The dashboard's entry: asks for the API key (kept in sessionStorage only: this tab, this browser session), checks
 * it against the API, then routes `#/devices`, `#/device/<id>`, `#/events` and `#/gateways` over one live socket.
 */
const KEY_ITEM = 'coregate.apiKey';

/** @param {string} id @returns {HTMLElement} */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

const gate = $('key-gate');
const form = /** @type {HTMLFormElement} */ ($('key-form'));
const keyError = $('key-error');
const view = $('view');
const nav = /** @type {HTMLElement} */ (document.querySelector('header nav'));
const linkState = $('link');
const signOut = $('sign-out');

/** @param {string} message */
function askForKey(message = '') {
  gate.hidden = false;
  nav.hidden = true;
  signOut.hidden = true;
  linkState.hidden = true;
  view.replaceChildren();
  keyError.hidden = message === '';
  keyError.textContent = message;
  /** @type {HTMLInputElement} */ (form.elements.namedItem('key')).focus();
}

/** @param {string} key @returns {Promise<string | undefined>} why the key does not work, if it does not */
async function check(key) {
  try {
    await new Api(key).request('/v1/gateways');
    return undefined;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      return "The hub refused this API key (401 unauthorized). Use the hub's key: hub.apiKey in the configuration, or API_KEY.";
    }
    return `The hub could not be asked: ${/** @type {Error} */ (err).message}`;
  }
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = String(new FormData(form).get('key') ?? '').trim();
  const problem = await check(key);
  if (problem) return askForKey(problem);
  sessionStorage.setItem(KEY_ITEM, key);
  form.reset();
  open(key);
});

signOut.addEventListener('click', () => {
  sessionStorage.removeItem(KEY_ITEM);
  location.hash = '';
  location.reload();
});

/** @param {string} key */
function open(key) {
  gate.hidden = true;
  nav.hidden = false;
  signOut.hidden = false;
  linkState.hidden = false;
  const api = new Api(key);
  const live = new Live(key, (state, detail) => {
    linkState.dataset.state = state;
    linkState.textContent =
      state === 'open' ? 'live' : state === 'connecting' ? 'connecting…' : `reconnecting (${detail ?? 'closed'})`;
  });
  const log = new EventLog(live);
  /** @param {unknown} err */
  const onError = (err) => {
    if (err instanceof ApiError && err.status === 401) {
      live.stop();
      sessionStorage.removeItem(KEY_ITEM);
      return askForKey('The hub no longer accepts this API key (401 unauthorized). Enter the current one.');
    }
    view.prepend(el('p', { class: 'error', role: 'alert' }, [err instanceof Error ? err.message : String(err)]));
  };
  const devices = new DevicesView(api, live, onError);
  const device = new DeviceView(api, live, log, onError);
  const events = new EventsView(log);
  const gateways = new GatewaysView(api, live, onError);
  /** @type {{ hide(): void } | undefined} */
  let current;

  const route = () => {
    current?.hide();
    const [path = '', query = ''] = location.hash.replace(/^#/, '').split('?');
    const [, section, id] = path.split('/');
    for (const link of nav.querySelectorAll('a')) {
      link.toggleAttribute(
        'aria-current',
        link.getAttribute('href') === `#/${section === 'device' ? 'devices' : section}`,
      );
    }
    if (section === 'device' && id) {
      current = device;
      void device.show(view, decodeURIComponent(id));
    } else if (section === 'events') {
      current = events;
      events.show(view);
    } else if (section === 'gateways') {
      current = gateways;
      void gateways.show(view);
    } else {
      current = devices;
      const gateway = new URLSearchParams(query).get('gateway');
      if (gateway !== null) devices.filter = { ...devices.filter, gateway };
      void devices.show(view);
    }
    document.title = `coregate · ${section === 'device' ? 'device' : section || 'devices'}`;
  };
  window.addEventListener('hashchange', route);
  live.start();
  route();
  // Relative times ("12 s ago") move with the clock; this touches only text already on the page, no request.
  setInterval(() => refreshTimes(view), 5_000);
}

const saved = sessionStorage.getItem(KEY_ITEM);
if (saved) {
  check(saved).then((problem) => (problem ? askForKey(problem) : open(saved)));
} else askForKey();
